// PoolSettings: the typed view of the pool configuration that the store keeps as key/value pairs
// (metadata/records.h PoolConfig). Keys are listed in metadata/FORMAT.md.
#ifndef THINSNAP_THINPOOL_POOL_CONFIG_H_
#define THINSNAP_THINPOOL_POOL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "metadata/records.h"
#include "thinpool/kernel/thin_status.h"

namespace thinsnap {

// How the pool is backed: sparse files under the root, block devices, or an adopted dm pool.
enum class PoolMode { kLoopback, kDirect, kAdopted };
enum class NoSpacePolicy { kError, kQueue };
using kernel::DiscardMode;  // one type: the setting is what the kernel's status reports

struct PoolSettings {
  std::string pool_id;  // 8 hex digits, part of every dm name and UUID we create
  PoolMode mode = PoolMode::kLoopback;
  std::string data_path;      // loop file or block device (kAdopted: empty)
  std::string metadata_path;  // loop file or block device (kAdopted: empty)
  // Where `pool repair` writes repaired metadata (like LVM's pmspare): a file next to the
  // metadata file in loopback mode, an optional --metadata-spare device in direct mode.
  std::string metadata_spare;
  std::string adopted_pool;  // kAdopted: the dm name of the existing pool
  uint64_t block_size = 64 << 10;
  FsType fs = FsType::kExt4;
  uint64_t base_size = 10ull << 30;
  uint32_t base_id = 0;
  std::vector<std::string> mkfs_args;
  std::string mount_opts;
  bool skip_block_zeroing = true;
  NoSpacePolicy no_space = NoSpacePolicy::kError;
  DiscardMode discard = DiscardMode::kPassdown;
  int min_free_percent = 10;
  // The space reserve (README "Space"): blocks never given to writers. When free data (or
  // metadata) space falls to it, thinsnap stops the pool's mounted filesystems as `no_space`
  // (shown as --on-full) says. reserve_blocks (data blocks) wins when set; else a percentage
  // of the data and of the metadata device. 0 and 0: no reserve (the kernel alone decides).
  int reserve_percent = 5;
  uint64_t reserve_blocks = 0;
  int autoextend_threshold = 0;  // percent; 0 = off
  int autoextend_percent = 20;
  uint64_t autoextend_max_size = 0;  // 0 = no limit
  std::string autoextend_hook;       // direct mode: command run when the threshold is crossed
  bool deferred_removal = true;
  bool ready = false;  // false while `pool create` has not finished

  static PoolSettings FromConfig(const PoolConfig& config);
  PoolConfig ToConfig() const;
  bool operator==(const PoolSettings&) const = default;
};

const char* PoolModeName(PoolMode mode);
const char* NoSpacePolicyName(NoSpacePolicy policy);  // "error", "queue"
// The reserve as the user gives it: "5%" (of the data and metadata devices) or a number of data
// blocks ("2048"). Throws kUsage.
void ParseReserve(const std::string& text, int* percent, uint64_t* blocks);
std::string FormatReserve(int percent, uint64_t blocks);  // "5%", "2048 blocks", "off"
// The data and metadata blocks the reserve holds back on a pool of the given sizes.
uint64_t DataReserveBlocks(const PoolSettings& s, uint64_t data_total_blocks);
uint64_t MetadataReserveBlocks(const PoolSettings& s, uint64_t data_total_blocks,
                               uint64_t metadata_total_blocks);
FsType ParseFsType(const std::string& text, bool allow_none);
const char* DeviceKindName(DeviceKind kind);

}  // namespace thinsnap

#endif  // THINSNAP_THINPOOL_POOL_CONFIG_H_
