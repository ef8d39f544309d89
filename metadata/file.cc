#include "metadata/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/error.h"

namespace thinsnap {
namespace {

// Owns one descriptor; move-free on purpose (it lives behind a unique_ptr).
class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void Append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("write " + path_, errno);
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void Sync() override {
    if (::fdatasync(fd_) != 0) ThrowErrno("fdatasync " + path_, errno);
  }

  void Close() override {
    if (fd_ < 0) return;
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) ThrowErrno("close " + path_, errno);
  }

 private:
  std::string path_;
  int fd_;
};

// Closes a descriptor on scope exit (read paths, where a close error changes nothing).
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

class Posix final : public FileSystem {
 public:
  std::unique_ptr<WritableFile> OpenWritable(const std::string& path, OpenMode mode) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND;
    if (mode == OpenMode::kTruncate) flags |= O_TRUNC;
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) ThrowErrno("open " + path, errno);
    return std::make_unique<PosixWritableFile>(path, fd);
  }

  std::string ReadFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ThrowErrno("open " + path, errno);
    FdCloser closer{fd};
    std::string out;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("read " + path, errno);
      if (n == 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

  bool Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    ThrowErrno("stat " + path, errno);
  }

  void Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) ThrowErrno("rename " + from + " " + to, errno);
  }

  void SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) ThrowErrno("open " + dir, errno);
    FdCloser closer{fd};
    if (::fsync(fd) != 0) ThrowErrno("fsync " + dir, errno);
  }

  void Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("unlink " + path, errno);
  }

  void Truncate(const std::string& path, uint64_t size) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) ThrowErrno("open " + path, errno);
    FdCloser closer{fd};
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) ThrowErrno("truncate " + path, errno);
    if (::fsync(fd) != 0) ThrowErrno("fsync " + path, errno);
  }

  void CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) ThrowErrno("mkdir " + path, errno);
  }
};

}  // namespace

FileSystem* PosixFileSystem() {
  static Posix* fs = new Posix();  // never destroyed: usable during static destruction
  return fs;
}

}  // namespace thinsnap
