// The engine's core: opening a root, names, and the thin-device helpers the commands share.
#include <cerrno>
#include <cstdio>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {

void ValidateName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    throw Error("invalid name '" + name +
                    "': use 1 to 64 characters of A-Z a-z 0-9 _ . - (not starting with . or -)",
                ErrorKind::kUsage);
  }
}

Engine::Engine(std::string root, kernel::DeviceMapper* dm, kernel::System* sys, EngineOptions opts,
               RootLock lock, std::unique_ptr<Store> store)
    : impl_(
          std::make_unique<Impl>(this, std::move(root), dm, sys, std::move(opts), std::move(lock))),
      store_(std::move(store)) {}

Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::Open(const std::string& root, kernel::DeviceMapper* dm,
                                     kernel::System* sys, const EngineOptions& opts) {
  if (!opts.create_root && !sys->Exists(root + "/meta")) {
    throw Error("no thinsnap pool at " + root +
                    " (create one with `thinsnap pool create --loopback`, or with --data DEV "
                    "--metadata DEV)",
                ErrorKind::kNotFound);
  }
  sys->MakeDirs(root);
  RootLock lock = RootLock::Acquire(root, opts.lock_timeout_ms);
  sys->MakeDirs(root + "/meta");
  std::unique_ptr<Store> store = Store::Open(root + "/meta", opts.store);
  std::unique_ptr<Engine> engine(
      new Engine(root, dm, sys, opts, std::move(lock), std::move(store)));
  std::vector<std::string> notes;
  engine->impl_->ReconcileIfActive(&notes);
  engine->impl_->MigrateOriginName();
  for (const std::string& note : notes) engine->impl_->Progress(note);
  return engine;
}

std::string Engine::PoolName() const { return impl_->PoolName(); }

std::string Engine::NameOf(uint32_t id) const {
  const DeviceRecord* rec = store_->catalog().FindById(id);
  return rec ? rec->name : "";
}

void Engine::Unlock() {
  if (!impl_->lock.held()) throw Error("Engine::Unlock: the root's lock is not held");
  unlocked_stamp_ = store_->DiskStamp();
  impl_->lock.Release();
}

bool Engine::Relock() {
  if (impl_->lock.held()) throw Error("Engine::Relock: the root's lock is already held");
  impl_->lock = RootLock::Acquire(impl_->root, impl_->opts.lock_timeout_ms);
  return store_->DiskStamp() == unlocked_stamp_;
}

bool Engine::locked() const { return impl_->lock.held(); }

// --- names and paths ---

std::string Engine::Impl::PoolName() { return Backing(settings())->PoolName(); }

std::string Engine::Impl::ThinName(uint32_t id) {
  return "thinsnap-" + settings().pool_id + "-" + std::to_string(id);
}

std::string Engine::Impl::ThinUuid(uint32_t id) {
  return "THINSNAP-" + settings().pool_id + "-" + std::to_string(id);
}

std::string Engine::Impl::PoolDevice() { return Backing(settings())->PoolDevice(); }

std::string Engine::Impl::DeviceNode(const std::string& ref) { return DmDeviceNode(dm, ref); }

std::vector<uint32_t> Engine::Impl::NextFreeIds() {
  std::vector<uint32_t> taken = ForeignIds(), ids;
  for (size_t i = 0; i < Transactor::kMaxCreatesPerIntent; ++i) {
    try {
      ids.push_back(catalog().NextFreeId(taken));
    } catch (const Error&) {
      break;  // every id is in use
    }
    taken.push_back(ids.back());
  }
  return ids;
}

std::vector<uint32_t> Engine::Impl::ForeignIds() {
  std::vector<uint32_t> ids;
  auto it = catalog().config().find("adopt.foreign_ids");
  if (it == catalog().config().end()) return ids;
  size_t pos = 0;
  const std::string& list = it->second;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    ids.push_back(static_cast<uint32_t>(std::stoul(list.substr(pos, comma - pos))));
    pos = comma + 1;
  }
  return ids;
}

std::string Engine::Impl::DataDevice(const PoolSettings& s) { return Backing(s)->DataDevice(); }

std::string Engine::Impl::MetadataDevice(const PoolSettings& s) {
  return Backing(s)->MetadataDevice();
}

std::string Engine::Impl::OfflineMetadataDevice(const PoolSettings& s,
                                                std::unique_ptr<kernel::LoopHandle>* keep) {
  return Backing(s)->OfflineMetadataDevice(keep);
}

// --- state checks ---

