#include "thinpool/kernel/fs_control.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <utility>

#include "base/error.h"
#include "base/fd.h"

namespace thinsnap::kernel {
namespace {

// From the kernel's fs/ext4/ext4.h and fs/xfs/libxfs/xfs_fs.h (not exported to userspace
// headers in every distribution): both are _IOR('X', 125, __u32), and LOGFLUSH is 1 in both.
constexpr unsigned long kExt4IocShutdown = _IOR('X', 125, uint32_t);
constexpr unsigned long kXfsIocGoingDown = _IOR('X', 125, uint32_t);
constexpr uint32_t kExt4GoingFlagsLogFlush = 1;
constexpr uint32_t kXfsGoingFlagsLogFlush = 1;

UniqueFd OpenMountpoint(const std::string& mountpoint) {
  return UniqueFd::Open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

// The root of `mountpoint`, or nullopt when the filesystem is shut down (a shut-down xfs fails
// even this open with EIO). Throws Error "<what> <mountpoint>: ..." for any other failure.
std::optional<UniqueFd> OpenRootUnlessDown(const std::string& mountpoint, const std::string& what) {
  int raw = ::open(mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0 && errno == EIO) return std::nullopt;
  if (raw < 0) ThrowErrno(what + " " + mountpoint, errno);
  return UniqueFd(raw);
}

}  // namespace

void ShutdownFilesystem(const std::string& mountpoint, FsType fs) {
  const char* name = fs == FsType::kXfs ? "xfs" : "ext4";
  if (fs == FsType::kNone) {
    throw Error("shut down " + mountpoint + ": no filesystem", ErrorKind::kUsage);
  }
  std::optional<UniqueFd> root = OpenRootUnlessDown(mountpoint, "shut down");
  if (!root) return;  // down already
  UniqueFd fd = std::move(*root);
  uint32_t flags = fs == FsType::kXfs ? kXfsGoingFlagsLogFlush : kExt4GoingFlagsLogFlush;
  unsigned long request = fs == FsType::kXfs ? kXfsIocGoingDown : kExt4IocShutdown;
  if (::ioctl(fd.get(), request, &flags) != 0) {
    ThrowErrno("shut down " + mountpoint + " (" + name + ")", errno);
  }
  fd.Close();
}

FreezeOutcome FreezeFilesystem(const std::string& mountpoint) {
  UniqueFd fd = OpenMountpoint(mountpoint);
  if (::ioctl(fd.get(), FIFREEZE, 0) != 0 && errno != EBUSY) {
    ThrowErrno("freeze " + mountpoint, errno);
  }
  FreezeOutcome outcome = FreezeOutcome::kFrozen;
  if (!FilesystemServesReads(mountpoint)) {
    // `fd` was opened before the shutdown: the only way left to end the freeze.
    if (::ioctl(fd.get(), FITHAW, 0) != 0 && errno != EINVAL) {
      ThrowErrno("thaw " + mountpoint + " (it shut itself down while freezing)", errno);
    }
    outcome = FreezeOutcome::kShutDown;
  }
  fd.Close();
  return outcome;
}

bool ThawFilesystem(const std::string& mountpoint) {
  UniqueFd fd = OpenMountpoint(mountpoint);
  bool thawed = true;
  if (::ioctl(fd.get(), FITHAW, 0) != 0) {
    if (errno != EINVAL) ThrowErrno("thaw " + mountpoint, errno);
    thawed = false;
  }
  fd.Close();
  return thawed;
}

bool FilesystemServesReads(const std::string& mountpoint) {
  std::optional<UniqueFd> root = OpenRootUnlessDown(mountpoint, "open");
  if (!root) return false;
  UniqueFd fd = std::move(*root);
  // getdents64 reaches the filesystem's own readdir, which checks for a shutdown first.
  alignas(8) char buf[4096];
  long n = ::syscall(SYS_getdents64, fd.get(), buf, sizeof buf);
  if (n >= 0) return true;
  if (errno == EIO) return false;
  ThrowErrno("read " + mountpoint, errno);
}

}  // namespace thinsnap::kernel
