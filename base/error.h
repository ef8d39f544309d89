// The project's one error model: an exception thrown where the failure is found, carrying the
// operation, the object it was done to and the errno, and caught only in cli/main.cc, which prints
// what() as one line and maps kind() to the exit status. Layers add context by catching,
// prefixing and rethrowing (Error::Wrap), never by swallowing.
#ifndef THINSNAP_BASE_ERROR_H_
#define THINSNAP_BASE_ERROR_H_

#include <stdexcept>
#include <string>
#include <string_view>

namespace thinsnap {

enum class ErrorKind {
  kFailure,   // anything else: exit 1
  kUsage,     // bad command line or argument value: exit 2
  kNotFound,  // no such device/layer/pool
  kExists,    // name or id already taken
  kBusy,      // device open, pool locked
  kNoSpace,   // pool or metadata out of space, or below --min-free-space
  kCorrupt,   // metadata damage found while reading
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::kFailure, int err = 0)
      : std::runtime_error(std::move(message)), kind_(kind), errno_(err) {}

  ErrorKind kind() const { return kind_; }
  // The errno behind the failure, 0 when there is none.
  int error_number() const { return errno_; }

  // Returns a copy whose message is "context: <this message>", same kind and errno.
  Error Wrap(std::string_view context) const;

 private:
  ErrorKind kind_;
  int errno_;
};

// Throws "<operation>: <strerror(err)> (errno <err>)"; the kind follows from err
// (ENOENT -> kNotFound, EEXIST -> kExists, EBUSY -> kBusy, ENOSPC -> kNoSpace).
[[noreturn]] void ThrowErrno(std::string_view operation, int err);

// The ErrorKind that best describes an errno value.
ErrorKind KindForErrno(int err);

}  // namespace thinsnap

#endif  // THINSNAP_BASE_ERROR_H_
