// The Docker graph driver plugin as one service of `thinsnap serve --docker-plugin [NAME]`
// (services/daemon.h): the protocol (graph_driver.h) on /run/docker/plugins/NAME.sock
// (plugin_server.h), over the daemon's shared EngineHost.
#ifndef THINSNAP_SERVICES_DOCKER_DOCKER_SERVICE_H_
#define THINSNAP_SERVICES_DOCKER_DOCKER_SERVICE_H_

#include <memory>

#include "services/daemon.h"

namespace thinsnap::docker {

// nullptr when `opts.docker_plugin` is unset. Throws kUsage for a bad plugin name.
std::unique_ptr<Service> MakeDockerPluginService(const ServeOptions& opts, EngineHost* host);

}  // namespace thinsnap::docker

#endif  // THINSNAP_SERVICES_DOCKER_DOCKER_SERVICE_H_
