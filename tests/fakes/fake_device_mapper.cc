#include "tests/fakes/fake_device_mapper.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "base/error.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap::kernel {
namespace {

constexpr uint32_t kDmMajor = 253;
constexpr uint64_t kDefaultMetadataBytes = 16ull << 20;
constexpr uint64_t kMetadataBlockBytes = 4096;

const char* OpName(FakeOp op) {
  switch (op) {
    case FakeOp::kCreate:
      return "create";
    case FakeOp::kReload:
      return "reload";
    case FakeOp::kSuspend:
      return "suspend";
    case FakeOp::kResume:
      return "resume";
    case FakeOp::kRemove:
      return "remove";
    case FakeOp::kMessage:
      return "message";
    case FakeOp::kStatus:
      return "status";
    case FakeOp::kGetTable:
      return "table";
    case FakeOp::kInfo:
      return "info";
    case FakeOp::kList:
      return "list";
    case FakeOp::kWaitEvent:
      return "wait event";
  }
  return "?";
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// A message argument that must be a number; nullopt when it is not.
std::optional<uint64_t> Number(const std::string& word) {
  if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(word);
}

}  // namespace

// --- bookkeeping ---

void FakeDeviceMapper::Record(FakeOp op, const std::string& name, const std::string& detail) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  std::string call = OpName(op);
  if (!name.empty()) call += " " + name;
  if (!detail.empty()) call += " " + detail;
  calls_.push_back(call);
  ++call_counts_[op];
  if (!unreachable.empty()) throw Error(unreachable, ErrorKind::kFailure, ENXIO);
}

int FakeDeviceMapper::CallCount(FakeOp op) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  auto it = call_counts_.find(op);
  return it == call_counts_.end() ? 0 : it->second;
}

void FakeDeviceMapper::Fail(FakeOp op, const std::string& name, const std::string& detail,
                            int err) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  std::string msg = std::string("dm ") + OpName(op) + " " + name;
  if (!detail.empty()) msg += " \"" + detail + "\"";
  std::string reason = std::strerror(err);
  msg += ": " + reason + " (errno " + std::to_string(err) + "): device-mapper: " + OpName(op) +
         " ioctl on " + name + "  failed: " + reason;
  throw Error(msg, KindForErrno(err), err);
}

void FakeDeviceMapper::InjectFailure(const InjectedFailure& failure) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  failures_.push_back(failure);
}

std::optional<InjectedFailure> FakeDeviceMapper::TakeInjected(FakeOp op, const std::string& name,
                                                              const std::string& message) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (it->op != op || (!it->name.empty() && it->name != name)) continue;
    if (!it->message_prefix.empty() && message.rfind(it->message_prefix, 0) != 0) continue;
    if (--it->nth > 0) continue;
    InjectedFailure hit = *it;
    failures_.erase(it);
    return hit;
  }
  return std::nullopt;
}

FakeDeviceMapper::Device& FakeDeviceMapper::Find(FakeOp op, const std::string& name,
                                                 const std::string& detail) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  auto it = devices_.find(name);
  if (it == devices_.end()) Fail(op, name, detail, ENXIO);
  return it->second;
}

std::string FakeDeviceMapper::ResolveDevice(const std::string& ref) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  std::string name = ref.rfind("/dev/mapper/", 0) == 0 ? ref.substr(12) : ref;
  if (devices_.count(name) != 0) return name;
  for (const auto& [dev_name, dev] : devices_) {
    if (ref == std::to_string(kDmMajor) + ":" + std::to_string(dev.minor)) return dev_name;
  }
  return "";
}

const TableLine* FakeDeviceMapper::PoolLine(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  auto it = devices_.find(name);
  if (it == devices_.end() || !it->second.live || it->second.live->empty()) return nullptr;
  const TableLine& line = it->second.live->front();
  return line.target == "thin-pool" ? &line : nullptr;
}

FakeDeviceMapper::PoolMetadata& FakeDeviceMapper::MetadataOf(FakeOp op, const std::string& pool,
                                                             const std::string& detail) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  const TableLine* line = PoolLine(pool);
  if (line == nullptr) Fail(op, pool, detail, EINVAL);
  return metadata_.at(ParsePoolTableParams(line->params).metadata_dev);
}

