// Space over time: autoextend (loopback growth, the direct-mode warning and hook), the space
// reserve (stopping the pool's filesystems before the pool is full) and the `pool monitor` loop
// that drives both from the pool's dm events.
//
// Why the reserve stops filesystems with their own shutdown ioctl (measured in the VM, see
// README "Space"): once a pool is full, a filesystem on a thin snapshot cannot even commit its
// journal (its first write to any block needs a new pool block), so buffered writers stall for
// minutes and acknowledged data is at risk. Stopping every writer while blocks are left is the
// fix. EXT4_IOC_SHUTDOWN / XFS_IOC_GOINGDOWN with LOGFLUSH write only the log (a few blocks),
// then fail every write at once: the writer's next write() or fsync() returns EIO within
// seconds, fsync'd files survive, the next mount replays the log and fsck is clean. A freeze
// instead writes all dirty data back first, which can be more than the reserve: with --on-full
// error the freeze itself failed (EIO) and ext4 aborted its journal 70 s later, so freezing is
// kept for --on-full queue, where the kernel queues what does not fit until the pool grows.
// Remounting read-only fails while files are open for writing (EBUSY), and a dm-level limit
// gives the writer no error before fsync.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

uint64_t PercentOf(uint64_t used, uint64_t total) { return total ? used * 100 / total : 0; }

// What the hook sees: the pool, the usage that crossed the threshold, the devices.
std::vector<std::string> HookEnvironment(const std::string& root, const std::string& pool,
                                         const PoolSettings& s, const kernel::PoolStatus& st,
                                         const std::string& reason) {
  uint64_t data_used = st.data_used_blocks * s.block_size;
  uint64_t data_total = st.data_total_blocks * s.block_size;
  uint64_t meta_used = st.metadata_used_blocks * 4096;
  uint64_t meta_total = st.metadata_total_blocks * 4096;
  return {
      "THINSNAP_ROOT=" + root,
      "THINSNAP_POOL=" + pool,
      "THINSNAP_POOL_MODE=" + std::string(PoolModeName(s.mode)),
      "THINSNAP_DATA_DEVICE=" + s.data_path,
      "THINSNAP_METADATA_DEVICE=" + s.metadata_path,
      "THINSNAP_REASON=" + reason,
      "THINSNAP_THRESHOLD=" + std::to_string(s.autoextend_threshold),
      "THINSNAP_DATA_USED=" + std::to_string(data_used),
      "THINSNAP_DATA_TOTAL=" + std::to_string(data_total),
      "THINSNAP_DATA_PERCENT=" + std::to_string(PercentOf(data_used, data_total)),
      "THINSNAP_METADATA_USED=" + std::to_string(meta_used),
      "THINSNAP_METADATA_TOTAL=" + std::to_string(meta_total),
      "THINSNAP_METADATA_PERCENT=" + std::to_string(PercentOf(meta_used, meta_total)),
  };
}

}  // namespace

std::string Engine::MaybeAutoextend(std::optional<AutoextendHook>* hook) {
  return impl_->Autoextend(hook).report;
}

