// Looking at the pool: status, per-device usage, and check/repair of journal against kernel.
#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {

std::string ThinCheckDamage(const std::string& output) {
  std::string out;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    start = end + 1;
    bool progress = line.rfind("examining ", 0) == 0 || line.rfind("checking ", 0) == 0;
    bool counter = line.find('=') != std::string::npos && line.find(' ') == std::string::npos;
    if (line.empty() || progress || counter) continue;
    out += (out.empty() ? "" : "; ") + line;
  }
  return out.empty() ? "(no message)" : out;
}

PoolReport Engine::Status() {
  Impl& m = *impl_;
  m.RequirePool();
  PoolReport r;
  r.settings = m.settings();
  r.pool_name = m.PoolName();
  r.root = m.root;
  r.transaction_id = m.catalog().transaction_id();
  r.devices = m.catalog().size();
  r.layers = m.catalog().CountByKind(DeviceKind::kLayer);
  r.containers = m.catalog().CountByKind(DeviceKind::kContainer);
  r.volumes = m.catalog().CountByKind(DeviceKind::kVolume);
  m.catalog().ForEach([&](const DeviceRecord& d) {
    if (d.kind != DeviceKind::kBase) r.provisioned_bytes += d.size_bytes;
  });
  r.library_version = m.dm->LibraryVersion();
  r.dm_driver_version = m.dm->DriverVersion().ToString();
  if (auto v = m.dm->TargetVersion("thin-pool")) r.thin_target_version = v->ToString();
  r.udev_sync = m.sys->UdevRunning();
  r.active = m.PoolActive();
  if (!r.active) {
    r.warnings.push_back("pool is not active; run: thinsnap pool activate");
    return r;
  }
  r.status = m.PoolStatusNow();
  r.data_bytes = r.status.data_total_blocks * r.settings.block_size;
  r.metadata_bytes = r.status.metadata_total_blocks * 4096;
  if (r.status.failed) r.warnings.push_back("pool has FAILED; run: thinsnap pool repair");
  if (r.status.needs_check) {
    r.warnings.push_back("pool metadata needs_check is set; run: thinsnap pool repair");
  }
  if (r.status.mode == kernel::PoolIoMode::kReadOnly) {
    r.warnings.push_back(
        "pool is read-only: the kernel aborted a metadata commit (a metadata or data device "
        "error, or metadata full); fix the device, then run: thinsnap pool repair");
  }
  if (r.status.mode == kernel::PoolIoMode::kOutOfDataSpace) {
    r.warnings.push_back(
        "pool out of data space; remove devices or grow it with thinsnap pool set "
        "--data-size");
  }
  r.data_reserve_blocks = DataReserveBlocks(r.settings, r.status.data_total_blocks);
  r.metadata_reserve_blocks =
      MetadataReserveBlocks(r.settings, r.status.data_total_blocks, r.status.metadata_total_blocks);
  r.stopped = m.StoppedDevices();
  for (const StoppedDevice& d : r.stopped) {
    const char* was = d.how == "frozen"  ? "frozen"
                      : d.how == "stuck" ? "frozen (and then shut itself down)"
                                         : "shut down";
    r.warnings.push_back(d.name + " was " + was + " at the space reserve (" + d.reason + "); " +
                         d.next);
  }
  if (m.store().pending())
    r.warnings.push_back("a transaction is pending; run: thinsnap pool check");
  return r;
}

std::vector<kernel::ThinUsage> Engine::Impl::KernelDevices(bool* live) {
  PoolSettings s = settings();
  *live = PoolActive();
  if (!*live && s.mode == PoolMode::kAdopted) {
    throw Error("adopted pool " + PoolName() +
                    " is not active; activate it with its owner's tools (e.g. lvchange -ay)",
                ErrorKind::kNotFound);
  }
  if (!*live) {
    std::unique_ptr<kernel::LoopHandle> loop;
    std::string dev = OfflineMetadataDevice(s, &loop);
    Step step(opts, "listing the pool's thin devices (thin_ls)");
    return sys->ThinLs(dev, /*metadata_snap=*/false);
  }
  return LiveThinDevices(PoolName(), MetadataDevice(s));
}

kernel::ToolResult Engine::Impl::CheckMetadata(const std::string& device, const std::string& what) {
  Step step(opts, "checking " + what + " (thin_check)");
  return sys->ThinCheck(device);
}

