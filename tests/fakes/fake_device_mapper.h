// FakeDeviceMapper: an in-memory DeviceMapper that simulates the kernel's device-mapper and the
// dm-thin pool well enough to unit-test the engine without a kernel:
//  - devices with live/inactive tables, suspend state, read-only flag, event counters, open
//    counts (a thin table holds its pool open; tests can hold any device open);
//  - thin-pool metadata kept per metadata device (it survives Reboot(), like a real disk), with
//    transaction id, thin ids, snapshots sharing data blocks, a held metadata snapshot;
//  - the pool's messages with the kernel's errnos: create_thin/create_snap of an existing id ->
//    EEXIST, create_snap of a missing origin / delete of a missing id -> ENODATA, delete of an
//    active thin -> EBUSY, set_transaction_id with the wrong current id -> EINVAL, a second
//    reserve_metadata_snap -> EBUSY, release without one -> EINVAL, read-only/failed pool ->
//    EOPNOTSUPP;
//  - status lines in the kernel's exact format (thin_status.h parses them);
//  - test hooks: MapBlocks (data usage, out of space, low-water events), HoldOpen/CloseHold,
//    InjectFailure (the N-th call of an operation fails, before or after taking effect),
//    Reboot, and a call log.
// Errors look like LibDevmapper's: "dm message pool \"delete 9\": No data available (errno 61):
// device-mapper: message ioctl on pool  failed: No data available".
//
// Deterministic: no clocks, no sleeps (Remove does not wait: busy is busy). WaitEvent never
// blocks: when no event is pending it throws instead of hanging the test.
// Thread-safety: every method takes one (recursive) lock, so it can be called from several
// threads like LibDevmapper; the test hooks that return references do not.
#ifndef THINSNAP_TESTS_FAKES_FAKE_DEVICE_MAPPER_H_
#define THINSNAP_TESTS_FAKES_FAKE_DEVICE_MAPPER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/fs_tools.h"
#include "thinpool/kernel/thin_status.h"

namespace thinsnap::kernel {

enum class FakeOp {
  kCreate,
  kReload,
  kSuspend,
  kResume,
  kRemove,
  kMessage,
  kStatus,
  kGetTable,
  kInfo,
  kList,
  kWaitEvent,
};

struct InjectedFailure {
  FakeOp op = FakeOp::kMessage;
  int nth = 1;                    // the nth matching call from now on fails (1 = the next one)
  int err = EIO;                  // errno of the failure
  std::string name;               // only calls on this device ("" = any)
  std::string message_prefix;     // kMessage only: e.g. "create_snap" ("" = any message)
  bool after_effect = false;      // the operation takes effect, then the call fails (lost reply)
  bool then_needs_check = false;  // kMessage only: the failure also flags the pool's metadata
                                  // needs_check, like a kernel that aborted its commit
};

class FakeDeviceMapper : public DeviceMapper {
 public:
  FakeDeviceMapper() = default;

  // DeviceMapper.
  void Create(const std::string& name, const Table& table, const CreateOptions& opts) override;
  void Reload(const std::string& name, const Table& table) override;
  void Suspend(const std::string& name, bool flush = true) override;
  void Resume(const std::string& name) override;
  RemoveResult Remove(const std::string& name, const RemoveOptions& opts) override;
  std::string Message(const std::string& name, const std::string& message) override;
  std::string Status(const std::string& name, bool no_flush = false) override;
  Table GetTable(const std::string& name) override;
  std::optional<DeviceInfo> Info(const std::string& name) override;
  std::vector<ListedDevice> List() override;
  std::optional<Version> TargetVersion(const std::string& target) override;
  Version DriverVersion() override;
  std::string LibraryVersion() override;
  uint32_t WaitEvent(const std::string& name, uint32_t event_nr) override;
  std::string DevicePath(const std::string& name) override;

  // --- Test hooks ---
  // When set, every call throws this message (errno ENXIO), as libdevmapper on a kernel without
  // device-mapper: pool create and destroy --force are tested against it.
  std::string unreachable;
  // What TargetVersion("thin-pool") and ("thin") answer; nullopt: the target is not loaded.
  std::optional<Version> thin_target_version = Version{1, 23, 0};

