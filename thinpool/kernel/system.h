// System: every kernel-facing operation the engine needs besides device-mapper itself: loop
// devices, block devices, filesystems, mounts, the thin-provisioning tools and layer tarballs.
// RealSystem (thinpool/real_system.h) does them for real; tests/fakes/fake_system.h records them.
// Errors are thinsnap::Error with the operation, the path and errno or the tool's message.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fs_type.h"
#include "base/tree_change.h"
#include "thinpool/kernel/block_io.h"
#include "thinpool/kernel/mount.h"

namespace thinsnap::kernel {

// A loop device attached by this process. It auto-clears: the kernel detaches it once nobody
// holds it open, so it lives as long as the pool table that uses it. Destroying the handle
// closes this process's reference.
class LoopHandle {
 public:
  virtual ~LoopHandle() = default;
  virtual const std::string& path() const = 0;
};

struct ThinUsage {
  uint32_t id = 0;
  uint64_t mapped_blocks = 0;
  uint64_t exclusive_blocks = 0;
  uint64_t shared_blocks = 0;
};

// One range of `thin_delta` output, in pool blocks: how thin 2 (the newer) differs from thin 1.
struct DeltaRange {
  enum class Kind : uint8_t { kSame, kDifferent, kLeftOnly, kRightOnly };
  Kind kind = Kind::kSame;
  uint64_t begin = 0;   // first block
  uint64_t length = 0;  // blocks
  bool operator==(const DeltaRange&) const = default;
};

struct ToolResult {
  bool ok = false;
  std::string output;  // stdout and stderr, for the user
};

struct LayerApplyStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // of the uncompressed tar
  std::string digest;  // "sha256:<hex>" of the uncompressed tar
};
using LayerProgress = std::function<void(uint64_t bytes, uint64_t entries)>;

class System {
 public:
  virtual ~System() = default;

  // Files and block devices.
  virtual bool Exists(const std::string& path) = 0;
  virtual void MakeDirs(const std::string& path) = 0;
  virtual void RemoveFile(const std::string& path) = 0;  // absent is fine
  virtual void RemoveDir(const std::string& path) = 0;   // empty dir; absent is fine
  virtual void RenameFile(const std::string& from, const std::string& to) = 0;
  virtual void CreateSparseFile(const std::string& path, uint64_t size) = 0;
  virtual void GrowFile(const std::string& path, uint64_t new_size) = 0;
  virtual uint64_t SizeOf(const std::string& file_or_device) = 0;
  virtual bool IsBlockDevice(const std::string& path) = 0;
  // Filesystem, partition table, LVM, RAID, swap signatures, described for a person.
  virtual std::vector<std::string> ProbeSignatures(const std::string& device) = 0;
  // Throws kBusy when the device is in use (mounted, held by another dm device).
  virtual void CheckNotInUse(const std::string& device) = 0;
  virtual void ZeroStart(const std::string& device, uint64_t bytes) = 0;
  virtual void Discard(const std::string& device) = 0;

  // Loop devices.
  virtual std::unique_ptr<LoopHandle> AttachLoop(const std::string& file) = 0;
  virtual std::optional<std::string> FindLoop(const std::string& file) = 0;
  virtual void RefreshLoopCapacity(const std::string& loop_device) = 0;

  // Filesystems and mounts.
  virtual void MakeFilesystem(const std::string& device, FsType fs,
                              const std::vector<std::string>& extra_args) = 0;
  virtual void GrowFilesystem(const std::string& device, const std::string& mountpoint,
                              FsType fs) = 0;
  virtual void Mount(const std::string& device, const std::string& dir, FsType fs,
                     const std::string& options) = 0;
  virtual void Unmount(const std::string& dir) = 0;
  virtual std::vector<std::string> MountsOf(const std::string& device) = 0;
  virtual FilesystemUsage UsageOf(const std::string& mountpoint) = 0;  // statvfs
  virtual void SetXfsEnospcRetries(const std::string& device, int max_retries) = 0;
  // Stopping writers when the pool reaches its reserve (thinpool/kernel/fs_control.h): the
  // filesystem's own shutdown with a log flush (undone by unmount + mount), and freeze/thaw.
  virtual void ShutdownFilesystem(const std::string& mountpoint, FsType fs) = 0;
  virtual void FreezeFilesystem(const std::string& mountpoint) = 0;
  virtual bool ThawFilesystem(const std::string& mountpoint) = 0;  // false: was not frozen
  virtual bool FilesystemServesReads(const std::string& mountpoint) = 0;

  // thin-provisioning-tools.
  virtual ToolResult ThinCheck(const std::string& metadata_device) = 0;
  virtual ToolResult ThinRepair(const std::string& from, const std::string& to) = 0;
  // thin_check --clear-needs-check-flag: after a clean check, lets the kernel load it rw again.
  virtual ToolResult ThinClearNeedsCheck(const std::string& metadata_device) = 0;
  virtual std::vector<ThinUsage> ThinLs(const std::string& metadata_device, bool metadata_snap) = 0;
  // thin_delta -m --snap1 <snap1> --snap2 <snap2> on a live pool's metadata snapshot (the caller
  // holds `reserve_metadata_snap`). snap1 == snap2 lists the mapped ranges of that thin.
  virtual std::vector<DeltaRange> ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                            uint32_t snap2) = 0;

  // Send and receive: O_DIRECT positioned I/O and discards on a (thin) block device.
  virtual std::unique_ptr<BlockIo> OpenBlockIo(const std::string& device, bool writable) = 0;
  // Fills `out` with random bytes (getrandom): device identities.
  virtual void RandomBytes(void* out, size_t n) = 0;

  // A user's command (the autoextend hook), run through /bin/sh -c with `env` ("NAME=value")
  // added to the environment. Never throws for a failing command: ok is false and output holds
  // the exit status and its output.
  virtual ToolResult RunHook(const std::string& command, const std::vector<std::string>& env) = 0;

  // Layer trees on mounted filesystems.
  virtual LayerApplyStats ApplyLayer(int tar_fd, const std::string& root,
                                     const LayerProgress& progress) = 0;
  virtual std::vector<TreeChange> DiffTrees(const std::string& lower, const std::string& upper) = 0;
  virtual void ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                             int out_fd) = 0;

  // Wall clock, ns since the Unix epoch; and the pid, for messages.
  virtual int64_t NowNs() = 0;
  virtual bool UdevRunning() = 0;
  virtual void SleepMs(int ms) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_H_