int32_t FakeDeviceMapper::OpenCount(const std::string& name) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  int32_t count = devices_.at(name).holds;
  for (const auto& [other, dev] : devices_) {
    for (const std::optional<Table>* t : {&dev.live, &dev.inactive}) {
      if (!*t || (*t)->empty() || (*t)->front().target != "thin") continue;
      if (ResolveDevice(ParseThinTableParams((*t)->front().params).pool_dev) == name) ++count;
    }
  }
  return count;
}

bool FakeDeviceMapper::ThinActive(const std::string& pool, uint32_t id,
                                  bool require_unsuspended) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  for (const auto& [name, dev] : devices_) {
    if (!dev.live || dev.live->empty() || dev.live->front().target != "thin") continue;
    ParsedThinTable t = ParseThinTableParams(dev.live->front().params);
    if (ResolveDevice(t.pool_dev) != pool || t.thin_id != id) continue;
    // A read-only table takes no writes: snapshotting its thin id needs no quiescing.
    if (!require_unsuspended || (!dev.suspended && !dev.live_read_only)) return true;
  }
  return false;
}

// --- tables ---

void FakeDeviceMapper::ValidatePoolLine(FakeOp op, const std::string& name, const TableLine& line) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  ParsedPoolTable p;
  try {
    p = ParsePoolTableParams(line.params);
    ValidateBlockSize(p.block_sectors * kSectorSize);
  } catch (const Error&) {
    Fail(op, name, "", EINVAL);
  }
  for (const auto& [other, dev] : devices_) {
    const TableLine* other_line = PoolLine(other);
    if (other == name || other_line == nullptr) continue;
    if (ParsePoolTableParams(other_line->params).metadata_dev == p.metadata_dev) {
      Fail(op, name, "", EBUSY);  // "metadata device already in use by a pool"
    }
  }
  auto md = metadata_.find(p.metadata_dev);
  if (md != metadata_.end() && md->second.block_sectors != p.block_sectors) {
    Fail(op, name, "", EINVAL);  // "changing the data block size ... is not supported"
  }
}

void FakeDeviceMapper::ValidateThinLine(FakeOp op, const std::string& name, const TableLine& line) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  ParsedThinTable t;
  try {
    t = ParseThinTableParams(line.params);
  } catch (const Error&) {
    Fail(op, name, "", EINVAL);
  }
  std::string pool = ResolveDevice(t.pool_dev);
  if (pool.empty() || PoolLine(pool) == nullptr) Fail(op, name, "", EINVAL);
  const PoolMetadata& md = metadata_.at(ParsePoolTableParams(PoolLine(pool)->params).metadata_dev);
  if (md.thins.count(t.thin_id) == 0) Fail(op, name, "", ENODATA);
}

void FakeDeviceMapper::ValidateTable(FakeOp op, const std::string& name, const Table& table) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (table.empty()) Fail(op, name, "", EINVAL);
  for (const TableLine& line : table) {
    if (line.length == 0) Fail(op, name, "", EINVAL);
    if (line.target == "thin-pool") ValidatePoolLine(op, name, line);
    if (line.target == "thin") ValidateThinLine(op, name, line);
  }
}

void FakeDeviceMapper::ActivatePool(const std::string& name, const TableLine& line) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  ParsedPoolTable p = ParsePoolTableParams(line.params);
  PoolMetadata& md = metadata_[p.metadata_dev];
  if (md.block_sectors == 0) md.block_sectors = p.block_sectors;  // formats fresh metadata
  uint64_t total = line.length / p.block_sectors;
  if (total < md.data_total_blocks) Fail(FakeOp::kResume, name, "", EINVAL);  // too small
  PoolRuntime& rt = runtime_[name];
  if (total > md.data_total_blocks) rt.low_water_triggered = false;
  md.data_total_blocks = total;
  if (rt.mode == PoolIoMode::kOutOfDataSpace && DataUsedBlocks(md) < total) {
    rt.mode = PoolIoMode::kReadWrite;
  }
}

// --- DeviceMapper ---

