#include "thinpool/layers/tree_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "base/error.h"

namespace thinsnap::layers::tree_internal {
namespace {

// Closes a DIR* (and the fd it owns) when leaving scope.
struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

std::string JoinShown(std::string_view parent, std::string_view name) {
  std::string out(parent);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

void UniqueFd::Close(std::string_view what) {
  int fd = std::exchange(fd_, -1);
  if (fd >= 0 && close(fd) != 0) ThrowErrnoAt("close", what, errno);
}

void ThrowErrnoAt(std::string_view operation, std::string_view path, int err) {
  std::string op(operation);
  op += " ";
  op += path;
  ThrowErrno(op, err);
}

UniqueFd OpenTrustedDirectory(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) ThrowErrnoAt("open directory", path, errno);
  return fd;
}

UniqueFd OpenChildDirectory(int dir_fd, const std::string& name, std::string_view shown_path) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) return fd;
  if (errno == ENOENT) return fd;
  if (errno == ELOOP || errno == ENOTDIR) {
    throw Error("refusing to resolve through " + std::string(shown_path) +
                    ": not a directory (symlinks are never followed)",
                ErrorKind::kFailure, errno);
  }
  ThrowErrnoAt("open directory", shown_path, errno);
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

UniqueFd WalkBeneath(int root_fd, const std::vector<std::string>& components, size_t count,
                     bool create) {
  UniqueFd current(fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) ThrowErrno("dup root directory fd", errno);
  std::string shown;
  for (size_t i = 0; i < count; ++i) {
    const std::string& name = components[i];
    shown = JoinShown(shown, name);
    int flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd next(openat(current.get(), name.c_str(), flags));
    if (!next.valid() && errno == ENOENT) {
      if (!create) return UniqueFd();
      if (mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        ThrowErrnoAt("mkdir", shown, errno);
      }
      next = UniqueFd(openat(current.get(), name.c_str(), flags));
    }
    if (!next.valid()) {
      if (errno == ELOOP || errno == ENOTDIR) {
        throw Error("refusing to resolve through " + shown +
                        ": not a directory (symlinks are never followed)",
                    ErrorKind::kFailure, errno);
      }
      ThrowErrnoAt("open directory", shown, errno);
    }
    current = std::move(next);
  }
  return current;
}

std::optional<struct stat> LstatAt(int dir_fd, const std::string& name, std::string_view shown) {
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  ThrowErrnoAt("lstat", shown, errno);
}

std::vector<std::string> ListDirectory(int dir_fd, std::string_view shown_path) {
  int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowErrnoAt("open directory", shown_path, errno);
  std::unique_ptr<DIR, DirCloser> dir(fdopendir(fd));
  if (!dir) {
    int err = errno;
    close(fd);
    ThrowErrnoAt("fdopendir", shown_path, err);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* ent = readdir(dir.get());
    if (ent == nullptr) break;
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) ThrowErrnoAt("readdir", shown_path, errno);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ProcPath(int dir_fd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
}

Xattrs ReadXattrs(int dir_fd, const std::string& name, std::string_view shown_path) {
  std::string path = ProcPath(dir_fd, name);
  std::string list(1024, '\0');
  ssize_t n;
  while ((n = llistxattr(path.c_str(), list.data(), list.size())) < 0 && errno == ERANGE) {
    list.resize(list.size() * 4);
  }
  if (n < 0) ThrowErrnoAt("llistxattr", shown_path, errno);
  Xattrs out;
  for (size_t pos = 0; pos < static_cast<size_t>(n);) {
    std::string key(list.c_str() + pos);
    pos += key.size() + 1;
    std::string value(256, '\0');
    ssize_t len;
    while ((len = lgetxattr(path.c_str(), key.c_str(), value.data(), value.size())) < 0 &&
           errno == ERANGE) {
      value.resize(value.size() * 16);
    }
    if (len < 0 && errno == ENODATA) continue;  // removed between list and get
    if (len < 0) ThrowErrnoAt("lgetxattr " + key, shown_path, errno);
    value.resize(len);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

void RemoveTree(int dir_fd, const std::string& name, std::string_view shown_path) {
  std::optional<struct stat> st = LstatAt(dir_fd, name, shown_path);
  if (!st) return;
  if (S_ISDIR(st->st_mode)) {
    UniqueFd child = OpenChildDirectory(dir_fd, name, shown_path);
    if (child.valid()) {
      for (const std::string& entry : ListDirectory(child.get(), shown_path)) {
        RemoveTree(child.get(), entry, JoinShown(shown_path, entry));
      }
    }
  }
  int flags = S_ISDIR(st->st_mode) ? AT_REMOVEDIR : 0;
  if (unlinkat(dir_fd, name.c_str(), flags) != 0 && errno != ENOENT) {
    ThrowErrnoAt("remove", shown_path, errno);
  }
}

}  // namespace thinsnap::layers::tree_internal
