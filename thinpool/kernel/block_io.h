// BlockIo: positioned I/O on one block device for send and receive, opened with O_DIRECT so
// that streaming a whole device neither fills nor is served from the page cache. Buffers,
// offsets and lengths must be aligned to the device's logical block size (512 on dm-thin; the
// engine uses 4096-aligned buffers and 512-multiple ranges). Discard is BLKDISCARD on a range.
//
// OpenDirectBlockIo returns the real one; tests/fakes/fake_files.h has an in-memory one.
// Errors: Error "<op> <device> at byte <offset>: <strerror> (errno N)".
// Thread-safety: none; one owner.
#ifndef THINSNAP_THINPOOL_KERNEL_BLOCK_IO_H_
#define THINSNAP_THINPOOL_KERNEL_BLOCK_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace thinsnap::kernel {

class BlockIo {
 public:
  virtual ~BlockIo() = default;
  // Reads exactly n bytes at `offset` (a short read is an error: the range is inside the device).
  virtual void ReadAt(uint64_t offset, void* buf, size_t n) = 0;
  virtual void WriteAt(uint64_t offset, const void* buf, size_t n) = 0;
  virtual void Discard(uint64_t offset, uint64_t length) = 0;
  // fdatasync: every write so far is on the device.
  virtual void Flush() = 0;
  // Flush, then close; errors are thrown. The destructor closes silently.
  virtual void Close() = 0;
  virtual uint64_t size() const = 0;
};

// REQUIRES: `device` is a block device node.
std::unique_ptr<BlockIo> OpenDirectBlockIo(const std::string& device, bool writable);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_BLOCK_IO_H_