void FakeDeviceMapper::Create(const std::string& name, const Table& table,
                              const CreateOptions& opts) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kCreate, name);
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kCreate, name, "");
  if (inj && !inj->after_effect) Fail(FakeOp::kCreate, name, "", inj->err);
  if (devices_.count(name) != 0) Fail(FakeOp::kCreate, name, "", EBUSY);
  for (const auto& [other, dev] : devices_) {
    if (!opts.uuid.empty() && dev.uuid == opts.uuid) Fail(FakeOp::kCreate, name, "", EBUSY);
  }
  ValidateTable(FakeOp::kCreate, name, table);
  Device dev;
  dev.uuid = opts.uuid;
  dev.live = table;
  dev.live_read_only = opts.read_only;
  dev.minor = next_minor_++;
  devices_[name] = dev;
  try {
    if (table.front().target == "thin-pool") ActivatePool(name, table.front());
  } catch (const Error&) {
    devices_.erase(name);  // create+load+resume is one step: no half-made device
    runtime_.erase(name);
    throw;
  }
  if (inj) Fail(FakeOp::kCreate, name, "", inj->err);
}

void FakeDeviceMapper::Reload(const std::string& name, const Table& table) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kReload, name);
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kReload, name, "");
  if (inj && !inj->after_effect) Fail(FakeOp::kReload, name, "", inj->err);
  Device& dev = Find(FakeOp::kReload, name);
  ValidateTable(FakeOp::kReload, name, table);
  dev.inactive = table;
  dev.inactive_read_only = false;
  if (inj) Fail(FakeOp::kReload, name, "", inj->err);
}

void FakeDeviceMapper::Suspend(const std::string& name, bool flush) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kSuspend, name, flush ? "" : "noflush");
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kSuspend, name, "");
  if (inj && !inj->after_effect) Fail(FakeOp::kSuspend, name, "", inj->err);
  Find(FakeOp::kSuspend, name).suspended = true;
  if (inj) Fail(FakeOp::kSuspend, name, "", inj->err);
}

void FakeDeviceMapper::Resume(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kResume, name);
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kResume, name, "");
  if (inj && !inj->after_effect) Fail(FakeOp::kResume, name, "", inj->err);
  Device& dev = Find(FakeOp::kResume, name);
  if (dev.inactive) {
    dev.live = std::move(dev.inactive);
    dev.live_read_only = dev.inactive_read_only;
    dev.inactive.reset();
  }
  if (!dev.live) Fail(FakeOp::kResume, name, "", EINVAL);
  // Like the kernel: when the pool refuses the new table the device stays suspended.
  if (dev.live->front().target == "thin-pool") ActivatePool(name, dev.live->front());
  dev.suspended = false;
  if (inj) Fail(FakeOp::kResume, name, "", inj->err);
}

void FakeDeviceMapper::DoRemove(const std::string& name_ref) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  const std::string name = name_ref;  // name_ref may be the key that erase() frees
  devices_.erase(name);
  runtime_.erase(name);
  for (const auto& [other, dev] : devices_) {
    if (dev.deferred_remove && OpenCount(other) == 0) {
      DoRemove(other);
      return;  // the map changed; the recursive call handles the rest
    }
  }
}

RemoveResult FakeDeviceMapper::Remove(const std::string& name, const RemoveOptions& opts) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kRemove, name, opts.deferred ? "deferred" : "");
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kRemove, name, "");
  if (inj && !inj->after_effect) Fail(FakeOp::kRemove, name, "", inj->err);
  if (devices_.count(name) == 0) return RemoveResult::kAbsent;
  RemoveResult result = RemoveResult::kRemoved;
  if (OpenCount(name) > 0) {
    if (!opts.deferred) Fail(FakeOp::kRemove, name, "", EBUSY);
    devices_[name].deferred_remove = true;
    result = RemoveResult::kDeferred;
  } else {
    DoRemove(name);
  }
  if (inj) Fail(FakeOp::kRemove, name, "", inj->err);
  return result;
}

std::string FakeDeviceMapper::Message(const std::string& name, const std::string& message) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kMessage, name, message);
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kMessage, name, message);
  if (inj && inj->then_needs_check) MetadataOf(FakeOp::kMessage, name, message).needs_check = true;
  if (inj && !inj->after_effect) Fail(FakeOp::kMessage, name, message, inj->err);
  Find(FakeOp::kMessage, name, message);
  if (message == "@cancel_deferred_remove") {  // dm core's own message, to any device
    if (!devices_[name].deferred_remove) Fail(FakeOp::kMessage, name, message, ENXIO);
    devices_[name].deferred_remove = false;
    return "";
  }
  std::string response = DoMessage(name, message);
  if (inj) Fail(FakeOp::kMessage, name, message, inj->err);
  return response;
}

