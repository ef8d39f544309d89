#include "services/containerd/status.h"

namespace thinsnap::containerd {

grpc::StatusCode CodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case ErrorKind::kExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case ErrorKind::kUsage:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorKind::kBusy:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorKind::kNoSpace:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorKind::kCorrupt:
      return grpc::StatusCode::DATA_LOSS;
    case ErrorKind::kFailure:
      break;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status ToStatus(const Error& e) { return grpc::Status(CodeFor(e.kind()), e.what()); }

}  // namespace thinsnap::containerd
