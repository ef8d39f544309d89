// Pool lifecycle: create, activate after a reboot, deactivate, destroy, settings and growth.
#include <cinttypes>
#include <cstdio>
#include <random>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

std::string NewPoolId() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

// Keeps the loop devices attached by this process open until the pool table holds them.
struct PoolDevices {
  std::unique_ptr<kernel::LoopHandle> data_loop, meta_loop;
  std::string data, metadata;
};

}  // namespace

uint64_t Engine::Impl::LowWaterBlocks(const PoolSettings& s, uint64_t data_bytes) {
  uint64_t blocks = data_bytes / s.block_size;
  int free_percent = s.autoextend_threshold > 0 ? 100 - s.autoextend_threshold : s.min_free_percent;
  return blocks * static_cast<uint64_t>(free_percent) / 100;
}

void Engine::Impl::LoadPoolTable(const PoolSettings& s, const std::string& data_dev,
                                 const std::string& meta_dev, bool create) {
  uint64_t data_bytes = sys->SizeOf(data_dev);
  uint64_t block_sectors = s.block_size / 512;
  uint64_t data_sectors = data_bytes / s.block_size * block_sectors;
  kernel::PoolFeatures f;
  f.skip_block_zeroing = s.skip_block_zeroing;
  f.ignore_discard = s.discard == DiscardMode::kIgnore;
  f.no_discard_passdown = s.discard == DiscardMode::kNoPassdown;
  f.error_if_no_space = s.no_space == NoSpacePolicy::kError;
  kernel::Table table = {kernel::ThinPoolTable(meta_dev, data_dev, data_sectors, block_sectors,
                                               LowWaterBlocks(s, data_bytes), f)};
  if (create) {
    kernel::CreateOptions opts;
    opts.uuid = "THINSNAP-" + s.pool_id + "-pool";
    dm->Create(PoolName(), table, opts);
    return;
  }
  dm->Reload(PoolName(), table);
  dm->Suspend(PoolName());
  dm->Resume(PoolName());
}

void Engine::Impl::CheckSpareDevice(const PoolSettings& s, const std::string& spare) {
  if (s.mode != PoolMode::kDirect) {
    throw Error("--metadata-spare is for direct mode (a loopback pool keeps its spare as " + root +
                    "/metadata.spare)",
                ErrorKind::kUsage);
  }
  if (spare == s.data_path || spare == s.metadata_path) {
    throw Error("--metadata-spare must be a device of its own, not " + spare, ErrorKind::kUsage);
  }
  if (!sys->IsBlockDevice(spare)) throw Error(spare + " is not a block device", ErrorKind::kUsage);
  sys->CheckNotInUse(spare);
  uint64_t have = sys->SizeOf(spare);
  uint64_t need = std::min<uint64_t>(sys->SizeOf(s.metadata_path), kernel::kMaxMetadataBytes);
  if (have < need) {
    throw Error("--metadata-spare " + spare + " (" + FormatSize(have) +
                    ") is smaller than the metadata device (" + FormatSize(need) + ")",
                ErrorKind::kUsage);
  }
}

