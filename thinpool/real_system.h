// RealSystem: the System interface (thinpool/kernel/system.h) over the real kernel and tools,
// delegating to the loop, blockdev, mount, fs_tools, layer_tar, tree_diff and tar_export modules.
#ifndef THINSNAP_THINPOOL_REAL_SYSTEM_H_
#define THINSNAP_THINPOOL_REAL_SYSTEM_H_

#include "thinpool/kernel/system.h"

namespace thinsnap::kernel {

class RealSystem : public System {
 public:
  bool Exists(const std::string& path) override;
  void MakeDirs(const std::string& path) override;
  void RemoveFile(const std::string& path) override;
  void RemoveDir(const std::string& path) override;
  void RenameFile(const std::string& from, const std::string& to) override;
  void CreateSparseFile(const std::string& path, uint64_t size) override;
  void GrowFile(const std::string& path, uint64_t new_size) override;
  uint64_t SizeOf(const std::string& file_or_device) override;
  bool IsBlockDevice(const std::string& path) override;
  std::vector<std::string> ProbeSignatures(const std::string& device) override;
  void CheckNotInUse(const std::string& device) override;
  void ZeroStart(const std::string& device, uint64_t bytes) override;
  void Discard(const std::string& device) override;
  std::unique_ptr<LoopHandle> AttachLoop(const std::string& file) override;
  std::optional<std::string> FindLoop(const std::string& file) override;
  void RefreshLoopCapacity(const std::string& loop_device) override;
  void MakeFilesystem(const std::string& device, FsType fs,
                      const std::vector<std::string>& extra_args) override;
  void GrowFilesystem(const std::string& device, const std::string& mountpoint, FsType fs) override;
  void Mount(const std::string& device, const std::string& dir, FsType fs,
             const std::string& options) override;
  void Unmount(const std::string& dir) override;
  std::vector<std::string> MountsOf(const std::string& device) override;
  FilesystemUsage UsageOf(const std::string& mountpoint) override;
  void SetXfsEnospcRetries(const std::string& device, int max_retries) override;
  void ShutdownFilesystem(const std::string& mountpoint, FsType fs) override;
  void FreezeFilesystem(const std::string& mountpoint) override;
  bool ThawFilesystem(const std::string& mountpoint) override;
  bool FilesystemServesReads(const std::string& mountpoint) override;
  ToolResult ThinCheck(const std::string& metadata_device) override;
  ToolResult ThinRepair(const std::string& from, const std::string& to) override;
  ToolResult ThinClearNeedsCheck(const std::string& metadata_device) override;
  ToolResult RunHook(const std::string& command, const std::vector<std::string>& env) override;
  std::vector<ThinUsage> ThinLs(const std::string& metadata_device, bool metadata_snap) override;
  std::vector<DeltaRange> ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                    uint32_t snap2) override;
  std::unique_ptr<BlockIo> OpenBlockIo(const std::string& device, bool writable) override;
  void RandomBytes(void* out, size_t n) override;
  LayerApplyStats ApplyLayer(int tar_fd, const std::string& root,
                             const LayerProgress& progress) override;
  std::vector<TreeChange> DiffTrees(const std::string& lower, const std::string& upper) override;
  void ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                     int out_fd) override;
  int64_t NowNs() override;
  bool UdevRunning() override;
  void SleepMs(int ms) override;
};

// Resident set size of this process, from /proc/self/statm (for benchmarks).
uint64_t ResidentSetBytes();

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_REAL_SYSTEM_H_