Engine::Impl::AutoextendResult Engine::Impl::Autoextend(std::optional<AutoextendHook>* hook,
                                                        const kernel::PoolStatus* known) {
  Impl& m = *this;
  PoolSettings s = m.settings();
  if (s.autoextend_threshold <= 0) return {};
  kernel::PoolStatus st = known ? *known : m.PoolStatusNow();
  if (st.failed) return {};
  auto over = [&](uint64_t used, uint64_t total) {
    return total > 0 && used * 100 >= total * static_cast<uint64_t>(s.autoextend_threshold);
  };
  bool data = over(st.data_used_blocks, st.data_total_blocks);
  bool meta = over(st.metadata_used_blocks, st.metadata_total_blocks);
  if (!data && !meta) return {};
  if (!m.Backing(s)->GrowsItself()) {
    std::string reason = data && meta ? "data,metadata" : data ? "data" : "metadata";
    char what[160];
    std::snprintf(what, sizeof what,
                  "pool %s usage %" PRIu64 "%% data, %" PRIu64
                  "%% metadata, above the autoextend threshold %d%%",
                  m.PoolName().c_str(), PercentOf(st.data_used_blocks, st.data_total_blocks),
                  PercentOf(st.metadata_used_blocks, st.metadata_total_blocks),
                  s.autoextend_threshold);
    std::string next = s.autoextend_hook.empty()
                           ? "; grow the device, then thinsnap pool set --data-size"
                           : "; running the autoextend hook";
    if (!s.autoextend_hook.empty() && hook) {
      *hook =
          AutoextendHook{s.autoextend_hook, HookEnvironment(m.root, m.PoolName(), s, st, reason)};
    } else if (!s.autoextend_hook.empty()) {
      next = "; thinsnap pool monitor runs the autoextend hook";
    }
    return {std::string("autoextend: warning: ") + what + next, what + next};
  }
  std::string report;
  auto grow = [&](const std::string& file, uint64_t limit, const std::string& spare) {
    uint64_t size = m.sys->SizeOf(file);
    uint64_t target = size + size * static_cast<uint64_t>(s.autoextend_percent) / 100;
    target = target / s.block_size * s.block_size;
    if (limit > 0) target = std::min(target, limit);
    if (target <= size) return false;
    m.sys->GrowFile(file, target);
    m.sys->RefreshLoopCapacity(*m.sys->FindLoop(file));
    // The spare keeps pace with the metadata so that a repair always fits.
    if (!spare.empty() && m.sys->Exists(spare) && m.sys->SizeOf(spare) < target) {
      m.sys->GrowFile(spare, target);
    }
    report += (report.empty() ? "autoextend: " : ", ") + file + " " + FormatSize(size) + " -> " +
              FormatSize(target);
    return true;
  };
  bool grew = false;
  if (data) grew |= grow(s.data_path, s.autoextend_max_size, "");
  if (meta) grew |= grow(s.metadata_path, kernel::kMaxMetadataBytes, s.metadata_spare);
  if (!grew) {
    return {"autoextend: pool at its --max-size " + FormatSize(s.autoextend_max_size), ""};
  }
  m.LoadPoolTable(s, m.DataDevice(s), m.MetadataDevice(s), /*create=*/false);
  return {report, "", /*grew=*/true};
}

namespace {

constexpr char kStoppedPrefix[] = "stopped.";
// How long AllocatingNow watches the mapped counts: long enough for a writer's writeback to
// map a block, short enough to hold the root's lock for.
constexpr int kAllocationSampleMs = 150;

struct StoppedEntry {
  std::string how, reason;
  int64_t since_ns = 0;
};

// The config value "<how> <reason> <since_ns>".
StoppedEntry ParseStopped(const std::string& value) {
  StoppedEntry e;
  size_t a = value.find(' '), b = value.find(' ', a == std::string::npos ? a : a + 1);
  e.how = value.substr(0, a);
  if (a != std::string::npos)
    e.reason = value.substr(a + 1, b == std::string::npos ? b : b - a - 1);
  if (b != std::string::npos) e.since_ns = std::strtoll(value.c_str() + b + 1, nullptr, 10);
  return e;
}

bool Writable(const DeviceRecord& rec) {
  return !rec.read_only && rec.fs != FsType::kNone && !rec.mountpoint.empty() &&
         rec.kind != DeviceKind::kBase;
}

}  // namespace

std::optional<std::string> Engine::Impl::StoppedHow(const std::string& name) {
  auto it = catalog().config().find(kStoppedPrefix + name);
  if (it == catalog().config().end()) return std::nullopt;
  return ParseStopped(it->second).how;
}

void Engine::Impl::ForgetStopped(const std::string& name) {
  if (StoppedHow(name)) store().Update({Mutation::EraseConfig(kStoppedPrefix + name)});
}