void Engine::CreatePool(const PoolCreateOptions& o) {
  Impl& m = *impl_;
  if (!m.settings().pool_id.empty()) {
    throw Error("a pool already exists in " + m.root + " (pool " + m.PoolName() +
                    "); use another --root or thinsnap pool destroy",
                ErrorKind::kExists);
  }
  kernel::ValidateBlockSize(o.block_size);
  if (o.base_size < (16ull << 20) || o.base_size % 512 != 0) {
    throw Error("--base-size: " + FormatSize(o.base_size) + " is too small (at least 16 MiB)",
                ErrorKind::kUsage);
  }
  PoolSettings s;
  s.pool_id = NewPoolId();
  s.mode = o.mode;
  s.block_size = o.block_size;
  s.fs = o.fs;
  s.base_size = o.base_size;
  s.mkfs_args = o.mkfs_args;
  s.mount_opts = o.mount_opts;
  s.no_space = o.no_space;
  s.discard = o.discard;
  s.skip_block_zeroing = o.skip_block_zeroing;
  s.min_free_percent = o.min_free_percent;
  PoolDevices devs;
  if (o.mode == PoolMode::kLoopback) {
    kernel::ValidateMetadataSize(o.metadata_size);
    if (o.data_size < o.block_size * 16) {
      throw Error("--data-size: " + FormatSize(o.data_size) + " is too small", ErrorKind::kUsage);
    }
    s.data_path = m.root + "/data";
    s.metadata_path = m.root + "/metadata";
    s.metadata_spare = m.root + "/metadata.spare";
    m.sys->CreateSparseFile(s.data_path, o.data_size);
    m.sys->CreateSparseFile(s.metadata_path, o.metadata_size);
    m.sys->RemoveFile(s.metadata_spare);  // left by a destroyed pool
    m.sys->CreateSparseFile(s.metadata_spare, o.metadata_size);
    devs.data_loop = m.sys->AttachLoop(s.data_path);
    devs.meta_loop = m.sys->AttachLoop(s.metadata_path);
    devs.data = devs.data_loop->path();
    devs.metadata = devs.meta_loop->path();
  } else if (o.mode == PoolMode::kDirect) {
    std::vector<const std::string*> devices = {&o.data_device, &o.metadata_device};
    if (!o.metadata_spare.empty()) devices.push_back(&o.metadata_spare);
    for (const std::string* dev : devices) {
      if (dev->empty()) throw Error("direct mode needs --data and --metadata", ErrorKind::kUsage);
      if (!m.sys->IsBlockDevice(*dev)) {
        throw Error(*dev + " is not a block device", ErrorKind::kUsage);
      }
      m.sys->CheckNotInUse(*dev);
      std::vector<std::string> sigs = m.sys->ProbeSignatures(*dev);
      if (!sigs.empty() && !o.force) {
        throw Error("refusing to use " + *dev + ": it carries a " + sigs.front() +
                        "; wipe it or pass --force to overwrite",
                    ErrorKind::kExists);
      }
    }
    if (o.data_device == o.metadata_device) {
      throw Error("--data and --metadata must be different devices", ErrorKind::kUsage);
    }
    kernel::ValidateMetadataSize(
        std::min<uint64_t>(m.sys->SizeOf(o.metadata_device), kernel::kMaxMetadataBytes));
    s.data_path = devs.data = o.data_device;
    s.metadata_path = devs.metadata = o.metadata_device;
    if (!o.metadata_spare.empty()) {
      m.CheckSpareDevice(s, o.metadata_spare);
      s.metadata_spare = o.metadata_spare;
    }
  }
  PoolConfig adopt_config;
  if (o.mode == PoolMode::kAdopted) m.InspectForAdoption(o, &s, &adopt_config);
  m.store().Update({[&] {
    std::vector<Mutation> muts;
    for (auto& [k, v] : s.ToConfig()) muts.push_back(Mutation::SetConfig(k, v));
    for (auto& [k, v] : adopt_config) muts.push_back(Mutation::SetConfig(k, v));
    return muts;
  }()});
  if (o.mode != PoolMode::kAdopted) {
    m.sys->ZeroStart(devs.metadata, 4096);
    m.LoadPoolTable(s, devs.data, devs.metadata, /*create=*/true);
  }
  // The pool's transaction id must equal the journal's. A root that held a destroyed pool keeps
  // counting transactions: start the new pool there. A forcibly adopted pool is moved to the
  // journal's count too (its previous owner's count no longer describes it).
  uint64_t kernel_txn = m.PoolStatusNow().transaction_id;
  uint64_t journal_txn = m.catalog().transaction_id();
  if (kernel_txn != journal_txn) {
    m.dm->Message(m.PoolName(), "set_transaction_id " + std::to_string(kernel_txn) + " " +
                                    std::to_string(journal_txn));
  }
  m.Progress("pool " + m.PoolName() + " created (" + PoolModeName(s.mode) + ", " +
             FormatSize(s.block_size) + " blocks)");
  // The base device, formatted once; every layer and container descends from it.
  DeviceRecord base = m.NewRecord("base", DeviceKind::kBase, kNoParent, s.base_size, s.fs);
  base.read_only = true;
  m.CreateDevice(base, nullptr);
  std::string dev = m.ActivateThin(DeviceRecord{[&] {
    DeviceRecord rw = base;
    rw.read_only = false;
    return rw;
  }()});
  m.sys->MakeFilesystem(dev, s.fs, s.mkfs_args);
  m.DeactivateThin(base.id, false);
  m.store().Update({Mutation::SetConfig("base.id", std::to_string(base.id)),
                    Mutation::SetConfig("pool.ready", "1")});
  m.Progress("base device formatted " + std::string(FsTypeName(s.fs)) + ", " +
             FormatSize(s.base_size));
}

