// FakeThinTools: kernel::ThinTools for unit tests: thin_ls and thin_delta answer from a
// FakeDeviceMapper's pool metadata (through a loopback pool's loop device when given its
// file), thin_check passes unless `thin_check_fails`, repairs are recorded.
#ifndef THINSNAP_TESTS_FAKES_FAKE_THIN_TOOLS_H_
#define THINSNAP_TESTS_FAKES_FAKE_THIN_TOOLS_H_

#include <string>
#include <utility>
#include <vector>

#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_link.h"
#include "tests/fakes/fake_loops.h"
#include "thinpool/kernel/system/thin_tools.h"

namespace thinsnap::kernel {

class FakeThinTools : public virtual ThinTools {
 public:
  FakeThinTools(FakeDeviceMapper* dm, FakeLoops* loops) : dm_(dm), loops_(loops) {}

  ToolResult ThinCheck(const std::string& metadata_device) override;
  ToolResult ThinRepair(const std::string& from, const std::string& to) override;
  ToolResult ThinClearNeedsCheck(const std::string& metadata_device) override;
  std::vector<ThinUsage> ThinLs(const std::string& metadata_device, bool) override;
  std::vector<DeltaRange> ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                    uint32_t snap2) override;

  // Test hooks.
  bool thin_check_fails = false;
  std::vector<std::pair<std::string, std::string>> repairs;  // from, to
  bool thin_delta_fails = false;

 private:
  // The device whose pool metadata the tools read: a loopback pool's file is its loop device.
  std::string MetadataOf(const std::string& metadata_device);

  FakeDeviceMapper* dm_;
  FakeLink<FakeLoops> loops_;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_THIN_TOOLS_H_
