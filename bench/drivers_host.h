// The kernel facts and file I/O `thinsnap bench drivers` measures with, besides what the engine
// and thinpool/kernel/ already do: the page cache (drop it, read its size), a block device's
// write counter, btrfs subvolumes and snapshots, overlay mounts, and the workload's own timed
// file I/O (buffered reads, fsync'd writes). Like io_bench's liburing calls, this is the
// benchmark's own I/O, not the engine's.
//
// Errors: thinsnap::Error naming the operation and the path, with errno.
// Thread-safety: none needed (the benchmark is one thread); every function is independent.
#ifndef THINSNAP_BENCH_DRIVERS_HOST_H_
#define THINSNAP_BENCH_DRIVERS_HOST_H_

#include <cstdint>
#include <string>
#include <vector>

namespace thinsnap::bench::host {

// sync(), then echo 3 > /proc/sys/vm/drop_caches: the next reads come from the device.
void DropCaches();
// "Cached:" of /proc/meminfo, in bytes.
uint64_t PageCacheBytes();
// Bytes the kernel has written to `device` since boot (sectors written in /sys/class/block/*/stat
// times 512), following /dev/mapper and /dev/disk symlinks.
uint64_t DeviceBytesWritten(const std::string& device);
// /sys/block/<dev>/device/model (trimmed), or "" when the device has none (loop, dm).
std::string DeviceModel(const std::string& device);
// The release of the running kernel (uname -r) and the first "model name" of /proc/cpuinfo.
std::string KernelRelease();
std::string CpuModel();

// btrfs: a new empty subvolume at `path`; a snapshot of subvolume `source` at `path` (read-only
// when asked); deletes subvolume `path`.
void BtrfsCreateSubvolume(const std::string& path);
void BtrfsSnapshot(const std::string& source, const std::string& path, bool read_only);
void BtrfsDeleteSubvolume(const std::string& path);

// mkdir -p; rm -rf (no error when absent; never crosses into another mount).
void MakeDirs(const std::string& path);
void RemoveTree(const std::string& path);
// Copies a tree (directories, regular files through copy_file_range, symlinks), keeping modes.
void CopyTree(const std::string& from, const std::string& to);
// syncfs() of the filesystem holding `path`.
void SyncFs(const std::string& path);

// Writes `size` bytes of incompressible, position-stamped data into a new file (replacing it),
// in 1 MiB writes, then fsync. `seed` makes different files' contents differ.
void WriteDataFile(const std::string& path, uint64_t size, uint64_t seed);
// Reads the whole file with 1 MiB buffered reads; returns the bytes read.
uint64_t ReadWholeFile(const std::string& path);
// `count` 4 KiB buffered preads at random 4K-aligned offsets spread over `files` (each
// file chosen in turn). REQUIRES: every file is at least 4 KiB.
void RandomReads(const std::vector<std::string>& files, unsigned count, uint64_t seed);
// `count` 4 KiB pwrites at random 4K-aligned offsets of the existing file, each followed by
// fdatasync.
void RandomSyncWrites(const std::string& path, unsigned count, uint64_t seed);
// Opens the existing file read-write, writes one byte at its middle, fsyncs and closes it.
void WriteOneByte(const std::string& path);

// CLOCK_MONOTONIC in seconds.
double NowSeconds();

}  // namespace thinsnap::bench::host

#endif  // THINSNAP_BENCH_DRIVERS_HOST_H_
