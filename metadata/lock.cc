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
  RootLock lock(UniqueFd::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  const int fd = lock.fd_.get();  // closed by `lock` if anything below throws
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

void RootLock::Release() {
  if (!fd_.valid()) return;
  const std::string path = fd_.what();
  const int unlock_rc = ::flock(fd_.get(), LOCK_UN);
  const int unlock_errno = errno;
  fd_.Close();
  if (unlock_rc != 0) ThrowErrno("flock unlock " + path, unlock_errno);
}

}  // namespace thinsnap