void Engine::Impl::RequirePool() {
  PoolSettings s = settings();
  if (s.pool_id.empty()) {
    throw Error("no pool in " + root + "; create one with: thinsnap pool create --loopback",
                ErrorKind::kNotFound);
  }
  if (!s.ready) {
    throw Error("the pool in " + root +
                " was not fully created (interrupted pool create); remove it with: thinsnap "
                "pool destroy --force");
  }
}

bool Engine::Impl::PoolActive() { return dm->Info(PoolName()).has_value(); }

void Engine::Impl::RequireActivePool() {
  RequirePool();
  if (!PoolActive()) {
    throw Error("pool " + PoolName() + " is not active; run: thinsnap pool activate");
  }
}

kernel::PoolStatus Engine::Impl::RequireActivePoolStatus() {
  RequirePool();
  try {
    return PoolStatusNow();
  } catch (const Error& e) {
    if (e.error_number() != ENXIO) throw;
    throw Error("pool " + PoolName() + " is not active; run: thinsnap pool activate");
  }
}

const DeviceRecord& Engine::Impl::Find(const std::string& name) {
  const DeviceRecord* rec = catalog().FindByName(name);
  // `--from base` was the origin's name before it left the users' namespace: it still means
  // the origin while no device of the user's is called base.
  if (!rec && name == "base") rec = catalog().FindByName(kOriginName);
  if (!rec) throw Error("no device named '" + name + "'", ErrorKind::kNotFound);
  return *rec;
}

void Engine::Impl::MigrateOriginName() {
  const DeviceRecord* old = catalog().FindByName("base");
  if (!old || old->kind != DeviceKind::kBase || store().pending()) return;
  DeviceRecord renamed = *old;
  renamed.name = kOriginName;
  UpdateRecord(renamed);
  Progress("renamed the pool's internal origin 'base' to '" + std::string(kOriginName) +
           "' (the name base is free for a layer of yours)");
}

const DeviceRecord& Engine::Impl::FindKind(const std::string& name, DeviceKind kind) {
  const DeviceRecord& rec = Find(name);
  if (rec.kind != kind) {
    throw Error("'" + name + "' is not a " + DeviceKindName(kind), ErrorKind::kUsage);
  }
  return rec;
}

void Engine::Impl::RequireNameFree(const std::string& name) {
  ValidateName(name);
  if (catalog().FindByName(name)) {
    throw Error("a device named '" + name + "' already exists", ErrorKind::kExists);
  }
}

kernel::PoolStatus Engine::Impl::PoolStatusNow() {
  return kernel::ParsePoolStatus(dm->Status(PoolName(), /*no_flush=*/true));
}

void Engine::Impl::CheckSpace(const std::string& operation, const kernel::PoolStatus* known) {
  AutoextendResult grown = Autoextend(/*hook=*/nullptr, known);
  // A pool thinsnap cannot grow: its user is warned, besides the progress line.
  if (!grown.warning.empty()) Warn(grown.warning);
  if (!grown.report.empty()) Progress(grown.report);
  kernel::PoolStatus st = known && !grown.grew ? *known : PoolStatusNow();
  PoolSettings s = settings();
  auto refuse = [&](const std::string& why) {
    throw Error(operation + ": " + why, ErrorKind::kNoSpace);
  };
  if (st.failed) refuse("pool has failed; run thinsnap pool check");
  if (st.needs_check) refuse("pool metadata needs checking; run thinsnap pool repair");
  if (st.mode == kernel::PoolIoMode::kOutOfDataSpace) {
    refuse("pool out of data space (" + std::to_string(st.data_used_blocks) + "/" +
           std::to_string(st.data_total_blocks) +
           " blocks used); free space with thinsnap rm or "
           "grow the pool with thinsnap pool set --data-size");
  }
  if (st.mode == kernel::PoolIoMode::kReadOnly) {
    refuse("pool is read-only (metadata trouble); run thinsnap pool repair");
  }
  auto below = [&](uint64_t used, uint64_t total, const char* what, uint64_t block) {
    if (total == 0) return;
    uint64_t free = total - std::min(used, total);
    if (free * 100 < total * static_cast<uint64_t>(s.min_free_percent)) {
      refuse(std::string("pool ") + what + " space below --min-free-space " +
             std::to_string(s.min_free_percent) + "%: " + FormatSize(used * block) + " of " +
             FormatSize(total * block) + " used, " + FormatSize(free * block) + " free");
    }
  };
  below(st.data_used_blocks, st.data_total_blocks, "data", s.block_size);
  below(st.metadata_used_blocks, st.metadata_total_blocks, "metadata", 4096);
}

// --- thin devices ---

bool Engine::Impl::ThinActive(uint32_t id) { return dm->Info(ThinName(id)).has_value(); }

