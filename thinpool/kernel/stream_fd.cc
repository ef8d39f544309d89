#include "thinpool/kernel/stream_fd.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"

namespace thinsnap::kernel {

void FdByteSink::Write(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t r = ::write(fd_, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno("write " + what_, errno);
    p += r;
    n -= static_cast<size_t>(r);
  }
}

void FdByteSink::Sync() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) ThrowErrno("fstat " + what_, errno);
  if (S_ISREG(st.st_mode) && ::fsync(fd_) != 0) ThrowErrno("fsync " + what_, errno);
}

size_t FdByteSource::Read(void* data, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_, data, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno("read " + what_, errno);
    return static_cast<size_t>(r);
  }
}

}  // namespace thinsnap::kernel
