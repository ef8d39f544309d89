// What a pool stands on, in one place instead of branches on PoolSettings::mode across the
// engine: sparse files under the root on loop devices (loopback), block devices (direct), or a
// thin-pool dm device another tool made and owns (adopted, e.g. an LVM thin pool).
//
// A PoolBacking answers for the pool as it is recorded in `settings`: its dm name, the devices
// the pool's table names, the metadata device for the offline thin tools, and the files
// thinsnap made for it. It holds no kernel handle of its own (a loop it attaches for the
// offline tools is handed to the caller). Made per use by MakePoolBacking; not thread-safe.
#ifndef THINSNAP_THINPOOL_POOL_BACKING_H_
#define THINSNAP_THINPOOL_POOL_BACKING_H_

#include <memory>
#include <string>
#include <vector>

#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"
#include "thinpool/pool_config.h"

namespace thinsnap {

// The block devices a pool table names, and the loop devices this process attached for them,
// held open until the table holds them.
struct PoolDevices {
  std::unique_ptr<kernel::LoopHandle> data_loop, meta_loop;
  std::string data, metadata;
};

class PoolBacking {
 public:
  virtual ~PoolBacking() = default;

  // The thin-pool target's dm name: "thinsnap-<pool id>-pool", or the adopted pool's name.
  virtual std::string PoolName() const = 0;
  // True when thinsnap made the pool's dm device and so loads, reloads and removes its table;
  // false for an adopted pool (its owner does).
  virtual bool OwnsPoolDevice() const = 0;
  // How thin tables name the pool: its /dev/mapper path, or for an adopted pool (whose node
  // another tool manages) its major:minor. Throws kNotFound when an adopted pool is not active.
  virtual std::string PoolDevice() const = 0;
  // The block devices under the pool now: a loopback file's loop device (throws when it is not
  // attached), a direct pool's paths, an adopted pool's devices as its live table names them.
  virtual std::string DataDevice() const = 0;
  virtual std::string MetadataDevice() const = 0;
  // For the thin tools on an inactive pool: the metadata as a block device. A loopback file
  // that no loop holds is attached for as long as *keep lives (the tools want O_DIRECT, which
  // files on tmpfs refuse).
  virtual std::string OfflineMetadataDevice(std::unique_ptr<kernel::LoopHandle>* keep) const = 0;
  // Whether thinsnap grows the pool's storage itself (loopback files); for devices autoextend
  // only warns or runs the user's hook.
  virtual bool GrowsItself() const = 0;
  // Makes `path` (the recorded data or metadata path) at least `bytes` long: a loopback file is
  // grown (the metadata spare with the metadata) and its loop told; a device must already be
  // that long, else kUsage "grow the device itself first".
  virtual void GrowTo(const std::string& path, uint64_t bytes) const = 0;
  // The files thinsnap created for the pool (data, metadata, spare), which destroy and an undone
  // create remove; empty for pools on devices.
  virtual std::vector<std::string> Files() const = 0;
  // For pool activate, of an inactive pool: the devices its table names, a loopback file
  // attached when no loop holds it (each attach added to *notes). An adopted pool throws
  // kNotFound: its owner activates it.
  virtual PoolDevices Attach(std::vector<std::string>* notes) const = 0;
  // For pool destroy, once the pool's dm device is gone: a direct pool's metadata device loses
  // its first 4 KiB, so that no later create finds an old pool on it. Loopback files are
  // removed instead (Files()); an adopted pool's metadata is its owner's.
  virtual void WipeMetadata() const = 0;
};

// The backing of the pool recorded in `settings`. REQUIRES: dm and sys outlive the result.
std::unique_ptr<PoolBacking> MakePoolBacking(const PoolSettings& settings, kernel::DeviceMapper* dm,
                                             kernel::System* sys);

// A device as a pool table names it: "254:0" becomes the /dev/mapper path of that dm device; a
// path stays as it is. Throws kNotFound for a major:minor that is no dm device.
std::string DmDeviceNode(kernel::DeviceMapper* dm, const std::string& ref);

}  // namespace thinsnap

#endif  // THINSNAP_THINPOOL_POOL_BACKING_H_
