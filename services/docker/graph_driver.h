// GraphDriver: Docker's graph driver plugin protocol (legacy plugins, dockerd <= 27 with
// --experimental) mapped onto the Engine. Transport-free: plugin_server.h carries it over
// HTTP/1.1 on a unix socket; the unit tests call it directly against the engine's fakes.
//
// Mapping (README "Docker"):
//   Create(id, parent)            -> an unsealed layer (snapshot of the parent layer or the base);
//   ApplyDiff(id, parent, tar)    -> the layer is made again by the engine's layer import
//   (whiteouts,
//                                    opaque dirs, hostile entries refused and rolled back), sealed;
//   CreateReadWrite(id-init, P)   -> an unsealed layer Docker fills with /etc/hosts and friends;
//   CreateReadWrite(id, P)        -> a container from P (P is sealed first when it is unsealed);
//                                    StorageOpt size=S grows it and its filesystem;
//   Get / Put                     -> mount under <root>/mnt/<name> / unmount, reference-counted;
//   Diff / Changes / DiffSize     -> the engine's export / diff / the device's exclusive bytes;
//   GetMetadata / Status          -> what Docker's devicemapper driver showed.
// Docker ids become device names by names.h.
//
// Errors: every handler's exception becomes {"Err": "<thinsnap's one line>"} in ErrorReply, the
// protocol's one translation. Thread-safety: all methods may be called concurrently; engine work
// is serialised by the EngineHost (which also lets the CLI in between requests), reference
// counts by a mutex of their own.
#ifndef THINSNAP_SERVICES_DOCKER_GRAPH_DRIVER_H_
#define THINSNAP_SERVICES_DOCKER_GRAPH_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/fd.h"
#include "services/engine_host.h"

namespace thinsnap::docker {

struct Reply {
  int status = 200;  // HTTP status: 200, or 500 with {"Err": ...}, 404 for an unknown method
  nlohmann::json body;
};

// Fills up to `size` bytes of `buf` with the next part of a request body; returns how many,
// 0 at its end. Throws on a broken connection.
using BodyReader = std::function<size_t(char* buf, size_t size)>;

class GraphDriver {
 public:
  // `host` must outlive the driver.
  explicit GraphDriver(EngineHost* host);

  // /Plugin.Activate and every GraphDriver.* method with a JSON body (all but ApplyDiff and
  // Diff). `method` is the URL path without its leading '/'.
  Reply Call(const std::string& method, const nlohmann::json& request);
  // GraphDriver.ApplyDiff?id=&parent=: the body is the layer tar, streamed into the import.
  Reply ApplyDiff(const std::string& id, const std::string& parent, const BodyReader& body);
  // GraphDriver.Diff: the export is spooled into an unlinked file under <root>/tmp (so the
  // engine is free again while Docker reads it, e.g. into a concurrent ApplyDiff during docker
  // commit) and returned positioned at its start. Throws; the caller replies with ErrorReply.
  UniqueFd Diff(const nlohmann::json& request);

  // The one translation of an exception into the protocol's error reply.
  static Reply ErrorReply(const std::exception& e);

  // Mount reference counts by device name (for tests and Cleanup).
  std::map<std::string, int> MountCounts();

 private:
  using Handler = nlohmann::json (GraphDriver::*)(const nlohmann::json&);
  static const std::map<std::string, Handler>& Handlers();

  nlohmann::json Activate(const nlohmann::json& req);
  nlohmann::json Init(const nlohmann::json& req);
  nlohmann::json Capabilities(const nlohmann::json& req);
  nlohmann::json Create(const nlohmann::json& req);
  nlohmann::json CreateReadWrite(const nlohmann::json& req);
  nlohmann::json Remove(const nlohmann::json& req);
  nlohmann::json Get(const nlohmann::json& req);
  nlohmann::json Put(const nlohmann::json& req);
  nlohmann::json Exists(const nlohmann::json& req);
  nlohmann::json Status(const nlohmann::json& req);
  nlohmann::json GetMetadata(const nlohmann::json& req);
  nlohmann::json Cleanup(const nlohmann::json& req);
  nlohmann::json Changes(const nlohmann::json& req);
  nlohmann::json DiffSize(const nlohmann::json& req);

  // The parent's device name; "" means the pool's base device. Unsealed parents are sealed.
  std::string PrepareParent(Engine& e, const std::string& parent);
  void UnmountIfMounted(Engine& e, const std::string& name);
  std::optional<uint64_t> SizeOption(const nlohmann::json& req) const;

  EngineHost* host_;
  std::mutex mu_;  // guards refs_ and default_size_
  std::map<std::string, int> refs_;
  std::optional<uint64_t> default_size_;  // Init's "size=" option
};

// Docker's units.HumanSize (decimal, 4 significant digits: "65.54kB", "10.74GB").
std::string HumanSize(double bytes);

}  // namespace thinsnap::docker

#endif  // THINSNAP_SERVICES_DOCKER_GRAPH_DRIVER_H_
