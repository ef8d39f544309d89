#include "thinpool/kernel/dm_tables.h"

#include <charconv>
#include <cstdio>
#include <vector>

#include "base/error.h"
#include "base/strings.h"

namespace thinsnap::kernel {
namespace {

[[noreturn]] void UsageError(const std::string& message) {
  throw Error(message, ErrorKind::kUsage);
}

std::vector<std::string> FeatureWords(const PoolFeatures& f) {
  std::vector<std::string> words;
  if (f.skip_block_zeroing) words.emplace_back("skip_block_zeroing");
  if (f.ignore_discard) words.emplace_back("ignore_discard");
  if (f.no_discard_passdown) words.emplace_back("no_discard_passdown");
  if (f.error_if_no_space) words.emplace_back("error_if_no_space");
  if (f.read_only) words.emplace_back("read_only");
  return words;
}

bool ParseU64(const std::string& word, uint64_t& out) {
  const char* end = word.data() + word.size();
  auto [ptr, ec] = std::from_chars(word.data(), end, out);
  return ec == std::errc() && ptr == end && !word.empty();
}

[[noreturn]] void BadTable(const std::string& target, const std::string& params,
                           const std::string& why) {
  throw Error("malformed " + target + " table \"" + params + "\": " + why, ErrorKind::kCorrupt);
}

void ApplyFeature(const std::string& word, PoolFeatures& f, const std::string& params) {
  if (word == "skip_block_zeroing") {
    f.skip_block_zeroing = true;
  } else if (word == "ignore_discard") {
    f.ignore_discard = true;
  } else if (word == "no_discard_passdown") {
    f.no_discard_passdown = true;
  } else if (word == "error_if_no_space") {
    f.error_if_no_space = true;
  } else if (word == "read_only") {
    f.read_only = true;
  } else {
    BadTable("thin-pool", params, "unknown feature '" + word + "'");
  }
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (value == static_cast<double>(static_cast<uint64_t>(value))) {
    std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(value), kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f %s", value, kUnits[unit]);
  }
  return buf;
}

void ValidateBlockSize(uint64_t bytes) {
  if (bytes < kMinBlockBytes || bytes > kMaxBlockBytes || bytes % kMinBlockBytes != 0) {
    UsageError("pool block size " + std::to_string(bytes) + " bytes (" + HumanBytes(bytes) +
               ") is invalid: it must be a multiple of 64 KiB between 64 KiB and 1 GiB");
  }
}

void ValidateMetadataSize(uint64_t bytes) {
  if (bytes < kMinMetadataBytes || bytes > kMaxMetadataBytes) {
    UsageError("metadata size " + std::to_string(bytes) + " bytes (" + HumanBytes(bytes) +
               ") is invalid: it must be between 2 MiB and " + std::to_string(kMaxMetadataBytes) +
               " bytes (" + HumanBytes(kMaxMetadataBytes) +
               ", the most the kernel's thin-pool can use)");
  }
}

void ValidateThinId(uint64_t id) {
  if (id >= kThinIdLimit) {
    UsageError("thin device id " + std::to_string(id) + " is invalid: the kernel allows 0 to " +
               std::to_string(kThinIdLimit - 1));
  }
}

TableLine ThinPoolTable(const std::string& metadata_dev, const std::string& data_dev,
                        uint64_t data_sectors, uint64_t block_sectors, uint64_t low_water_blocks,
                        const PoolFeatures& features) {
  ValidateBlockSize(block_sectors * kSectorSize);
  if (data_sectors < block_sectors) {
    UsageError("data device of " + std::to_string(data_sectors) +
               " sectors is smaller than one pool block (" + std::to_string(block_sectors) +
               " sectors)");
  }
  if (features.ignore_discard && features.no_discard_passdown) {
    UsageError("thin-pool features ignore_discard and no_discard_passdown exclude each other");
  }
  std::string params = metadata_dev + " " + data_dev + " " + std::to_string(block_sectors) + " " +
                       std::to_string(low_water_blocks);
  std::vector<std::string> words = FeatureWords(features);
  if (!words.empty()) params += " " + std::to_string(words.size());
  for (const std::string& w : words) params += " " + w;
  return TableLine{0, data_sectors, "thin-pool", params};
}

TableLine ThinTable(const std::string& pool_dev, uint32_t thin_id, uint64_t sectors) {
  ValidateThinId(thin_id);
  if (sectors == 0) UsageError("thin device " + std::to_string(thin_id) + " needs a size > 0");
  return TableLine{0, sectors, "thin", pool_dev + " " + std::to_string(thin_id)};
}

ParsedPoolTable ParsePoolTableParams(const std::string& params) {
  std::vector<std::string> w = SplitWords(params);
  ParsedPoolTable t;
  if (w.size() < 4) BadTable("thin-pool", params, "expected at least 4 arguments");
  t.metadata_dev = w[0];
  t.data_dev = w[1];
  if (!ParseU64(w[2], t.block_sectors)) BadTable("thin-pool", params, "bad block size");
  if (!ParseU64(w[3], t.low_water_blocks)) BadTable("thin-pool", params, "bad low water mark");
  uint64_t count = 0;
  if (w.size() == 4) return t;
  if (!ParseU64(w[4], count) || count != w.size() - 5) {
    BadTable("thin-pool", params, "feature count does not match");
  }
  for (size_t i = 5; i < w.size(); ++i) ApplyFeature(w[i], t.features, params);
  return t;
}

ParsedThinTable ParseThinTableParams(const std::string& params) {
  std::vector<std::string> w = SplitWords(params);
  uint64_t id = 0;
  if (w.size() < 2 || w.size() > 3) BadTable("thin", params, "expected <pool> <id> [origin]");
  if (!ParseU64(w[1], id) || id >= kThinIdLimit) BadTable("thin", params, "bad device id");
  return ParsedThinTable{w[0], static_cast<uint32_t>(id)};
}

}  // namespace thinsnap::kernel