std::vector<kernel::ThinUsage> Engine::Impl::LiveThinDevices(const std::string& pool,
                                                             const std::string& meta_dev) {
  dm->Message(pool, "reserve_metadata_snap");
  std::vector<kernel::ThinUsage> out;
  try {
    Step step(opts, "listing the pool's thin devices (thin_ls)");
    out = sys->ThinLs(meta_dev, /*metadata_snap=*/true);
  } catch (...) {
    dm->Message(pool, "release_metadata_snap");
    throw;
  }
  dm->Message(pool, "release_metadata_snap");
  return out;
}

std::vector<DfRow> Engine::Df() {
  Impl& m = *impl_;
  m.RequireActivePool();
  bool live = false;
  std::map<uint32_t, kernel::ThinUsage> usage;
  for (const kernel::ThinUsage& u : m.KernelDevices(&live)) usage[u.id] = u;
  uint64_t block = m.settings().block_size;
  std::vector<DfRow> rows;
  m.catalog().ForEach([&](const DeviceRecord& d) {
    DfRow row{d.name, d.kind, d.id, d.size_bytes, 0, 0, 0};
    auto it = usage.find(d.id);
    if (it != usage.end()) {
      row.mapped = it->second.mapped_blocks * block;
      row.exclusive = it->second.exclusive_blocks * block;
      row.shared = it->second.shared_blocks * block;
    }
    rows.push_back(row);
  });
  return rows;
}

std::optional<uint64_t> Engine::UsedInodes(const std::string& name) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  std::optional<kernel::DeviceInfo> info = m.dm->Info(m.ThinName(rec.id));
  if (rec.mountpoint.empty() && info) {
    std::vector<std::string> mounts = m.sys->MountsOf(m.dm->DevicePath(m.ThinName(rec.id)));
    if (!mounts.empty()) return m.sys->UsageOf(mounts.front()).used_inodes();
    // Open but not mounted (a VM's disk, a tool): a mount of ours could replay its journal
    // under the writer's feet.
    if (info->open_count > 0) return std::nullopt;
  }
  std::unique_ptr<Impl::TempMount> mount = m.MountTemporarily(rec, /*read_only=*/true);
  uint64_t used = m.sys->UsageOf(mount->dir()).used_inodes();
  mount->Release();
  return used;
}

const char* SeverityName(Finding::Severity severity) {
  return severity == Finding::Severity::kProblem ? "problem" : "note";
}

bool CheckReport::clean() const {
  return std::none_of(findings.begin(), findings.end(),
                      [](const Finding& f) { return f.severity == Finding::Severity::kProblem; });
}

namespace {

std::vector<std::string> Sentences(const std::vector<Finding>& findings, Finding::Severity of) {
  std::vector<std::string> out;
  for (const Finding& f : findings) {
    if (f.severity == of) out.push_back(f.message);
  }
  return out;
}

}  // namespace

std::vector<std::string> CheckReport::problems() const {
  return Sentences(findings, Finding::Severity::kProblem);
}

std::vector<std::string> CheckReport::notes() const {
  return Sentences(findings, Finding::Severity::kNote);
}

void CheckReport::Problem(std::string code, std::string device, std::string message) {
  findings.push_back(
      {Finding::Severity::kProblem, std::move(code), std::move(device), std::move(message)});
}

void CheckReport::Note(std::string code, std::string device, std::string message) {
  findings.push_back(
      {Finding::Severity::kNote, std::move(code), std::move(device), std::move(message)});
}

