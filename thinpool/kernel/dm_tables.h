// Builders for the dm tables thinsnap loads (thin-pool and thin targets) and validators for the
// numbers the kernel constrains. Pure functions: no kernel access. Sizes follow the kernel's
// Documentation/admin-guide/device-mapper/thin-provisioning.rst and dm-thin-metadata.h.
//
// Thread-safety: all functions are pure and thread-safe.
#ifndef THINSNAP_THINPOOL_KERNEL_DM_TABLES_H_
#define THINSNAP_THINPOOL_KERNEL_DM_TABLES_H_

#include <cstdint>
#include <string>

#include "thinpool/kernel/device_mapper.h"

namespace thinsnap::kernel {

inline constexpr uint64_t kSectorSize = 512;
// Pool block size: 64 KiB .. 1 GiB, a multiple of 64 KiB (DATA_DEV_BLOCK_SIZE_{MIN,MAX}_SECTORS).
inline constexpr uint64_t kMinBlockBytes = 64 * 1024;
inline constexpr uint64_t kMaxBlockBytes = 1024ull * 1024 * 1024;
// Metadata device: at least 2 MiB; the kernel uses at most THIN_METADATA_MAX_SECTORS
// = 255 * (1 << 14) * 8 sectors (~15.94 GiB) and ignores (with a warning) anything beyond.
inline constexpr uint64_t kMinMetadataBytes = 2 * 1024 * 1024;
inline constexpr uint64_t kMaxMetadataSectors = 255ull * (1 << 14) * 8;
inline constexpr uint64_t kMaxMetadataBytes = kMaxMetadataSectors * kSectorSize;
// Thin device ids are 24 bits.
inline constexpr uint64_t kThinIdLimit = 1ull << 24;

struct PoolFeatures {
  bool skip_block_zeroing = false;
  bool ignore_discard = false;       // discards are not passed to the pool at all
  bool no_discard_passdown = false;  // discards free pool blocks but don't reach the data device
  bool error_if_no_space = false;    // fail I/O at once instead of queueing when full
  bool read_only = false;            // no metadata changes (for repair/inspection)
};

// The thin-pool table line covering `data_sectors`:
//   0 <data_sectors> thin-pool <metadata_dev> <data_dev> <block_sectors> <low_water> [n feat...]
// REQUIRES: block_sectors valid (ValidateBlockSize), data_sectors > 0. Throws kUsage otherwise,
// and when both ignore_discard and no_discard_passdown are set.
TableLine ThinPoolTable(const std::string& metadata_dev, const std::string& data_dev,
                        uint64_t data_sectors, uint64_t block_sectors, uint64_t low_water_blocks,
                        const PoolFeatures& features = {});

// The thin table line: 0 <sectors> thin <pool_dev> <thin_id>. Throws kUsage for a bad id or 0 size.
TableLine ThinTable(const std::string& pool_dev, uint32_t thin_id, uint64_t sectors);

// Throw Error(kUsage) with the offending number and the limits.
void ValidateBlockSize(uint64_t bytes);
void ValidateMetadataSize(uint64_t bytes);
void ValidateThinId(uint64_t id);

// Parses the params of a thin-pool table line back (for GetTable round trips and the fake).
struct ParsedPoolTable {
  std::string metadata_dev;
  std::string data_dev;
  uint64_t block_sectors = 0;
  uint64_t low_water_blocks = 0;
  PoolFeatures features;
};
// Throws Error(kCorrupt) quoting `params` when malformed.
ParsedPoolTable ParsePoolTableParams(const std::string& params);

struct ParsedThinTable {
  std::string pool_dev;
  uint32_t thin_id = 0;
};
ParsedThinTable ParseThinTableParams(const std::string& params);

// "64 KiB", "1.5 GiB": for messages.
std::string HumanBytes(uint64_t bytes);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_DM_TABLES_H_
