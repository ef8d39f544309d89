// Block devices and the files that stand in for them: probing for existing signatures (libblkid),
// sizes, exclusive opens, zeroing, discard, sparse files.
//
// Thread-safety: free functions without shared state; safe from several threads.
#ifndef THINSNAP_THINPOOL_KERNEL_BLOCKDEV_H_
#define THINSNAP_THINPOOL_KERNEL_BLOCKDEV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/fd.h"

namespace thinsnap::kernel {

// Every signature libblkid finds on `path` (a block device or a file): filesystems, swap, LVM2 and
// MD RAID members, crypto containers, partition tables. Described for a person, e.g.
//   "ext4 filesystem (UUID 0c5..., LABEL root)", "gpt partition table", "LVM2 physical volume".
// Empty when the device carries none. Throws Error when the device cannot be read.
std::vector<std::string> ProbeSignatures(const std::string& path);

// Size in bytes: BLKGETSIZE64 for a block device, st_size for a regular file.
uint64_t BlockDeviceSize(const std::string& path);
// Logical block size (BLKSSZGET) of a block device; 512 for a regular file.
uint32_t LogicalBlockSize(const std::string& path);
bool IsBlockDevice(const std::string& path);

// Opens a block device with O_EXCL: the kernel refuses (EBUSY, Error kind kBusy) when it is
// mounted, held by a dm table, an md array, or opened exclusively by someone else.
// REQUIRES: `path` is a block device (for regular files O_EXCL means nothing; it throws kUsage).
UniqueFd OpenExclusive(const std::string& path, bool read_write = true);

// Writes zeros over [offset, offset+len) of the open device or file and fsyncs it.
void ZeroRange(int fd, uint64_t offset, uint64_t len);
// Discards [offset, offset+len) of a block device (BLKDISCARD). len 0 means to the end.
void Discard(const std::string& path, uint64_t offset, uint64_t len);

// Creates a new sparse file of `size` bytes; refuses to overwrite (kExists).
void CreateSparseFile(const std::string& path, uint64_t size);
// Grows a file to `new_size`; same size is a no-op; smaller refuses with kUsage.
void GrowFile(const std::string& path, uint64_t new_size);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_BLOCKDEV_H_
