// DeviceMapper: the narrow interface between the engine and the kernel's device-mapper, shaped
// like the kernel's own ioctls. LibDevmapper (libdevmapper.h) implements it over the real kernel;
// tests/fakes/fake_device_mapper.h simulates dm-thin pool semantics for unit tests of the engine.
//
// Errors: every method throws thinsnap::Error with the operation, the device name, the kernel's
// errno (error_number()) and the text libdevmapper logged, e.g.
//   "dm message thinsnap-1a2b-pool 'create_snap 7 3': File exists (errno 17)".
// Callers test error_number() for EEXIST / ENODATA / EBUSY where the protocol allows them.
//
// Thread-safety: an implementation is used by one thread at a time unless it says otherwise
// (LibDevmapper may be called from any thread; thinsnap serve relies on that).
#ifndef THINSNAP_THINPOOL_KERNEL_DEVICE_MAPPER_H_
#define THINSNAP_THINPOOL_KERNEL_DEVICE_MAPPER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace thinsnap::kernel {

// One line of a dm table, lengths in 512-byte sectors. params is the target's argument string,
// e.g. for thin-pool "/dev/loop1 /dev/loop0 128 32768 1 skip_block_zeroing".
struct TableLine {
  uint64_t start = 0;
  uint64_t length = 0;
  std::string target;
  std::string params;
  bool operator==(const TableLine&) const = default;
};
using Table = std::vector<TableLine>;

struct DeviceInfo {
  bool suspended = false;
  bool read_only = false;
  bool live_table = false;
  bool inactive_table = false;
  bool deferred_remove = false;  // a deferred remove is pending
  int32_t open_count = 0;
  uint32_t event_nr = 0;
  uint32_t major = 0;
  uint32_t minor = 0;
  int32_t target_count = 0;
  std::string uuid;
};

struct ListedDevice {
  std::string name;
  uint32_t major = 0;
  uint32_t minor = 0;
};

struct CreateOptions {
  std::string uuid;        // dm UUID; empty for none
  bool read_only = false;  // activate the table read-only (layers)
};

struct RemoveOptions {
  // Keep retrying while the kernel answers EBUSY, for up to this long.
  int busy_retry_ms = 2000;
  // When still busy after the retries, ask the kernel for a deferred remove (the device goes
  // away when its last opener closes it) instead of failing.
  bool deferred = false;
};

enum class RemoveResult { kRemoved, kDeferred, kAbsent };

struct Version {
  uint32_t major = 0, minor = 0, patch = 0;
  std::string ToString() const;
};

class DeviceMapper {
 public:
  virtual ~DeviceMapper() = default;

  // Creates device `name`, loads `table` and resumes it, as one step: when the load or resume
  // fails the half-made device is removed again before the error is thrown.
  virtual void Create(const std::string& name, const Table& table, const CreateOptions& opts) = 0;
  // Loads `table` as the inactive table of `name`; it takes effect at the next Resume().
  virtual void Reload(const std::string& name, const Table& table) = 0;
  // Suspends `name`. flush=false passes DM_NOFLUSH (keep queued I/O queued).
  virtual void Suspend(const std::string& name, bool flush = true) = 0;
  virtual void Resume(const std::string& name) = 0;
  // Removes `name`, see RemoveOptions. kAbsent when no such device existed.
  virtual RemoveResult Remove(const std::string& name, const RemoveOptions& opts) = 0;
  // Sends a target message to sector 0 of `name`, returns the target's response (often empty).
  virtual std::string Message(const std::string& name, const std::string& message) = 0;
  // The status params of the first target (what `dmsetup status` prints after the target name).
  // no_flush=true asks for it without flushing (thin-pool: no metadata commit).
  virtual std::string Status(const std::string& name, bool no_flush = false) = 0;
  // The live table of `name`.
  virtual Table GetTable(const std::string& name) = 0;
  // std::nullopt when no device of that name exists.
  virtual std::optional<DeviceInfo> Info(const std::string& name) = 0;
  virtual std::vector<ListedDevice> List() = 0;
  // Version of a loaded target type, e.g. "thin-pool"; std::nullopt when not loaded.
  virtual std::optional<Version> TargetVersion(const std::string& target) = 0;
  // Versions of the kernel's dm driver and of the library, for `pool status`.
  virtual Version DriverVersion() = 0;
  virtual std::string LibraryVersion() = 0;
  // Blocks until the event counter of `name` passes `event_nr`, then returns the new counter.
  virtual uint32_t WaitEvent(const std::string& name, uint32_t event_nr) = 0;
  // Block device node of an active device: "/dev/mapper/<name>".
  virtual std::string DevicePath(const std::string& name) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_DEVICE_MAPPER_H_
