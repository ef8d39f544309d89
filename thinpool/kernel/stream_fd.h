// The send stream over a file descriptor (stdout, stdin, a file, a pipe, a socket): the
// ByteSink/ByteSource of base/byte_stream.h with write(2)/read(2), EINTR retried, short writes
// completed. The descriptor is borrowed, not closed.
#ifndef THINSNAP_THINPOOL_KERNEL_STREAM_FD_H_
#define THINSNAP_THINPOOL_KERNEL_STREAM_FD_H_

#include <string>

#include "base/byte_stream.h"

namespace thinsnap::kernel {

class FdByteSink : public ByteSink {
 public:
  FdByteSink(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  void Write(const void* data, size_t n) override;
  // fsync(2) when the descriptor is a regular file (a pipe or a terminal needs none).
  void Sync();

 private:
  int fd_;
  std::string what_;
};

class FdByteSource : public ByteSource {
 public:
  FdByteSource(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  size_t Read(void* data, size_t n) override;

 private:
  int fd_;
  std::string what_;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_STREAM_FD_H_
