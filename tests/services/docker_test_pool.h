// DockerTestPool: what the Docker plugin's unit tests start from. A fresh root under /tmp with a
// fake 1 GiB pool (256 MiB ext4 base), the EngineHost over it and a GraphDriver that has had
// dockerd's Init. The destructor removes the root. Used by docker_graph_driver_test and
// docker_plugin_server_test.
#ifndef THINSNAP_TESTS_SERVICES_DOCKER_TEST_POOL_H_
#define THINSNAP_TESTS_SERVICES_DOCKER_TEST_POOL_H_

#include <memory>
#include <string>

#include "services/docker/graph_driver.h"
#include "services/engine_host.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"

namespace thinsnap::docker {

class DockerTestPool {
 public:
  // `prefix`: the root's name under /tmp, e.g. "thinsnap-docker-test". Throws when the pool
  // cannot be made or Init fails.
  explicit DockerTestPool(const std::string& prefix);
  ~DockerTestPool();
  DockerTestPool(const DockerTestPool&) = delete;
  DockerTestPool& operator=(const DockerTestPool&) = delete;

  // The directory the root was made in (its parent): room for sockets and other files.
  const std::string& dir() const { return dir_; }
  const std::string& root() const { return root_; }

  kernel::FakeDeviceMapper dm;
  kernel::FakeSystem sys{&dm};
  std::unique_ptr<EngineHost> host;
  std::unique_ptr<GraphDriver> driver;

 private:
  std::string dir_, root_;
};

}  // namespace thinsnap::docker

#endif  // THINSNAP_TESTS_SERVICES_DOCKER_TEST_POOL_H_
