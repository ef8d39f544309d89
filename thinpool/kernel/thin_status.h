// Parsers for the status lines of the thin-pool and thin targets (the params that
// `dmsetup status` prints after the target name), as emitted by drivers/md/dm-thin.c:
//   pool: <txn> <used>/<total meta blocks> <used>/<total data blocks> <held root|->
//         rw|ro|out_of_data_space ignore_discard|discard_passdown|no_discard_passdown
//         error_if_no_space|queue_if_no_space needs_check|- [<metadata low watermark>]
//   or "Fail" (pool failed) / "Error" (status could not be read).
//   thin: <mapped sectors> <highest mapped sector|->, or "-" (device being deleted), or "Fail".
// Metadata blocks are 4 KiB; data blocks are the pool's block size.
//
// Thread-safety: pure functions.
#ifndef THINSNAP_THINPOOL_KERNEL_THIN_STATUS_H_
#define THINSNAP_THINPOOL_KERNEL_THIN_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace thinsnap::kernel {

// The pool's I/O mode as its status line reports it (rw, ro, out_of_data_space); not to be
// confused with the engine's PoolMode (loopback, direct, adopted: how the pool is backed).
enum class PoolIoMode { kReadWrite, kReadOnly, kOutOfDataSpace };
// How the pool handles discards: its status word, and the engine's pool.discard setting.
enum class DiscardMode { kPassdown, kNoPassdown, kIgnore };

struct PoolStatus {
  bool failed = false;  // "Fail" or "Error": every other field is zero
  uint64_t transaction_id = 0;
  uint64_t metadata_used_blocks = 0;
  uint64_t metadata_total_blocks = 0;
  uint64_t data_used_blocks = 0;
  uint64_t data_total_blocks = 0;
  std::optional<uint64_t> held_metadata_root;  // set while a metadata snapshot is reserved
  PoolIoMode mode = PoolIoMode::kReadWrite;
  DiscardMode discard = DiscardMode::kPassdown;
  bool error_if_no_space = false;
  bool needs_check = false;
  std::optional<uint64_t> metadata_low_watermark;  // kernels >= 4.19
};

struct ThinStatus {
  bool failed = false;
  uint64_t mapped_sectors = 0;
  std::optional<uint64_t> highest_mapped_sector;  // none when nothing is mapped
};

// Throw Error(kCorrupt) quoting the line when it is malformed.
PoolStatus ParsePoolStatus(const std::string& line);
ThinStatus ParseThinStatus(const std::string& line);

// Formats a status as the kernel does (with its trailing space), for the fake and for tests.
std::string FormatPoolStatus(const PoolStatus& status);
std::string FormatThinStatus(const ThinStatus& status);

const char* PoolIoModeName(PoolIoMode mode);  // "rw", "ro", "out_of_data_space"

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_THIN_STATUS_H_
