#include "thinpool/kernel/system/real_thin_tools.h"

#include "base/error.h"
#include "thinpool/kernel/fs_tools.h"

namespace thinsnap::kernel {

ToolResult RealThinTools::ThinCheck(const std::string& metadata_device) {
  ToolReport r = kernel::ThinCheck(metadata_device);
  return {r.ok, r.output};
}

ToolResult RealThinTools::ThinRepair(const std::string& from, const std::string& to) {
  try {
    kernel::ThinRepair(from, to);
    return {true, ""};
  } catch (const Error& e) {
    return {false, e.what()};
  }
}

ToolResult RealThinTools::ThinClearNeedsCheck(const std::string& metadata_device) {
  ToolReport r = kernel::ThinCheck(metadata_device, /*metadata_snap=*/false,
                                   /*clear_needs_check=*/true);
  return {r.ok, r.output};
}

std::vector<DeltaRange> RealThinTools::ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                                 uint32_t snap2) {
  return kernel::ThinDelta(metadata_device, snap1, snap2, /*use_metadata_snap=*/true);
}

std::vector<ThinUsage> RealThinTools::ThinLs(const std::string& metadata_device,
                                             bool metadata_snap) {
  std::vector<ThinUsage> out;
  for (const ThinLsRow& r : kernel::ThinLs(metadata_device, metadata_snap)) {
    out.push_back({r.dev_id, r.mapped_blocks, r.exclusive_blocks, r.shared_blocks});
  }
  return out;
}

}  // namespace thinsnap::kernel
