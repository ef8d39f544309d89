// Stopping and resuming a mounted filesystem from outside: the filesystems' own shutdown ioctls
// and the VFS freeze. Used when a thin pool reaches its space reserve (thinpool/engine_space.cc
// says which and why).
//
// Thread-safety: free functions without shared state.
#ifndef THINSNAP_THINPOOL_KERNEL_FS_CONTROL_H_
#define THINSNAP_THINPOOL_KERNEL_FS_CONTROL_H_

#include <string>

#include "base/fs_type.h"

namespace thinsnap::kernel {

// Shuts the filesystem mounted at `mountpoint` down for good, after flushing its log: ext4
// EXT4_IOC_SHUTDOWN and xfs XFS_IOC_GOINGDOWN, each with the LOGFLUSH flag. Every later write,
// fsync and read on it fails with EIO; what was committed to the log before (every fsync'd
// file) stays, and the next mount replays the log. Undone only by unmounting and mounting
// again. A filesystem that is down already (its root no longer opens: EIO) is left as it is.
// Throws Error "shut down <mountpoint> (<fs>): ..." (ENOTTY: the kernel lacks the ioctl).
void ShutdownFilesystem(const std::string& mountpoint, FsType fs);

// What FreezeFilesystem left behind.
enum class FreezeOutcome {
  kFrozen,
  // The filesystem shut itself down while it froze: xfs does when a write of its freeze (the
  // log it quiesces) finds the thin pool full, and the freeze still succeeds. Frozen and shut
  // down, a filesystem is out of reach: no file on it opens any more, so no FITHAW can be
  // issued, and an unmount leaves its frozen superblock behind for the next mount of the
  // device to find (measured on 6.1). So it is thawed at once through the descriptor that
  // froze it, and is then simply shut down: an unmount and a mount bring it back.
  kShutDown,
};

// FIFREEZE: writes everything dirty, then blocks every new write (readers go on) until thawed.
// Throws Error "freeze <mountpoint>: ..."; EBUSY (already frozen) is not an error.
FreezeOutcome FreezeFilesystem(const std::string& mountpoint);

// FITHAW. Returns false when the filesystem was not frozen (EINVAL), which is not an error.
bool ThawFilesystem(const std::string& mountpoint);

// Whether the filesystem at `mountpoint` still serves reads: false when reading its root
// directory fails with EIO (it shut itself down, e.g. xfs after a failed metadata write).
// Throws Error "read <mountpoint>: ..." for any other failure.
bool FilesystemServesReads(const std::string& mountpoint);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_FS_CONTROL_H_
