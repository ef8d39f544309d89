#include "thinpool/pool_config.h"

#include <algorithm>
#include <charconv>

#include "base/enum_names.h"
#include "base/error.h"

namespace thinsnap {
namespace {

// The words of the configuration (metadata/FORMAT.md); unknown words read as the first entry.
constexpr EnumName<PoolMode> kPoolModeNames[] = {{PoolMode::kLoopback, "loopback"},
                                                 {PoolMode::kDirect, "direct"},
                                                 {PoolMode::kAdopted, "adopted"}};
constexpr EnumName<NoSpacePolicy> kNoSpaceNames[] = {{NoSpacePolicy::kError, "error"},
                                                     {NoSpacePolicy::kQueue, "queue"}};
constexpr EnumName<DiscardMode> kDiscardNames[] = {{DiscardMode::kPassdown, "passdown"},
                                                   {DiscardMode::kNoPassdown, "nopassdown"},
                                                   {DiscardMode::kIgnore, "ignore"}};
constexpr EnumName<DeviceKind> kDeviceKindNames[] = {{DeviceKind::kBase, "base"},
                                                     {DeviceKind::kLayer, "layer"},
                                                     {DeviceKind::kContainer, "container"},
                                                     {DeviceKind::kVolume, "volume"}};

std::string Get(const PoolConfig& c, const std::string& key, const std::string& fallback = "") {
  auto it = c.find(key);
  return it == c.end() ? fallback : it->second;
}

uint64_t GetNumber(const PoolConfig& c, const std::string& key, uint64_t fallback) {
  std::string text = Get(c, key);
  uint64_t value = fallback;
  if (!text.empty() &&
      std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) {
    throw Error("pool configuration: bad number for " + key + ": '" + text + "'",
                ErrorKind::kCorrupt);
  }
  return value;
}

// Arguments are stored joined by a unit separator, which no shell argument carries in practice.
constexpr char kSep = '\x1f';

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(1, kSep) : "") + parts[i];
  return out;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  for (size_t pos; (pos = text.find(kSep, start)) != std::string::npos; start = pos + 1) {
    out.push_back(text.substr(start, pos - start));
  }
  out.push_back(text.substr(start));
  return out;
}

template <typename E, size_t N>
E Parse(const EnumName<E> (&names)[N], const std::string& word) {
  return ValueOf(names, word).value_or(names[0].value);
}

}  // namespace

const char* PoolModeName(PoolMode mode) { return NameOf(kPoolModeNames, mode, "loopback"); }

const char* NoSpacePolicyName(NoSpacePolicy policy) {
  return policy == NoSpacePolicy::kQueue ? "queue" : "error";
}

void ParseReserve(const std::string& text, int* percent, uint64_t* blocks) {
  bool is_percent = !text.empty() && text.back() == '%';
  std::string digits = is_percent ? text.substr(0, text.size() - 1) : text;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
      (is_percent && value > 50)) {
    throw Error("--reserve: '" + text + "' is neither a percentage 0%..50% nor a number of blocks",
                ErrorKind::kUsage);
  }
  *percent = is_percent ? static_cast<int>(value) : 0;
  *blocks = is_percent ? 0 : value;
}

std::string FormatReserve(int percent, uint64_t blocks) {
  if (blocks > 0) return std::to_string(blocks) + " blocks";
  return percent > 0 ? std::to_string(percent) + "%" : "off";
}

uint64_t DataReserveBlocks(const PoolSettings& s, uint64_t data_total_blocks) {
  if (s.reserve_blocks > 0) return std::min(s.reserve_blocks, data_total_blocks);
  return data_total_blocks * static_cast<uint64_t>(s.reserve_percent) / 100;
}

uint64_t MetadataReserveBlocks(const PoolSettings& s, uint64_t data_total_blocks,
                               uint64_t metadata_total_blocks) {
  if (s.reserve_blocks == 0) {
    return metadata_total_blocks * static_cast<uint64_t>(s.reserve_percent) / 100;
  }
  // Blocks given for data: the same share of the metadata device.
  if (data_total_blocks == 0) return 0;
  return metadata_total_blocks * std::min(s.reserve_blocks, data_total_blocks) / data_total_blocks;
}

