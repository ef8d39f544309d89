// Snapshotter: containerd's snapshots API mapped onto the engine, one handler per RPC (decode,
// one engine operation under the EngineHost, encode). The gRPC server (service.h) only forwards.
//
// Mapping (README.md "containerd"):
// - A key or name (any string) is the device named "ctd-" + the first 160 bits of its SHA-256 in
//   hex; the key itself is the device's label thinsnap.ctd.key, written in the same journal
//   transaction as the device. So the mapping is durable exactly when the device is.
// - Active -> a writable container; View -> a read-only container (activated read-only, mounted
//   ro); Committed -> a read-only layer (Commit turns the container into it in place).
// - A parentless Prepare/View starts from the empty root layer "ctd-root" (the pool's formatted
//   base without lost+found), made on first use.
// - containerd's labels are kept under "ctd.label:" + key; created/updated times in
//   thinsnap.ctd.created/updated (ns). The label containerd.io/snapshot/thinsnap.size on a
//   Prepare sizes the snapshot (grown filesystem).
// Errors are thinsnap::Error, translated once by status.h.
//
// Thread-safety: every handler may run on any gRPC thread; the EngineHost gives them turns, and
// a Prepare/View activates its device outside them (engine_host.h).
// Group commit: Prepares and Views queue up for a turn; the first to get one begins every queued
// request (up to Engine::kMaxGroupedCreates) in one Engine::BeginContainers, one journal sync
// and one pool transaction for all of them, and the others find theirs done when their turn
// comes. A lone request is begun alone, as before; nothing waits to gather a group.
#ifndef THINSNAP_SERVICES_CONTAINERD_SNAPSHOTTER_H_
#define THINSNAP_SERVICES_CONTAINERD_SNAPSHOTTER_H_

#include <grpcpp/support/status.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb.h"
#include "services/engine_host.h"

namespace thinsnap::containerd {

namespace api = ::containerd::services::snapshots::v1;

inline constexpr char kSizeLabel[] = "containerd.io/snapshot/thinsnap.size";
inline constexpr char kKeyLabel[] = "thinsnap.ctd.key";
inline constexpr char kRootLayer[] = "ctd-root";

// The device name of a containerd key.
std::string DeviceNameFor(const std::string& key);

class Snapshotter {
 public:
  explicit Snapshotter(EngineHost* host) : host_(host) {}

  grpc::Status Prepare(const api::PrepareSnapshotRequest& req, api::PrepareSnapshotResponse* out);
  grpc::Status View(const api::ViewSnapshotRequest& req, api::ViewSnapshotResponse* out);
  grpc::Status Mounts(const api::MountsRequest& req, api::MountsResponse* out);
  grpc::Status Commit(const api::CommitSnapshotRequest& req);
  grpc::Status Remove(const api::RemoveSnapshotRequest& req);
  grpc::Status Stat(const api::StatSnapshotRequest& req, api::StatSnapshotResponse* out);
  grpc::Status Update(const api::UpdateSnapshotRequest& req, api::UpdateSnapshotResponse* out);
  // Sends the matching snapshots in batches; `send` returns false when the client went away.
  grpc::Status List(const api::ListSnapshotsRequest& req,
                    const std::function<bool(const api::ListSnapshotsResponse&)>& send);
  // size: the bytes the pool maps for this snapshot alone (`thinsnap df`'s EXCLUSIVE column);
  // inodes: the inodes in use on its filesystem minus those on its parent's, never below 0
  // (README "containerd": what the snapshot adds, as overlayfs counts its upper directory).
  grpc::Status Usage(const api::UsageRequest& req, api::UsageResponse* out);
  grpc::Status Cleanup(const api::CleanupRequest& req);

  // Prepares and Views waiting for a turn to be begun in (for tests).
  size_t queued();

 private:
  // Inodes in use on `r`'s filesystem; nullopt when it is open but not mounted. Read-only
  // devices (layers, views) never change, so theirs are remembered.
  std::optional<uint64_t> UsedInodes(Engine& e, const DeviceRecord& r);

  // A Prepare or View waiting to be begun (the thin snapshot made and its device pinned).
  struct PendingCreate {
    std::string key, parent;
    const google::protobuf::Map<std::string, std::string>* labels;
    bool view;
    // Set by whichever request's turn begins it, then `done` under queue_mu_.
    Engine::ActivationWork work;
    std::optional<EngineHost::Pin> pin;
    std::exception_ptr error;
    bool done = false;
  };
  // Queues `p`, then takes turns until some turn has begun it (or a turn fails to start).
  void Begin(PendingCreate* p);
  // In a turn: begins up to kMaxGroupedCreates queued requests, marking each done.
  void BeginQueued(Engine& e);
  void CreateSnapshot(const std::string& key, const std::string& parent,
                      const google::protobuf::Map<std::string, std::string>& labels, bool view,
                      google::protobuf::RepeatedPtrField<::containerd::types::Mount>* mounts);

  EngineHost* host_;
  std::mutex queue_mu_;  // guards queue_ and every PendingCreate's `done`
  std::condition_variable queue_cv_;
  std::deque<PendingCreate*> queue_;
  std::mutex inodes_mu_;                                               // guards read_only_inodes_
  std::map<std::pair<uint32_t, int64_t>, uint64_t> read_only_inodes_;  // by (id, created_ns)
};

}  // namespace thinsnap::containerd

#endif  // THINSNAP_SERVICES_CONTAINERD_SNAPSHOTTER_H_
