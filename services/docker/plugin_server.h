// PluginServer: Docker's legacy plugin transport for the GraphDriver: HTTP/1.1 (Boost.Beast,
// header-only, so the daemon loads no further shared library) on a unix socket, one thread per
// connection, JSON bodies, and streamed bodies both ways: ApplyDiff's request body goes into the
// engine's import as it arrives, Diff's response is written in chunks from its spool file.
// Neither is ever held in memory whole.
//
// Docker's client (moby pkg/plugins) POSTs to /Plugin.Activate and /GraphDriver.<Method>; a
// reply other than 200 is an error whose {"Err": ...} Docker shows; it retries a refused
// connection for 30 s, so a plugin restarted within that time loses no request.
//
// Every request that fails is logged as one line (method, layer id, the reply's Err), so the
// operator sees in the daemon's log what Docker reported; with `verbose`, every request.
//
// Thread-safety: Start and Shutdown from one thread; connections are served concurrently.
#ifndef THINSNAP_SERVICES_DOCKER_PLUGIN_SERVER_H_
#define THINSNAP_SERVICES_DOCKER_PLUGIN_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "base/fd.h"
#include "services/docker/graph_driver.h"

namespace thinsnap::docker {

// "/run/docker/plugins/NAME.sock" (where dockerd looks for legacy plugins). Throws kUsage for
// a NAME that is not a plain file name.
std::string DockerPluginSocket(const std::string& name);

class PluginServer {
 public:
  using Log = std::function<void(const std::string&)>;
  // `driver` must outlive the server. `log` is called from the connection threads.
  PluginServer(GraphDriver* driver, std::string socket_path, Log log = nullptr,
               bool verbose = false);
  ~PluginServer();  // Shutdown(now) when still running
  PluginServer(const PluginServer&) = delete;
  PluginServer& operator=(const PluginServer&) = delete;

  // Makes the socket's directory, replaces a stale socket (a live one or another file is
  // refused: services/unix_socket.h), binds, restricts it to root (0660) and starts
  // accepting. Throws Error naming the path.
  void Start();
  // Stops accepting, lets requests in flight finish until `deadline`, then cuts the
  // connections left and waits for their threads.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  const std::string& path() const { return path_; }

 private:
  void AcceptLoop();
  void Serve(int fd);
  void LogRequest(const std::string& method, const std::string& id, const Reply& reply);

  GraphDriver* driver_;
  std::string path_;
  Log log_;
  bool verbose_;
  UniqueFd listener_;
  UniqueFd wake_read_, wake_write_;  // Shutdown wakes the accept loop's poll
  std::thread acceptor_;
  std::mutex mu_;  // guards connections_, busy_
  std::condition_variable changed_;
  std::set<int> connections_;  // fds of open connections (owned by their threads)
  int busy_ = 0;               // connections inside a request
  bool running_ = false;
};

}  // namespace thinsnap::docker

#endif  // THINSNAP_SERVICES_DOCKER_PLUGIN_SERVER_H_
