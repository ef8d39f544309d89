// The one translation of thinsnap's errors into the gRPC status codes containerd understands
// (containerd's errdefs.FromGRPC turns them back into ErrNotFound, ErrAlreadyExists, ...).
#ifndef THINSNAP_SERVICES_CONTAINERD_STATUS_H_
#define THINSNAP_SERVICES_CONTAINERD_STATUS_H_

#include <grpcpp/support/status.h>

#include "base/error.h"

namespace thinsnap::containerd {

//   kNotFound -> NOT_FOUND            kExists  -> ALREADY_EXISTS
//   kUsage    -> INVALID_ARGUMENT     kBusy    -> FAILED_PRECONDITION (children, open, locked)
//   kNoSpace  -> RESOURCE_EXHAUSTED   kCorrupt -> DATA_LOSS        kFailure -> UNKNOWN
// The message is the error's one line.
grpc::StatusCode CodeFor(ErrorKind kind);
grpc::Status ToStatus(const Error& e);

}  // namespace thinsnap::containerd

#endif  // THINSNAP_SERVICES_CONTAINERD_STATUS_H_
