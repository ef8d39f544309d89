// Looking at the pool: status, per-device usage, and check/repair of journal against kernel.
#include <cerrno>
#include <map>
#include <set>

#include "metadata/error.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"
#include "thinpool/units.h"

namespace thinsnap {

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
  if (r.status.mode == kernel::PoolMode::kReadOnly) {
    r.warnings.push_back("pool is read-only (metadata error or full); run: thinsnap pool repair");
  }
  if (r.status.mode == kernel::PoolMode::kOutOfDataSpace) {
    r.warnings.push_back(
        "pool out of data space; remove devices or grow it with thinsnap pool set "
        "--data-size");
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
    return sys->ThinLs(OfflineMetadataDevice(s, &loop), /*metadata_snap=*/false);
  }
  return LiveThinDevices(PoolName(), MetadataDevice(s));
}

std::vector<kernel::ThinUsage> Engine::Impl::LiveThinDevices(const std::string& pool,
                                                             const std::string& meta_dev) {
  dm->Message(pool, "reserve_metadata_snap");
  std::vector<kernel::ThinUsage> out;
  try {
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

CheckReport Engine::Check() {
  Impl& m = *impl_;
  CheckReport report;
  PoolSettings s = m.settings();
  if (s.pool_id.empty()) {
    report.problems.push_back("no pool in " + m.root);
    return report;
  }
  if (!s.ready) report.problems.push_back("pool create did not finish");
  if (m.store().pending()) {
    report.problems.push_back("transaction " + std::to_string(m.store().pending()->txn) +
                              " is pending in the journal");
  }
  bool live = m.PoolActive();
  if (live) {
    kernel::PoolStatus st = m.PoolStatusNow();
    if (st.failed) {
      report.problems.push_back("pool status is Fail");
      return report;
    }
    if (st.needs_check) report.problems.push_back("pool has needs_check set");
    if (st.mode == kernel::PoolMode::kReadOnly) report.problems.push_back("pool is read-only");
    if (st.transaction_id != m.catalog().transaction_id()) {
      report.problems.push_back("pool transaction id " + std::to_string(st.transaction_id) +
                                " but journal " + std::to_string(m.catalog().transaction_id()));
    }
  } else if (s.mode != PoolMode::kAdopted) {
    std::unique_ptr<kernel::LoopHandle> loop;
    kernel::ToolResult check = m.sys->ThinCheck(m.OfflineMetadataDevice(s, &loop));
    if (!check.ok) {
      report.problems.push_back("thin_check failed on " + s.metadata_path + ": " + check.output);
      return report;
    }
    report.notes.push_back("thin_check clean on " + s.metadata_path + " (pool inactive)");
  }
  if (s.mode == PoolMode::kAdopted && !live) {
    report.notes.push_back("adopted pool " + m.PoolName() +
                           " is not active; its owner checks it (e.g. thin_check on the "
                           "metadata LV); activate it and run pool check again to compare");
    return report;
  }
  std::set<uint32_t> kernel_ids;
  for (const kernel::ThinUsage& u : m.KernelDevices(&live)) kernel_ids.insert(u.id);
  for (uint32_t id : m.ForeignIds()) {
    if (kernel_ids.erase(id)) {
      report.notes.push_back("thin device id " + std::to_string(id) +
                             " belongs to the pool's previous owner (adopted with --force)");
    }
  }
  m.catalog().ForEach([&](const DeviceRecord& d) {
    if (!kernel_ids.count(d.id)) {
      report.problems.push_back("device '" + d.name + "' (id " + std::to_string(d.id) +
                                ") is in the journal but not in the pool");
    }
    if (d.state == DeviceState::kDeletePending) {
      report.notes.push_back("device '" + d.name + "' waits for deferred removal (pool gc)");
    }
    if (d.labels.count("thinsnap.importing")) {
      report.problems.push_back("layer '" + d.name + "' is a half-made import");
    }
  });
  for (uint32_t id : kernel_ids) {
    if (!m.catalog().FindById(id)) {
      report.problems.push_back("orphan thin device id " + std::to_string(id) +
                                " in the pool, unknown to the journal");
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
      report.notes.push_back("device '" + d.name + "' is active with " + FormatSize(bytes) +
                             " of its " + FormatSize(d.size_bytes) +
                             " (an interrupted grow); finish it with thinsnap grow " + d.name +
                             " --size " + std::to_string(d.size_bytes));
    });
  }
  report.notes.push_back(std::to_string(m.catalog().size()) + " devices in the journal, " +
                         std::to_string(kernel_ids.size()) + " in the pool");
  return report;
}

CheckReport Engine::Repair() {
  Impl& m = *impl_;
  CheckReport done;
  PoolSettings s = m.settings();
  if (s.pool_id.empty()) throw Error("no pool in " + m.root, ErrorKind::kNotFound);
  if (s.mode != PoolMode::kAdopted) {
    // Metadata first: an unreadable pool is repaired offline into the spare file, and the
    // damaged copy is kept for inspection.
    bool live = m.PoolActive();
    auto offline_check = [&] {
      std::unique_ptr<kernel::LoopHandle> loop;
      return m.sys->ThinCheck(m.OfflineMetadataDevice(s, &loop)).ok;
    };
    kernel::PoolStatus st;
    if (live) st = m.PoolStatusNow();
    bool damaged = live ? (st.failed || st.needs_check || st.mode == kernel::PoolMode::kReadOnly)
                        : !offline_check();
    if (damaged) {
      if (live) DeactivatePool(/*force=*/true);
      std::string meta = s.metadata_path;
      if (!offline_check()) {
        if (s.mode != PoolMode::kLoopback) {
          throw Error("metadata on " + meta +
                      " is damaged; repair it with thin_repair onto a "
                      "spare device of the same size, then pool activate");
        }
        std::string spare = m.root + "/metadata.repaired";
        m.sys->CreateSparseFile(spare, m.sys->SizeOf(meta));
        kernel::ToolResult r = m.sys->ThinRepair(meta, spare);
        if (!r.ok) throw Error("thin_repair could not recover " + meta + ": " + r.output);
        std::string kept =
            m.root + "/metadata.damaged-" + std::to_string(m.sys->NowNs() / 1000000000);
        m.sys->RenameFile(meta, kept);
        m.sys->RenameFile(spare, meta);
        done.notes.push_back("thin_repair rebuilt the metadata; the damaged copy is kept as " +
                             kept);
      }
      ActivatePool(false);
      done.notes.push_back("pool reactivated");
    }
  }
  if (!m.PoolActive()) ActivatePool(false);
  if (m.store().pending()) {
    done.notes.push_back(Transactor(&m.store(), m.dm, m.PoolName()).Reconcile());
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
    done.notes.push_back("forgot device '" + d.name + "' (id " + std::to_string(d.id) +
                         "), which the pool no longer has");
  }
  for (uint32_t id : kernel_ids) {
    if (m.catalog().FindById(id)) continue;
    if (m.dm->Info(m.ThinName(id))) m.dm->Remove(m.ThinName(id), kernel::RemoveOptions{});
    Intent intent;
    intent.kernel_ops.push_back({KernelOp::Kind::kDelete, id, 0});
    Transactor(&m.store(), m.dm, m.PoolName()).Run(intent);
    done.notes.push_back("deleted orphan thin device id " + std::to_string(id));
  }
  std::vector<DeviceRecord> half;
  m.catalog().ForEach([&](const DeviceRecord& d) {
    if (d.labels.count("thinsnap.importing")) half.push_back(d);
  });
  for (const DeviceRecord& d : half) {
    if (m.ThinActive(d.id)) m.DeactivateThin(d.id, false);
    m.DeleteDevice(d);
    done.notes.push_back("removed half-made layer '" + d.name + "'");
  }
  uint64_t kernel_txn = Transactor(&m.store(), m.dm, m.PoolName()).KernelTransactionId();
  if (kernel_txn != m.catalog().transaction_id()) {
    m.dm->Message(m.PoolName(), "set_transaction_id " + std::to_string(kernel_txn) + " " +
                                    std::to_string(m.catalog().transaction_id()));
    done.notes.push_back("set the pool's transaction id from " + std::to_string(kernel_txn) +
                         " to the journal's " + std::to_string(m.catalog().transaction_id()));
  }
  std::vector<std::string> gc;
  m.FinishDeferredDeletes(&gc);
  for (auto& g : gc) done.notes.push_back(g);
  done.problems = Check().problems;
  return done;
}

}  // namespace thinsnap
