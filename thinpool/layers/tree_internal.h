// Private helpers shared by layer_tar.cc, tree_diff.cc and tar_export.cc (library thinsnap_tree):
// an fd owner, no-follow path walking beneath a root, xattr access and recursive removal.
// Nothing here follows a symlink: every lookup is one component at a time with O_NOFOLLOW, so a
// symlink in a tree (from a layer or its parent) can never lead a write outside the root.
//
// Errors: every function throws thinsnap::Error naming the operation, the path and the errno.
// Thread-safety: stateless; each UniqueFd is used by one thread at a time.
#ifndef THINSNAP_THINPOOL_LAYERS_TREE_INTERNAL_H_
#define THINSNAP_THINPOOL_LAYERS_TREE_INTERNAL_H_

#include <sys/stat.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace thinsnap::layers::tree_internal {

// Owns one file descriptor. Move-only; the destructor closes (ignoring errors: these are read
// fds and directory handles; data fds are closed through Close(), which reports).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now and throws on failure (a failed close can mean lost writes). `what` names the file.
  void Close(std::string_view what);

 private:
  int fd_ = -1;
};

// Throws "<operation> <path>: <strerror> (errno N)" with the kind ThrowErrno gives.
[[noreturn]] void ThrowErrnoAt(std::string_view operation, std::string_view path, int err);

// Opens a directory the caller trusts (a root handed to us), following symlinks, for reading.
UniqueFd OpenTrustedDirectory(const std::string& path);

// Opens directory `name` inside dir_fd for reading without following a symlink. Returns an
// invalid fd if it does not exist; throws if it is a symlink or not a directory.
UniqueFd OpenChildDirectory(int dir_fd, const std::string& name, std::string_view shown_path);

// Splits "a/b/c" into components; the caller has already cleaned the path.
std::vector<std::string> SplitPath(std::string_view path);

// Walks `components` from root_fd one at a time with O_NOFOLLOW and returns an O_PATH fd of the
// final directory. With `create`, missing directories are made (mode 0755, like Docker). Returns
// an invalid fd when a component is missing and !create. Throws when a component is a symlink or
// not a directory ("refusing to resolve through ...").
UniqueFd WalkBeneath(int root_fd, const std::vector<std::string>& components, size_t count,
                     bool create);

// lstat of name in dir_fd; nullopt if it does not exist.
std::optional<struct stat> LstatAt(int dir_fd, const std::string& name, std::string_view shown);

// Names in a directory (without "." and ".."), sorted bytewise. REQUIRES: dir_fd readable.
std::vector<std::string> ListDirectory(int dir_fd, std::string_view shown_path);

// A path that reaches `name` inside dir_fd through /proc without following `name` itself, for
// the l*xattr calls, which have no *at form. REQUIRES: /proc mounted.
std::string ProcPath(int dir_fd, const std::string& name);

using Xattrs = std::map<std::string, std::string>;

// All extended attributes of `name` in dir_fd (not following a symlink).
Xattrs ReadXattrs(int dir_fd, const std::string& name, std::string_view shown_path);

// Removes `name` inside dir_fd whatever its type, a directory with all its contents, never
// following symlinks. Does nothing if it does not exist.
void RemoveTree(int dir_fd, const std::string& name, std::string_view shown_path);

}  // namespace thinsnap::layers::tree_internal

#endif  // THINSNAP_THINPOOL_LAYERS_TREE_INTERNAL_H_