FsType ParseFsType(const std::string& text, bool allow_none) {
  if (text == "ext4") return FsType::kExt4;
  if (text == "xfs") return FsType::kXfs;
  if (text == "none" && allow_none) return FsType::kNone;
  throw Error("--fs: '" + text + "' is not supported (use ext4" +
                  std::string(allow_none ? ", xfs or none)" : " or xfs)"),
              ErrorKind::kUsage);
}

const char* DeviceKindName(DeviceKind kind) { return NameOf(kDeviceKindNames, kind, "unknown"); }

PoolSettings PoolSettings::FromConfig(const PoolConfig& c) {
  PoolSettings s;
  s.pool_id = Get(c, "pool.id");
  s.mode = Parse(kPoolModeNames, Get(c, "pool.mode"));
  s.data_path = Get(c, "data.path");
  s.metadata_path = Get(c, "metadata.path");
  s.metadata_spare = Get(c, "metadata.spare");
  s.adopted_pool = Get(c, "pool.adopted");
  s.block_size = GetNumber(c, "block.size", s.block_size);
  s.fs = Get(c, "fs") == "xfs" ? FsType::kXfs : FsType::kExt4;
  s.base_size = GetNumber(c, "base.size", s.base_size);
  s.base_id = static_cast<uint32_t>(GetNumber(c, "base.id", 0));
  s.mkfs_args = Split(Get(c, "fs.mkfs_args"));
  s.mount_opts = Get(c, "fs.mount_opts");
  s.skip_block_zeroing = Get(c, "pool.skip_block_zeroing", "1") == "1";
  s.no_space = Parse(kNoSpaceNames, Get(c, "pool.no_space"));
  s.discard = Parse(kDiscardNames, Get(c, "pool.discard"));
  s.min_free_percent = static_cast<int>(GetNumber(c, "pool.min_free_percent", 10));
  ParseReserve(Get(c, "pool.reserve", "5%"), &s.reserve_percent, &s.reserve_blocks);
  s.autoextend_threshold = static_cast<int>(GetNumber(c, "autoextend.threshold", 0));
  s.autoextend_percent = static_cast<int>(GetNumber(c, "autoextend.percent", 20));
  s.autoextend_max_size = GetNumber(c, "autoextend.max_size", 0);
  s.autoextend_hook = Get(c, "autoextend.hook");
  s.deferred_removal = Get(c, "pool.deferred_removal", "1") == "1";
  s.ready = Get(c, "pool.ready") == "1";
  return s;
}

PoolConfig PoolSettings::ToConfig() const {
  PoolConfig c;
  c["pool.id"] = pool_id;
  c["pool.mode"] = PoolModeName(mode);
  c["data.path"] = data_path;
  c["metadata.path"] = metadata_path;
  c["metadata.spare"] = metadata_spare;
  c["pool.adopted"] = adopted_pool;
  c["block.size"] = std::to_string(block_size);
  c["fs"] = FsTypeName(fs);
  c["base.size"] = std::to_string(base_size);
  c["base.id"] = std::to_string(base_id);
  c["fs.mkfs_args"] = Join(mkfs_args);
  c["fs.mount_opts"] = mount_opts;
  c["pool.skip_block_zeroing"] = skip_block_zeroing ? "1" : "0";
  c["pool.no_space"] = NameOf(kNoSpaceNames, no_space);
  c["pool.discard"] = NameOf(kDiscardNames, discard);
  c["pool.min_free_percent"] = std::to_string(min_free_percent);
  c["pool.reserve"] =
      reserve_blocks > 0 ? std::to_string(reserve_blocks) : std::to_string(reserve_percent) + "%";
  c["autoextend.threshold"] = std::to_string(autoextend_threshold);
  c["autoextend.percent"] = std::to_string(autoextend_percent);
  c["autoextend.max_size"] = std::to_string(autoextend_max_size);
  c["autoextend.hook"] = autoextend_hook;
  c["pool.deferred_removal"] = deferred_removal ? "1" : "0";
  c["pool.ready"] = ready ? "1" : "0";
  return c;
}

}  // namespace thinsnap