std::string FakeDeviceMapper::DoMessage(const std::string& pool, const std::string& msg) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  PoolMetadata& md = MetadataOf(FakeOp::kMessage, pool, msg);
  const PoolRuntime& rt = runtime_[pool];
  if (rt.failed || rt.mode == PoolIoMode::kReadOnly) Fail(FakeOp::kMessage, pool, msg, EOPNOTSUPP);
  std::vector<std::string> w = Words(msg);
  std::vector<std::optional<uint64_t>> n;
  for (size_t i = 1; i < w.size(); ++i) n.push_back(Number(w[i]));
  auto args_ok = [&](size_t count) {
    if (n.size() != count) return false;
    return std::all_of(n.begin(), n.end(), [](const auto& v) { return v.has_value(); });
  };
  std::string verb = w.empty() ? "" : w[0];
  if (verb == "create_thin" && args_ok(1)) {
    CreateThin(pool, md, *n[0], msg);
  } else if (verb == "create_snap" && args_ok(2)) {
    CreateSnap(pool, md, *n[0], *n[1], msg);
  } else if (verb == "delete" && args_ok(1)) {
    DeleteThin(pool, md, *n[0], msg);
  } else if (verb == "set_transaction_id" && args_ok(2)) {
    SetTransactionId(pool, md, *n[0], *n[1], msg);
  } else if (verb == "reserve_metadata_snap" && args_ok(0)) {
    if (md.held_root) Fail(FakeOp::kMessage, pool, msg, EBUSY);
    md.held_root = 100 + md.transaction_id;
  } else if (verb == "release_metadata_snap" && args_ok(0)) {
    if (!md.held_root) Fail(FakeOp::kMessage, pool, msg, EINVAL);
    md.held_root.reset();
  } else {
    Fail(FakeOp::kMessage, pool, msg, EINVAL);
  }
  return "";
}

void FakeDeviceMapper::CreateThin(const std::string& pool, PoolMetadata& md, uint64_t id,
                                  const std::string& msg) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (id >= kThinIdLimit) Fail(FakeOp::kMessage, pool, msg, EINVAL);
  if (md.thins.count(static_cast<uint32_t>(id)) != 0) Fail(FakeOp::kMessage, pool, msg, EEXIST);
  md.thins[static_cast<uint32_t>(id)] = Thin{};
}

void FakeDeviceMapper::CreateSnap(const std::string& pool, PoolMetadata& md, uint64_t id,
                                  uint64_t origin, const std::string& msg) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (id >= kThinIdLimit || origin >= kThinIdLimit) Fail(FakeOp::kMessage, pool, msg, EINVAL);
  if (md.thins.count(static_cast<uint32_t>(id)) != 0) Fail(FakeOp::kMessage, pool, msg, EEXIST);
  auto it = md.thins.find(static_cast<uint32_t>(origin));
  if (it == md.thins.end()) Fail(FakeOp::kMessage, pool, msg, ENODATA);
  if (ThinActive(pool, it->first, /*require_unsuspended=*/true)) {
    unsafe_origins_.push_back(it->first);
  }
  Thin copy = it->second;
  for (uint64_t block : copy.blocks) ++md.refcounts[block];
  md.thins[static_cast<uint32_t>(id)] = std::move(copy);
}

void FakeDeviceMapper::DeleteThin(const std::string& pool, PoolMetadata& md, uint64_t id,
                                  const std::string& msg) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  auto it = md.thins.find(static_cast<uint32_t>(id));
  if (it == md.thins.end()) Fail(FakeOp::kMessage, pool, msg, ENODATA);
  if (ThinActive(pool, it->first, false)) Fail(FakeOp::kMessage, pool, msg, EBUSY);
  for (uint64_t block : it->second.blocks) {
    if (--md.refcounts[block] == 0) md.refcounts.erase(block);
  }
  md.thins.erase(it);
}

void FakeDeviceMapper::SetTransactionId(const std::string& pool, PoolMetadata& md, uint64_t current,
                                        uint64_t next, const std::string& msg) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (current != md.transaction_id) Fail(FakeOp::kMessage, pool, msg, EINVAL);
  md.transaction_id = next;
}

