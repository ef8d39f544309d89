// FakeSystem: kernel::System for engine unit tests. Files, loop devices, filesystems and mounts
// are entries in maps; thin_ls answers from a FakeDeviceMapper's pool metadata; layer tarballs
// are read whole and "applied" by remembering their bytes. Each device may carry a tree of files
// (`trees`), which DiffTrees really compares and ExportChanges really writes out. Deterministic.
#ifndef THINSNAP_TESTS_FAKES_FAKE_SYSTEM_H_
#define THINSNAP_TESTS_FAKES_FAKE_SYSTEM_H_

#include <functional>
#include <map>
#include <set>
#include <string>

#include "tests/fakes/fake_device_mapper.h"
#include "thinpool/kernel/system.h"

namespace thinsnap::kernel {

class FakeSystem : public System {
 public:
  explicit FakeSystem(FakeDeviceMapper* dm) : dm_(dm) {}

  bool Exists(const std::string& path) override {
    return files_.count(path) || dirs_.count(path) || host_paths.count(path);
  }
  void MakeDirs(const std::string& path) override { dirs_.insert(path); }
  void RemoveFile(const std::string& path) override { files_.erase(path); }
  void RemoveDir(const std::string& path) override { dirs_.erase(path); }
  void RenameFile(const std::string& from, const std::string& to) override;
  void CreateSparseFile(const std::string& path, uint64_t size) override;
  void GrowFile(const std::string& path, uint64_t new_size) override;
  uint64_t SizeOf(const std::string& path) override;
  bool IsBlockDevice(const std::string& path) override { return block_devices_.count(path) > 0; }
  std::vector<std::string> ProbeSignatures(const std::string& device) override;
  void CheckNotInUse(const std::string&) override {}
  void ZeroStart(const std::string& device, uint64_t) override;
  void Discard(const std::string& device) override { discarded.push_back(device); }
  std::unique_ptr<LoopHandle> AttachLoop(const std::string& file) override;
  std::optional<std::string> FindLoop(const std::string& file) override;
  void RefreshLoopCapacity(const std::string& loop) override;
  void MakeFilesystem(const std::string& device, FsType fs,
                      const std::vector<std::string>&) override;
  void GrowFilesystem(const std::string& device, const std::string&, FsType) override {
    grown.push_back(device);
  }
  void Mount(const std::string& device, const std::string& dir, FsType fs,
             const std::string& options) override;
  void Unmount(const std::string& dir) override;
  std::vector<std::string> MountsOf(const std::string& device) override;
  FilesystemUsage UsageOf(const std::string& mountpoint) override;
  void SetXfsEnospcRetries(const std::string&, int) override {}
  void ShutdownFilesystem(const std::string& mountpoint, FsType fs) override;
  void FreezeFilesystem(const std::string& mountpoint) override;
  bool ThawFilesystem(const std::string& mountpoint) override;
  bool FilesystemServesReads(const std::string& mountpoint) override {
    return !shut_down.count(mountpoint) && !gave_up.count(mountpoint);
  }
  ToolResult ThinCheck(const std::string& metadata_device) override;
  ToolResult ThinRepair(const std::string& from, const std::string& to) override;
  ToolResult ThinClearNeedsCheck(const std::string& metadata_device) override;
  ToolResult RunHook(const std::string& command, const std::vector<std::string>& env) override {
    hooks.push_back({command, env});
    return hook_result;
  }
  std::vector<ThinUsage> ThinLs(const std::string& metadata_device, bool) override;
  std::vector<DeltaRange> ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                    uint32_t snap2) override;
  // An in-memory device over FakeDeviceMapper::OpenThinDisk: writes fill whole blocks (zeros
  // around the written bytes, as a pool that zeroes new blocks), discards drop whole blocks.
  std::unique_ptr<BlockIo> OpenBlockIo(const std::string& device, bool writable) override;
  void RandomBytes(void* out, size_t n) override;
  LayerApplyStats ApplyLayer(int tar_fd, const std::string& root,
                             const LayerProgress& progress) override;
  // Compares the trees of the devices mounted at `lower` and `upper` like layers::DiffTrees:
  // sorted by path, a deleted directory alone, a directory with a change inside it changed.
  std::vector<TreeChange> DiffTrees(const std::string& lower, const std::string& upper) override;
  // Writes one line per change to out_fd: "A /path <content in upper>", "D /path".
  void ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                     int out_fd) override;
  int64_t NowNs() override { return now_ns += 1000; }
  bool UdevRunning() override { return false; }
  void SleepMs(int) override {
    if (on_sleep) on_sleep();
  }

  // Test hooks.
  // Called first by CreateSparseFile, AttachLoop, ZeroStart and MakeFilesystem with the
  // operation's name and path: a test throws from it to fail that step (a full disk, mkfs).
  std::function<void(const std::string& op, const std::string& path)> fault;
  // What Exists() answers for paths outside the fake's files (e.g. /dev/mapper/control).
  std::set<std::string> host_paths = {"/dev/mapper/control", "/sys/class/misc/device-mapper",
                                      "/sys/module/dm_mod"};
  void AddBlockDevice(const std::string& path, uint64_t size, std::string signature = "");
  // Loop devices go away, as after a reboot (pair with FakeDeviceMapper::Reboot()).
  void Reboot();
  std::map<std::string, std::string> mounts;  // dir -> device
  // Inodes in use on each device's filesystem, by dm name (UsageOf of a mount of it); 0 unless
  // set. Every filesystem has kFakeInodes inodes.
  static constexpr uint64_t kFakeInodes = 65536;
  std::map<std::string, uint64_t> used_inodes;
  int usage_calls = 0;                        // calls of UsageOf
  std::set<std::string> shut_down, frozen;    // mount dirs
  std::vector<std::string> fs_control_calls;  // "shutdown ext4 DIR", "freeze DIR", "thaw DIR"
  bool fs_control_fails = false;              // the next Shutdown/Freeze throws EIO
  std::function<void()> on_sleep;
  std::set<std::string> gave_up;  // mount dirs whose filesystem shut itself down (xfs on EIO) //
                                  // runs in SleepMs: what happens meanwhile
  std::vector<std::string> grown, discarded;
  // device -> its files: path ("/etc/passwd") -> content; a directory's path ends in "/" and its
  // content is its metadata ("0755 root").
  using Tree = std::map<std::string, std::string>;
  std::map<std::string, Tree> trees;
  bool thin_check_fails = false;
  struct HookCall {
    std::string command;
    std::vector<std::string> env;
  };
  std::vector<HookCall> hooks;
  ToolResult hook_result{true, ""};
  std::vector<std::pair<std::string, std::string>> repairs;  // from, to
  int64_t now_ns = 1'700'000'000'000'000'000;
  // Send/receive: the write that fails with EIO after this many succeeded (-1: none).
  int fail_write_after = -1;
  bool thin_delta_fails = false;
  std::vector<std::string> block_io_log;  // "open /dev/mapper/x rw", "discard 0+65536", ...
  uint64_t random_counter = 0;

 private:
  FakeDeviceMapper* dm_;
  std::map<std::string, uint64_t> files_;
  std::set<std::string> dirs_;
  std::map<std::string, uint64_t> block_devices_;
  std::map<std::string, std::string> signatures_;
  std::map<std::string, std::string> loops_;  // /dev/loopN -> file
  std::map<std::string, FsType> filesystems_;
  std::map<std::string, std::string> loop_names_;  // file -> its loop device, kept over reboots
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_SYSTEM_H_