std::string Engine::Impl::ActivateThin(const DeviceRecord& rec) {
  std::string name = ThinName(rec.id);
  kernel::Table table = {kernel::ThinTable(PoolDevice(), rec.id, rec.size_bytes / 512)};
  kernel::CreateOptions opts;
  opts.uuid = ThinUuid(rec.id);
  opts.read_only = rec.read_only;
  // A device its record calls inactive is created without asking first (one ioctl less on the
  // create path); one that is there after all (a killed process left it) answers EBUSY, and is
  // then looked at as an active one is.
  if (!rec.active && CreateUnlessPresent(dm, name, table, opts)) return dm->DevicePath(name);
  std::optional<kernel::DeviceInfo> info = dm->Info(name);
  if (!info) {
    dm->Create(name, table, opts);
  } else if (info->deferred_remove) {
    // Unmount(defer_busy) left it to go at its last close: it is wanted again.
    dm->Message(name, "@cancel_deferred_remove");
  }
  return dm->DevicePath(name);
}

bool CreateUnlessPresent(kernel::DeviceMapper* dm, const std::string& name,
                         const kernel::Table& table, const kernel::CreateOptions& opts) {
  try {
    dm->Create(name, table, opts);
    return true;
  } catch (const Error& e) {
    if (e.error_number() != EBUSY || !dm->Info(name)) throw;
    return false;
  }
}

kernel::RemoveResult Engine::Impl::DeactivateThin(uint32_t id, bool allow_deferred) {
  kernel::RemoveOptions opts;
  opts.deferred = allow_deferred && settings().deferred_removal;
  std::string name = ThinName(id);
  try {
    return dm->Remove(name, opts);
  } catch (const Error& e) {
    if (e.error_number() != EBUSY) throw;
    // Say which device and why in words; the kernel's own text follows.
    const DeviceRecord* rec = catalog().FindById(id);
    std::optional<kernel::DeviceInfo> info = dm->Info(name);
    std::string who =
        rec ? "'" + rec->name + "' (" + dm->DevicePath(name) + ")" : dm->DevicePath(name);
    std::string opens = info ? " (open count " + std::to_string(info->open_count) + ")" : "";
    throw Error("cannot deactivate " + who + ": the device is busy, still open" + opens +
                    " by a process or a mount outside thinsnap; close it and retry (thinsnap rm "
                    "would defer the removal instead). Kernel: " +
                    e.what(),
                ErrorKind::kBusy, EBUSY);
  }
}

void Engine::Impl::ReloadThin(const DeviceRecord& rec) {
  std::string name = ThinName(rec.id);
  dm->Reload(name, {kernel::ThinTable(PoolDevice(), rec.id, rec.size_bytes / 512)});
  // The loaded table goes live at resume; the suspend in between drains in-flight I/O (and
  // freezes a filesystem mounted on the device) across the switch.
  dm->Suspend(name);
  dm->Resume(name);
}

DeviceRecord Engine::Impl::NewRecord(const std::string& name, DeviceKind kind, uint32_t parent,
                                     uint64_t size, FsType fs) {
  DeviceRecord rec;
  std::vector<uint32_t> taken = ForeignIds();
  taken.insert(taken.end(), planned_ids.begin(), planned_ids.end());
  rec.id = catalog().NextFreeId(taken);
  kernel::ValidateThinId(rec.id);
  rec.name = name;
  rec.kind = kind;
  rec.parent_id = parent;
  rec.size_bytes = size;
  rec.fs = fs;
  rec.created_ns = sys->NowNs();
  DeviceUuid uuid;
  sys->RandomBytes(uuid.data(), uuid.size());
  rec.labels["thinsnap.uuid"] = FormatUuid(MakeUuidV4(uuid));
  return rec;
}

void Engine::Impl::CreateDevice(const DeviceRecord& rec, const DeviceRecord* origin) {
  Intent intent;
  if (origin) {
    intent.kernel_ops.push_back({KernelOp::Kind::kCreateSnap, rec.id, origin->id});
  } else {
    intent.kernel_ops.push_back({KernelOp::Kind::kCreateThin, rec.id, 0});
  }
  intent.mutations.push_back(Mutation::Put(rec));
  Transactor tx(&store(), dm, PoolName());
  std::string origin_name = origin ? ThinName(origin->id) : "";
  // A read-only origin that its record calls inactive is not asked about: if a device of it is
  // live after all (a temporary mount a killed process left), that table is read-only too, and
  // an origin that takes no writes needs no quiescing. A device that may still be live writable
  // (a commit whose deactivation was deferred) keeps its record active.
  bool suspend = origin && !Unchanging(*origin) && dm->Info(origin_name).has_value();
  if (!origin || Unchanging(*origin)) {
    return tx.Run(std::move(intent), Transactor::Order::kOverlapped);
  }
  if (!suspend) return tx.Run(std::move(intent));
  // The kernel wants an active origin quiesced while it is snapshotted; suspending also freezes
  // a filesystem mounted on it, so the snapshot is consistent. Always resume.
  dm->Suspend(origin_name);
  try {
    tx.Run(std::move(intent));
  } catch (...) {
    dm->Resume(origin_name);
    throw;
  }
  dm->Resume(origin_name);
}

