// Files: files, directories and block devices as the engine uses them: the pool's loopback
// files, the devices it stands on (probed, checked, zeroed, discarded) and O_DIRECT I/O on thin
// devices for send and receive. One of System's narrow interfaces (thinpool/kernel/system.h);
// RealFiles (real_files.h) does it over kernel/, tests/fakes/fake_files.h keeps it in maps.
// Errors are thinsnap::Error with the operation, the path and errno.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_FILES_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "thinpool/kernel/block_io.h"

namespace thinsnap::kernel {

class Files {
 public:
  virtual ~Files() = default;

  virtual bool Exists(const std::string& path) = 0;
  virtual void MakeDirs(const std::string& path) = 0;
  virtual void RemoveFile(const std::string& path) = 0;  // absent is fine
  virtual void RemoveDir(const std::string& path) = 0;   // empty dir; absent is fine
  virtual void RenameFile(const std::string& from, const std::string& to) = 0;
  virtual void CreateSparseFile(const std::string& path, uint64_t size) = 0;
  virtual void GrowFile(const std::string& path, uint64_t new_size) = 0;
  virtual uint64_t SizeOf(const std::string& file_or_device) = 0;
  virtual bool IsBlockDevice(const std::string& path) = 0;
  // Filesystem, partition table, LVM, RAID, swap signatures, described for a person.
  virtual std::vector<std::string> ProbeSignatures(const std::string& device) = 0;
  // Throws kBusy when the device is in use (mounted, held by another dm device).
  virtual void CheckNotInUse(const std::string& device) = 0;
  virtual void ZeroStart(const std::string& device, uint64_t bytes) = 0;
  virtual void Discard(const std::string& device) = 0;

  // Send and receive: O_DIRECT positioned I/O and discards on a (thin) block device.
  virtual std::unique_ptr<BlockIo> OpenBlockIo(const std::string& device, bool writable) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_FILES_H_
