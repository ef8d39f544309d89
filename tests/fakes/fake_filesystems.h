// FakeFilesystems: kernel::Filesystems for unit tests: mounts are a map from directory to
// device (a mount holds the FakeDeviceMapper device open), usage is made up from
// `used_inodes`, shutdown/freeze/thaw are recorded; a frozen filesystem stays frozen across an
// unmount, as the kernel's superblock does. Deterministic.
#ifndef THINSNAP_TESTS_FAKES_FAKE_FILESYSTEMS_H_
#define THINSNAP_TESTS_FAKES_FAKE_FILESYSTEMS_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_files.h"
#include "tests/fakes/fake_link.h"
#include "thinpool/kernel/system/filesystems.h"

namespace thinsnap::kernel {

class FakeFilesystems : public virtual Filesystems {
 public:
  // `files` gives MakeFilesystem its fault hook.
  FakeFilesystems(FakeDeviceMapper* dm, FakeFiles* files) : dm_(dm), files_(files) {}

  void MakeFilesystem(const std::string& device, FsType fs,
                      const std::vector<std::string>&) override;
  void GrowFilesystem(const std::string& device, const std::string&, FsType) override {
    if (on_grow) on_grow(device);
    grown.push_back(device);
  }
  void Mount(const std::string& device, const std::string& dir, FsType fs,
             const std::string& options) override;
  void Unmount(const std::string& dir) override;
  std::vector<std::string> MountsOf(const std::string& device) override;
  FilesystemUsage UsageOf(const std::string& mountpoint) override;
  void SetXfsEnospcRetries(const std::string&, int) override {}
  void ShutdownFilesystem(const std::string& mountpoint, FsType fs) override;
  FreezeOutcome FreezeFilesystem(const std::string& mountpoint) override;
  bool ThawFilesystem(const std::string& mountpoint) override;
  bool FilesystemServesReads(const std::string& mountpoint) override {
    return !shut_down.count(mountpoint) && !gave_up.count(mountpoint);
  }

  // Nothing is mounted any more, as after a reboot.
  void Reboot() {
    mounts.clear();
    frozen_superblocks.clear();
  }

  // Test hooks.
  std::map<std::string, std::string> mounts;  // dir -> device
  // Inodes in use on each device's filesystem, by dm name (UsageOf of a mount of it); 0 unless
  // set. Every filesystem has kFakeInodes inodes.
  static constexpr uint64_t kFakeInodes = 65536;
  std::map<std::string, uint64_t> used_inodes;
  int usage_calls = 0;                        // calls of UsageOf
  std::set<std::string> shut_down, frozen;    // mount dirs
  std::vector<std::string> fs_control_calls;  // "shutdown ext4 DIR", "freeze DIR", "thaw DIR"
  bool fs_control_fails = false;              // the next Shutdown/Freeze throws EIO
  // Mount dirs whose filesystem shut itself down (xfs on EIO): its root no longer opens, so a
  // thaw fails with EIO, as on the kernel.
  std::set<std::string> gave_up;
  // Mount dirs whose next freeze shuts the filesystem down (kShutDown: thawed again).
  std::set<std::string> gives_up_on_freeze;
  // Devices whose frozen superblock outlived an unmount (true: it had shut itself down too).
  std::map<std::string, bool> frozen_superblocks;
  std::vector<std::string> grown;
  // Called first by GrowFilesystem (e.g. to hold a request there while another one runs).
  std::function<void(const std::string& device)> on_grow;

 private:
  FakeDeviceMapper* dm_;
  FakeLink<FakeFiles> files_;
  std::map<std::string, FsType> filesystems_;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_FILESYSTEMS_H_
