#include "tests/services/docker_test_pool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/error.h"

namespace thinsnap::docker {

DockerTestPool::DockerTestPool(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) ThrowErrno("mkdtemp " + tmpl, errno);
  dir_ = tmpl;
  root_ = dir_ + "/root";
  if (::mkdir(root_.c_str(), 0700) != 0) ThrowErrno("mkdir " + root_, errno);
  EngineOptions opts;
  opts.lock_timeout_ms = 0;
  {
    auto engine = Engine::Open(root_, &dm, &sys, opts);
    PoolCreateOptions o;
    o.data_size = 1ull << 30;
    o.metadata_size = 16 << 20;
    o.base_size = 256 << 20;
    engine->CreatePool(o);
  }
  EngineHostOptions host_opts;
  host_opts.root = root_;
  host_opts.engine = opts;
  host = std::make_unique<EngineHost>(&dm, &sys, host_opts);
  driver = std::make_unique<GraphDriver>(host.get());
  Reply init = driver->Call("GraphDriver.Init", nlohmann::json::parse(
                                                    R"({"Home":"/var/lib/docker","Opts":null,
                                                        "UIDMaps":null,"GIDMaps":null})"));
  if (init.status != 200) throw Error("GraphDriver.Init: " + init.body.dump());
}

DockerTestPool::~DockerTestPool() {
  driver.reset();
  host.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) ADD_FAILURE() << "removing " << dir_ << ": " << ec.message();
}

}  // namespace thinsnap::docker
