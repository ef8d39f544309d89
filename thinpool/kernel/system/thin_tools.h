// ThinTools: the thin-provisioning-tools on a pool's metadata device: check, repair, thin_ls
// and thin_delta. One of System's narrow interfaces (thinpool/kernel/system.h); RealThinTools
// (real_thin_tools.h) runs them (thinpool/kernel/fs_tools.h), tests/fakes/fake_thin_tools.h
// answers from a FakeDeviceMapper's pool metadata.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_THIN_TOOLS_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_THIN_TOOLS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "thinpool/kernel/system/tool_result.h"

namespace thinsnap::kernel {

struct ThinUsage {
  uint32_t id = 0;
  uint64_t mapped_blocks = 0;
  uint64_t exclusive_blocks = 0;
  uint64_t shared_blocks = 0;
};

// One range of `thin_delta` output, in pool blocks: how thin 2 (the newer) differs from thin 1.
struct DeltaRange {
  enum class Kind : uint8_t { kSame, kDifferent, kLeftOnly, kRightOnly };
  Kind kind = Kind::kSame;
  uint64_t begin = 0;   // first block
  uint64_t length = 0;  // blocks
  bool operator==(const DeltaRange&) const = default;
};

class ThinTools {
 public:
  virtual ~ThinTools() = default;

  virtual ToolResult ThinCheck(const std::string& metadata_device) = 0;
  virtual ToolResult ThinRepair(const std::string& from, const std::string& to) = 0;
  // thin_check --clear-needs-check-flag: after a clean check, lets the kernel load it rw again.
  virtual ToolResult ThinClearNeedsCheck(const std::string& metadata_device) = 0;
  virtual std::vector<ThinUsage> ThinLs(const std::string& metadata_device, bool metadata_snap) = 0;
  // thin_delta -m --snap1 <snap1> --snap2 <snap2> on a live pool's metadata snapshot (the caller
  // holds `reserve_metadata_snap`). snap1 == snap2 lists the mapped ranges of that thin.
  virtual std::vector<DeltaRange> ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                            uint32_t snap2) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_THIN_TOOLS_H_