std::vector<StoppedDevice> Engine::Impl::StoppedDevices() {
  std::vector<StoppedDevice> out;
  for (const auto& [key, value] : catalog().config()) {
    if (key.rfind(kStoppedPrefix, 0) != 0) continue;
    StoppedEntry e = ParseStopped(value);
    StoppedDevice d;
    d.name = key.substr(sizeof kStoppedPrefix - 1);
    d.how = e.how;
    d.reason = e.reason;
    d.since_ns = e.since_ns;
    if (const DeviceRecord* rec = catalog().FindByName(d.name)) d.mountpoint = rec->mountpoint;
    if (d.how == "frozen") {
      d.next = "grow the pool (thinsnap pool set --data-size) or rm a device; it thaws";
    } else if (d.how == "stuck") {
      // Frozen, then shut down by its own writeback: no FITHAW can reach it (FreezeOutcome).
      d.next =
          "it shut itself down while frozen, and no file on it opens to thaw it: run `echo "
          "j > /proc/sysrq-trigger` (thaws every frozen filesystem of the host), then: "
          "thinsnap mount " +
          d.name;
    } else {
      d.next =
          "grow the pool (thinsnap pool set --data-size) or rm a device, stop what uses it, "
          "then run: thinsnap mount " +
          d.name;
    }
    out.push_back(std::move(d));
  }
  return out;
}

ReserveReport Engine::EnforceReserve(const ReserveOptions& opts) {
  Impl& m = *impl_;
  m.RequirePool();
  ReserveReport report;
  if (!m.PoolActive()) return report;
  PoolSettings s = m.settings();
  kernel::PoolStatus st = m.PoolStatusNow();
  if (st.failed) return report;
  uint64_t data_res = DataReserveBlocks(s, st.data_total_blocks);
  uint64_t meta_res = MetadataReserveBlocks(s, st.data_total_blocks, st.metadata_total_blocks);
  auto free_of = [](uint64_t used, uint64_t total) { return total - std::min(used, total); };
  auto under = [&](const kernel::PoolStatus& p, std::string* reason) {
    bool data = data_res > 0 && free_of(p.data_used_blocks, p.data_total_blocks) <= data_res;
    bool meta =
        meta_res > 0 && free_of(p.metadata_used_blocks, p.metadata_total_blocks) <= meta_res;
    if (reason) *reason = data ? "data" : "metadata";
    return data || meta;
  };
  std::string reason;
  report.under = under(st, &reason);
  if (report.under && opts.autoextend) {
    std::string grown = MaybeAutoextend();
    if (!grown.empty()) report.did.push_back(grown);
    st = m.PoolStatusNow();
    data_res = DataReserveBlocks(s, st.data_total_blocks);
    meta_res = MetadataReserveBlocks(s, st.data_total_blocks, st.metadata_total_blocks);
    report.under = under(st, &reason);
  }
  uint64_t low_water = m.LowWaterBlocks(s, st.data_total_blocks * s.block_size);
  report.data_reserve_blocks = data_res;
  report.metadata_reserve_blocks = meta_res;
  report.data_used_blocks = st.data_used_blocks;
  report.metadata_used_blocks = st.metadata_used_blocks;
  bool has_reserve = data_res > 0 || meta_res > 0;
  // Past either low-water mark the kernel stays silent until the next table load: poll.
  uint64_t meta_low_water = std::max(2 * meta_res, st.metadata_low_watermark.value_or(0));
  report.near = (has_reserve &&
                 (free_of(st.data_used_blocks, st.data_total_blocks) <= low_water ||
                  free_of(st.metadata_used_blocks, st.metadata_total_blocks) <= meta_low_water)) ||
                !m.StoppedDevices().empty();
  std::vector<DeviceRecord> running;
  if (report.near || report.under) {
    running = m.RunningWriters();
    report.mapped = m.MappedSectors(running);
  }
  if (report.under) {
    bool full = st.data_used_blocks >= st.data_total_blocks ||
                st.metadata_used_blocks >= st.metadata_total_blocks;
    m.StopWriters(s, reason, full, opts.defer_freeze, running, opts.previous_mapped, &report);
  } else {
    m.ResumeStopped(&report);
  }
  return report;
}

std::vector<DeviceRecord> Engine::Impl::RunningWriters() {
  std::vector<DeviceRecord> out;
  catalog().ForEach([&](const DeviceRecord& rec) {
    if (!Writable(rec) || StoppedHow(rec.name)) return;
    // Only a live mount of this very device: an ioctl on a plain directory would reach the
    // filesystem that holds it.
    std::vector<std::string> mounts = sys->MountsOf(dm->DevicePath(ThinName(rec.id)));
    if (std::find(mounts.begin(), mounts.end(), rec.mountpoint) != mounts.end()) {
      out.push_back(rec);
    }
  });
  return out;
}

