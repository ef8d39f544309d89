#include "services/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/error.h"

namespace thinsnap {
namespace {

sockaddr_un AddressOf(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw Error("socket path '" + path + "' must be 1.." +
                    std::to_string(sizeof(addr.sun_path) - 1) + " bytes",
                ErrorKind::kUsage);
  }
  path.copy(addr.sun_path, path.size());
  return addr;
}

// True when a server accepts connections on the socket at `path`.
bool SomeoneListens(const std::string& path) {
  sockaddr_un addr = AddressOf(path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno("socket", errno);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
  return rc == 0;
}

}  // namespace

void PrepareSocketPath(const std::string& path) {
  AddressOf(path);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    ThrowErrno("mkdir " + dir.string(), errno);
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    ThrowErrno("stat " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw Error(path + " exists and is not a socket; refusing to replace it", ErrorKind::kExists);
  }
  if (SomeoneListens(path)) {
    throw Error(path + " is served by another process already", ErrorKind::kExists);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("unlink stale " + path, errno);
}

void RestrictSocket(const std::string& path) {
  if (::chown(path.c_str(), 0, 0) != 0) ThrowErrno("chown root:root " + path, errno);
  if (::chmod(path.c_str(), 0660) != 0) ThrowErrno("chmod 0660 " + path, errno);
}

}  // namespace thinsnap
