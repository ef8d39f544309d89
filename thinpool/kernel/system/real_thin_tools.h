// RealThinTools: the ThinTools interface (thin_tools.h) over the real kernel: the
// thin-provisioning-tools through thinpool/kernel/fs_tools.h.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_THIN_TOOLS_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_THIN_TOOLS_H_

#include "thinpool/kernel/system/thin_tools.h"

namespace thinsnap::kernel {

class RealThinTools : public virtual ThinTools {
 public:
  ToolResult ThinCheck(const std::string& metadata_device) override;
  ToolResult ThinRepair(const std::string& from, const std::string& to) override;
  ToolResult ThinClearNeedsCheck(const std::string& metadata_device) override;
  std::vector<ThinUsage> ThinLs(const std::string& metadata_device, bool metadata_snap) override;
  std::vector<DeltaRange> ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                    uint32_t snap2) override;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_THIN_TOOLS_H_
