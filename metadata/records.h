// In-memory records of thinsnap's own metadata: what each thin device is, and the pool's
// configuration. The kernel stores none of this (not even a thin device's size). The on-disk
// encoding is separate (metadata/codec.h) and documented in metadata/FORMAT.md.
#ifndef THINSNAP_METADATA_RECORDS_H_
#define THINSNAP_METADATA_RECORDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/fs_type.h"

namespace thinsnap {

// Thin device ids are 24-bit in the kernel.
inline constexpr uint32_t kMaxThinId = (1u << 24) - 1;
inline constexpr uint32_t kNoParent = UINT32_MAX;

enum class DeviceKind : uint8_t { kBase = 1, kLayer = 2, kContainer = 3, kVolume = 4 };

enum class DeviceState : uint8_t {
  kReady = 1,          // usable
  kWritableLayer = 2,  // a layer made by `layer create`, not yet sealed
  kDeletePending = 3,  // kernel delete deferred (device still open); finished by gc
};

struct DeviceRecord {
  uint32_t id = 0;  // kernel thin id, <= kMaxThinId
  std::string name;
  DeviceKind kind = DeviceKind::kVolume;
  uint32_t parent_id = kNoParent;  // the thin id this one is a snapshot of
  uint64_t size_bytes = 0;         // size of the thin device (multiple of 512)
  FsType fs = FsType::kNone;
  bool read_only = false;  // activate read-only, mount ro (sealed layers)
  DeviceState state = DeviceState::kReady;
  bool active = false;     // should be active (re-activated by `pool activate` after a reboot)
  std::string mountpoint;  // where it is mounted, empty when not
  int64_t created_ns = 0;  // creation time, ns since the Unix epoch
  std::string digest;      // "sha256:<hex>" of the layer tar, empty when none
  std::map<std::string, std::string> labels;

  bool operator==(const DeviceRecord&) const = default;
};

// The pool's configuration as key/value pairs; the engine (thinpool/pool_config.h) gives the keys
// their meaning, so adding a setting needs no format change.
using PoolConfig = std::map<std::string, std::string>;

// One change to the catalog.
struct Mutation {
  enum class Op : uint8_t { kPutDevice = 1, kDeleteDevice = 2, kSetConfig = 3, kEraseConfig = 4 };
  Op op = Op::kPutDevice;
  DeviceRecord device;  // kPutDevice: the whole new record (insert or replace by id)
  uint32_t id = 0;      // kDeleteDevice
  std::string key;      // kSetConfig, kEraseConfig
  std::string value;    // kSetConfig

  static Mutation Put(DeviceRecord d);
  static Mutation Delete(uint32_t id);
  static Mutation SetConfig(std::string key, std::string value);
  static Mutation EraseConfig(std::string key);
  bool operator==(const Mutation&) const = default;
};

// What the kernel operation of a transaction does, so recovery knows how to finish or undo it.
struct KernelOp {
  enum class Kind : uint8_t {
    kNone = 0,        // no kernel change besides the transaction id
    kCreateThin = 1,  // create_thin id
    kCreateSnap = 2,  // create_snap id origin
    kDelete = 3,      // delete id
  };
  Kind kind = Kind::kNone;
  uint32_t id = 0;
  uint32_t origin = 0;  // kCreateSnap
  bool operator==(const KernelOp&) const = default;
};

// A kernel transaction N -> N+1: the journal holds intent(N+1) before the kernel is touched and
// commit(N+1) after `set_transaction_id N N+1`. See thinpool/transaction.h for the protocol.
struct Intent {
  uint64_t txn = 0;  // N+1
  std::vector<KernelOp> kernel_ops;
  std::vector<Mutation> mutations;  // applied to the catalog at commit
  bool operator==(const Intent&) const = default;
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_RECORDS_H_
