// Pool lifecycle: create, activate after a reboot, deactivate, destroy, settings and growth.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>
#include <tuple>

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

}  // namespace

// Whether the kernel has a device-mapper driver at all (built in or as dm_mod), whatever
// /dev/mapper/control says: libdevmapper makes that node itself when it is missing.
bool KernelHasDeviceMapper(kernel::Files* files) {
  return files->Exists("/sys/class/misc/device-mapper") || files->Exists("/sys/module/dm_mod");
}

// The oldest thin-pool target thinsnap drives: 1.10 added the error_if_no_space feature that
// every pool table of ours may carry (--no-space error, the default).
constexpr kernel::Version kMinThinPool{1, 10, 0};

void CheckKernelForPool(kernel::DeviceMapper* dm, kernel::Files* files,
                        const std::function<void(const std::string&)>& detail) {
  try {
    dm->DriverVersion();
  } catch (const Error& e) {
    if (detail) detail(std::string("device-mapper: ") + e.what());
    int err = e.error_number();
    // libdevmapper reports a refused open of the control node in its log, not always in errno.
    bool refused = std::string_view(e.what()).find("Permission denied") != std::string_view::npos;
    if (err == EACCES || err == EPERM || refused) {
      err = err != 0 ? err : EACCES;
      throw Error("device-mapper refused access (" + std::string(std::strerror(err)) +
                      "): run thinsnap as root",
                  ErrorKind::kFailure, err);
    }
    if (!KernelHasDeviceMapper(files)) {
      throw Error(
          "this kernel has no device-mapper (dm_mod is not loaded; /dev/mapper/control has no "
          "driver): load it with `modprobe dm_thin_pool`, or run thinsnap on a kernel that has "
          "it (e.g. in the VM of vm-tests/run: see README, Quick start)",
          ErrorKind::kFailure, err);
    }
    if (!files->Exists("/dev/mapper/control")) {
      throw Error(
          "device-mapper is loaded but /dev/mapper/control is missing: create it with `dmsetup "
          "mknodes` and run the command again",
          ErrorKind::kFailure, err);
    }
    throw Error("cannot talk to device-mapper through /dev/mapper/control" +
                    (err != 0 ? " (" + std::string(std::strerror(err)) + ")" : std::string()) +
                    "; run with -v for libdevmapper's log",
                ErrorKind::kFailure, err);
  }
  // An absent thin-pool target is not yet an error: creating the first pool table makes the
  // kernel load dm-thin-pool itself when it can (LoadPoolTable diagnoses when it cannot).
  std::optional<kernel::Version> thin = dm->TargetVersion("thin-pool");
  if (thin && std::tie(thin->major, thin->minor, thin->patch) <
                  std::tie(kMinThinPool.major, kMinThinPool.minor, kMinThinPool.patch)) {
    throw Error("this kernel's thin-pool target is version " + thin->ToString() +
                    "; thinsnap needs " + kMinThinPool.ToString() +
                    " or later (Linux 3.14+): use a newer kernel",
                ErrorKind::kFailure);
  }
}