CheckReport Engine::Check() {
  Impl& m = *impl_;
  CheckReport report;
  PoolSettings s = m.settings();
  if (s.pool_id.empty()) {
    report.Problem("no_pool", "",
                   "no pool in " + m.root + "; create one with `thinsnap pool create --loopback`");
    return report;
  }
  if (!s.ready) {
    report.Problem("create_unfinished", "",
                   "pool create did not finish in " + m.root +
                       "; run the same `thinsnap pool create` again (it first removes what the "
                       "interrupted create left) or `thinsnap pool destroy --force`");
    return report;
  }
  if (m.store().pending()) {
    report.Problem(
        "transaction_pending", "",
        "transaction " + std::to_string(m.store().pending()->txn) + " is pending in the journal");
  }
  bool live = false;
  try {
    live = m.PoolActive();
  } catch (const Error& e) {
    report.Problem("dm_unavailable", "",
                   "the pool of " + m.root + " (" + m.PoolName() +
                       ") cannot be loaded: device-mapper does not answer (" + e.what() +
                       "); fix the kernel side first (`thinsnap pool create` on a new root "
                       "diagnoses it), or remove this root's pool with `thinsnap pool destroy "
                       "--force`");
    return report;
  }
  if (live) {
    kernel::PoolStatus st = m.PoolStatusNow();
    if (st.failed) {
      report.Problem("pool_failed", "", "pool status is Fail");
      return report;
    }
    if (st.needs_check) report.Problem("needs_check", "", "pool has needs_check set");
    if (st.mode == kernel::PoolIoMode::kReadOnly)
      report.Problem("read_only", "", "pool is read-only");
    if (st.transaction_id != m.catalog().transaction_id()) {
      report.Problem("transaction_mismatch", "",
                     "pool transaction id " + std::to_string(st.transaction_id) + " but journal " +
                         std::to_string(m.catalog().transaction_id()));
    }
    if (st.needs_check || st.mode == kernel::PoolIoMode::kReadOnly) {
      report.Note("devices_not_compared", "",
                  "devices not compared with the journal: a read-only pool answers no messages; "
                  "run thinsnap pool repair");
      return report;
    }
  } else if (s.mode != PoolMode::kAdopted) {
    std::unique_ptr<kernel::LoopHandle> loop;
    std::string dev = m.OfflineMetadataDevice(s, &loop);
    kernel::ToolResult check = m.CheckMetadata(dev, "the pool's metadata");
    if (!check.ok) {
      report.Problem(
          "thin_check_failed", "",
          "thin_check failed on " + s.metadata_path + ": " + ThinCheckDamage(check.output));
      return report;
    }
    report.Note("thin_check_clean", "",
                "thin_check clean on " + s.metadata_path + " (pool inactive)");
  }
  if (s.mode == PoolMode::kAdopted && !live) {
    report.Note("adopted_inactive", "",
                "adopted pool " + m.PoolName() +
                    " is not active; its owner checks it (e.g. thin_check on the metadata LV); "
                    "activate it and run pool check again to compare");
    return report;
  }
  std::set<uint32_t> kernel_ids;
  for (const kernel::ThinUsage& u : m.KernelDevices(&live)) kernel_ids.insert(u.id);
  for (uint32_t id : m.ForeignIds()) {
    if (kernel_ids.erase(id)) {
      report.Note("foreign_device", "id " + std::to_string(id),
                  "thin device id " + std::to_string(id) +
                      " belongs to the pool's previous owner (adopted with --force)");
    }
  }
  m.catalog().ForEach([&](const DeviceRecord& d) {
    if (!kernel_ids.count(d.id)) {
      report.Problem("missing_device", d.name,
                     "device '" + d.name + "' (id " + std::to_string(d.id) +
                         ") is in the journal but not in the pool");
    }
    if (d.state == DeviceState::kDeletePending) {
      report.Note("delete_pending", d.name,
                  "device '" + d.name + "' waits for deferred removal (pool gc)");
    }
    if (d.labels.count("thinsnap.importing")) {
      report.Problem("half_import", d.name, "layer '" + d.name + "' is a half-made import");
    }
  });
  for (uint32_t id : kernel_ids) {
    if (!m.catalog().FindById(id)) {
      report.Problem(
          "orphan_device", "id " + std::to_string(id),
          "orphan thin device id " + std::to_string(id) + " in the pool, unknown to the journal");
    }
  }
  if (live) {
    // An active device smaller than its record: a grow was interrupted after recording.
    std::set<std::string> active;
    for (const kernel::ListedDevice& d : m.dm->List()) active.insert(d.name);
    m.catalog().ForEach([&](const DeviceRecord& d) {
      std::string name = m.ThinName(d.id);
      if (!active.count(name)) return;
      kernel::Table table = m.dm->GetTable(name);
      uint64_t bytes = table.empty() ? 0 : table.front().length * 512;
      if (bytes >= d.size_bytes) return;
      report.Note("interrupted_grow", d.name,
                  "device '" + d.name + "' is active with " + FormatSize(bytes) + " of its " +
                      FormatSize(d.size_bytes) +
                      " (an interrupted grow); finish it with thinsnap grow " + d.name +
                      " --size " + std::to_string(d.size_bytes));
    });
  }
  report.Note("summary", "",
              std::to_string(m.catalog().size()) + " devices in the journal, " +
                  std::to_string(kernel_ids.size()) + " in the pool");
  return report;
}