  // Someone (a mount, a process) opens / closes `name`. Closing the last holder of a device with
  // a deferred remove removes it. REQUIRES: the device exists.
  void HoldOpen(const std::string& name, int count = 1);
  void CloseHold(const std::string& name, int count = 1);

  // Writes `blocks` new data blocks into thin `thin_id` of pool device `pool` (copy-on-write of
  // shared blocks is modelled as new blocks). Stops when the pool is full: the pool enters
  // out_of_data_space and raises an event. Crossing the low-water mark raises an event once.
  // Returns the number of blocks mapped. REQUIRES: the pool is active and has the id.
  uint64_t MapBlocks(const std::string& pool, uint32_t thin_id, uint64_t blocks);
  // Sets the pool's mode (e.g. PoolIoMode::kReadOnly), or marks it failed (status "Fail").
  void SetPoolIoMode(const std::string& pool, PoolIoMode mode);
  void FailPool(const std::string& pool);
  void SetNeedsCheck(const std::string& metadata_dev, bool needs_check);
  // Size of a backing device (metadata total blocks = bytes / 4096). Default 16 MiB.
  void SetDeviceSize(const std::string& dev, uint64_t bytes);
  // Raises the event counter of `name` (as the kernel does for pool events).
  void TriggerEvent(const std::string& name);

  // Send/receive: the bytes of an active thin device, per pool block. A block that is absent is
  // unmapped (reads as zeros); snapshots copy the map, delete drops it.
  struct ThinDisk {
    std::map<uint64_t, std::string>* blocks = nullptr;  // block number -> block_bytes bytes
    uint64_t block_bytes = 0;
    uint64_t size_bytes = 0;  // of the thin table
  };
  // REQUIRES: `device_path` (/dev/mapper/NAME) is an active thin device.
  ThinDisk OpenThinDisk(const std::string& device_path);
  // What `thin_delta -m --snap1 a --snap2 b` prints for that metadata, from the blocks' bytes
  // (equal bytes count as same, which is what sharing means here). Needs a held metadata
  // snapshot, like the real tool.
  std::vector<DeltaRange> ThinDelta(const std::string& metadata_dev, uint32_t a, uint32_t b) const;
  // The blocks of thin `id` whether or not it is active.
  const std::map<uint64_t, std::string>& ThinBlocks(const std::string& metadata_dev,
                                                    uint32_t id) const {
    return metadata_.at(metadata_dev).thins.at(id).content;
  }

  void InjectFailure(const InjectedFailure& failure);
  void ClearInjectedFailures() { failures_.clear(); }

  // Drops every dm device, as a reboot does. Pool metadata (per metadata device) stays.
  void Reboot();
  // Forgets the pool metadata of `metadata_dev`, as zeroing its first 4 KiB does.
  void WipeMetadata(const std::string& metadata_dev);

  // --- Inspection ---

  // Thin ids in the pool whose metadata lives on `metadata_dev`, ascending.
  std::vector<uint32_t> ThinIds(const std::string& metadata_dev) const;
  std::optional<uint64_t> TransactionId(const std::string& metadata_dev) const;
  // What `thin_ls` would print for that metadata.
  std::vector<ThinLsRow> ThinLs(const std::string& metadata_dev) const;
  // Every operation in order: "create pool", "message pool create_snap 7 3", "suspend t1 noflush".
  const std::vector<std::string>& calls() const { return calls_; }
  void ClearCalls() { calls_.clear(); }
  int CallCount(FakeOp op) const;
  // Ids passed to create_snap as an origin while a writable thin device of that origin was active
  // and not suspended (the kernel allows it; the snapshot may be inconsistent).
  const std::vector<uint32_t>& unsuspended_snapshot_origins() const { return unsafe_origins_; }
  bool last_status_no_flush() const { return last_status_no_flush_; }
  bool Exists(const std::string& name) const { return devices_.count(name) != 0; }

