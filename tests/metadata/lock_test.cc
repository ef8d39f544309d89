#include "metadata/lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "base/error.h"
#include "tests/metadata/metadata_test_util.h"

namespace thinsnap {
namespace {

using testing::ScratchDir;

// A child process that takes the lock, reports through a pipe, and holds it until the parent
// writes a byte to the other pipe.
class LockHolder {
 public:
  explicit LockHolder(const std::string& root) {
    if (pipe(ready_) != 0 || pipe(release_) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      int code = 0;
      try {
        RootLock lock = RootLock::Acquire(root, 1000);
        char c = 'r';
        if (write(ready_[1], &c, 1) != 1) code = 3;
        if (read(release_[0], &c, 1) != 1) code = 4;
        lock.Release();
      } catch (...) {
        code = 2;
      }
      _exit(code);
    }
    char c;
    EXPECT_EQ(read(ready_[0], &c, 1), 1);
  }
  void Release() {
    char c = 'x';
    EXPECT_EQ(write(release_[1], &c, 1), 1);
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int fd : {ready_[0], ready_[1], release_[0], release_[1]}) close(fd);
  }
  pid_t pid() const { return pid_; }

 private:
  int ready_[2];
  int release_[2];
  pid_t pid_;
};

TEST(RootLock, SecondAcquirerTimesOutNamingTheHolder) {
  ScratchDir root;
  LockHolder holder(root.path());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    RootLock::Acquire(root.path(), 200);
    ADD_FAILURE() << "acquired a held lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBusy);
    EXPECT_EQ(std::string(e.what()),
              "pool busy (held by pid " + std::to_string(holder.pid()) + ")");
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_LT(waited, std::chrono::milliseconds(2000));
  holder.Release();
  RootLock lock = RootLock::Acquire(root.path(), 0);
  EXPECT_TRUE(lock.held());
}

TEST(RootLock, ZeroTimeoutTriesOnce) {
  ScratchDir root;
  LockHolder holder(root.path());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(RootLock::Acquire(root.path(), 0), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  holder.Release();
}

TEST(RootLock, WaiterGetsTheLockWhenReleasedWithinTheTimeout) {
  ScratchDir root;
  LockHolder holder(root.path());
  pid_t releaser = fork();
  if (releaser == 0) {
    usleep(100 * 1000);
    _exit(0);
  }
  waitpid(releaser, nullptr, 0);
  holder.Release();
  RootLock lock = RootLock::Acquire(root.path(), 1000);
  EXPECT_TRUE(lock.held());
}

TEST(RootLock, ReleaseAndMoveHandOverOwnership) {
  ScratchDir root;
  RootLock a = RootLock::Acquire(root.path(), 0);
  // flock is per open file: a second open in this process conflicts too, and names our pid.
  try {
    RootLock::Acquire(root.path(), 0);
    ADD_FAILURE() << "acquired twice";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "pool busy (held by pid " + std::to_string(getpid()) + ")");
  }
  RootLock b = std::move(a);
  EXPECT_FALSE(a.held());
  EXPECT_TRUE(b.held());
  b.Release();
  EXPECT_FALSE(b.held());
  RootLock c = RootLock::Acquire(root.path(), 0);
  EXPECT_TRUE(c.held());
}

TEST(RootLock, MissingRootIsAnError) {
  EXPECT_THROW(RootLock::Acquire("/nonexistent/thinsnap-root", 0), Error);
}

}  // namespace
}  // namespace thinsnap
