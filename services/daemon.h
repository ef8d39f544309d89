// `thinsnap serve`: one process that owns the root's engine (EngineHost) and serves it over the
// protocols asked for, until SIGTERM or SIGINT.
#ifndef THINSNAP_SERVICES_DAEMON_H_
#define THINSNAP_SERVICES_DAEMON_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/engine_host.h"

namespace thinsnap {

inline constexpr char kDefaultContainerdAddress[] = "/run/thinsnap/containerd.sock";

struct ServeOptions {
  std::string root = "/var/lib/thinsnap";
  int lock_timeout_ms = 30000;
  bool verbose = false;
  // containerd's snapshots service on this unix socket; empty: not served.
  std::string containerd_address = kDefaultContainerdAddress;
  // Docker's graph driver plugin under this name (/run/docker/plugins/NAME.sock); unset: not
  // served. (issue #18: the plugin registers itself in services/daemon.cc, MakeServices.)
  std::optional<std::string> docker_plugin;
  // How long SIGTERM waits for requests in flight before cancelling them.
  std::chrono::milliseconds drain_timeout{5000};
};

// One protocol server of the daemon. Start() binds and begins serving (from its own threads);
// it runs inside a turn of the EngineHost, so it must not call EngineHost::Run itself (requests
// that arrive meanwhile wait for the turn to end). Shutdown() stops accepting, lets requests in
// flight finish until `deadline`, then returns.
class Service {
 public:
  virtual ~Service() = default;
  virtual std::string Describe() const = 0;  // "containerd snapshotter on /run/..."
  virtual void Start() = 0;
  virtual void Shutdown(std::chrono::system_clock::time_point deadline) = 0;
};

// Builds one Service from the options and the shared host (nullptr when it does not apply).
using ServiceFactory = std::function<std::unique_ptr<Service>(const ServeOptions&, EngineHost*)>;

// Runs the daemon: recovers the root (journal against pool), starts every service the
// factories make, waits for SIGTERM/SIGINT, shuts them down, returns 0. `log` gets one line per
// event. Throws thinsnap::Error when a service cannot start (the ones started are stopped).
int RunDaemon(const ServeOptions& opts, EngineHost* host,
              const std::vector<ServiceFactory>& factories,
              const std::function<void(const std::string&)>& log);

}  // namespace thinsnap

#endif  // THINSNAP_SERVICES_DAEMON_H_
