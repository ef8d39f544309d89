#include "metadata/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include "base/error.h"

namespace thinsnap {
namespace {

constexpr auto kRetryInterval = std::chrono::milliseconds(10);

// The pid the holder wrote, or "unknown" when it has not written it yet.
std::string ReadHolder(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

bool TryLock(int fd, const std::string& path) {
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno == EWOULDBLOCK) return false;
    if (errno != EINTR) ThrowErrno("flock " + path, errno);
  }
}

// The pid goes into a fixed-width record ("1234" padded with spaces to 11 bytes, then "\n")
// written over the old one in place: no ftruncate, because ext4 flushes a file truncated to
// zero and rewritten when it is closed (auto_da_alloc), which every command would pay for.
void WritePid(int fd, const std::string& path) {
  std::string pid = std::to_string(::getpid());
  pid.resize(11, ' ');
  pid += "\n";
  if (::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    ThrowErrno("write " + path, errno ? errno : EIO);
  }
}

}  // namespace

RootLock RootLock::Acquire(const std::string& root, int timeout_ms) {
  const std::string path = root + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) ThrowErrno("open " + path, errno);
  RootLock lock(fd, path);  // closes fd if anything below throws
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!TryLock(fd, path)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error("pool busy (held by pid " + ReadHolder(fd) + ")", ErrorKind::kBusy);
    }
    std::this_thread::sleep_for(kRetryInterval);
  }
  WritePid(fd, path);
  return lock;
}

RootLock::RootLock(RootLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

RootLock& RootLock::operator=(RootLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

RootLock::~RootLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

void RootLock::Release() {
  if (fd_ < 0) return;
  const int fd = std::exchange(fd_, -1);
  const int unlock_rc = ::flock(fd, LOCK_UN);
  const int unlock_errno = errno;
  if (::close(fd) != 0) ThrowErrno("close " + path_, errno);
  if (unlock_rc != 0) ThrowErrno("flock unlock " + path_, unlock_errno);
}

}  // namespace thinsnap
