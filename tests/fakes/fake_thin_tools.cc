#include "tests/fakes/fake_thin_tools.h"

#include "base/error.h"

namespace thinsnap::kernel {

std::string FakeThinTools::MetadataOf(const std::string& metadata_device) {
  // Offline tools on a loopback pool read the file: answer from its loop device's metadata.
  if (auto loop = loops_->FindLoop(metadata_device)) return *loop;
  return metadata_device;
}

ToolResult FakeThinTools::ThinCheck(const std::string&) {
  return {!thin_check_fails, thin_check_fails ? "bad checksum in superblock" : ""};
}

ToolResult FakeThinTools::ThinRepair(const std::string& from, const std::string& to) {
  repairs.push_back({from, to});
  return {true, ""};
}

ToolResult FakeThinTools::ThinClearNeedsCheck(const std::string& metadata_device) {
  dm_->SetNeedsCheck(MetadataOf(metadata_device), false);
  return {true, ""};
}

std::vector<ThinUsage> FakeThinTools::ThinLs(const std::string& metadata_device, bool) {
  std::vector<ThinUsage> out;
  for (const ThinLsRow& r : dm_->ThinLs(MetadataOf(metadata_device))) {
    out.push_back({r.dev_id, r.mapped_blocks, r.exclusive_blocks, r.shared_blocks});
  }
  return out;
}

std::vector<DeltaRange> FakeThinTools::ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                                 uint32_t snap2) {
  if (thin_delta_fails) throw Error("thin_delta: exit status 1: bad metadata");
  return dm_->ThinDelta(MetadataOf(metadata_device), snap1, snap2);
}

}  // namespace thinsnap::kernel
