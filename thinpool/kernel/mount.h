// Mounting and finding mounts: mount(2)/umount2(2) directly, /proc/self/mountinfo for lookups.
//
// Thread-safety: free functions without shared state.
#ifndef THINSNAP_THINPOOL_KERNEL_MOUNT_H_
#define THINSNAP_THINPOOL_KERNEL_MOUNT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace thinsnap::kernel {

// An options string such as "ro,noatime,nouuid" split into mount(2) flags (ro, nosuid, nodev,
// noexec, noatime, nodiratime, relatime, strictatime, sync, dirsync, lazytime, rw, suid, dev,
// exec, atime) and the filesystem's own data string ("nouuid,norecovery").
struct MountOptions {
  unsigned long flags = 0;
  std::string data;
};
MountOptions ParseMountOptions(const std::string& options);

// Mounts `source` on `target`. Throws Error "mount <source> on <target> (<fstype>, <options>):
// ...".
void Mount(const std::string& source, const std::string& target, const std::string& fstype,
           const std::string& options);

// Unmounts `target`; lazy uses MNT_DETACH. EBUSY throws kBusy naming the mount point.
void Unmount(const std::string& target, bool lazy = false);

// Mount points of the block device `device` (a path, resolved to major:minor, or "MAJ:MIN"),
// in mountinfo order. Empty when it is not mounted.
std::vector<std::string> FindMounts(const std::string& device_path_or_majmin);

// What statvfs(2) says of the filesystem mounted at `dir`.
struct FilesystemUsage {
  uint64_t inodes = 0, inodes_free = 0;  // f_files, f_ffree
  uint64_t bytes = 0, bytes_free = 0;    // f_blocks, f_bfree times f_frsize
  uint64_t used_inodes() const { return inodes - inodes_free; }
};
FilesystemUsage UsageOf(const std::string& dir);

// True when `dir` is the root of a mount.
bool IsMountPoint(const std::string& dir);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_MOUNT_H_
