// The gRPC server of containerd's snapshots service on a unix socket: a daemon Service
// (services/daemon.h) whose handlers forward to Snapshotter.
#ifndef THINSNAP_SERVICES_CONTAINERD_SERVICE_H_
#define THINSNAP_SERVICES_CONTAINERD_SERVICE_H_

#include <memory>

#include "services/daemon.h"

namespace thinsnap::containerd {

// nullptr when opts.containerd_address is empty.
std::unique_ptr<Service> MakeContainerdService(const ServeOptions& opts, EngineHost* host);

}  // namespace thinsnap::containerd

#endif  // THINSNAP_SERVICES_CONTAINERD_SERVICE_H_
