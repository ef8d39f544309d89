#include "thinpool/pool_backing.h"

#include <optional>
#include <tuple>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

// Devices are grown by their owner; thinsnap only checks.
void RequireDeviceSize(kernel::Files* files, const std::string& path, uint64_t bytes) {
  uint64_t now = files->SizeOf(path);
  if (now < bytes) {
    throw Error(path + " is only " + FormatSize(now) + "; grow the device itself first",
                ErrorKind::kUsage);
  }
}

// Common to the two backings thinsnap made the pool device for.
class OwnedBacking : public PoolBacking {
 public:
  OwnedBacking(const PoolSettings& s, kernel::DeviceMapper* dm, kernel::System* sys)
      : s_(s), dm_(dm), sys_(sys) {}
  std::string PoolName() const override { return "thinsnap-" + s_.pool_id + "-pool"; }
  bool OwnsPoolDevice() const override { return true; }
  std::string PoolDevice() const override { return dm_->DevicePath(PoolName()); }

 protected:
  PoolSettings s_;
  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
};

class LoopbackBacking : public OwnedBacking {
 public:
  using OwnedBacking::OwnedBacking;
  std::string DataDevice() const override { return Attached(s_.data_path, "data"); }
  std::string MetadataDevice() const override { return Attached(s_.metadata_path, "metadata"); }
  std::string OfflineMetadataDevice(std::unique_ptr<kernel::LoopHandle>* keep) const override {
    if (std::optional<std::string> loop = sys_->FindLoop(s_.metadata_path)) return *loop;
    *keep = sys_->AttachLoop(s_.metadata_path);
    return (*keep)->path();
  }
  bool GrowsItself() const override { return true; }
  void GrowTo(const std::string& path, uint64_t bytes) const override {
    sys_->GrowFile(path, bytes);
    if (auto loop = sys_->FindLoop(path)) sys_->RefreshLoopCapacity(*loop);
    if (path == s_.metadata_path && !s_.metadata_spare.empty() && sys_->Exists(s_.metadata_spare) &&
        sys_->SizeOf(s_.metadata_spare) < bytes) {
      sys_->GrowFile(s_.metadata_spare, bytes);
    }
  }
  std::vector<std::string> Files() const override {
    return {s_.data_path, s_.metadata_path, s_.metadata_spare};
  }
  PoolDevices Attach(std::vector<std::string>* notes) const override {
    PoolDevices devs;
    for (auto [file, handle, dev] :
         {std::tuple{&s_.data_path, &devs.data_loop, &devs.data},
          std::tuple{&s_.metadata_path, &devs.meta_loop, &devs.metadata}}) {
      std::optional<std::string> found = sys_->FindLoop(*file);
      if (found) {
        *dev = *found;
      } else {
        *handle = sys_->AttachLoop(*file);
        *dev = (*handle)->path();
        notes->push_back("attached " + *file + " to " + *dev);
      }
    }
    return devs;
  }
  void WipeMetadata() const override {}

 private:
  std::string Attached(const std::string& file, const char* what) const {
    std::optional<std::string> loop = sys_->FindLoop(file);
    if (!loop) {
      throw Error(std::string(what) + " file " + file +
                  " is not attached; run thinsnap pool activate");
    }
    return *loop;
  }
};

class DirectBacking : public OwnedBacking {
 public:
  using OwnedBacking::OwnedBacking;
  std::string DataDevice() const override { return s_.data_path; }
  std::string MetadataDevice() const override { return s_.metadata_path; }
  std::string OfflineMetadataDevice(std::unique_ptr<kernel::LoopHandle>*) const override {
    return s_.metadata_path;
  }
  bool GrowsItself() const override { return false; }
  void GrowTo(const std::string& path, uint64_t bytes) const override {
    RequireDeviceSize(sys_, path, bytes);
  }
  std::vector<std::string> Files() const override { return {}; }
  PoolDevices Attach(std::vector<std::string>*) const override {
    PoolDevices devs;
    devs.data = s_.data_path;
    devs.metadata = s_.metadata_path;
    return devs;
  }
  void WipeMetadata() const override { sys_->ZeroStart(s_.metadata_path, 4096); }
};

class AdoptedBacking : public PoolBacking {
 public:
  AdoptedBacking(const PoolSettings& s, kernel::DeviceMapper* dm, kernel::System* sys)
      : s_(s), dm_(dm), sys_(sys) {}
  std::string PoolName() const override { return s_.adopted_pool; }
  bool OwnsPoolDevice() const override { return false; }
  std::string PoolDevice() const override {
    std::optional<kernel::DeviceInfo> info = dm_->Info(PoolName());
    if (!info) throw Error("adopted pool " + PoolName() + " is not active", ErrorKind::kNotFound);
    return std::to_string(info->major) + ":" + std::to_string(info->minor);
  }
  std::string DataDevice() const override { return s_.data_path; }
  // Not recorded: the owner (LVM) may renumber it at its next activation.
  std::string MetadataDevice() const override {
    return DmDeviceNode(
        dm_, kernel::ParsePoolTableParams(dm_->GetTable(PoolName()).front().params).metadata_dev);
  }
  std::string OfflineMetadataDevice(std::unique_ptr<kernel::LoopHandle>*) const override {
    return s_.metadata_path;
  }
  bool GrowsItself() const override { return false; }
  void GrowTo(const std::string& path, uint64_t bytes) const override {
    RequireDeviceSize(sys_, path, bytes);
  }
  std::vector<std::string> Files() const override { return {}; }
  PoolDevices Attach(std::vector<std::string>*) const override {
    throw Error("adopted pool " + s_.adopted_pool +
                    " is not active; activate it first (e.g. "
                    "lvchange -ay)",
                ErrorKind::kNotFound);
  }
  void WipeMetadata() const override {}

 private:
  PoolSettings s_;
  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
};

}  // namespace

std::unique_ptr<PoolBacking> MakePoolBacking(const PoolSettings& settings, kernel::DeviceMapper* dm,
                                             kernel::System* sys) {
  switch (settings.mode) {
    case PoolMode::kLoopback:
      return std::make_unique<LoopbackBacking>(settings, dm, sys);
    case PoolMode::kDirect:
      return std::make_unique<DirectBacking>(settings, dm, sys);
    case PoolMode::kAdopted:
      return std::make_unique<AdoptedBacking>(settings, dm, sys);
  }
  throw Error("pool mode " + std::to_string(static_cast<int>(settings.mode)) + " is unknown");
}

std::string DmDeviceNode(kernel::DeviceMapper* dm, const std::string& ref) {
  if (ref.empty() || ref[0] == '/') return ref;
  for (const kernel::ListedDevice& d : dm->List()) {
    if (ref == std::to_string(d.major) + ":" + std::to_string(d.minor)) {
      return dm->DevicePath(d.name);
    }
  }
  throw Error("device " + ref + " under the pool is not a device-mapper device thinsnap can name",
              ErrorKind::kNotFound);
}

}  // namespace thinsnap
