#include "cli/output.h"

#include <cstdio>
#include <ctime>
#include <iostream>

#include "base/enum_names.h"
#include "base/units.h"

namespace thinsnap::cli {

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

void PrintJson(const nlohmann::json& doc) { std::cout << doc.dump(2) << "\n"; }

void PrintWarning(const std::string& line) { std::cerr << "thinsnap: warning: " << line << "\n"; }

std::string FormatTime(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

uint64_t BytesPerSecond(uint64_t bytes, int64_t ns) {
  return ns > 0 ? static_cast<uint64_t>(static_cast<double>(bytes) * 1e9 / static_cast<double>(ns))
                : 0;
}

std::string FormatTransferProgress(const TransferProgress& p) {
  std::string line = std::string(p.receiving ? "receiving " : "sending ") + p.name + ": " +
                     FormatSize(p.data_bytes);
  if (p.total_bytes > 0) {
    line += " of " + FormatSize(p.total_bytes) + " (" +
            std::to_string(p.data_bytes * 100 / p.total_bytes) + "%)";
  }
  return line + ", " + FormatSize(BytesPerSecond(p.wire_bytes, p.elapsed_ns)) + "/s";
}

namespace {

constexpr EnumName<DeviceState> kStateNames[] = {{DeviceState::kReady, "ready"},
                                                 {DeviceState::kWritableLayer, "writable"},
                                                 {DeviceState::kDeletePending, "delete-pending"}};
// What people and programs read in `pool status` (the config spells it "nopassdown").
constexpr EnumName<DiscardMode> kDiscardTexts[] = {{DiscardMode::kPassdown, "passdown"},
                                                   {DiscardMode::kNoPassdown, "no_passdown"},
                                                   {DiscardMode::kIgnore, "ignore"}};

const char* StateName(DeviceState s) { return NameOf(kStateNames, s, "unknown"); }

}  // namespace

nlohmann::json RecordToJson(const DeviceRecord& r) {
  nlohmann::json j = {
      {"Name", r.name},
      {"Kind", DeviceKindName(r.kind)},
      {"DeviceId", r.id},
      {"DeviceSize", r.size_bytes},
      {"Filesystem", FsTypeName(r.fs)},
      {"ReadOnly", r.read_only},
      {"State", StateName(r.state)},
      {"Active", r.active},
      {"Mountpoint", r.mountpoint},
      {"Created", FormatTime(r.created_ns)},
      {"Digest", r.digest},
      {"Labels", r.labels},
  };
  j["Parent"] = r.parent_id == kNoParent ? nlohmann::json(nullptr) : nlohmann::json(r.parent_id);
  return j;
}

const char* DeviceStateText(const DeviceRecord& r) {
  return r.state == DeviceState::kDeletePending   ? "delete-pending"
         : r.state == DeviceState::kWritableLayer ? "writable"
         : r.read_only                            ? "ro"
                                                  : "rw";
}

nlohmann::json DfRowToJson(const DfRow& r) {
  return {
      {"Name", r.name},     {"Kind", DeviceKindName(r.kind)}, {"DeviceId", r.id},  {"Size", r.size},
      {"Mapped", r.mapped}, {"Exclusive", r.exclusive},       {"Shared", r.shared}};
}

nlohmann::json ChangeToJson(const TreeChange& c) {
  return {{"Kind", std::string(1, ChangeLetter(c.kind))}, {"Path", c.path}};
}

nlohmann::json ViewToJson(const DeviceView& v) {
  nlohmann::json j = RecordToJson(v.record);
  j["DeviceName"] = v.dm_name;
  j["DevicePath"] = v.device_path;
  j["ParentChain"] = v.parent_chain;
  j["MappedBytes"] = v.mapped_bytes;
  j["Active"] = v.active;
  return j;
}

void PrintDeviceView(const DeviceView& v) {
  const DeviceRecord& r = v.record;
  std::string chain;
  for (const auto& p : v.parent_chain) chain += (chain.empty() ? "" : " <- ") + p;
  PrintTable({
      {"Name:", r.name},
      {"Kind:", DeviceKindName(r.kind)},
      {"Id:", std::to_string(r.id)},
      {"Parents:", chain.empty() ? "-" : chain},
      {"DM name:", v.dm_name},
      {"Device:", v.active ? v.device_path : "(inactive)"},
      {"Size:", FormatSize(r.size_bytes) + " (" + std::to_string(r.size_bytes) + " bytes)"},
      {"Mapped:", v.active ? FormatSize(v.mapped_bytes) : "-"},
      {"Filesystem:", FsTypeName(r.fs)},
      {"Read-only:", r.read_only ? "yes" : "no"},
      {"Mountpoint:", r.mountpoint.empty() ? "-" : r.mountpoint},
      {"Created:", FormatTime(r.created_ns)},
      {"Digest:", r.digest.empty() ? "-" : r.digest},
  });
}

namespace {

double Percent(uint64_t used, uint64_t total) {
  return total ? 100.0 * static_cast<double>(used) / static_cast<double>(total) : 0;
}

// Provisioned bytes per byte of data space.
double OvercommitRatio(const PoolReport& r) {
  return r.data_bytes ? static_cast<double>(r.provisioned_bytes) / static_cast<double>(r.data_bytes)
                      : 0.0;
}

const char* ModeText(const PoolReport& r) {
  if (!r.active) return "inactive";
  if (r.status.failed) return "failed";
  if (r.status.needs_check) return "needs_check";
  return kernel::PoolIoModeName(r.status.mode);
}

const char* DiscardText(DiscardMode d) { return NameOf(kDiscardTexts, d, "passdown"); }

nlohmann::json StoppedToJson(const std::vector<StoppedDevice>& stopped) {
  nlohmann::json out = nlohmann::json::array();
  for (const StoppedDevice& d : stopped) {
    out.push_back({{"Name", d.name},
                   {"How", d.how},
                   {"Reason", d.reason},
                   {"SinceNs", d.since_ns},
                   {"Mountpoint", d.mountpoint},
                   {"Next", d.next}});
  }
  return out;
}

}  // namespace

nlohmann::json PoolReportToJson(const PoolReport& r) {
  const PoolSettings& s = r.settings;
  const kernel::PoolStatus& st = r.status;
  uint64_t data_used = st.data_used_blocks * s.block_size;
  uint64_t meta_used = st.metadata_used_blocks * 4096;
  return {
      {"PoolName", r.pool_name},
      {"Root", r.root},
      {"Mode", PoolModeName(s.mode)},
      {"Active", r.active},
      {"State", ModeText(r)},
      {"BlockSize", s.block_size},
      {"BaseDeviceSize", s.base_size},
      {"BackingFilesystem", FsTypeName(s.fs)},
      {"DataFile", s.data_path},
      {"MetadataFile", s.metadata_path},
      {"MetadataSpare", s.metadata_spare},
      {"DataSpaceUsed", data_used},
      {"DataSpaceTotal", r.data_bytes},
      {"DataSpaceAvailable", r.data_bytes - std::min(r.data_bytes, data_used)},
      {"MetadataSpaceUsed", meta_used},
      {"MetadataSpaceTotal", r.metadata_bytes},
      {"MetadataSpaceAvailable", r.metadata_bytes - std::min(r.metadata_bytes, meta_used)},
      {"Provisioned", r.provisioned_bytes},
      {"OvercommitRatio", OvercommitRatio(r)},
      {"DiscardMode", DiscardText(s.discard)},
      {"NoSpacePolicy", NoSpacePolicyName(s.no_space)},
      {"OnFull", NoSpacePolicyName(s.no_space)},
      {"Reserve", FormatReserve(s.reserve_percent, s.reserve_blocks)},
      {"DataReserveBlocks", r.data_reserve_blocks},
      {"MetadataReserveBlocks", r.metadata_reserve_blocks},
      {"Stopped", StoppedToJson(r.stopped)},
      {"MinFreeSpacePercent", s.min_free_percent},
      {"AutoextendThreshold", s.autoextend_threshold},
      {"AutoextendPercent", s.autoextend_percent},
      {"AutoextendMaxSize", s.autoextend_max_size},
      {"UdevSyncSupported", r.udev_sync},
      {"DeferredRemoval", s.deferred_removal},
      {"LibraryVersion", r.library_version},
      {"DriverVersion", r.dm_driver_version},
      {"ThinPoolTargetVersion", r.thin_target_version},
      {"TransactionId", r.transaction_id},
      {"KernelTransactionId", st.transaction_id},
      {"Devices", r.devices},
      {"Layers", r.layers},
      {"Containers", r.containers},
      {"Volumes", r.volumes},
      {"Warnings", r.warnings},
  };
}

nlohmann::json CheckReportToJson(const CheckReport& r) {
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& f : r.findings) {
    findings.push_back({{"Severity", SeverityName(f.severity)},
                        {"Code", f.code},
                        {"Device", f.device},
                        {"Message", f.message}});
  }
  return {{"Clean", r.clean()},
          {"Problems", r.problems()},
          {"Notes", r.notes()},
          {"Findings", findings}};
}

namespace {

// "10% (64 MiB data, 8 MiB metadata)": the reserve as set, and in bytes while the pool is active.
std::string ReserveText(const PoolReport& r) {
  std::string reserve = FormatReserve(r.settings.reserve_percent, r.settings.reserve_blocks);
  if (r.active && (r.data_reserve_blocks > 0 || r.metadata_reserve_blocks > 0)) {
    reserve += " (" + FormatSize(r.data_reserve_blocks * r.settings.block_size) + " data, " +
               FormatSize(r.metadata_reserve_blocks * 4096) + " metadata)";
  }
  return reserve;
}

// "1 GiB / 10 GiB (10.0%, 9 GiB free)".
std::string SpaceText(uint64_t used_blocks, uint64_t total_blocks, uint64_t block) {
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.1f%%", Percent(used_blocks, total_blocks));
  return FormatSize(used_blocks * block) + " / " + FormatSize(total_blocks * block) + " (" + pct +
         ", " + FormatSize((total_blocks - std::min(used_blocks, total_blocks)) * block) + " free)";
}

std::string OvercommitText(const PoolReport& r) {
  char ratio[16];
  std::snprintf(ratio, sizeof ratio, "%.2fx", OvercommitRatio(r));
  return ratio;
}

std::string AutoextendText(const PoolSettings& s) {
  if (s.autoextend_threshold <= 0) return "off";
  return "at " + std::to_string(s.autoextend_threshold) + "% by " +
         std::to_string(s.autoextend_percent) + "%" +
         (s.autoextend_max_size ? " up to " + FormatSize(s.autoextend_max_size) : "");
}

std::string DevicesText(const PoolReport& r) {
  return std::to_string(r.devices) + " (" + std::to_string(r.layers) + " layers, " +
         std::to_string(r.containers) + " containers, " + std::to_string(r.volumes) + " volumes)";
}

}  // namespace

void PrintPoolReport(const PoolReport& r) {
  const PoolSettings& s = r.settings;
  const kernel::PoolStatus& st = r.status;
  PrintTable({
      {"Pool:", r.pool_name},
      {"Root:", r.root},
      {"Mode:", PoolModeName(s.mode)},
      {"State:", ModeText(r)},
      {"Data:", s.data_path.empty() ? "-" : s.data_path},
      {"Metadata:", s.metadata_path.empty() ? "-" : s.metadata_path},
      {"Metadata spare:", s.metadata_spare.empty() ? "-" : s.metadata_spare},
      {"Block size:", FormatSize(s.block_size)},
      {"Base device:", FormatSize(s.base_size) + " " + FsTypeName(s.fs)},
      {"Data space:",
       r.active ? SpaceText(st.data_used_blocks, st.data_total_blocks, s.block_size) : "-"},
      {"Metadata space:",
       r.active ? SpaceText(st.metadata_used_blocks, st.metadata_total_blocks, 4096) : "-"},
      {"Provisioned:",
       FormatSize(r.provisioned_bytes) + " (over-commit " + OvercommitText(r) + ")"},
      {"Discard:", DiscardText(s.discard)},
      {"When full:", s.no_space == NoSpacePolicy::kQueue
                         ? "queue I/O (filesystems frozen at the reserve)"
                         : "error I/O (filesystems shut down at the reserve)"},
      {"Reserve:", ReserveText(r)},
      {"Min free space:", std::to_string(s.min_free_percent) + "%"},
      {"Autoextend:", AutoextendText(s)},
      {"Devices:", DevicesText(r)},
      {"Transaction id:", std::to_string(r.transaction_id)},
      {"Udev sync:", r.udev_sync ? "yes" : "no (nodes made by libdevmapper)"},
      {"Deferred removal:", s.deferred_removal ? "on" : "off"},
      {"Library version:", r.library_version},
      {"Driver version:", r.dm_driver_version + ", thin-pool target " + r.thin_target_version},
  });
  for (const StoppedDevice& d : r.stopped) {
    std::cout << "Stopped: " << d.name << " " << d.how << " (" << d.reason << " reserve) at "
              << (d.mountpoint.empty() ? "-" : d.mountpoint) << "\n";
  }
  for (const auto& w : r.warnings) std::cout << "Warning: " << w << "\n";
}

}  // namespace thinsnap::cli
