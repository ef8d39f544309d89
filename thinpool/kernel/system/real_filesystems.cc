#include "thinpool/kernel/system/real_filesystems.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "thinpool/kernel/fs_control.h"
#include "thinpool/kernel/fs_tools.h"
#include "thinpool/kernel/mount.h"

namespace thinsnap::kernel {
namespace {

const char* FsName(FsType fs) { return fs == FsType::kXfs ? "xfs" : "ext4"; }

}  // namespace

void RealFilesystems::MakeFilesystem(const std::string& device, FsType fs,
                                     const std::vector<std::string>& extra_args) {
  kernel::MakeFilesystem(device, fs, extra_args);
}

void RealFilesystems::GrowFilesystem(const std::string& device, const std::string& mountpoint,
                                     FsType fs) {
  kernel::GrowFilesystem(device, mountpoint, fs);
}

void RealFilesystems::Mount(const std::string& device, const std::string& dir, FsType fs,
                            const std::string& options) {
  kernel::Mount(device, dir, FsName(fs), options);
}

void RealFilesystems::Unmount(const std::string& dir) { kernel::Unmount(dir); }

std::vector<std::string> RealFilesystems::MountsOf(const std::string& device) {
  return FindMounts(device);
}

FilesystemUsage RealFilesystems::UsageOf(const std::string& mountpoint) {
  return kernel::UsageOf(mountpoint);
}

void RealFilesystems::ShutdownFilesystem(const std::string& mountpoint, FsType fs) {
  kernel::ShutdownFilesystem(mountpoint, fs);
}

FreezeOutcome RealFilesystems::FreezeFilesystem(const std::string& mountpoint) {
  return kernel::FreezeFilesystem(mountpoint);
}

bool RealFilesystems::ThawFilesystem(const std::string& mountpoint) {
  return kernel::ThawFilesystem(mountpoint);
}

bool RealFilesystems::FilesystemServesReads(const std::string& mountpoint) {
  return kernel::FilesystemServesReads(mountpoint);
}

void RealFilesystems::SetXfsEnospcRetries(const std::string& device, int max_retries) {
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

}  // namespace thinsnap::kernel