void Engine::Impl::RepairMetadata(const PoolSettings& s, CheckReport* done) {
  bool loopback = s.mode == PoolMode::kLoopback;
  const std::string& meta = s.metadata_path;
  // Loopback pools made before spares were reserved get theirs now.
  std::string spare =
      s.metadata_spare.empty() && loopback ? root + "/metadata.spare" : s.metadata_spare;
  if (spare.empty()) {
    throw Error("the metadata on " + meta +
                    " is damaged and the pool has no spare metadata area (direct mode: "
                    "thinsnap pool set --metadata-spare DEV); or repair by hand: thin_repair -i " +
                    meta + " -o <device of the same size>",
                ErrorKind::kCorrupt);
  }
  uint64_t meta_size = sys->SizeOf(meta);
  if (loopback && !sys->Exists(spare)) sys->CreateSparseFile(spare, meta_size);
  if (sys->SizeOf(spare) < meta_size) {
    if (!loopback) {
      throw Error("the metadata spare " + spare + " (" + FormatSize(sys->SizeOf(spare)) +
                      ") is smaller than the metadata device " + meta + " (" +
                      FormatSize(meta_size) + ")",
                  ErrorKind::kNoSpace);
    }
    sys->GrowFile(spare, meta_size);
  }
  {
    // The tools want block devices (O_DIRECT): loop devices for the files, for this block only.
    std::unique_ptr<kernel::LoopHandle> in_loop, out_loop;
    std::string in = OfflineMetadataDevice(s, &in_loop);
    std::string out = spare;
    if (loopback) {
      out_loop = sys->AttachLoop(spare);
      out = out_loop->path();
    }
    sys->ZeroStart(out, 4096);  // stale contents of the spare are never taken for metadata
    kernel::ToolResult r = [&] {
      Step step(opts, "rebuilding the pool's metadata (thin_repair)");
      return sys->ThinRepair(in, out);
    }();
    if (!r.ok) {
      throw Error("thin_repair could not rebuild the metadata of " + meta + " into " + spare +
                  " (the metadata is unchanged): " + r.output);
    }
    kernel::ToolResult c = CheckMetadata(out, "the rebuilt metadata");
    if (!c.ok) {
      throw Error("the metadata that thin_repair wrote to " + spare +
                  " fails thin_check (the metadata is unchanged): " + ThinCheckDamage(c.output));
    }
    uint64_t mapped = 0;
    std::vector<kernel::ThinUsage> devices = sys->ThinLs(out, /*metadata_snap=*/false);
    for (const kernel::ThinUsage& u : devices) mapped += u.mapped_blocks;
    done->Note("metadata_rebuilt", "",
               "thin_repair rebuilt the metadata into the spare " + spare + ": " +
                   std::to_string(devices.size()) + " thin devices, " + std::to_string(mapped) +
                   " mapped blocks");
  }
  if (loopback) {
    std::string kept = root + "/metadata.damaged-" + std::to_string(sys->NowNs() / 1000000000);
    sys->RenameFile(meta, kept);
    sys->RenameFile(spare, meta);
    sys->CreateSparseFile(spare, meta_size);
    done->Note(
        "metadata_swapped", "",
        "swapped it in; the damaged metadata is kept as " + kept + " and a new spare was reserved");
    return;
  }
  store().Update({Mutation::SetConfig("metadata.path", spare),
                  Mutation::SetConfig("metadata.spare", ""),
                  Mutation::SetConfig("metadata.damaged", meta)});
  done->Note("metadata_moved", "",
             "the pool now keeps its metadata on " + spare + "; the damaged metadata stays on " +
                 meta +
                 " for inspection; give the pool a new spare with thinsnap pool set "
                 "--metadata-spare DEV");
}