std::map<uint32_t, uint64_t> Engine::Impl::MappedSectors(const std::vector<DeviceRecord>& devices) {
  std::map<uint32_t, uint64_t> out;
  for (const DeviceRecord& rec : devices) {
    // The kernel's own count, read without a flush.
    try {
      kernel::ThinStatus st = kernel::ParseThinStatus(dm->Status(ThinName(rec.id), true));
      if (!st.failed) out[rec.id] = st.mapped_sectors;
    } catch (const Error&) {
      // Left out: StopWriters counts a device it cannot read as allocating, the safe side.
    }
  }
  return out;
}

void Engine::Impl::StopWriters(const PoolSettings& s, const std::string& reason, bool full,
                               bool defer_freeze, const std::vector<DeviceRecord>& running,
                               const std::map<uint32_t, uint64_t>* previous,
                               ReserveReport* report) {
  // Which filesystems are shut down; every other one is frozen.
  std::set<uint32_t> shut;
  if (s.no_space == NoSpacePolicy::kQueue || running.empty()) {
    // queue: none; writers wait.
  } else if (full) {
    // No block left: a filesystem that writes now loses that write (a frozen one flushes
    // first), so all of them stop writing at once.
    for (const DeviceRecord& rec : running) shut.insert(rec.id);
  } else {
    // Shutting down stops reads too, so only the filesystems that allocate are shut down: each
    // that grew by at least an eighth of the largest growth since the last look (an idle one's
    // occasional metadata writeback does not count). A device whose status cannot be read
    // counts as allocating; one not seen at the last look (mounted since) counts from now on.
    std::map<uint32_t, uint64_t> before;
    if (previous) {
      before = *previous;
    } else {
      before = MappedSectors(running);
      sys->SleepMs(kAllocationSampleMs);
      report->mapped = MappedSectors(running);
    }
    const std::map<uint32_t, uint64_t>& now = report->mapped;
    std::map<uint32_t, uint64_t> growth;
    uint64_t largest = 0;
    for (const DeviceRecord& rec : running) {
      auto b = std::as_const(before).find(rec.id);
      auto a = now.find(rec.id);
      if (a == now.end()) {
        shut.insert(rec.id);
        continue;
      }
      growth[rec.id] = b == before.end() || a->second < b->second ? 0 : a->second - b->second;
      largest = std::max(largest, growth[rec.id]);
    }
    for (const auto& [id, g] : growth) {
      if (g > 0 && g >= largest / 8) shut.insert(id);
    }
    // No filesystem seen allocating (its writeback came between the looks, or a raw volume
    // fills the pool): which one writes next is unknown, so all of them stop writing.
    if (largest == 0) {
      for (const DeviceRecord& rec : running) shut.insert(rec.id);
    }
  }
  // --on-full error: the pool fails I/O rather than queueing it, so a freeze cannot hang and
  // runs here; one that fails (its writeback found no block) becomes a shutdown.
  if (s.no_space != NoSpacePolicy::kQueue) defer_freeze = false;
  // The allocating ones stop first: each of their writes still in flight takes a block that an
  // idle filesystem's freeze may need for its own log (an xfs whose freeze finds the pool full
  // shuts itself down; FreezeFilesystem then thaws it and it counts as shut down).
  std::vector<DeviceRecord> order = running;
  std::stable_partition(order.begin(), order.end(),
                        [&](const DeviceRecord& rec) { return shut.count(rec.id) > 0; });
  for (const DeviceRecord& rec : order) {
    bool shutdown = shut.count(rec.id) > 0;
    std::string what = rec.name + " (" + rec.mountpoint + ")";
    try {
      if (!shutdown && !defer_freeze && s.no_space != NoSpacePolicy::kQueue) {
        try {
          if (sys->FreezeFilesystem(rec.mountpoint) == kernel::FreezeOutcome::kShutDown) {
            report->did.push_back("reserve: " + what +
                                  " shut itself down while freezing (the pool filled)");
            shutdown = true;
          }
        } catch (const Error& e) {
          report->did.push_back("reserve: freeze " + what + ": " + e.what() + "; shutting down");
          shutdown = true;
        }
      } else if (!shutdown && !defer_freeze) {
        sys->FreezeFilesystem(rec.mountpoint);
      }
      if (shutdown) sys->ShutdownFilesystem(rec.mountpoint, rec.fs);
    } catch (const Error& e) {
      report->did.push_back(std::string("reserve: could not stop ") + what + ": " + e.what());
      continue;
    }
    if (!shutdown && defer_freeze) report->freeze_later.push_back(rec.mountpoint);
    std::string how = shutdown ? "shutdown" : "frozen";
    store().Update({Mutation::SetConfig(kStoppedPrefix + rec.name,
                                        how + " " + reason + " " + std::to_string(sys->NowNs()))});
    report->did.push_back("reserve: pool " + reason +
                          " space at the reserve: " + (shutdown ? "shut down " : "froze ") + what);
  }
}

