// Filesystems: mkfs and growing, mounts, usage, and stopping writers at the pool's reserve. One
// of System's narrow interfaces (thinpool/kernel/system.h); RealFilesystems
// (real_filesystems.h) runs the tools and syscalls, tests/fakes/fake_filesystems.h keeps mounts
// in a map. Errors are thinsnap::Error with the operation, the path and errno or the tool's
// message.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_FILESYSTEMS_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_FILESYSTEMS_H_

#include <string>
#include <vector>

#include "base/fs_type.h"
#include "thinpool/kernel/fs_control.h"
#include "thinpool/kernel/mount.h"

namespace thinsnap::kernel {

class Filesystems {
 public:
  virtual ~Filesystems() = default;

  virtual void MakeFilesystem(const std::string& device, FsType fs,
                              const std::vector<std::string>& extra_args) = 0;
  virtual void GrowFilesystem(const std::string& device, const std::string& mountpoint,
                              FsType fs) = 0;
  virtual void Mount(const std::string& device, const std::string& dir, FsType fs,
                     const std::string& options) = 0;
  virtual void Unmount(const std::string& dir) = 0;
  virtual std::vector<std::string> MountsOf(const std::string& device) = 0;
  virtual FilesystemUsage UsageOf(const std::string& mountpoint) = 0;  // statvfs
  virtual void SetXfsEnospcRetries(const std::string& device, int max_retries) = 0;
  // Stopping writers when the pool reaches its reserve (thinpool/kernel/fs_control.h): the
  // filesystem's own shutdown with a log flush (undone by unmount + mount), and freeze/thaw.
  virtual void ShutdownFilesystem(const std::string& mountpoint, FsType fs) = 0;
  // kShutDown: it shut itself down while freezing and was thawed again (see FreezeOutcome).
  virtual FreezeOutcome FreezeFilesystem(const std::string& mountpoint) = 0;
  virtual bool ThawFilesystem(const std::string& mountpoint) = 0;  // false: was not frozen
  virtual bool FilesystemServesReads(const std::string& mountpoint) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_FILESYSTEMS_H_
