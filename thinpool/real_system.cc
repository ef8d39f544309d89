#include "thinpool/real_system.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "thinpool/kernel/blockdev.h"
#include "thinpool/kernel/fs_control.h"
#include "thinpool/kernel/fs_tools.h"
#include "thinpool/kernel/loop.h"
#include "thinpool/kernel/mount.h"
#include "thinpool/kernel/process.h"
#include "thinpool/layers/layer_tar.h"
#include "thinpool/layers/tar_export.h"
#include "thinpool/layers/tree_diff.h"

namespace thinsnap::kernel {
namespace {

class RealLoop : public LoopHandle {
 public:
  explicit RealLoop(LoopDevice dev) : dev_(std::move(dev)) {}
  // The pool outlives this process: keep the device attached (it auto-clears once device-mapper
  // lets go of it) and only drop our reference.
  ~RealLoop() override {
    if (!dev_.path().empty()) dev_.Release();
  }
  const std::string& path() const override { return dev_.path(); }

 private:
  LoopDevice dev_;
};

const char* FsName(FsType fs) { return fs == FsType::kXfs ? "xfs" : "ext4"; }

}  // namespace

bool RealSystem::Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void RealSystem::MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) ThrowErrno("mkdir -p " + path, ec.value());
}

void RealSystem::RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("unlink " + path, errno);
}

void RealSystem::RemoveDir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("rmdir " + path, errno);
}

void RealSystem::RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) ThrowErrno("rename " + from + " " + to, errno);
}

void RealSystem::CreateSparseFile(const std::string& path, uint64_t size) {
  kernel::CreateSparseFile(path, size);
}

void RealSystem::GrowFile(const std::string& path, uint64_t new_size) {
  kernel::GrowFile(path, new_size);
}

uint64_t RealSystem::SizeOf(const std::string& path) { return BlockDeviceSize(path); }

bool RealSystem::IsBlockDevice(const std::string& path) { return kernel::IsBlockDevice(path); }

std::vector<std::string> RealSystem::ProbeSignatures(const std::string& device) {
  return kernel::ProbeSignatures(device);
}

void RealSystem::CheckNotInUse(const std::string& device) {
  UniqueFd fd = OpenExclusive(device, /*read_write=*/false);
  fd.Close();
}