 private:
  // A lock that a copy or an assignment of the fake (tests reset it so) does not carry over.
  struct Lock {
    Lock() = default;
    Lock(const Lock&) {}
    Lock& operator=(const Lock&) { return *this; }
    std::recursive_mutex m;
  };
  mutable Lock mu_;
  struct Device {
    std::string uuid;
    std::optional<Table> live;
    std::optional<Table> inactive;
    bool live_read_only = false;
    bool inactive_read_only = false;
    bool suspended = false;
    bool deferred_remove = false;
    int holds = 0;
    uint32_t event_nr = 0;
    uint32_t minor = 0;
  };
  struct Thin {
    std::vector<uint64_t> blocks;             // data block numbers, in mapping order
    std::map<uint64_t, std::string> content;  // logical block -> bytes (ThinDisk)
  };
  struct PoolMetadata {
    uint64_t transaction_id = 0;
    uint64_t block_sectors = 0;
    uint64_t data_total_blocks = 0;
    std::map<uint32_t, Thin> thins;
    std::map<uint64_t, uint32_t> refcounts;  // data block -> number of thins mapping it
    uint64_t next_block = 0;
    std::optional<uint64_t> held_root;
    bool needs_check = false;
  };
  struct PoolRuntime {  // per active pool device, lost on Reboot like kernel memory
    PoolIoMode mode = PoolIoMode::kReadWrite;
    bool failed = false;
    bool low_water_triggered = false;
  };

  Device& Find(FakeOp op, const std::string& name, const std::string& detail = "");
  [[noreturn]] void Fail(FakeOp op, const std::string& name, const std::string& detail,
                         int err) const;
  void Record(FakeOp op, const std::string& name, const std::string& detail = "");
  std::optional<InjectedFailure> TakeInjected(FakeOp op, const std::string& name,
                                              const std::string& message);
  void ValidateTable(FakeOp op, const std::string& name, const Table& table);
  void ValidatePoolLine(FakeOp op, const std::string& name, const TableLine& line);
  void ValidateThinLine(FakeOp op, const std::string& name, const TableLine& line);
  void ActivatePool(const std::string& name, const TableLine& line);
  std::string ResolveDevice(const std::string& ref) const;
  const TableLine* PoolLine(const std::string& name) const;
  PoolMetadata& MetadataOf(FakeOp op, const std::string& pool, const std::string& detail);
  int32_t OpenCount(const std::string& name) const;
  bool ThinActive(const std::string& pool, uint32_t id, bool require_unsuspended) const;
  void DoRemove(const std::string& name);
  std::string DoMessage(const std::string& pool, const std::string& message);
  void CreateThin(const std::string& pool, PoolMetadata& md, uint64_t id, const std::string& msg);
  void CreateSnap(const std::string& pool, PoolMetadata& md, uint64_t id, uint64_t origin,
                  const std::string& msg);
  void DeleteThin(const std::string& pool, PoolMetadata& md, uint64_t id, const std::string& msg);
  void SetTransactionId(const std::string& pool, PoolMetadata& md, uint64_t current, uint64_t next,
                        const std::string& msg);
  std::string PoolStatusLine(const std::string& name);
  std::string ThinStatusLine(const TableLine& line);
  uint64_t MetadataTotalBlocks(const std::string& metadata_dev) const;
  static uint64_t MetadataUsedBlocks(const PoolMetadata& md);
  static uint64_t DataUsedBlocks(const PoolMetadata& md) { return md.refcounts.size(); }
  void CheckLowWater(const std::string& pool, const PoolMetadata& md);

  std::map<std::string, Device> devices_;
  std::map<std::string, PoolMetadata> metadata_;  // by metadata device
  std::map<std::string, PoolRuntime> runtime_;    // by pool device name
  std::map<std::string, uint64_t> device_sizes_;
  std::vector<InjectedFailure> failures_;
  std::vector<std::string> calls_;
  std::map<FakeOp, int> call_counts_;
  std::vector<uint32_t> unsafe_origins_;
  uint32_t next_minor_ = 0;
  bool last_status_no_flush_ = false;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_DEVICE_MAPPER_H_
