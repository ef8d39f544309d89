// RealFiles: the Files interface (files.h) over the real kernel: syscalls,
// thinpool/kernel/blockdev.h and block_io.h.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_FILES_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_FILES_H_

#include "thinpool/kernel/system/files.h"

namespace thinsnap::kernel {

class RealFiles : public virtual Files {
 public:
  bool Exists(const std::string& path) override;
  void MakeDirs(const std::string& path) override;
  void RemoveFile(const std::string& path) override;
  void RemoveDir(const std::string& path) override;
  void RenameFile(const std::string& from, const std::string& to) override;
  void CreateSparseFile(const std::string& path, uint64_t size) override;
  void GrowFile(const std::string& path, uint64_t new_size) override;
  uint64_t SizeOf(const std::string& file_or_device) override;
  bool IsBlockDevice(const std::string& path) override;
  std::vector<std::string> ProbeSignatures(const std::string& device) override;
  void CheckNotInUse(const std::string& device) override;
  void ZeroStart(const std::string& device, uint64_t bytes) override;
  void Discard(const std::string& device) override;
  std::unique_ptr<BlockIo> OpenBlockIo(const std::string& device, bool writable) override;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_FILES_H_