void RealSystem::ZeroStart(const std::string& device, uint64_t bytes) {
  UniqueFd fd(::open(device.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) ThrowErrno("open " + device, errno);
  ZeroRange(fd.get(), 0, bytes);
  fd.Close();
}

void RealSystem::Discard(const std::string& device) {
  kernel::Discard(device, 0, BlockDeviceSize(device));
}

std::unique_ptr<LoopHandle> RealSystem::AttachLoop(const std::string& file) {
  return std::make_unique<RealLoop>(LoopDevice::Attach(file));
}

std::optional<std::string> RealSystem::FindLoop(const std::string& file) {
  return FindLoopForFile(file);
}

void RealSystem::RefreshLoopCapacity(const std::string& loop_device) {
  RefreshCapacity(loop_device);
}

void RealSystem::MakeFilesystem(const std::string& device, FsType fs,
                                const std::vector<std::string>& extra_args) {
  kernel::MakeFilesystem(device, fs, extra_args);
}

void RealSystem::GrowFilesystem(const std::string& device, const std::string& mountpoint,
                                FsType fs) {
  kernel::GrowFilesystem(device, mountpoint, fs);
}

void RealSystem::Mount(const std::string& device, const std::string& dir, FsType fs,
                       const std::string& options) {
  kernel::Mount(device, dir, FsName(fs), options);
}

void RealSystem::Unmount(const std::string& dir) { kernel::Unmount(dir); }

std::vector<std::string> RealSystem::MountsOf(const std::string& device) {
  return FindMounts(device);
}

FilesystemUsage RealSystem::UsageOf(const std::string& mountpoint) {
  return kernel::UsageOf(mountpoint);
}

void RealSystem::ShutdownFilesystem(const std::string& mountpoint, FsType fs) {
  kernel::ShutdownFilesystem(mountpoint, fs);
}

void RealSystem::FreezeFilesystem(const std::string& mountpoint) {
  kernel::FreezeFilesystem(mountpoint);
}

bool RealSystem::ThawFilesystem(const std::string& mountpoint) {
  return kernel::ThawFilesystem(mountpoint);
}

bool RealSystem::FilesystemServesReads(const std::string& mountpoint) {
  return kernel::FilesystemServesReads(mountpoint);
}

void RealSystem::SetXfsEnospcRetries(const std::string& device, int max_retries) {
  // /sys/fs/xfs/<dm-N>/error/metadata/ENOSPC/max_retries: bounded retries instead of forever.
  struct stat st;
  if (::stat(device.c_str(), &st) != 0) ThrowErrno("stat " + device, errno);
  std::string sys = "/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" +
                    std::to_string(minor(st.st_rdev));
  std::error_code ec;
  std::string kname = std::filesystem::canonical(sys, ec).filename();
  if (ec) return;  // no sysfs entry: nothing to tune
  std::ofstream out("/sys/fs/xfs/" + kname + "/error/metadata/ENOSPC/max_retries");
  if (out) out << max_retries << "\n";
}

ToolResult RealSystem::ThinCheck(const std::string& metadata_device) {
  ToolReport r = kernel::ThinCheck(metadata_device);
  return {r.ok, r.output};
}

ToolResult RealSystem::ThinRepair(const std::string& from, const std::string& to) {
  try {
    kernel::ThinRepair(from, to);
    return {true, ""};
  } catch (const Error& e) {
    return {false, e.what()};
  }
}

ToolResult RealSystem::ThinClearNeedsCheck(const std::string& metadata_device) {
  ToolReport r = kernel::ThinCheck(metadata_device, /*metadata_snap=*/false,
                                   /*clear_needs_check=*/true);
  return {r.ok, r.output};
}

ToolResult RealSystem::RunHook(const std::string& command, const std::vector<std::string>& env) {
  RunOptions opts;
  opts.check = false;
  opts.extra_env = env;
  RunResult r = RunCommand({"/bin/sh", "-c", command}, opts);
  std::string output = r.stdout_text + r.stderr_text;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (r.exit_code == 0) return {true, output};
  return {false,
          "exit status " + std::to_string(r.exit_code) + (output.empty() ? "" : ": " + output)};
}

std::vector<DeltaRange> RealSystem::ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                              uint32_t snap2) {
  return kernel::ThinDelta(metadata_device, snap1, snap2, /*use_metadata_snap=*/true);
}

std::unique_ptr<BlockIo> RealSystem::OpenBlockIo(const std::string& device, bool writable) {
  return OpenDirectBlockIo(device, writable);
}

void RealSystem::RandomBytes(void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    ssize_t r = ::getrandom(p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno("getrandom", errno);
    p += r;
    n -= static_cast<size_t>(r);
  }
}

std::vector<ThinUsage> RealSystem::ThinLs(const std::string& metadata_device, bool metadata_snap) {
  std::vector<ThinUsage> out;
  for (const ThinLsRow& r : kernel::ThinLs(metadata_device, metadata_snap)) {
    out.push_back({r.dev_id, r.mapped_blocks, r.exclusive_blocks, r.shared_blocks});
  }
  return out;
}

LayerApplyStats RealSystem::ApplyLayer(int tar_fd, const std::string& root,
                                       const LayerProgress& progress) {
  layers::ApplyOptions opts;
  opts.progress = progress;
  layers::ApplyStats s = layers::ApplyLayer(tar_fd, root, opts);
  return {s.entries, s.bytes, s.diff_id};
}

std::vector<TreeChange> RealSystem::DiffTrees(const std::string& lower, const std::string& upper) {
  return layers::DiffTrees(lower, upper);
}

void RealSystem::ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                               int out_fd) {
  layers::ExportChanges(upper, changes, out_fd);
}

int64_t RealSystem::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool RealSystem::UdevRunning() { return Exists("/run/udev/control"); }

void RealSystem::SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

uint64_t ResidentSetBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace thinsnap::kernel