CheckReport Engine::Repair() {
  Impl& m = *impl_;
  CheckReport done;
  PoolSettings s = m.settings();
  if (s.pool_id.empty()) throw Error("no pool in " + m.root, ErrorKind::kNotFound);
  if (m.Backing(s)->OwnsPoolDevice()) {
    // Metadata first: a pool in trouble is taken down and checked offline; damaged metadata is
    // rebuilt into the spare, which takes its place (the damaged copy is kept).
    bool live = m.PoolActive();
    kernel::PoolStatus st;
    if (live) st = m.PoolStatusNow();
    bool trouble =
        live && (st.failed || st.needs_check || st.mode == kernel::PoolIoMode::kReadOnly);
    kernel::ToolResult check{true, ""};
    // Held from the check through the repair, so the loop device cannot auto-clear between.
    std::unique_ptr<kernel::LoopHandle> loop;
    if (trouble) {
      done.Note("deactivated", "",
                std::string("pool is ") +
                    (st.failed        ? "failed"
                     : st.needs_check ? "flagged needs_check"
                                      : "read-only") +
                    "; deactivated it to check the metadata offline");
      DeactivatePool(/*force=*/true);
    }
    if (trouble || !live) {
      std::string dev = m.OfflineMetadataDevice(s, &loop);
      check = m.CheckMetadata(dev, "the pool's metadata");
      if (check.ok && trouble && st.needs_check) {
        kernel::ToolResult cleared = m.sys->ThinClearNeedsCheck(dev);
        if (!cleared.ok)
          throw Error("thin_check --clear-needs-check-flag " + dev + ": " + cleared.output);
        done.Note("needs_check_cleared", "", "thin_check clean; cleared the needs_check flag");
      } else if (check.ok && trouble) {
        done.Note("thin_check_clean", "", "thin_check clean on " + s.metadata_path);
      }
    }
    if (!check.ok) {
      done.Note(
          "thin_check_damage", "",
          "thin_check found damage on " + s.metadata_path + ": " + ThinCheckDamage(check.output));
      m.RepairMetadata(s, &done);
    }
    loop.reset();
    if (trouble || !check.ok) {
      for (const std::string& n : ActivatePool(false)) done.Note("activated", "", n);
    }
  }
  if (!m.PoolActive()) ActivatePool(false);
  if (m.store().pending()) {
    done.Note("reconciled", "", Transactor(&m.store(), m.dm, m.PoolName()).Reconcile([&] {
      return m.NextFreeIds();
    }));
  }
  bool live = false;
  std::set<uint32_t> kernel_ids;
  for (const kernel::ThinUsage& u : m.KernelDevices(&live)) kernel_ids.insert(u.id);
  for (uint32_t id : m.ForeignIds()) kernel_ids.erase(id);  // not ours to delete
  std::vector<DeviceRecord> missing;
  m.catalog().ForEach([&](const DeviceRecord& d) {
    if (!kernel_ids.count(d.id)) missing.push_back(d);
  });
  for (const DeviceRecord& d : missing) {
    m.store().Update({Mutation::Delete(d.id)});
    done.Note("forgot_device", d.name,
              "forgot device '" + d.name + "' (id " + std::to_string(d.id) +
                  "), which the pool no longer has");
  }
  for (uint32_t id : kernel_ids) {
    if (m.catalog().FindById(id)) continue;
    if (m.dm->Info(m.ThinName(id))) m.dm->Remove(m.ThinName(id), kernel::RemoveOptions{});
    Intent intent;
    intent.kernel_ops.push_back({KernelOp::Kind::kDelete, id, 0});
    Transactor(&m.store(), m.dm, m.PoolName()).Run(intent);
    done.Note("deleted_orphan", "id " + std::to_string(id),
              "deleted orphan thin device id " + std::to_string(id));
  }
  std::vector<DeviceRecord> half;
  m.catalog().ForEach([&](const DeviceRecord& d) {
    if (d.labels.count("thinsnap.importing")) half.push_back(d);
  });
  for (const DeviceRecord& d : half) {
    if (m.ThinActive(d.id)) m.DeactivateThin(d.id, false);
    m.DeleteDevice(d);
    done.Note("removed_half_import", d.name, "removed half-made layer '" + d.name + "'");
  }
  uint64_t kernel_txn = Transactor(&m.store(), m.dm, m.PoolName()).KernelTransactionId();
  if (kernel_txn != m.catalog().transaction_id()) {
    m.dm->Message(m.PoolName(), "set_transaction_id " + std::to_string(kernel_txn) + " " +
                                    std::to_string(m.catalog().transaction_id()));
    done.Note("set_transaction_id", "",
              "set the pool's transaction id from " + std::to_string(kernel_txn) +
                  " to the journal's " + std::to_string(m.catalog().transaction_id()));
  }
  std::vector<std::string> gc;
  m.FinishDeferredDeletes(&gc);
  for (auto& g : gc) done.Note("gc", "", g);
  // What is still wrong after the repair (Check's notes are not repeated).
  for (Finding& f : Check().findings) {
    if (f.severity == Finding::Severity::kProblem) done.findings.push_back(std::move(f));
  }
  return done;
}

}  // namespace thinsnap
