// The socket path rules of thinsnap serve (services/unix_socket.h), on real unix sockets.
#include "services/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "base/error.h"

namespace thinsnap {
namespace {

class UnixSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-sock-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/run/containerd.sock";
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    ASSERT_EQ(std::system(("rm -rf " + dir_).c_str()), 0);
  }
  // Binds `path_` (and listens when `listen`), as a server would.
  void Bind(bool listen) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    if (listen) {
      ASSERT_EQ(::listen(fd_, 1), 0);
    }
  }
  ErrorKind KindOfFailure() {
    try {
      PrepareSocketPath(path_);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
      return e.kind();
    }
    ADD_FAILURE() << "no error";
    return ErrorKind::kFailure;
  }

  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(UnixSocketTest, CreatesTheDirectory) {
  PrepareSocketPath(path_);
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(UnixSocketTest, StaleSocketIsReplacedLiveOneRefused) {
  PrepareSocketPath(path_);
  Bind(/*listen=*/true);
  EXPECT_EQ(KindOfFailure(), ErrorKind::kExists);  // someone serves it
  ::close(fd_);
  fd_ = -1;  // the server died; its socket file stays behind
  ASSERT_EQ(::access(path_.c_str(), F_OK), 0);
  PrepareSocketPath(path_);
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);
}

TEST_F(UnixSocketTest, NonSocketIsRefusedAndKept) {
  PrepareSocketPath(path_);
  std::ofstream(path_) << "precious";
  EXPECT_EQ(KindOfFailure(), ErrorKind::kExists);
  std::ifstream in(path_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(UnixSocketTest, TooLongPathIsAUsageError) {
  path_ = dir_ + "/" + std::string(120, 'x');
  EXPECT_EQ(KindOfFailure(), ErrorKind::kUsage);
}

TEST_F(UnixSocketTest, RestrictedToRoot) {
  PrepareSocketPath(path_);
  Bind(/*listen=*/true);
  RestrictSocket(path_);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
}

}  // namespace
}  // namespace thinsnap
