#include "tests/fakes/fake_filesystems.h"

#include <cerrno>
#include <utility>

#include "base/error.h"

namespace thinsnap::kernel {

void FakeFilesystems::MakeFilesystem(const std::string& device, FsType fs,
                                     const std::vector<std::string>&) {
  files_->Fault("MakeFilesystem", device);
  filesystems_[device] = fs;
}

void FakeFilesystems::Mount(const std::string& device, const std::string& dir, FsType,
                            const std::string&) {
  if (mounts.count(dir)) throw Error("mount " + dir + ": busy", ErrorKind::kBusy, EBUSY);
  mounts[dir] = device;
  dm_->HoldOpen(device.substr(device.rfind('/') + 1));
  // The device's superblock was left frozen by an unmount: this mount finds it as it was.
  auto stuck = frozen_superblocks.find(device);
  if (stuck != frozen_superblocks.end()) {
    frozen.insert(dir);
    if (stuck->second) gave_up.insert(dir);
    frozen_superblocks.erase(stuck);
  }
}

void FakeFilesystems::Unmount(const std::string& dir) {
  auto it = mounts.find(dir);
  if (it == mounts.end())
    throw Error("umount " + dir + ": not mounted", ErrorKind::kFailure, EINVAL);
  dm_->CloseHold(it->second.substr(it->second.rfind('/') + 1));
  // As the kernel does: an unmount of a frozen filesystem leaves its superblock frozen.
  if (frozen.count(dir)) frozen_superblocks[it->second] = gave_up.count(dir) > 0;
  mounts.erase(it);
  shut_down.erase(dir);
  gave_up.erase(dir);
  frozen.erase(dir);
}

void FakeFilesystems::ShutdownFilesystem(const std::string& dir, FsType fs) {
  fs_control_calls.push_back(std::string("shutdown ") + FsTypeName(fs) + " " + dir);
  if (!mounts.count(dir))
    throw Error("shut down " + dir + ": not mounted", ErrorKind::kFailure, ENOTTY);
  if (std::exchange(fs_control_fails, false)) {
    throw Error("shut down " + dir + ": Input/output error", ErrorKind::kFailure, EIO);
  }
  if (gave_up.count(dir)) return;  // down already
  shut_down.insert(dir);
}

FreezeOutcome FakeFilesystems::FreezeFilesystem(const std::string& dir) {
  fs_control_calls.push_back("freeze " + dir);
  if (!mounts.count(dir))
    throw Error("freeze " + dir + ": not mounted", ErrorKind::kFailure, ENOTTY);
  if (std::exchange(fs_control_fails, false)) {
    throw Error("freeze " + dir + ": Input/output error", ErrorKind::kFailure, EIO);
  }
  if (gives_up_on_freeze.erase(dir) > 0) {
    gave_up.insert(dir);
    return FreezeOutcome::kShutDown;  // and thawed again
  }
  frozen.insert(dir);
  return FreezeOutcome::kFrozen;
}

bool FakeFilesystems::ThawFilesystem(const std::string& dir) {
  fs_control_calls.push_back("thaw " + dir);
  if (gave_up.count(dir)) {
    throw Error("thaw " + dir + ": Input/output error (errno 5)", ErrorKind::kFailure, EIO);
  }
  return frozen.erase(dir) > 0;
}

std::vector<std::string> FakeFilesystems::MountsOf(const std::string& device) {
  std::vector<std::string> out;
  for (auto& [dir, dev] : mounts) {
    if (dev == device) out.push_back(dir);
  }
  return out;
}

FilesystemUsage FakeFilesystems::UsageOf(const std::string& dir) {
  ++usage_calls;
  auto it = mounts.find(dir);
  if (it == mounts.end())
    throw Error("statvfs " + dir + ": not mounted", ErrorKind::kNotFound, ENOENT);
  uint64_t used = used_inodes[it->second.substr(it->second.rfind('/') + 1)];
  return {kFakeInodes, kFakeInodes - used, 64ull << 20, 32ull << 20};
}

}  // namespace thinsnap::kernel
