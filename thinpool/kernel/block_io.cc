#include "thinpool/kernel/block_io.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "base/fd.h"

namespace thinsnap::kernel {
namespace {

class DirectBlockIo : public BlockIo {
 public:
  DirectBlockIo(UniqueFd fd, std::string path, uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}

  void ReadAt(uint64_t offset, void* buf, size_t n) override {
    auto* p = static_cast<char*>(buf);
    for (size_t done = 0; done < n;) {
      ssize_t r = ::pread(fd_.get(), p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) Throw("read", offset + done, errno);
      if (r == 0) Throw("read (short: past the end)", offset + done, EIO);
      done += static_cast<size_t>(r);
    }
  }

  void WriteAt(uint64_t offset, const void* buf, size_t n) override {
    const auto* p = static_cast<const char*>(buf);
    for (size_t done = 0; done < n;) {
      ssize_t r = ::pwrite(fd_.get(), p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) Throw("write", offset + done, r < 0 ? errno : EIO);
      done += static_cast<size_t>(r);
    }
  }

  void Discard(uint64_t offset, uint64_t length) override {
    uint64_t range[2] = {offset, length};
    if (::ioctl(fd_.get(), BLKDISCARD, range) != 0) Throw("BLKDISCARD", offset, errno);
  }

  void Flush() override {
    if (::fdatasync(fd_.get()) != 0) Throw("fdatasync", 0, errno);
  }

  void Close() override {
    if (!fd_.valid()) return;
    Flush();
    fd_.Close();
  }

  uint64_t size() const override { return size_; }

 private:
  [[noreturn]] void Throw(const char* op, uint64_t offset, int err) {
    ThrowErrno(std::string(op) + " " + path_ + " at byte " + std::to_string(offset), err);
  }

  UniqueFd fd_;
  std::string path_;
  uint64_t size_;
};

}  // namespace

std::unique_ptr<BlockIo> OpenDirectBlockIo(const std::string& device, bool writable) {
  UniqueFd fd = UniqueFd::Open(device, (writable ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
  uint64_t size = 0;
  if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) ThrowErrno("BLKGETSIZE64 " + device, errno);
  return std::make_unique<DirectBlockIo>(std::move(fd), device, size);
}

}  // namespace thinsnap::kernel
