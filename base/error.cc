#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace thinsnap {

Error Error::Wrap(std::string_view context) const {
  return Error(std::string(context) + ": " + what(), kind_, errno_);
}

ErrorKind KindForErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENXIO:
    case ENODEV:
      return ErrorKind::kNotFound;
    case EEXIST:
      return ErrorKind::kExists;
    case EBUSY:
      return ErrorKind::kBusy;
    case ENOSPC:
      return ErrorKind::kNoSpace;
    case EINVAL:
    default:
      return ErrorKind::kFailure;
  }
}

void ThrowErrno(std::string_view operation, int err) {
  throw Error(
      std::string(operation) + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")",
      KindForErrno(err), err);
}

}  // namespace thinsnap
