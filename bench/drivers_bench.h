// `thinsnap bench drivers`: the storage-driver comparison. For each driver it builds the same
// image on a fresh device and measures it the same way (bench/drivers_report.h holds the metrics,
// their scores and the writers).
//
// The drivers:
//   thinsnap-ext4, thinsnap-xfs  the engine: a pool, a base layer and a second layer (snapshots),
//                 containers as thin snapshots of the top layer, mounted; commit = Engine::Commit.
//   overlay       lower directories on ext4 on the device, a container = upper/work dirs and an
//                 overlay mount; commit = copying the upper dir into a new lower dir.
//   btrfs         btrfs on the device; layers and containers are subvolume snapshots; commit = a
//                 read-only snapshot.
//   plain         ext4 on the device; a container is a full copy of the image (the baseline that
//                 shares nothing); commit = another full copy.
// The image: a base layer with `small_files` small files (1..16 KiB) in 16 directories, `big_files`
// large files, the copy-up file and the shared file; a second layer rewrites every 10th small
// file and adds one big file.
//
// The device (one per driver, reformatted before each):
//   --device DEV: DEV itself; thinsnap's pool is direct (data on DEV, metadata on
//                 metadata_device) when metadata_device is given, otherwise loopback files in an
//                 ext4 on DEV.
//   --dir SCRATCH: a loop device over SCRATCH/<driver>.img (sparse, device_size bytes); thinsnap's
//                 pool is loopback files in an ext4 on it.
// Bytes written (copy-up) are read from the kernel's counters of those devices, page cache from
// /proc/meminfo, space from statvfs (overlay, btrfs, plain) or the pool's used blocks (thinsnap).
//
// What each figure is (all on the same device, in this order, for every driver):
//   create   `creates` containers made one after the other, each timed until its root is usable.
//   read     a container's big lower files read sequentially (1 MiB reads), then `read_ios`
//            random 4 KiB reads over them, each after dropping the page cache.
//   write    a new `write_size` file written sequentially and fsync'd; `write_ios` 4 KiB random
//            writes into a new `write_region` file, each followed by fdatasync.
//   copy-up  in `copyup_reps` fresh containers: one byte written into the middle of the lower
//            copy-up file and fsync'd: the time, and the device bytes written (after sync()).
//   memory   `containers` fresh containers each read the whole shared lower file after the
//            page cache was dropped: the page cache it took, also as copies of the file.
//   disk     the space the image took; then each of those containers writes `change_size` into
//            a new file and rewrites 4 small files: the space used beyond the image's (the
//            containers themselves and their changes); then one commit: the space it added.
// Stability (power cuts) is not measured here: vm-tests/bench/drivers.sh resets the VM in the
// middle of writes and adds its rows to the CSV.
//
// Errors: thinsnap::Error. Each driver's mounts, pool and loop device are cleaned up on the way
// out (best effort after a failure, which is then reported with the driver's name).
#ifndef THINSNAP_BENCH_DRIVERS_BENCH_H_
#define THINSNAP_BENCH_DRIVERS_BENCH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/drivers_report.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"

namespace thinsnap::bench {

struct DriversBenchOptions {
  std::vector<std::string> drivers = KnownDrivers();
  std::string dir;                     // scratch directory (always used for mount points and roots)
  std::string device;                  // or a device reformatted for each driver
  std::string metadata_device;         // with device: thinsnap pools are direct
  uint64_t device_size = 16ull << 30;  // --dir: each driver's sparse loop file
  uint64_t pool_block = 64 << 10;

  unsigned small_files = 2000;
  unsigned big_files = 2;
  uint64_t big_file_size = 64 << 20;
  uint64_t copyup_file_size = 1ull << 30;
  uint64_t shared_file_size = 256 << 20;

  unsigned creates = 5;
  unsigned read_ios = 2000;
  uint64_t write_size = 128 << 20;
  unsigned write_ios = 300;
  uint64_t write_region = 32 << 20;
  unsigned copyup_reps = 3;
  unsigned containers = 8;
  uint64_t change_size = 4 << 20;

  // The smallest run that still measures every axis (the ctest scenario's).
  static DriversBenchOptions Small();
  // Throws Error(kUsage) when a figure is out of range (e.g. 0 containers) or the sizes do not fit
  // the device, naming the option.
  void Validate() const;
  // One line per step; may be empty.
  std::function<void(const std::string&)> progress;
  // The scratch pools' engines' warnings; may be empty.
  std::function<void(const std::string&)> warning;
};

// Runs every driver in options.drivers; the report carries the figures and what it ran on.
// REQUIRES: root (mounts, drop_caches); dm and sys outlive the call.
DriversReport RunDriversBench(const DriversBenchOptions& options, kernel::DeviceMapper* dm,
                              kernel::System* sys);

}  // namespace thinsnap::bench

#endif  // THINSNAP_BENCH_DRIVERS_BENCH_H_
