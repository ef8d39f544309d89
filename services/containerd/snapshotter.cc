#include "services/containerd/snapshotter.h"

#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "base/error.h"
#include "base/units.h"
#include "services/containerd/filter.h"
#include "services/containerd/status.h"

namespace thinsnap::containerd {
namespace {

constexpr char kCreatedLabel[] = "thinsnap.ctd.created";  // ns since the epoch
constexpr char kUpdatedLabel[] = "thinsnap.ctd.updated";
constexpr char kRoleLabel[] = "thinsnap.ctd.role";
constexpr char kUserPrefix[] = "ctd.label:";  // containerd's own labels, by their keys
constexpr size_t kListBatch = 100;

using LabelMap = google::protobuf::Map<std::string, std::string>;
using MountList = google::protobuf::RepeatedPtrField<::containerd::types::Mount>;

grpc::Status Handle(const std::function<void()>& fn) {
  try {
    fn();
    return grpc::Status::OK;
  } catch (const Error& e) {
    return ToStatus(e);
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string("internal error: ") + e.what());
  }
}

std::string Quote(const std::string& key) { return "'" + key + "'"; }

void RequireKey(const std::string& key, const char* what) {
  if (key.empty())
    throw Error(std::string("the snapshot ") + what + " is empty", ErrorKind::kUsage);
}

const std::string* KeyOf(const DeviceRecord& r) {
  auto it = r.labels.find(kKeyLabel);
  return it == r.labels.end() ? nullptr : &it->second;
}

// The snapshot `key` (a copy: the catalog changes under the engine's calls).
DeviceRecord FindSnapshot(Engine& e, const std::string& key) {
  const DeviceRecord* r = e.store().catalog().FindByName(DeviceNameFor(key));
  if (!r || !KeyOf(*r) || *KeyOf(*r) != key || r->state == DeviceState::kDeletePending) {
    throw Error("snapshot " + Quote(key) + " does not exist", ErrorKind::kNotFound);
  }
  return *r;
}

api::Kind KindOf(const DeviceRecord& r) {
  if (r.kind == DeviceKind::kLayer) return api::COMMITTED;
  return r.read_only ? api::VIEW : api::ACTIVE;
}

const char* KindName(api::Kind k) {
  switch (k) {
    case api::VIEW:
      return "view";
    case api::ACTIVE:
      return "active";
    case api::COMMITTED:
      return "committed";
    default:
      return "unknown";
  }
}

int64_t LabelNs(const DeviceRecord& r, const char* label, int64_t fallback) {
  auto it = r.labels.find(label);
  if (it == r.labels.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return fallback;
  }
}

void SetTime(google::protobuf::Timestamp* t, int64_t ns) {
  t->set_seconds(ns / 1'000'000'000);
  t->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

std::map<std::string, std::string> UserLabels(const DeviceRecord& r) {
  std::map<std::string, std::string> out;
  const std::string prefix = kUserPrefix;
  for (const auto& [k, v] : r.labels) {
    if (k.compare(0, prefix.size(), prefix) == 0) out[k.substr(prefix.size())] = v;
  }
  return out;
}

// What a snapshot's device records: its key, times and containerd's labels.
std::map<std::string, std::string> StoredLabels(const std::string& key,
                                                const std::map<std::string, std::string>& user,
                                                int64_t created_ns, int64_t updated_ns) {
  std::map<std::string, std::string> out = {{kKeyLabel, key},
                                            {kCreatedLabel, std::to_string(created_ns)},
                                            {kUpdatedLabel, std::to_string(updated_ns)}};
  for (const auto& [k, v] : user) out[kUserPrefix + k] = v;
  return out;
}

std::map<std::string, std::string> ToMap(const LabelMap& m) { return {m.begin(), m.end()}; }

void FillInfo(Engine& e, const DeviceRecord& r, api::Info* info) {
  info->set_name(*KeyOf(r));
  const DeviceRecord* parent = e.store().catalog().FindById(r.parent_id);
  if (parent && KeyOf(*parent)) info->set_parent(*KeyOf(*parent));
  info->set_kind(KindOf(r));
  int64_t created = LabelNs(r, kCreatedLabel, r.created_ns);
  SetTime(info->mutable_created_at(), created);
  SetTime(info->mutable_updated_at(), LabelNs(r, kUpdatedLabel, created));
  auto& labels = *info->mutable_labels();
  const std::string_view prefix = kUserPrefix;
  for (const auto& [k, v] : r.labels) {
    if (k.compare(0, prefix.size(), prefix) == 0) labels[k.substr(prefix.size())] = v;
  }
}

[[noreturn]] void NoFilesystem() {
  throw Error("the pool's base has no filesystem; containerd needs ext4 or xfs", ErrorKind::kBusy);
}

void AddMount(const DeviceRecord& r, const std::string& device, MountList* mounts) {
  if (r.fs == FsType::kNone) NoFilesystem();
  ::containerd::types::Mount* m = mounts->Add();
  bool xfs = r.fs == FsType::kXfs;
  m->set_type(xfs ? "xfs" : "ext4");
  m->set_source(device);
  if (r.read_only) {
    // Nothing may replay a journal onto a read-only image.
    static const std::vector<std::string> kXfs = {"ro", "nouuid", "norecovery"};
    static const std::vector<std::string> kExt4 = {"ro", "noload"};
    for (const std::string& o : xfs ? kXfs : kExt4) m->add_options(o);
  } else if (xfs) {
    m->add_options("nouuid");  // snapshots share the filesystem's UUID
  }
}

// The layer parentless snapshots start from: made once per pool; a half-made one (a crash while
// making it) is removed and made again.
std::string RootLayer(Engine& e) {
  const DeviceRecord* r = e.store().catalog().FindByName(kRootLayer);
  if (r && r->kind == DeviceKind::kLayer && r->state == DeviceState::kReady &&
      !r->labels.count("thinsnap.importing")) {
    return kRootLayer;
  }
  if (r) e.Remove(kRootLayer, /*force=*/true, /*discard=*/false);
  e.CreateEmptyLayer(kRootLayer, {{{kRoleLabel, "empty root of parentless snapshots"}}, false});
  return kRootLayer;
}

std::string CommittedParent(Engine& e, const std::string& parent) {
  DeviceRecord p = FindSnapshot(e, parent);
  if (KindOf(p) != api::COMMITTED) {
    throw Error("parent " + Quote(parent) + " is not a committed snapshot", ErrorKind::kUsage);
  }
  return p.name;
}

std::optional<uint64_t> SizeFrom(const LabelMap& labels) {
  auto it = labels.find(kSizeLabel);
  if (it == labels.end()) return std::nullopt;
  return ParseSize(it->second, std::string("label ") + kSizeLabel);
}

// Applies an update mask to containerd's labels; InvalidArgument for an immutable field.
std::map<std::string, std::string> UpdatedLabels(std::map<std::string, std::string> user,
                                                 const api::UpdateSnapshotRequest& req) {
  const LabelMap& given = req.info().labels();
  if (req.update_mask().paths().empty()) return ToMap(given);
  for (const std::string& path : req.update_mask().paths()) {
    if (path != "labels" && path.rfind("labels.", 0) != 0) {
      throw Error("cannot update field " + Quote(path) + " of snapshot " +
                      Quote(req.info().name()) + ": only labels are mutable",
                  ErrorKind::kUsage);
    }
  }
  for (const std::string& path : req.update_mask().paths()) {
    if (path == "labels") {
      user = ToMap(given);
      continue;
    }
    std::string k = path.substr(7);
    auto it = given.find(k);
    if (it == given.end()) {
      user.erase(k);
    } else {
      user[k] = it->second;
    }
  }
  return user;
}

// The filter fields of containerd's snapshot adaptor: kind, name, parent, labels.<key>.
std::optional<std::string> FieldOf(const api::Info& info, const std::vector<std::string>& path) {
  if (path.empty()) return std::nullopt;
  if (path[0] == "kind") return KindName(info.kind());
  if (path[0] == "name") return info.name();
  if (path[0] == "parent") return info.parent();
  if (path[0] != "labels" || path.size() < 2 || info.labels().empty()) return std::nullopt;
  std::string k = path[1];
  for (size_t i = 2; i < path.size(); ++i) k += "." + path[i];
  auto it = info.labels().find(k);
  if (it == info.labels().end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::string DeviceNameFor(const std::string& key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw Error("sha256 of a snapshot key failed");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string name = "ctd-";
  for (unsigned int i = 0; i < 20; ++i) {
    name += kHex[digest[i] >> 4];
    name += kHex[digest[i] & 15];
  }
  return name;
}

void Snapshotter::Begin(PendingCreate* p) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(p);
  }
  auto is_done = [&] {
    std::lock_guard<std::mutex> lock(queue_mu_);
    return p->done;
  };
  try {
    while (!is_done()) {
      host_->Run([&](Engine& e) {
        if (!is_done()) BeginQueued(e);  // else begun by the turn just before this one
      });
    }
  } catch (...) {
    // The turn could not start (the root failed to open). Still queued: leave, with that error.
    // Already taken by another request's turn: wait for it to finish with this one.
    std::unique_lock<std::mutex> lock(queue_mu_);
    auto it = std::find(queue_.begin(), queue_.end(), p);
    if (it != queue_.end()) {
      queue_.erase(it);
      throw;
    }
    queue_cv_.wait(lock, [&] { return p->done; });
  }
}

size_t Snapshotter::queued() {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_.size();
}

void Snapshotter::BeginQueued(Engine& e) {
  std::vector<PendingCreate*> batch;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    while (!queue_.empty() && batch.size() < Engine::kMaxGroupedCreates) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
  }
  // Every request taken is marked done at the end, whatever happens to the others.
  std::vector<size_t> begun;  // batch index of each request handed to BeginContainers
  try {
    std::vector<Engine::ContainerRequest> requests;
    std::set<std::string> names;
    int64_t now = host_->sys()->NowNs();
    for (size_t i = 0; i < batch.size(); ++i) {
      PendingCreate& p = *batch[i];
      try {
        RequireKey(p.key, "key");
        std::string name = DeviceNameFor(p.key);
        if (e.store().catalog().FindByName(name) || !names.insert(name).second) {
          throw Error("snapshot " + Quote(p.key) + " already exists", ErrorKind::kExists);
        }
        std::string from = p.parent.empty() ? RootLayer(e) : CommittedParent(e, p.parent);
        std::optional<uint64_t> size = p.view ? std::nullopt : SizeFrom(*p.labels);
        NewDeviceOptions extra{StoredLabels(p.key, ToMap(*p.labels), now, now), p.view};
        requests.push_back({name, from, size, extra});
        begun.push_back(i);
      } catch (const Error&) {
        p.error = std::current_exception();
      }
    }
    // -v: the scenario vm.containerd_concurrency looks for these.
    if (requests.size() > 1) host_->Trace("group commit of " + std::to_string(requests.size()));
    std::vector<Engine::BegunContainer> results = e.BeginContainers(requests);
    for (size_t k = 0; k < begun.size(); ++k) {
      PendingCreate& p = *batch[begun[k]];
      Engine::BegunContainer& r = results[k];
      if (!r.work) {
        p.error = std::make_exception_ptr(*r.error);
        continue;
      }
      p.work = std::move(*r.work);
      try {
        if (p.work.fs == FsType::kNone) {
          e.AbandonActivation(p.work);
          NoFilesystem();
        }
        p.pin.emplace(host_, p.work.name);
      } catch (const Error&) {
        p.error = std::current_exception();
      }
    }
  } catch (...) {
    // Not an Error of one request (the engine itself failed): every request not yet settled
    // fails with it; those already begun keep their work and go on.
    for (PendingCreate* p : batch) {
      if (!p->error && !p->pin) p->error = std::current_exception();
    }
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    for (PendingCreate* p : batch) p->done = true;
  }
  queue_cv_.notify_all();
}

// Prepare and View: a container from the parent (or the empty root), active at once so that
// the mounts can be returned; rolled back when activation fails. The record and the thin
// snapshot are made in a turn (with the others queued then: Begin), the activation (and a size
// label's growth) runs outside the turns with the device pinned, the record is finished in a
// last turn (EngineHost).
void Snapshotter::CreateSnapshot(const std::string& key, const std::string& parent,
                                 const LabelMap& labels, bool view, MountList* mounts) {
  EngineHost* host = host_;
  PendingCreate p{key, parent, &labels, view, {}, std::nullopt, nullptr, false};
  Begin(&p);
  if (p.error) std::rethrow_exception(p.error);
  Engine::ActivationWork& work = p.work;
  std::optional<EngineHost::Pin>& pin = p.pin;
  std::string dev;
  try {
    dev = host->Outside([&] {
      // -v: the scenario vm.containerd_concurrency counts how many of these overlap.
      host->Trace("activating " + work.name + " outside the turns" +
                  (work.grow ? " (growing its filesystem)" : ""));
      std::string path = Engine::RunActivation(work, host->dm(), host->sys());
      host->Trace("activated " + work.name);
      return path;
    });
  } catch (const Error& err) {
    Error failed = err.Wrap((view ? "view " : "prepare ") + Quote(key) + " (rolled back)");
    try {
      host->Run([&](Engine& e) {
        pin.reset();  // in the turn, so that its end lets the root's lock go
        e.AbandonActivation(work);
      });
    } catch (const Error& undo) {
      throw Error(std::string(failed.what()) + "; rolling back failed too: " + undo.what(),
                  failed.kind(), failed.error_number());
    }
    throw failed;
  }
  host->Run([&](Engine& e) {
    // Unpinned in the turn either way: its end lets the root's lock go when no pin is left.
    std::optional<EngineHost::Pin> done = std::move(pin);
    pin.reset();
    AddMount(e.FinishActivation(work), dev, mounts);
  });
}

grpc::Status Snapshotter::Prepare(const api::PrepareSnapshotRequest& req,
                                  api::PrepareSnapshotResponse* out) {
  return Handle(
      [&] { CreateSnapshot(req.key(), req.parent(), req.labels(), false, out->mutable_mounts()); });
}

grpc::Status Snapshotter::View(const api::ViewSnapshotRequest& req,
                               api::ViewSnapshotResponse* out) {
  return Handle(
      [&] { CreateSnapshot(req.key(), req.parent(), req.labels(), true, out->mutable_mounts()); });
}

grpc::Status Snapshotter::Mounts(const api::MountsRequest& req, api::MountsResponse* out) {
  return Handle([&] {
    host_->RunUnpinned(DeviceNameFor(req.key()), [&](Engine& e) {
      DeviceRecord r = FindSnapshot(e, req.key());
      AddMount(r, e.Activate(r.name), out->mutable_mounts());
    });
  });
}

grpc::Status Snapshotter::Commit(const api::CommitSnapshotRequest& req) {
  return Handle([&] {
    RequireKey(req.name(), "name");
    host_->RunUnpinned(DeviceNameFor(req.key()), [&](Engine& e) {
      DeviceRecord active = FindSnapshot(e, req.key());
      if (KindOf(active) != api::ACTIVE) {
        throw Error("snapshot " + Quote(req.key()) + " is not active", ErrorKind::kBusy);
      }
      std::string name = DeviceNameFor(req.name());
      if (e.store().catalog().FindByName(name)) {
        throw Error("snapshot " + Quote(req.name()) + " already exists", ErrorKind::kExists);
      }
      int64_t now = host_->sys()->NowNs();
      e.CommitInPlace(active.name, name, StoredLabels(req.name(), ToMap(req.labels()), now, now));
    });
  });
}

grpc::Status Snapshotter::Remove(const api::RemoveSnapshotRequest& req) {
  return Handle([&] {
    host_->RunUnpinned(DeviceNameFor(req.key()), [&](Engine& e) {
      DeviceRecord r = FindSnapshot(e, req.key());
      e.Remove(r.name, /*force=*/false, /*discard=*/false);
    });
  });
}

grpc::Status Snapshotter::Stat(const api::StatSnapshotRequest& req,
                               api::StatSnapshotResponse* out) {
  return Handle([&] {
    host_->Run([&](Engine& e) { FillInfo(e, FindSnapshot(e, req.key()), out->mutable_info()); });
  });
}

grpc::Status Snapshotter::Update(const api::UpdateSnapshotRequest& req,
                                 api::UpdateSnapshotResponse* out) {
  return Handle([&] {
    const std::string& key = req.info().name();
    host_->RunUnpinned(DeviceNameFor(key), [&](Engine& e) {
      DeviceRecord r = FindSnapshot(e, key);
      std::map<std::string, std::string> user = UpdatedLabels(UserLabels(r), req);
      int64_t created = LabelNs(r, kCreatedLabel, r.created_ns);
      DeviceRecord updated =
          e.SetLabels(r.name, StoredLabels(key, user, created, host_->sys()->NowNs()));
      FillInfo(e, updated, out->mutable_info());
    });
  });
}

grpc::Status Snapshotter::List(const api::ListSnapshotsRequest& req,
                               const std::function<bool(const api::ListSnapshotsResponse&)>& send) {
  // The matches go straight into their batches, read in place from the catalog: no copy of the
  // records (List of 10,000 spent most of its time copying them under the engine's turn).
  std::vector<api::ListSnapshotsResponse> batches;
  grpc::Status st = Handle([&] {
    FilterSet filters = FilterSet::Parse({req.filters().begin(), req.filters().end()});
    host_->Run([&](Engine& e) {
      e.store().catalog().ForEach([&](const DeviceRecord& r) {
        if (!KeyOf(r) || r.state == DeviceState::kDeletePending) return;
        if (batches.empty() || batches.back().info_size() == static_cast<int>(kListBatch)) {
          batches.emplace_back();
        }
        api::Info* info = batches.back().add_info();
        FillInfo(e, r, info);
        auto field = [info](const std::vector<std::string>& p) { return FieldOf(*info, p); };
        if (!filters.Match(field)) batches.back().mutable_info()->RemoveLast();
      });
    });
  });
  if (!st.ok()) return st;
  // Streamed without the engine: the CLI and other requests go on meanwhile.
  for (const api::ListSnapshotsResponse& batch : batches) {
    if (batch.info_size() == 0) continue;
    if (!send(batch)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  }
  return grpc::Status::OK;
}

grpc::Status Snapshotter::Usage(const api::UsageRequest& req, api::UsageResponse* out) {
  return Handle([&] {
    host_->RunUnpinned(DeviceNameFor(req.key()), [&](Engine& e) {
      DeviceRecord r = FindSnapshot(e, req.key());
      for (const DfRow& row : e.Df()) {
        if (row.id == r.id) out->set_size(static_cast<int64_t>(row.exclusive));
      }
      std::optional<uint64_t> used = UsedInodes(e, r);
      if (!used) return;  // open but not mounted (a VM's disk): inodes unknown, reported as 0
      const DeviceRecord* parent = e.store().catalog().FindById(r.parent_id);
      std::optional<uint64_t> below = parent ? UsedInodes(e, DeviceRecord(*parent)) : 0;
      if (below && *used > *below) out->set_inodes(static_cast<int64_t>(*used - *below));
    });
  });
}

std::optional<uint64_t> Snapshotter::UsedInodes(Engine& e, const DeviceRecord& r) {
  std::pair<uint32_t, int64_t> id{r.id, r.created_ns};
  bool fixed = r.read_only || r.kind == DeviceKind::kLayer;
  if (fixed) {
    std::lock_guard<std::mutex> g(inodes_mu_);
    if (auto it = read_only_inodes_.find(id); it != read_only_inodes_.end()) return it->second;
  }
  std::optional<uint64_t> used = e.UsedInodes(r.name);
  if (fixed && used) {
    std::lock_guard<std::mutex> g(inodes_mu_);
    read_only_inodes_[id] = *used;
  }
  return used;
}

grpc::Status Snapshotter::Cleanup(const api::CleanupRequest&) {
  // Deletions the kernel deferred (a device still open at Remove) are finished here.
  return Handle([&] { host_->Run([](Engine& e) { e.Gc(); }); });
}

}  // namespace thinsnap::containerd
