#include "metadata/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/error.h"
#include "base/fd.h"

namespace thinsnap {
namespace {

// Owns one descriptor (its UniqueFd's what() is the path).
class PosixWritableFile final : public WritableFile {
 public:
  explicit PosixWritableFile(UniqueFd fd) : fd_(std::move(fd)) {}

  void Append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("write " + fd_.what(), errno);
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void Sync() override {
    if (::fdatasync(fd_.get()) != 0) ThrowErrno("fdatasync " + fd_.what(), errno);
  }

  void Close() override { fd_.Close(); }

 private:
  UniqueFd fd_;
};

class Posix final : public FileSystem {
 public:
  std::unique_ptr<WritableFile> OpenWritable(const std::string& path, OpenMode mode) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND;
    if (mode == OpenMode::kTruncate) flags |= O_TRUNC;
    return std::make_unique<PosixWritableFile>(UniqueFd::Open(path, flags, 0644));
  }

  std::string ReadFile(const std::string& path) override {
    // Read paths close quietly (the destructor): a close error changes nothing there.
    UniqueFd fd = UniqueFd::Open(path, O_RDONLY | O_CLOEXEC);
    std::string out;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
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
    UniqueFd fd = UniqueFd::Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (::fsync(fd.get()) != 0) ThrowErrno("fsync " + dir, errno);
  }

  void Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("unlink " + path, errno);
  }

  void Truncate(const std::string& path, uint64_t size) override {
    UniqueFd fd = UniqueFd::Open(path, O_WRONLY | O_CLOEXEC);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) ThrowErrno("truncate " + path, errno);
    if (::fsync(fd.get()) != 0) ThrowErrno("fsync " + path, errno);
  }

  void CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) ThrowErrno("mkdir " + path, errno);
  }

  std::string Identity(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return "-";
      ThrowErrno("stat " + path, errno);
    }
    auto ns = [](const timespec& t) {
      return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
    };
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
           std::to_string(st.st_size) + ":" + ns(st.st_mtim) + ":" + ns(st.st_ctim);
  }
};

}  // namespace

FileSystem* PosixFileSystem() {
  static Posix* fs = new Posix();  // never destroyed: usable during static destruction
  return fs;
}

}  // namespace thinsnap
