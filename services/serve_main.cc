// thinsnap-serve: the daemon behind `thinsnap serve` (the CLI execs it, so that the CLI's own
// start does not pay for loading gRPC's libraries). Options are documented in README.md.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/error.h"
#include "services/containerd/service.h"
#include "services/daemon.h"
#include "services/docker/docker_service.h"
#include "thinpool/real_kernel.h"

namespace {

// Every protocol the daemon can serve; each factory returns nullptr when not asked for.
std::vector<thinsnap::ServiceFactory> Factories() {
  return {
      thinsnap::containerd::MakeContainerdService,
      thinsnap::docker::MakeDockerPluginService,
  };
}

int Serve(const thinsnap::ServeOptions& opts, bool serial) {
  thinsnap::RealKernel kernel = thinsnap::MakeRealKernel();
  thinsnap::EngineHostOptions host_opts;
  host_opts.root = opts.root;
  host_opts.engine.lock_timeout_ms = opts.lock_timeout_ms;
  host_opts.serial = serial;
  host_opts.engine.progress = [&opts](const std::string& line) {
    // One write per line: requests on several threads report at once.
    if (opts.verbose) std::cerr << ("thinsnap serve: " + line + "\n") << std::flush;
  };
  // The engine never prints; its warnings went to stderr before it had this callback.
  host_opts.engine.warning = [](const std::string& line) {
    std::cerr << "thinsnap serve: warning: " << line << "\n";
  };
  thinsnap::EngineHost host(kernel.dm.get(), kernel.sys.get(), host_opts);
  return thinsnap::RunDaemon(opts, &host, Factories(), [](const std::string& line) {
    std::cerr << "thinsnap serve: " << line << "\n";
  });
}

}  // namespace

int main(int argc, char** argv) {
  // A fixed mmap threshold: glibc otherwise raises it to the largest block freed (up to 32 MiB),
  // and then a checkpoint's buffer (11 MiB at 100,000 devices) comes from and stays in the heap of
  // whichever request thread wrote it, one per thread: a long-running daemon keeps big transient
  // buffers out of its heaps this way, and its RSS follows what it holds.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  thinsnap::ServeOptions opts;
  if (const char* root = std::getenv("THINSNAP_ROOT")) opts.root = root;
  double lock_timeout_s = 30;
  std::string docker_name;
  const char* serial_env = std::getenv("THINSNAP_SERVE_SERIAL");
  bool serial = serial_env && std::string(serial_env) == "1";
  CLI::App app{
      "thinsnap serve: containerd's snapshotter (and Docker's graph driver) over thinsnap"};
  app.name("thinsnap serve");
  app.add_option("--root", opts.root, "state directory (default /var/lib/thinsnap)");
  app.add_option("--lock-timeout", lock_timeout_s,
                 "seconds a request waits for a CLI command on the same root (default 30)");
  app.add_flag("-v,--verbose", opts.verbose, "say more");
  app.add_flag("--serial", serial,
               "run every request's device work in its turn, one request at a time (default: "
               "activation and filesystem growth of concurrent requests overlap; also "
               "THINSNAP_SERVE_SERIAL=1)");
  app.add_option("--address", opts.containerd_address,
                 "containerd snapshots gRPC socket (default /run/thinsnap/containerd.sock); "
                 "empty: do not serve containerd");
  app.add_option("--docker-plugin", docker_name,
                 "also serve Docker's graph driver plugin as NAME (default thinsnap)")
      ->expected(0, 1)
      ->default_str("thinsnap");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "thinsnap serve: " << e.what() << " (see thinsnap serve --help)\n";
    return 2;
  }
  if (app.count("--docker-plugin") > 0)
    opts.docker_plugin = docker_name.empty() ? "thinsnap" : docker_name;
  opts.lock_timeout_ms = static_cast<int>(lock_timeout_s * 1000);
  try {
    return Serve(opts, serial);
  } catch (const thinsnap::Error& e) {
    std::cerr << "thinsnap serve: " << e.what() << "\n";
    return e.kind() == thinsnap::ErrorKind::kUsage ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "thinsnap serve: internal error: " << e.what() << "\n";
    return 1;
  }
}
