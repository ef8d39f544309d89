// UniqueFd: the one owner of a file descriptor. Move-only; the moved-from object holds -1, so a
// descriptor is closed exactly once. Close() reports a failed close(2) (which can carry a deferred
// write error, e.g. on NFS or a loop device); the destructor is only a backstop that closes
// silently for the error paths where an exception is already on its way.
//
// Thread-safety: none; one owner at a time.
#ifndef THINSNAP_BASE_FD_H_
#define THINSNAP_BASE_FD_H_

#include <string>

namespace thinsnap {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of `fd` (may be -1). `what` names it in error messages (usually the path).
  explicit UniqueFd(int fd, std::string what = {}) : fd_(fd), what_(std::move(what)) {}
  UniqueFd(UniqueFd&& other) noexcept;
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  // Opens `path` with open(2); throws Error "open <path>: ..." on failure.
  static UniqueFd Open(const std::string& path, int flags, int mode = 0);

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  const std::string& what() const { return what_; }

  // Closes the descriptor; throws Error "close <what>: ..." when close(2) fails. The descriptor
  // is released either way (Linux frees it even when close fails). No-op when not valid().
  void Close();
  // Gives up ownership without closing; returns the descriptor.
  int Release();

 private:
  int fd_ = -1;
  std::string what_;
};

}  // namespace thinsnap

#endif  // THINSNAP_BASE_FD_H_
