#include "services/docker/docker_service.h"

#include <iostream>
#include <mutex>

#include "services/docker/graph_driver.h"
#include "services/docker/plugin_server.h"

namespace thinsnap::docker {
namespace {

// One line to the daemon's stderr (the journal, under systemd); whole lines from concurrent
// connections do not interleave.
void LogLine(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> hold(mu);
  std::cerr << "thinsnap serve: " << line << std::endl;
}

class DockerPluginService : public Service {
 public:
  DockerPluginService(std::string name, EngineHost* host, bool verbose)
      : name_(std::move(name)),
        driver_(host),
        server_(&driver_, DockerPluginSocket(name_), LogLine, verbose) {}
  std::string Describe() const override {
    return "Docker graph driver plugin '" + name_ + "' on " + server_.path();
  }
  void Start() override { server_.Start(); }
  void Shutdown(std::chrono::system_clock::time_point deadline) override {
    server_.Shutdown(deadline);
  }

 private:
  std::string name_;
  GraphDriver driver_;
  PluginServer server_;
};

}  // namespace

std::unique_ptr<Service> MakeDockerPluginService(const ServeOptions& opts, EngineHost* host) {
  if (!opts.docker_plugin) return nullptr;
  return std::make_unique<DockerPluginService>(*opts.docker_plugin, host, opts.verbose);
}

}  // namespace thinsnap::docker