uint64_t FakeDeviceMapper::MetadataTotalBlocks(const std::string& metadata_dev) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  auto it = device_sizes_.find(metadata_dev);
  uint64_t bytes = it == device_sizes_.end() ? kDefaultMetadataBytes : it->second;
  return std::min(bytes, kMaxMetadataBytes) / kMetadataBlockBytes;
}

uint64_t FakeDeviceMapper::MetadataUsedBlocks(const PoolMetadata& md) {
  uint64_t mappings = 0;
  for (const auto& [id, thin] : md.thins) mappings += thin.blocks.size();
  return 10 + md.thins.size() + (mappings + 255) / 256;
}

std::string FakeDeviceMapper::PoolStatusLine(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  const TableLine& line = *PoolLine(name);
  ParsedPoolTable p = ParsePoolTableParams(line.params);
  const PoolMetadata& md = metadata_.at(p.metadata_dev);
  const PoolRuntime& rt = runtime_[name];
  PoolStatus s;
  s.failed = rt.failed;
  s.transaction_id = md.transaction_id;
  s.metadata_used_blocks = MetadataUsedBlocks(md);
  s.metadata_total_blocks = MetadataTotalBlocks(p.metadata_dev);
  s.data_used_blocks = DataUsedBlocks(md);
  s.data_total_blocks = md.data_total_blocks;
  s.held_metadata_root = md.held_root;
  s.mode = p.features.read_only ? PoolIoMode::kReadOnly : rt.mode;
  s.discard = p.features.ignore_discard        ? DiscardMode::kIgnore
              : p.features.no_discard_passdown ? DiscardMode::kNoPassdown
                                               : DiscardMode::kPassdown;
  s.error_if_no_space = p.features.error_if_no_space;
  s.needs_check = md.needs_check;
  s.metadata_low_watermark = std::min<uint64_t>(1024, s.metadata_total_blocks / 4);
  return FormatPoolStatus(s);
}

std::string FakeDeviceMapper::ThinStatusLine(const TableLine& line) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  ParsedThinTable t = ParseThinTableParams(line.params);
  std::string pool = ResolveDevice(t.pool_dev);
  ThinStatus s;
  if (pool.empty() || PoolLine(pool) == nullptr || runtime_[pool].failed) {
    s.failed = true;
    return FormatThinStatus(s);
  }
  const PoolMetadata& md = metadata_.at(ParsePoolTableParams(PoolLine(pool)->params).metadata_dev);
  auto it = md.thins.find(t.thin_id);
  if (it == md.thins.end()) return "-";
  s.mapped_sectors = it->second.blocks.size() * md.block_sectors;
  if (s.mapped_sectors > 0) s.highest_mapped_sector = s.mapped_sectors - 1;
  return FormatThinStatus(s);
}

std::string FakeDeviceMapper::Status(const std::string& name, bool no_flush) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kStatus, name, no_flush ? "noflush" : "");
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kStatus, name, "");
  if (inj) Fail(FakeOp::kStatus, name, "", inj->err);
  Device& dev = Find(FakeOp::kStatus, name);
  last_status_no_flush_ = no_flush;
  if (!dev.live) throw Error("dm status " + name + ": the device has no live table");
  const TableLine& line = dev.live->front();
  if (line.target == "thin-pool") return PoolStatusLine(name);
  if (line.target == "thin") return ThinStatusLine(line);
  return "";
}

Table FakeDeviceMapper::GetTable(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kGetTable, name);
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kGetTable, name, "");
  if (inj) Fail(FakeOp::kGetTable, name, "", inj->err);
  Device& dev = Find(FakeOp::kGetTable, name);
  return dev.live ? *dev.live : Table{};
}

std::optional<DeviceInfo> FakeDeviceMapper::Info(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kInfo, name);
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kInfo, name, "");
  if (inj) Fail(FakeOp::kInfo, name, "", inj->err);
  auto it = devices_.find(name);
  if (it == devices_.end()) return std::nullopt;
  const Device& d = it->second;
  return DeviceInfo{.suspended = d.suspended,
                    .read_only = d.live_read_only,
                    .live_table = d.live.has_value(),
                    .inactive_table = d.inactive.has_value(),
                    .deferred_remove = d.deferred_remove,
                    .open_count = OpenCount(name),
                    .event_nr = d.event_nr,
                    .major = kDmMajor,
                    .minor = d.minor,
                    .target_count = d.live ? static_cast<int32_t>(d.live->size()) : 0,
                    .uuid = d.uuid};
}

