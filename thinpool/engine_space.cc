// Space over time: autoextend (loopback growth, the direct-mode warning and hook) and the
// `pool monitor` loop that drives it from the pool's dm events.
#include <cinttypes>
#include <cstdio>

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
  Impl& m = *impl_;
  PoolSettings s = m.settings();
  if (s.autoextend_threshold <= 0) return "";
  kernel::PoolStatus st = m.PoolStatusNow();
  if (st.failed) return "";
  auto over = [&](uint64_t used, uint64_t total) {
    return total > 0 && used * 100 >= total * static_cast<uint64_t>(s.autoextend_threshold);
  };
  bool data = over(st.data_used_blocks, st.data_total_blocks);
  bool meta = over(st.metadata_used_blocks, st.metadata_total_blocks);
  if (!data && !meta) return "";
  if (s.mode != PoolMode::kLoopback) {
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
    // The monitor reports through its own channel; a command warns its user here.
    if (!hook) std::fprintf(stderr, "thinsnap: warning: %s%s\n", what, next.c_str());
    return std::string("autoextend: warning: ") + what + next;
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
    return "autoextend: pool at its --max-size " + FormatSize(s.autoextend_max_size);
  }
  m.LoadPoolTable(s, m.DataDevice(s), m.MetadataDevice(s), /*create=*/false);
  return report;
}

MonitorTurn Engine::TakeMonitorTurn() {
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
  return turn;
}

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
  while (!opts.keep_running || opts.keep_running()) {
    MonitorTurn turn;
    try {
      // The engine (and with it the root's lock) lives for this block only.
      turn = Engine::Open(root, dm, sys, engine_opts)->TakeMonitorTurn();
    } catch (const Error& e) {
      report_failure(e);
      sys->SleepMs(opts.inactive_poll_ms);
      continue;
    }
    last_failure.clear();
    if (!turn.did.empty()) report(turn.did);
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
      dm->WaitEvent(turn.pool, turn.event_nr);
    } catch (const Error& e) {
      // The pool went away (deactivated, destroyed): report it and look again later.
      report_failure(e);
      sys->SleepMs(opts.inactive_poll_ms);
    }
  }
}

}  // namespace thinsnap