uint64_t Engine::Impl::LowWaterBlocks(const PoolSettings& s, uint64_t data_bytes) {
  uint64_t blocks = data_bytes / s.block_size;
  int free_percent = s.autoextend_threshold > 0 ? 100 - s.autoextend_threshold : s.min_free_percent;
  // Never later than the reserve: the event is what wakes `pool monitor` to enforce it.
  return std::max(blocks * static_cast<uint64_t>(free_percent) / 100, DataReserveBlocks(s, blocks));
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
    kernel::CreateOptions create_opts;
    create_opts.uuid = "THINSNAP-" + s.pool_id + "-pool";
    try {
      dm->Create(PoolName(), table, create_opts);
    } catch (const Error& e) {
      if (e.error_number() != EINVAL || dm->TargetVersion("thin-pool")) throw;
      if (opts.detail) opts.detail(std::string("device-mapper: ") + e.what());
      throw Error(
          "this kernel has no thin-pool target (the dm-thin-pool module is not loaded and could "
          "not be loaded): load it with `modprobe dm_thin_pool`, or use a kernel built with "
          "CONFIG_DM_THIN_PROVISIONING",
          ErrorKind::kFailure, e.error_number());
    }
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

// All or nothing: a create that fails at any step undoes the steps before it (UndoPoolCreate), so
// the root is left as it was and the same command can run again. A create killed before it
// finished (pool.ready unset) is undone by the next `pool create` on that root, or by `pool
// destroy --force`. Between steps the create checks EngineOptions::interrupted (Ctrl-C).
void Engine::CreatePool(const PoolCreateOptions& o) {
  Impl& m = *impl_;
  PoolSettings old = m.settings();
  if (!old.pool_id.empty() && !old.ready) {
    std::string left = m.UndoPoolCreate(old, m.Backing(old)->Files());
    if (!left.empty()) {
      throw Error("the pool in " + m.root +
                  " was not fully created, and undoing it failed: " + left);
    }
    m.Progress("removed what an interrupted pool create left in " + m.root);
  }
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
  if (o.mode == PoolMode::kLoopback) {
    kernel::ValidateMetadataSize(o.metadata_size);
    if (o.data_size < o.block_size * 16) {
      throw Error("--data-size: " + FormatSize(o.data_size) + " is too small", ErrorKind::kUsage);
    }
  }
  CheckKernelForPool(m.dm, m.sys, m.opts.detail);
  PoolSettings s;
  s.pool_id = NewPoolId();
  s.mode = o.mode;
  std::vector<std::string> created_files;
  try {
    m.BuildPool(o, &s, &created_files);
  } catch (const Error& e) {
    std::string left = m.UndoPoolCreate(s, created_files);
    throw Error(
        std::string(e.what()) + (left.empty() ? "; pool create undone, nothing kept in " + m.root
                                              : "; undoing the create left: " + left),
        e.kind(), e.error_number());
  }
}

void Engine::Impl::CheckInterrupted(const char* step) {
  if (opts.interrupted && opts.interrupted()) {
    throw Error(std::string("pool create interrupted (") + step + ")", ErrorKind::kFailure, EINTR);
  }
}

// Loopback: the data, metadata and spare files under the root (each added to *created_files
// once it exists, for an undone create), attached to loop devices.
void Engine::Impl::MakeLoopbackFiles(const PoolCreateOptions& o, PoolSettings* settings,
                                     std::vector<std::string>* created_files, PoolDevices* out) {
  PoolSettings& s = *settings;
  PoolDevices& devs = *out;
  s.data_path = root + "/data";
  s.metadata_path = root + "/metadata";
  s.metadata_spare = root + "/metadata.spare";
  sys->RemoveFile(s.metadata_spare);  // left by a destroyed pool
  for (auto [path, size] :
       {std::pair{&s.data_path, o.data_size}, std::pair{&s.metadata_path, o.metadata_size},
        std::pair{&s.metadata_spare, o.metadata_size}}) {
    if (!sys->Exists(*path)) created_files->push_back(*path);
    sys->CreateSparseFile(*path, size);
  }
  CheckInterrupted("loop files made");
  devs.data_loop = sys->AttachLoop(s.data_path);
  devs.meta_loop = sys->AttachLoop(s.metadata_path);
  devs.data = devs.data_loop->path();
  devs.metadata = devs.meta_loop->path();
}

// Direct: the devices must be block devices, unused, with no signature unless --force, and two
// (or with the spare three) different ones.
void Engine::Impl::CheckDirectDevices(const PoolCreateOptions& o, PoolSettings* settings,
                                      PoolDevices* out) {
  PoolSettings& s = *settings;
  PoolDevices& devs = *out;
  std::vector<const std::string*> devices = {&o.data_device, &o.metadata_device};
  if (!o.metadata_spare.empty()) devices.push_back(&o.metadata_spare);
  for (const std::string* dev : devices) {
    if (dev->empty()) throw Error("direct mode needs --data and --metadata", ErrorKind::kUsage);
    if (!sys->IsBlockDevice(*dev)) {
      throw Error(*dev + " is not a block device", ErrorKind::kUsage);
    }
    sys->CheckNotInUse(*dev);
    std::vector<std::string> sigs = sys->ProbeSignatures(*dev);
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
      std::min<uint64_t>(sys->SizeOf(o.metadata_device), kernel::kMaxMetadataBytes));
  s.data_path = devs.data = o.data_device;
  s.metadata_path = devs.metadata = o.metadata_device;
  if (!o.metadata_spare.empty()) {
    CheckSpareDevice(s, o.metadata_spare);
    s.metadata_spare = o.metadata_spare;
  }
}

void Engine::Impl::BuildPool(const PoolCreateOptions& o, PoolSettings* settings,
                             std::vector<std::string>* created_files) {
  PoolSettings& s = *settings;
  s.block_size = o.block_size;
  s.fs = o.fs;
  s.base_size = o.base_size;
  s.mkfs_args = o.mkfs_args;
  s.mount_opts = o.mount_opts;
  s.no_space = o.no_space;
  s.discard = o.discard;
  s.skip_block_zeroing = o.skip_block_zeroing;
  s.min_free_percent = o.min_free_percent;
  ParseReserve(o.reserve, &s.reserve_percent, &s.reserve_blocks);
  PoolDevices devs;
  if (o.mode == PoolMode::kLoopback) {
    MakeLoopbackFiles(o, &s, created_files, &devs);
  } else if (o.mode == PoolMode::kDirect) {
    CheckDirectDevices(o, &s, &devs);
  }
  PoolConfig adopt_config;
  if (o.mode == PoolMode::kAdopted) InspectForAdoption(o, &s, &adopt_config);
  store().Update({[&] {
    std::vector<Mutation> muts;
    for (auto& [k, v] : s.ToConfig()) muts.push_back(Mutation::SetConfig(k, v));
    for (auto& [k, v] : adopt_config) muts.push_back(Mutation::SetConfig(k, v));
    return muts;
  }()});
  CheckInterrupted("settings recorded");
  if (o.mode != PoolMode::kAdopted) {
    sys->ZeroStart(devs.metadata, 4096);
    LoadPoolTable(s, devs.data, devs.metadata, /*create=*/true);
  }
  // The pool's transaction id must equal the journal's. A root that held a destroyed pool keeps
  // counting transactions: start the new pool there. A forcibly adopted pool is moved to the
  // journal's count too (its previous owner's count no longer describes it).
  uint64_t kernel_txn = PoolStatusNow().transaction_id;
  uint64_t journal_txn = catalog().transaction_id();
  if (kernel_txn != journal_txn) {
    dm->Message(PoolName(), "set_transaction_id " + std::to_string(kernel_txn) + " " +
                                std::to_string(journal_txn));
  }
  Progress("pool " + PoolName() + " created (" + PoolModeName(s.mode) + ", " +
           FormatSize(s.block_size) + " blocks)");
  // The base device, formatted once; every layer and container descends from it.
  DeviceRecord base = NewRecord(kOriginName, DeviceKind::kBase, kNoParent, s.base_size, s.fs);
  base.read_only = true;
  CheckInterrupted("pool loaded");
  CreateDevice(base, nullptr);
  std::string dev = ActivateThin(DeviceRecord{[&] {
    DeviceRecord rw = base;
    rw.read_only = false;
    return rw;
  }()});
  {
    Step step(opts, "formatting the base (mkfs." + std::string(FsTypeName(s.fs)) + ", " +
                        FormatSize(s.base_size) + ")");
    sys->MakeFilesystem(dev, s.fs, s.mkfs_args);
  }
  DeactivateThin(base.id, false);
  CheckInterrupted("base formatted");
  store().Update({Mutation::SetConfig("base.id", std::to_string(base.id)),
                  Mutation::SetConfig("pool.ready", "1")});
  Progress("base device formatted " + std::string(FsTypeName(s.fs)) + ", " +
           FormatSize(s.base_size));
}

// Undoes what a failed or interrupted create made, each step on its own so that one failure
// does not stop the rest: the base's thin device, the pool's dm device (or, adopted, the base's
// thin id in it), `files` (loop files this create made), the store's records and settings.
// Returns what could not be removed, with how to remove it by hand; empty when all went.
std::string Engine::Impl::UndoPoolCreate(const PoolSettings& s,
                                         const std::vector<std::string>& files) {
  std::vector<std::string> left;
  auto attempt = [&left](const std::string& what, const std::string& how, auto&& step) {
    try {
      step();
    } catch (const Error& e) {
      left.push_back(what + " (" + e.what() + "; " + how + ")");
    }
  };
  std::unique_ptr<PoolBacking> backing = Backing(s);
  std::string pool = backing->PoolName();
  std::optional<DeviceRecord> base;
  catalog().ForEach([&](const DeviceRecord& r) {
    if (r.kind == DeviceKind::kBase) base = r;
  });
  if (base) {
    std::string thin = "thinsnap-" + s.pool_id + "-" + std::to_string(base->id);
    attempt("dm device " + thin, "remove it with `dmsetup remove " + thin + "`", [&] {
      if (dm->Info(thin)) dm->Remove(thin, kernel::RemoveOptions{});
    });
    if (!backing->OwnsPoolDevice() && !s.adopted_pool.empty()) {
      attempt(
          "thin id " + std::to_string(base->id) + " in pool " + pool,
          "delete it with `dmsetup message " + pool + " 0 delete " + std::to_string(base->id) + "`",
          [&] {
            try {
              dm->Message(pool, "delete " + std::to_string(base->id));
            } catch (const Error& e) {
              if (e.error_number() != ENODATA) throw;  // never created
            }
          });
    }
  }
  if (backing->OwnsPoolDevice() && !s.pool_id.empty()) {
    attempt("dm device " + pool, "remove it with `dmsetup remove " + pool + "`", [&] {
      if (dm->Info(pool)) dm->Remove(pool, kernel::RemoveOptions{});
    });
  }
  for (const std::string& file : files) {
    if (file.empty()) continue;
    // A loop device over the file detaches by itself once the pool lets go of it (autoclear).
    attempt(file, "remove it with `rm " + file + "`", [&] { sys->RemoveFile(file); });
  }
  attempt("the pool's records in " + MetaDir(), "run `thinsnap pool destroy --force`",
          [&] { WipeStore(); });
  std::string joined;
  for (const std::string& l : left) joined += (joined.empty() ? "" : "; ") + l;
  return joined;
}

// Empties the store (no records, no settings) but keeps its transaction count: a new pool in
// this root starts where the last one ended (see CreatePool).
void Engine::Impl::WipeStore() {
  std::vector<Mutation> wipe;
  catalog().ForEach([&](const DeviceRecord& r) { wipe.push_back(Mutation::Delete(r.id)); });
  for (auto& [k, v] : catalog().config()) wipe.push_back(Mutation::EraseConfig(k));
  if (store().pending()) store().Abort(store().pending()->txn);
  store().Update(wipe);
  store().Checkpoint();
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
  if (st.failed || st.needs_check || st.mode != kernel::PoolIoMode::kReadWrite) {
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
  if (st.failed || (st.mode == kernel::PoolIoMode::kReadOnly && store().pending())) {
    notes->push_back(std::string("pool ") + PoolName() + " is " +
                     (st.failed ? "failed" : "read-only") +
                     "; the journal is reconciled after thinsnap pool repair");
    return;
  }
  std::string note =
      Transactor(&store(), dm, PoolName()).Reconcile([this] { return NextFreeIds(); });
  if (!note.empty()) notes->push_back("recovery: " + note);
  RemoveAbandonedReceives(notes);
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
    PoolDevices devs = m.Backing(s)->Attach(&notes);
    kernel::ToolResult check = m.CheckMetadata(devs.metadata, "the pool's metadata");
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
  if (m.Backing(m.settings())->OwnsPoolDevice()) {
    kernel::RemoveOptions opts;
    m.dm->Remove(m.PoolName(), opts);
  }
}

// With `force` this is the way out of any state: thinsnap's own state (loop files, records) is
// removed even when the kernel cannot be reached or the pool is gone, and every kernel object
// that could not be removed is returned with the command that removes it.
std::vector<std::string> Engine::DestroyPool(bool force) {
  Impl& m = *impl_;
  PoolSettings s = m.settings();
  if (s.pool_id.empty()) throw Error("no pool in " + m.root, ErrorKind::kNotFound);
  std::vector<std::string> files = m.Backing(s)->Files();  // loopback only: the rest are devices
  if (!s.ready) {
    // An interrupted create: undo it the way a failed one is undone.
    std::string left = m.UndoPoolCreate(s, files);
    if (left.empty()) return {};
    return {left};
  }
  size_t others = m.catalog().size() - m.catalog().CountByKind(DeviceKind::kBase);
  if (others > 0 && !force) {
    throw Error("pool " + m.PoolName() + " still has " + std::to_string(others) +
                    " devices; remove them or pass --force",
                ErrorKind::kBusy);
  }
  std::vector<std::string> left;
  bool active = false;
  try {
    active = m.PoolActive();
  } catch (const Error& e) {
    if (!force) {
      throw Error(std::string(e.what()) +
                      "; pass --force to remove thinsnap's own state anyway (pool destroy "
                      "--force then names what it could not remove from the kernel)",
                  e.kind(), e.error_number());
    }
    // A kernel without device-mapper holds no dm devices: nothing can be left there.
    if (KernelHasDeviceMapper(m.sys)) {
      left.push_back("cannot reach device-mapper (" + std::string(e.what()) +
                     "); once it is reachable, remove any dm device named " + m.PoolName() +
                     "* (`dmsetup ls | grep thinsnap-" + s.pool_id +
                     "`, then `dmsetup remove NAME`)");
    }
  }
  if (active) m.TearDownPool(s, force ? &left : nullptr);
  // Loop files: their loop devices detach by themselves once the pool is gone (autoclear); a
  // pool that could not be removed is named in `left`, and its loops go when it goes.
  for (const std::string& file : files) {
    if (!file.empty()) m.sys->RemoveFile(file);
  }
  try {
    m.Backing(s)->WipeMetadata();
  } catch (const Error& e) {
    if (!force) throw;
    left.push_back("could not wipe the pool metadata on " + s.metadata_path + " (" + e.what() +
                   "; wipe it with `wipefs -a " + s.metadata_path + "`)");
  }
  // An empty store: the root can hold a new pool.
  m.WipeStore();
  return left;
}

// Unmounts, deactivates (adopted: deletes) every device and removes the pool's dm device. With
// `left` set, failures are collected there (what could not be removed, and how) and the rest
// goes on; without, the first failure throws.
void Engine::Impl::TearDownPool(const PoolSettings& s, std::vector<std::string>* left) {
  auto attempt = [&](const std::string& what, const std::string& how, auto&& step) {
    try {
      step();
    } catch (const Error& e) {
      if (left == nullptr) throw;
      left->push_back(what + " (" + e.what() + "; " + how + ")");
    }
  };
  std::unique_ptr<PoolBacking> backing = Backing(s);
  std::vector<DeviceRecord> all;
  catalog().ForEach([&](const DeviceRecord& r) { all.push_back(r); });
  for (const DeviceRecord& r : all) {
    if (!r.mountpoint.empty()) {
      attempt("mount " + r.mountpoint, "unmount it with `umount " + r.mountpoint + "`",
              [&] { sys->Unmount(r.mountpoint); });
    }
    std::string thin = ThinName(r.id);
    attempt("dm device " + thin, "remove it with `dmsetup remove " + thin + "`", [&] {
      if (ThinActive(r.id)) DeactivateThin(r.id, false);
    });
    if (!backing->OwnsPoolDevice()) {  // the pool stays: its thin ids go
      attempt("thin id " + std::to_string(r.id) + " in " + s.adopted_pool,
              "delete it with `dmsetup message " + s.adopted_pool + " 0 delete " +
                  std::to_string(r.id) + "`",
              [&] { DeleteDevice(r); });
    }
  }
  if (backing->OwnsPoolDevice()) {
    attempt("dm device " + PoolName(), "remove it with `dmsetup remove " + PoolName() + "`",
            [&] { dm->Remove(PoolName(), kernel::RemoveOptions{}); });
  }
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
  if (o.no_space) set("pool.no_space", NoSpacePolicyName(*o.no_space));
  if (o.reserve) {
    int percent = 0;
    uint64_t blocks = 0;
    ParseReserve(*o.reserve, &percent, &blocks);
    set("pool.reserve", blocks > 0 ? std::to_string(blocks) : std::to_string(percent) + "%");
  }
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
  bool reload = o.no_space || o.autoextend_threshold || o.min_free_percent || o.reserve;
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
    m.Backing(s)->GrowTo(path, *want);
    reload = true;
  }
  if (reload && m.Backing(s)->OwnsPoolDevice() && m.PoolActive()) {
    PoolSettings now = m.settings();
    m.LoadPoolTable(now, m.DataDevice(now), m.MetadataDevice(now), /*create=*/false);
  }
  // Space may be back (growth, a larger reserve...): bring stopped filesystems back.
  if (m.PoolActive() && !m.StoppedDevices().empty()) {
    for (const std::string& line : EnforceReserve({.autoextend = false}).did) m.Progress(line);
  }
}

}  // namespace thinsnap