void Engine::Impl::ResumeStopped(ReserveReport* report) {
  for (const StoppedDevice& d : StoppedDevices()) {
    const DeviceRecord* found = catalog().FindByName(d.name);
    if (!found || found->mountpoint.empty()) {
      ForgetStopped(d.name);  // unmounted or removed meanwhile
      continue;
    }
    DeviceRecord rec = *found;
    bool remount = d.how != "frozen";
    std::string dev = dm->DevicePath(ThinName(rec.id));
    try {
      if (d.how == "stuck") continue;  // until the operator's mount (d.next)
      // A filesystem that shut itself down (xfs does when a write of its own finds the pool
      // full) comes back as a shut-down one does, by unmount and mount.
      bool gave_up = d.how == "frozen" && !sys->FilesystemServesReads(rec.mountpoint);
      if (gave_up) {
        remount = true;
      } else if (d.how == "frozen") {
        // Not frozen (yet): the monitor's deferred freeze may still be writing back; keep the
        // record a minute so that its next turn thaws what that freeze leaves frozen.
        if (!sys->ThawFilesystem(rec.mountpoint) && sys->NowNs() - d.since_ns < 60'000'000'000) {
          report->did.push_back("reserve: " + d.name + " is not frozen yet; thawing it later");
          continue;
        }
      }
      if (remount) {
        sys->Unmount(rec.mountpoint);
        sys->Mount(dev, rec.mountpoint, rec.fs, MountOptions(rec, false));
        if (rec.fs == FsType::kXfs) sys->SetXfsEnospcRetries(dev, 3);
      }
      if (gave_up && !sys->FilesystemServesReads(rec.mountpoint)) {
        // Still frozen when it shut itself down: no file on it opens, so nothing could thaw
        // it, and the unmount left its frozen superblock for this mount to find again
        // (kernel::FreezeOutcome). Only the kernel's emergency thaw ends that freeze.
        store().Update({Mutation::SetConfig(
            kStoppedPrefix + d.name, "stuck " + d.reason + " " + std::to_string(d.since_ns))});
        report->did.push_back("reserve: " + d.name +
                              " stays stopped: its filesystem shut itself down while frozen");
        continue;
      }
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kBusy) {
        report->did.push_back("reserve: " + d.name +
                              " stays stopped: it is in use; stop what "
                              "uses it, then run: thinsnap mount " +
                              d.name);
      } else {
        report->did.push_back("reserve: could not bring back " + d.name + ": " + e.what());
      }
      continue;
    }
    ForgetStopped(d.name);
    report->did.push_back(
        "reserve: space is back: " + std::string(remount ? "remounted " : "thawed ") + d.name +
        " (" + rec.mountpoint + ")");
  }
}

MonitorTurn Engine::TakeMonitorTurn(const std::map<uint32_t, uint64_t>* previous) {
  Impl& m = *impl_;
  m.RequirePool();
  MonitorTurn turn;
  turn.pool = m.PoolName();
  std::optional<kernel::DeviceInfo> info = m.dm->Info(turn.pool);
  if (!info) return turn;
  turn.active = true;
  // Read the counter first: an event raised while usage is checked then ends the next wait at
  // once instead of being lost.
  turn.event_nr = info->event_nr;
  turn.did = MaybeAutoextend(&turn.hook);
  turn.reserve =
      EnforceReserve({.autoextend = false, .defer_freeze = true, .previous_mapped = previous});
  return turn;
}