void Engine::Impl::DeleteDevice(const DeviceRecord& rec) {
  Intent intent;
  intent.kernel_ops.push_back({KernelOp::Kind::kDelete, rec.id, 0});
  for (const DeviceRecord* child : catalog().Children(rec.id)) {
    DeviceRecord moved = *child;
    moved.parent_id = rec.parent_id;
    intent.mutations.push_back(Mutation::Put(moved));
  }
  intent.mutations.push_back(Mutation::Delete(rec.id));
  Transactor(&store(), dm, PoolName()).Run(std::move(intent));
}

void Engine::Impl::UpdateRecord(const DeviceRecord& rec) { store().Update({Mutation::Put(rec)}); }

std::string Engine::Impl::MountOptions(const DeviceRecord& rec, bool force_read_only) {
  bool ro = rec.read_only || force_read_only;
  std::string opts;
  if (rec.fs == FsType::kXfs) {
    opts = ro ? "ro,nouuid,norecovery" : "nouuid";
  } else {
    opts = rec.read_only ? "ro,noload" : (ro ? "ro" : "");
  }
  std::string extra = settings().mount_opts;
  if (!extra.empty()) opts += (opts.empty() ? "" : ",") + extra;
  return opts;
}

Engine::Impl::TempMount::TempMount(Impl* impl, const DeviceRecord& rec, bool read_only)
    : impl_(impl), id_(rec.id) {
  if (!rec.mountpoint.empty()) {
    dir_ = rec.mountpoint;
    return;
  }
  activated_ = !impl->ThinActive(rec.id);
  std::string dev = impl->ActivateThin(rec);
  dir_ = impl->TempDir(std::to_string(rec.id));
  try {
    impl->sys->MakeDirs(dir_);
    impl->sys->Mount(dev, dir_, rec.fs, impl->MountOptions(rec, read_only));
  } catch (...) {
    if (activated_) impl->DeactivateThin(id_, /*allow_deferred=*/false);
    throw;
  }
  mounted_ = true;
}

Engine::Impl::TempMount::~TempMount() {
  try {
    Release();
  } catch (const Error& e) {
    impl_->Warn("cleaning up " + dir_ + ": " + e.what());
  }
}

void Engine::Impl::TempMount::Release() {
  if (mounted_) {
    mounted_ = false;
    impl_->sys->Unmount(dir_);
    impl_->sys->RemoveDir(dir_);
  }
  if (activated_) {
    activated_ = false;
    impl_->DeactivateThin(id_, /*allow_deferred=*/false);
  }
}

std::unique_ptr<Engine::Impl::TempMount> Engine::Impl::MountTemporarily(const DeviceRecord& rec,
                                                                        bool read_only) {
  if (rec.fs == FsType::kNone) {
    throw Error("device '" + rec.name + "' has no filesystem", ErrorKind::kUsage);
  }
  return std::make_unique<TempMount>(this, rec, read_only);
}

void Engine::Impl::GrowOrRollBack(const DeviceRecord& rec, const std::string& operation) {
  try {
    GrowFilesystemOf(rec);
  } catch (const Error& e) {
    // An I/O error (or a full pool) while growing: the new device goes again, whole.
    if (ThinActive(rec.id)) DeactivateThin(rec.id, false);
    DeleteDevice(rec);
    throw e.Wrap(operation + " (rolled back)");
  }
}

void Engine::Impl::GrowFilesystemOf(const DeviceRecord& rec) {
  if (rec.fs == FsType::kNone) return;
  auto mount = MountTemporarily(rec, /*read_only=*/false);
  {
    Step step(opts, "growing the filesystem of " + rec.name + " to " + FormatSize(rec.size_bytes) +
                        " (" + (rec.fs == FsType::kXfs ? "xfs_growfs" : "resize2fs") + ")");
    sys->GrowFilesystem(dm->DevicePath(ThinName(rec.id)), mount->dir(), rec.fs);
  }
  mount->Release();
}

std::vector<TreeChange> Engine::Impl::CompareTrees(const DeviceRecord& rec,
                                                   const std::string& lower,
                                                   const std::string& upper) {
  Step step(opts, "comparing " + rec.name + " with its parent");
  return sys->DiffTrees(lower, upper);
}

}  // namespace thinsnap
