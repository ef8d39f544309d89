// RealFilesystems: the Filesystems interface (filesystems.h) over the real kernel:
// thinpool/kernel/fs_tools.h, mount.h, fs_control.h and sysfs.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_FILESYSTEMS_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_FILESYSTEMS_H_

#include "thinpool/kernel/system/filesystems.h"

namespace thinsnap::kernel {

class RealFilesystems : public virtual Filesystems {
 public:
  void MakeFilesystem(const std::string& device, FsType fs,
                      const std::vector<std::string>& extra_args) override;
  void GrowFilesystem(const std::string& device, const std::string& mountpoint, FsType fs) override;
  void Mount(const std::string& device, const std::string& dir, FsType fs,
             const std::string& options) override;
  void Unmount(const std::string& dir) override;
  std::vector<std::string> MountsOf(const std::string& device) override;
  FilesystemUsage UsageOf(const std::string& mountpoint) override;
  void SetXfsEnospcRetries(const std::string& device, int max_retries) override;
  void ShutdownFilesystem(const std::string& mountpoint, FsType fs) override;
  FreezeOutcome FreezeFilesystem(const std::string& mountpoint) override;
  bool ThawFilesystem(const std::string& mountpoint) override;
  bool FilesystemServesReads(const std::string& mountpoint) override;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_FILESYSTEMS_H_