std::vector<ListedDevice> FakeDeviceMapper::List() {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kList, "");
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kList, "", "");
  if (inj) Fail(FakeOp::kList, "", "", inj->err);
  std::vector<ListedDevice> out;
  for (const auto& [name, dev] : devices_) out.push_back({name, kDmMajor, dev.minor});
  return out;
}

std::optional<Version> FakeDeviceMapper::TargetVersion(const std::string& target) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (!unreachable.empty()) throw Error(unreachable, ErrorKind::kFailure, ENXIO);
  if (target == "thin-pool" || target == "thin") return thin_target_version;
  if (target == "linear") return Version{1, 4, 0};
  if (target == "error") return Version{1, 6, 0};
  if (target == "zero") return Version{1, 2, 0};
  return std::nullopt;
}

Version FakeDeviceMapper::DriverVersion() {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (!unreachable.empty()) throw Error(unreachable, ErrorKind::kFailure, ENXIO);
  return Version{4, 47, 0};
}

std::string FakeDeviceMapper::LibraryVersion() { return "fake"; }

uint32_t FakeDeviceMapper::WaitEvent(const std::string& name, uint32_t event_nr) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Record(FakeOp::kWaitEvent, name, std::to_string(event_nr));
  std::optional<InjectedFailure> inj = TakeInjected(FakeOp::kWaitEvent, name, "");
  if (inj) Fail(FakeOp::kWaitEvent, name, "", inj->err);
  Device& dev = Find(FakeOp::kWaitEvent, name);
  if (dev.event_nr != event_nr) return dev.event_nr;
  throw Error("FakeDeviceMapper: WaitEvent(" + name + ", " + std::to_string(event_nr) +
              ") would block forever: no event is pending");
}

std::string FakeDeviceMapper::DevicePath(const std::string& name) { return "/dev/mapper/" + name; }

// --- test hooks ---

void FakeDeviceMapper::HoldOpen(const std::string& name, int count) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  devices_.at(name).holds += count;
}

void FakeDeviceMapper::CloseHold(const std::string& name, int count) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  Device& dev = devices_.at(name);
  dev.holds = std::max(0, dev.holds - count);
  if (dev.deferred_remove && OpenCount(name) == 0) DoRemove(name);
}

void FakeDeviceMapper::CheckLowWater(const std::string& pool, const PoolMetadata& md) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  PoolRuntime& rt = runtime_[pool];
  uint64_t low_water = ParsePoolTableParams(PoolLine(pool)->params).low_water_blocks;
  uint64_t free_blocks = md.data_total_blocks - DataUsedBlocks(md);
  if (free_blocks <= low_water && !rt.low_water_triggered) {
    rt.low_water_triggered = true;
    ++devices_.at(pool).event_nr;
  }
}

FakeDeviceMapper::ThinDisk FakeDeviceMapper::OpenThinDisk(const std::string& device_path) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  std::string name = ResolveDevice(device_path);
  if (name.empty()) throw Error("open " + device_path + ": No such device", ErrorKind::kNotFound);
  const Device& dev = devices_.at(name);
  if (!dev.live || dev.live->empty() || dev.live->front().target != "thin") {
    throw Error("open " + device_path + ": not an active thin device", ErrorKind::kNotFound);
  }
  ParsedThinTable t = ParseThinTableParams(dev.live->front().params);
  std::string pool = ResolveDevice(t.pool_dev);
  const TableLine* line = PoolLine(pool);
  if (line == nullptr) throw Error("open " + device_path + ": pool not active");
  ParsedPoolTable p = ParsePoolTableParams(line->params);
  Thin& thin = metadata_.at(p.metadata_dev).thins.at(t.thin_id);
  return {&thin.content, p.block_sectors * 512, dev.live->front().length * 512};
}