namespace {

// Past the low-water mark: reads the pool's status (no flush) every near_poll_ms until its event
// counter moves, the pool crosses the reserve either way, usage grows while under it, or
// near_turn_ms have passed (then the
// next turn looks again, and runs a hook that is still due, as dmeventd retries).
void WatchReserve(kernel::DeviceMapper* dm, kernel::Clock* clock, const MonitorTurn& turn,
                  const MonitorOptions& opts) {
  auto free_of = [](uint64_t used, uint64_t total) { return total - std::min(used, total); };
  const ReserveReport& r = turn.reserve;
  for (int waited = 0; waited < opts.near_turn_ms; waited += opts.near_poll_ms) {
    clock->SleepMs(opts.near_poll_ms);
    std::optional<kernel::DeviceInfo> info = dm->Info(turn.pool);
    if (!info || info->event_nr != turn.event_nr) return;
    kernel::PoolStatus st = kernel::ParsePoolStatus(dm->Status(turn.pool, /*no_flush=*/true));
    if (st.failed) return;
    bool under =
        (r.data_reserve_blocks > 0 &&
         free_of(st.data_used_blocks, st.data_total_blocks) <= r.data_reserve_blocks) ||
        (r.metadata_reserve_blocks > 0 &&
         free_of(st.metadata_used_blocks, st.metadata_total_blocks) <= r.metadata_reserve_blocks);
    if (under != r.under) return;
    // Under the reserve, any growth is a writer not stopped yet: look at once.
    if (under && (st.data_used_blocks > r.data_used_blocks ||
                  st.metadata_used_blocks > r.metadata_used_blocks)) {
      return;
    }
  }
}

}  // namespace

void RunPoolMonitor(const std::string& root, kernel::DeviceMapper* dm, kernel::System* sys,
                    const EngineOptions& engine_opts, const MonitorOptions& opts) {
  // The same failure turn after turn (no pool yet, pool down) is reported once.
  std::string last_failure;
  auto report = [&](const std::string& line) {
    if (opts.report) opts.report(line);
  };
  auto report_failure = [&](const Error& e) {
    std::string line = std::string("pool monitor: ") + e.what();
    if (line != last_failure) report(line);
    last_failure = line;
  };
  // The last turn's mapped counts while past the low-water mark: who allocates between turns.
  std::optional<std::map<uint32_t, uint64_t>> previous;
  while (!opts.keep_running || opts.keep_running()) {
    MonitorTurn turn;
    const std::map<uint32_t, uint64_t>* previous_ptr = previous ? &*previous : nullptr;
    try {
      // The engine (and with it the root's lock) lives for this block only.
      turn = Engine::Open(root, dm, sys, engine_opts)->TakeMonitorTurn(previous_ptr);
    } catch (const Error& e) {
      report_failure(e);
      sys->SleepMs(opts.inactive_poll_ms);
      continue;
    }
    last_failure.clear();
    previous.reset();
    if (turn.reserve.near || turn.reserve.under) previous = turn.reserve.mapped;
    if (!turn.did.empty()) report(turn.did);
    for (const std::string& line : turn.reserve.did) report(line);
    for (const std::string& dir : turn.reserve.freeze_later) {
      try {
        if (sys->FreezeFilesystem(dir) == kernel::FreezeOutcome::kShutDown) {
          report("reserve: " + dir +
                 " shut itself down while freezing; it comes back as a "
                 "shut-down one does (unmount and mount)");
        } else {
          report("reserve: " + dir + " frozen");
        }
      } catch (const Error& e) {
        report(std::string("reserve: ") + e.what());
      }
    }
    if (turn.hook) {
      kernel::ToolResult r = sys->RunHook(turn.hook->command, turn.hook->env);
      report("autoextend hook '" + turn.hook->command + "': " +
             (r.ok ? "ok" + (r.output.empty() ? "" : ": " + r.output) : "failed: " + r.output));
    }
    if (!turn.active) {
      sys->SleepMs(opts.inactive_poll_ms);
      continue;
    }
    try {
      if (turn.reserve.near) {
        WatchReserve(dm, sys, turn, opts);
      } else {
        dm->WaitEvent(turn.pool, turn.event_nr);
      }
    } catch (const Error& e) {
      // The pool went away (deactivated, destroyed): report it and look again later.
      report_failure(e);
      sys->SleepMs(opts.inactive_poll_ms);
    }
  }
}

}  // namespace thinsnap
