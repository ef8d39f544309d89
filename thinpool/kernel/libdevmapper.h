// LibDevmapper: DeviceMapper over the kernel's device-mapper through libdevmapper's C API.
//
// Errors: every failure throws thinsnap::Error carrying the operation, the device, the kernel's
// errno (dm_task_get_errno) and what libdevmapper logged during that call, e.g.
//   dm message thinsnap-1a-pool "create_snap 7 3": File exists (errno 17): device-mapper:
//   message ioctl on thinsnap-1a-pool  failed: File exists
// libdevmapper's log goes through one process-wide callback (dm_log_with_errno_init); it writes
// into the buffer of the call in progress on the same thread, and to stderr outside any call.
//
// /dev/mapper nodes: when udev runs (/run/udev/control exists and DM_DISABLE_UDEV is not set),
// node-changing operations carry a udev cookie and wait for udev (dm_udev_wait). Otherwise udev
// sync is switched off and libdevmapper creates and removes the nodes itself, without waiting.
//
// Thread-safety: any thread may call any method; the calls of all instances in the process are
// serialized by one lock (libdevmapper's node operations and udev cookies are process-wide), so
// with udev the wait for udev is inside it too. WaitEvent alone runs outside the lock. The log
// callback and the udev sync flag are set once per process.
#ifndef THINSNAP_THINPOOL_KERNEL_LIBDEVMAPPER_H_
#define THINSNAP_THINPOOL_KERNEL_LIBDEVMAPPER_H_

#include <string>

#include "thinpool/kernel/device_mapper.h"

namespace thinsnap::kernel {

class LibDevmapper : public DeviceMapper {
 public:
  LibDevmapper();
  ~LibDevmapper() override;
  LibDevmapper(const LibDevmapper&) = delete;
  LibDevmapper& operator=(const LibDevmapper&) = delete;

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

  // True when node operations are synchronised with a running udev.
  bool udev_sync() const { return udev_sync_; }
  // For `pool status`: "udev sync" or "no udev: nodes by libdevmapper".
  std::string ReportUdevMode() const;

 private:
  // No udev: removes /dev/mapper/<name> when the device is gone (DM_DEVICE_MKNODES).
  void RemoveStaleNode(const std::string& name);

  bool udev_sync_ = false;
};

// Parses "4.48.0" (driver) style versions; throws Error(kCorrupt) when malformed.
Version ParseVersion(const std::string& text);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_LIBDEVMAPPER_H_