std::vector<DeltaRange> FakeDeviceMapper::ThinDelta(const std::string& metadata_dev, uint32_t a,
                                                    uint32_t b) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  const PoolMetadata& md = metadata_.at(metadata_dev);
  if (!md.held_root) throw Error("thin_delta -m: no metadata snapshot is held");
  const auto& left = md.thins.at(a).content;
  const auto& right = md.thins.at(b).content;
  std::map<uint64_t, DeltaRange::Kind> kinds;
  for (const auto& [block, bytes] : left) {
    auto it = right.find(block);
    kinds[block] = it == right.end()     ? DeltaRange::Kind::kLeftOnly
                   : it->second == bytes ? DeltaRange::Kind::kSame
                                         : DeltaRange::Kind::kDifferent;
  }
  for (const auto& [block, bytes] : right) {
    if (!left.count(block)) kinds[block] = DeltaRange::Kind::kRightOnly;
  }
  std::vector<DeltaRange> out;
  for (const auto& [block, kind] : kinds) {
    if (!out.empty() && out.back().kind == kind && out.back().begin + out.back().length == block) {
      ++out.back().length;
    } else {
      out.push_back({kind, block, 1});
    }
  }
  return out;
}

uint64_t FakeDeviceMapper::MapBlocks(const std::string& pool, uint32_t thin_id, uint64_t blocks) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  if (PoolLine(pool) == nullptr) throw Error("MapBlocks: no active pool " + pool);
  PoolMetadata& md = metadata_.at(ParsePoolTableParams(PoolLine(pool)->params).metadata_dev);
  auto it = md.thins.find(thin_id);
  if (it == md.thins.end()) throw Error("MapBlocks: no thin id " + std::to_string(thin_id));
  uint64_t mapped = 0;
  for (; mapped < blocks; ++mapped) {
    if (DataUsedBlocks(md) >= md.data_total_blocks) {
      if (runtime_[pool].mode != PoolIoMode::kOutOfDataSpace) {
        runtime_[pool].mode = PoolIoMode::kOutOfDataSpace;
        ++devices_.at(pool).event_nr;
      }
      break;
    }
    uint64_t block = md.next_block++;
    md.refcounts[block] = 1;
    it->second.blocks.push_back(block);
  }
  CheckLowWater(pool, md);
  return mapped;
}

void FakeDeviceMapper::SetPoolIoMode(const std::string& pool, PoolIoMode mode) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  runtime_.at(pool).mode = mode;
  ++devices_.at(pool).event_nr;
}

void FakeDeviceMapper::FailPool(const std::string& pool) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  runtime_.at(pool).failed = true;
  ++devices_.at(pool).event_nr;
}

void FakeDeviceMapper::SetNeedsCheck(const std::string& metadata_dev, bool needs_check) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  metadata_.at(metadata_dev).needs_check = needs_check;
}

void FakeDeviceMapper::SetDeviceSize(const std::string& dev, uint64_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  device_sizes_[dev] = bytes;
}

void FakeDeviceMapper::TriggerEvent(const std::string& name) { ++devices_.at(name).event_nr; }

void FakeDeviceMapper::Reboot() {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  devices_.clear();
  runtime_.clear();
}

void FakeDeviceMapper::WipeMetadata(const std::string& metadata_dev) {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  metadata_.erase(metadata_dev);
}

// --- inspection ---

std::vector<uint32_t> FakeDeviceMapper::ThinIds(const std::string& metadata_dev) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  std::vector<uint32_t> ids;
  auto it = metadata_.find(metadata_dev);
  if (it == metadata_.end()) return ids;
  for (const auto& [id, thin] : it->second.thins) ids.push_back(id);
  return ids;
}

std::optional<uint64_t> FakeDeviceMapper::TransactionId(const std::string& metadata_dev) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  auto it = metadata_.find(metadata_dev);
  if (it == metadata_.end()) return std::nullopt;
  return it->second.transaction_id;
}

std::vector<ThinLsRow> FakeDeviceMapper::ThinLs(const std::string& metadata_dev) const {
  std::lock_guard<std::recursive_mutex> lock(mu_.m);
  std::vector<ThinLsRow> rows;
  auto it = metadata_.find(metadata_dev);
  if (it == metadata_.end()) return rows;
  for (const auto& [id, thin] : it->second.thins) {
    uint64_t exclusive = 0;
    for (uint64_t block : thin.blocks) exclusive += it->second.refcounts.at(block) == 1 ? 1 : 0;
    rows.push_back({id, thin.blocks.size(), exclusive, thin.blocks.size() - exclusive});
  }
  return rows;
}

}  // namespace thinsnap::kernel
