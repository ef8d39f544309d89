#include "base/fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFd, ClosesOnceAfterMoves) {
  UniqueFd a = UniqueFd::Open("/dev/null", O_RDONLY);
  int raw = a.get();
  UniqueFd b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_TRUE(IsOpen(raw));
  c.Close();
  EXPECT_FALSE(c.valid());
  EXPECT_FALSE(IsOpen(raw));
  c.Close();  // no-op
}

TEST(UniqueFd, DestructorAndAssignmentClose) {
  int raw = -1;
  {
    UniqueFd a = UniqueFd::Open("/dev/null", O_RDONLY);
    raw = a.get();
  }
  EXPECT_FALSE(IsOpen(raw));
  UniqueFd a = UniqueFd::Open("/dev/null", O_RDONLY);
  int first = a.get();
  a = UniqueFd::Open("/dev/zero", O_RDONLY);
  EXPECT_FALSE(IsOpen(first) && first != a.get());
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  UniqueFd a = UniqueFd::Open("/dev/null", O_RDONLY);
  int raw = a.Release();
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(IsOpen(raw));
  ::close(raw);
}

TEST(UniqueFd, OpenFailureNamesThePath) {
  try {
    UniqueFd::Open("/nonexistent/x", O_RDONLY);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("open /nonexistent/x"), std::string::npos);
  }
}

TEST(UniqueFd, OpensCloseOnExec) {
  UniqueFd a = UniqueFd::Open("/dev/null", O_RDONLY);
  EXPECT_TRUE(::fcntl(a.get(), F_GETFD) & FD_CLOEXEC);
}

}  // namespace
}  // namespace thinsnap::kernel