std::string Engine::Impl::ResolveThinPool(const std::string& arg) {
  std::string name = arg.rfind("/dev/mapper/", 0) == 0 ? arg.substr(12) : arg;
  if (!dm->Info(name)) throw Error("no device-mapper device " + arg, ErrorKind::kNotFound);
  kernel::Table table = dm->GetTable(name);
  if (table.size() == 1 && table.front().target == "linear") {
    // LVM shows a pool that has had thin volumes as a linear device over <vg>-<pool>-tpool.
    std::string below = table.front().params.substr(0, table.front().params.find(' '));
    for (const kernel::ListedDevice& d : dm->List()) {
      if (below != std::to_string(d.major) + ":" + std::to_string(d.minor)) continue;
      kernel::Table under = dm->GetTable(d.name);
      if (under.size() == 1 && under.front().target == "thin-pool") return d.name;
    }
  }
  if (table.size() != 1 || table.front().target != "thin-pool") {
    std::string what = table.empty() ? "no table" : "a " + table.front().target + " table";
    throw Error(arg + " is not a thin pool (it has " + what + ")", ErrorKind::kUsage);
  }
  return name;
}

void Engine::Impl::InspectForAdoption(const PoolCreateOptions& o, PoolSettings* s,
                                      PoolConfig* config) {
  s->adopted_pool = ResolveThinPool(o.thinpool);
  const std::string& pool = s->adopted_pool;
  kernel::ParsedPoolTable table = kernel::ParsePoolTableParams(dm->GetTable(pool).front().params);
  // The pool's own settings, whatever the options said: thinsnap never reloads its table.
  s->block_size = table.block_sectors * 512;
  s->no_space = table.features.error_if_no_space ? NoSpacePolicy::kError : NoSpacePolicy::kQueue;
  s->discard = table.features.ignore_discard        ? DiscardMode::kIgnore
               : table.features.no_discard_passdown ? DiscardMode::kNoPassdown
                                                    : DiscardMode::kPassdown;
  s->skip_block_zeroing = table.features.skip_block_zeroing;
  kernel::PoolStatus st = kernel::ParsePoolStatus(dm->Status(pool, /*no_flush=*/true));
  if (st.failed || st.needs_check || st.mode != kernel::PoolMode::kReadWrite) {
    throw Error("pool " + pool + " is not healthy (failed, needs_check or not rw); repair it first",
                ErrorKind::kFailure);
  }
  std::vector<uint32_t> ids;
  for (const kernel::ThinUsage& u : LiveThinDevices(pool, DeviceNode(table.metadata_dev))) {
    ids.push_back(u.id);
  }
  if ((st.transaction_id != 0 || st.data_used_blocks != 0 || !ids.empty()) && !o.force) {
    std::string list;
    for (uint32_t id : ids) list += (list.empty() ? " (ids " : " ") + std::to_string(id);
    if (!list.empty()) list += ")";
    throw Error("refusing to adopt pool " + pool + ": it is in use (transaction id " +
                    std::to_string(st.transaction_id) + ", " + std::to_string(ids.size()) +
                    " thin devices" + list + ", " + std::to_string(st.data_used_blocks) +
                    " data blocks used); pass --force to adopt it anyway (its thin devices are "
                    "then left alone, and its transaction id is reset to thinsnap's)",
                ErrorKind::kExists);
  }
  if (!ids.empty()) {
    std::string list;
    for (uint32_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    (*config)["adopt.foreign_ids"] = list;
  }
}

void Engine::Impl::ReconcileIfActive(std::vector<std::string>* notes) {
  PoolSettings s = settings();
  if (s.pool_id.empty() || !PoolActive()) return;
  // A failed or read-only pool answers no messages: the journal waits, and status, check and
  // repair still open the root to say so and to fix it.
  kernel::PoolStatus st = PoolStatusNow();
  if (st.failed || (st.mode == kernel::PoolMode::kReadOnly && store().pending())) {
    notes->push_back(std::string("pool ") + PoolName() + " is " +
                     (st.failed ? "failed" : "read-only") +
                     "; the journal is reconciled after thinsnap pool repair");
    return;
  }
  std::string note = Transactor(&store(), dm, PoolName()).Reconcile();
  if (!note.empty()) notes->push_back("recovery: " + note);
  if (catalog().config().count("gc.pending") && catalog().config().at("gc.pending") == "1") {
    FinishDeferredDeletes(notes);
  }
}

void Engine::Impl::FinishDeferredDeletes(std::vector<std::string>* done) {
  std::vector<DeviceRecord> pending;
  catalog().ForEach([&](const DeviceRecord& r) {
    if (r.state == DeviceState::kDeletePending) pending.push_back(r);
  });
  bool left = false;
  for (const DeviceRecord& r : pending) {
    if (ThinActive(r.id)) {
      left = true;
      continue;
    }
    DeleteDevice(r);
    done->push_back("finished deferred removal of " + r.name);
  }
  if (!left) store().Update({Mutation::EraseConfig("gc.pending")});
}

std::vector<std::string> Engine::Gc() {
  impl_->RequireActivePool();
  std::vector<std::string> done;
  impl_->FinishDeferredDeletes(&done);
  return done;
}

std::vector<std::string> Engine::ActivatePool(bool remount) {
  Impl& m = *impl_;
  m.RequirePool();
  PoolSettings s = m.settings();
  std::vector<std::string> notes;
  if (!m.PoolActive()) {
    PoolDevices devs;
    if (s.mode == PoolMode::kAdopted) {
      throw Error("adopted pool " + s.adopted_pool +
                      " is not active; activate it first (e.g. "
                      "lvchange -ay)",
                  ErrorKind::kNotFound);
    }
    if (s.mode == PoolMode::kLoopback) {
      for (auto [file, handle, dev] :
           {std::tuple{&s.data_path, &devs.data_loop, &devs.data},
            std::tuple{&s.metadata_path, &devs.meta_loop, &devs.metadata}}) {
        std::optional<std::string> found = m.sys->FindLoop(*file);
        if (found) {
          *dev = *found;
        } else {
          *handle = m.sys->AttachLoop(*file);
          *dev = (*handle)->path();
          notes.push_back("attached " + *file + " to " + *dev);
        }
      }
    } else {
      devs.data = s.data_path;
      devs.metadata = s.metadata_path;
    }
    kernel::ToolResult check = m.sys->ThinCheck(devs.metadata);
    if (!check.ok) {
      throw Error("thin_check found damage in the pool metadata on " + devs.metadata +
                  "; run thinsnap pool repair. thin_check: " + ThinCheckDamage(check.output));
    }
    m.LoadPoolTable(s, devs.data, devs.metadata, /*create=*/true);
    notes.push_back("pool " + m.PoolName() + " loaded");
  }
  m.ReconcileIfActive(&notes);
  std::vector<DeviceRecord> wanted;
  m.catalog().ForEach([&](const DeviceRecord& r) {
    if (r.active || (remount && !r.mountpoint.empty())) wanted.push_back(r);
  });
  for (const DeviceRecord& r : wanted) {
    if (!m.ThinActive(r.id)) {
      m.ActivateThin(r);
      notes.push_back("activated " + r.name);
    }
    if (remount && !r.mountpoint.empty() &&
        m.sys->MountsOf(m.dm->DevicePath(m.ThinName(r.id))).empty()) {
      m.sys->MakeDirs(r.mountpoint);
      m.sys->Mount(m.dm->DevicePath(m.ThinName(r.id)), r.mountpoint, r.fs,
                   m.MountOptions(r, false));
      notes.push_back("mounted " + r.name + " at " + r.mountpoint);
    } else if (!remount && !r.mountpoint.empty() &&
               m.sys->MountsOf(m.dm->DevicePath(m.ThinName(r.id))).empty()) {
      DeviceRecord unmounted = r;
      unmounted.mountpoint.clear();
      if (!m.store().pending()) m.UpdateRecord(unmounted);  // a read-only pool: see above
    }
  }
  return notes;
}

void Engine::DeactivatePool(bool force) {
  Impl& m = *impl_;
  m.RequirePool();
  if (!m.PoolActive()) return;
  std::vector<DeviceRecord> active;
  m.catalog().ForEach([&](const DeviceRecord& r) {
    if (!r.mountpoint.empty() || m.ThinActive(r.id)) active.push_back(r);
  });
  for (const DeviceRecord& r : active) {
    if (!r.mountpoint.empty() && !force) {
      throw Error(
          "device '" + r.name + "' is mounted at " + r.mountpoint + "; unmount it or pass --force",
          ErrorKind::kBusy);
    }
  }
  for (const DeviceRecord& r : active) {
    if (!r.mountpoint.empty()) m.sys->Unmount(r.mountpoint);
    m.DeactivateThin(r.id, /*allow_deferred=*/false);
    // Keep `active` so that `pool activate` brings it back; forget the mount.
    DeviceRecord after = r;
    after.mountpoint.clear();
    after.active = r.active || !r.mountpoint.empty();
    // A transaction left pending by a pool that went read-only (repair takes the pool down
    // before it can be reconciled) blocks journal updates. These fields are hints only:
    // ActivatePool forgets a mount that is gone once the journal is reconciled.
    if (!m.store().pending()) m.UpdateRecord(after);
  }
  if (m.settings().mode != PoolMode::kAdopted) {
    kernel::RemoveOptions opts;
    m.dm->Remove(m.PoolName(), opts);
  }
}

void Engine::DestroyPool(bool force) {
  Impl& m = *impl_;
  PoolSettings s = m.settings();
  if (s.pool_id.empty()) throw Error("no pool in " + m.root, ErrorKind::kNotFound);
  size_t others = m.catalog().size() - m.catalog().CountByKind(DeviceKind::kBase);
  if (others > 0 && !force) {
    throw Error("pool " + m.PoolName() + " still has " + std::to_string(others) +
                    " devices; remove them or pass --force",
                ErrorKind::kBusy);
  }
  bool active = m.PoolActive();
  if (active) {
    std::vector<DeviceRecord> all;
    m.catalog().ForEach([&](const DeviceRecord& r) { all.push_back(r); });
    for (const DeviceRecord& r : all) {
      if (!r.mountpoint.empty()) m.sys->Unmount(r.mountpoint);
      if (m.ThinActive(r.id)) m.DeactivateThin(r.id, false);
      if (s.mode == PoolMode::kAdopted) m.DeleteDevice(r);
    }
    if (s.mode != PoolMode::kAdopted) m.dm->Remove(m.PoolName(), kernel::RemoveOptions{});
  }
  if (s.mode == PoolMode::kLoopback) {
    m.sys->RemoveFile(s.data_path);
    m.sys->RemoveFile(s.metadata_path);
    if (!s.metadata_spare.empty()) m.sys->RemoveFile(s.metadata_spare);
  } else if (s.mode == PoolMode::kDirect) {
    m.sys->ZeroStart(s.metadata_path, 4096);
  }
  // An empty store: the root can hold a new pool.
  std::vector<Mutation> wipe;
  m.catalog().ForEach([&](const DeviceRecord& r) { wipe.push_back(Mutation::Delete(r.id)); });
  for (auto& [k, v] : m.catalog().config()) wipe.push_back(Mutation::EraseConfig(k));
  if (m.store().pending()) m.store().Abort(m.store().pending()->txn);
  m.store().Update(wipe);
  m.store().Checkpoint();
}

void Engine::SetPool(const PoolSetOptions& o) {
  Impl& m = *impl_;
  m.RequirePool();
  PoolSettings s = m.settings();
  std::vector<Mutation> muts;
  auto set = [&](const char* key, const std::string& v) {
    muts.push_back(Mutation::SetConfig(key, v));
  };
  if (o.min_free_percent) set("pool.min_free_percent", std::to_string(*o.min_free_percent));
  if (o.autoextend_threshold) set("autoextend.threshold", std::to_string(*o.autoextend_threshold));
  if (o.autoextend_percent) set("autoextend.percent", std::to_string(*o.autoextend_percent));
  if (o.autoextend_max_size) set("autoextend.max_size", std::to_string(*o.autoextend_max_size));
  if (o.autoextend_hook) set("autoextend.hook", *o.autoextend_hook);
  if (o.no_space) set("pool.no_space", *o.no_space == NoSpacePolicy::kQueue ? "queue" : "error");
  if (o.base_size) {
    if (*o.base_size < s.base_size) {
      throw Error("--base-size: " + FormatSize(*o.base_size) + " is smaller than the current " +
                      FormatSize(s.base_size) + "; devices never shrink",
                  ErrorKind::kUsage);
    }
    set("base.size", std::to_string(*o.base_size));
  }
  if (o.metadata_spare) {
    m.CheckSpareDevice(s, *o.metadata_spare);
    set("metadata.spare", *o.metadata_spare);
  }
  m.store().Update(muts);
  bool reload = o.no_space || o.autoextend_threshold || o.min_free_percent;
  for (auto [want, path] :
       {std::pair{o.data_size, s.data_path}, std::pair{o.metadata_size, s.metadata_path}}) {
    if (!want) continue;
    if (path == s.metadata_path) kernel::ValidateMetadataSize(*want);
    uint64_t now = m.sys->SizeOf(path);
    if (*want < now) {
      throw Error("cannot shrink " + path + " from " + FormatSize(now) + " to " +
                      FormatSize(*want) + "; thin pools only grow",
                  ErrorKind::kUsage);
    }
    if (s.mode == PoolMode::kLoopback) {
      m.sys->GrowFile(path, *want);
      if (auto loop = m.sys->FindLoop(path)) m.sys->RefreshLoopCapacity(*loop);
      if (path == s.metadata_path && !s.metadata_spare.empty() && m.sys->Exists(s.metadata_spare) &&
          m.sys->SizeOf(s.metadata_spare) < *want) {
        m.sys->GrowFile(s.metadata_spare, *want);
      }
    } else if (m.sys->SizeOf(path) < *want) {
      throw Error(path + " is only " + FormatSize(now) + "; grow the device itself first",
                  ErrorKind::kUsage);
    }
    reload = true;
  }
  if (reload && s.mode != PoolMode::kAdopted && m.PoolActive()) {
    PoolSettings now = m.settings();
    m.LoadPoolTable(now, m.DataDevice(now), m.MetadataDevice(now), /*create=*/false);
  }
}

}  // namespace thinsnap
