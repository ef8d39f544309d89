#include "thinpool/kernel/system/real_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/error.h"
#include "base/fd.h"
#include "thinpool/kernel/blockdev.h"

namespace thinsnap::kernel {

bool RealFiles::Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void RealFiles::MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) ThrowErrno("mkdir -p " + path, ec.value());
}

void RealFiles::RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("unlink " + path, errno);
}

void RealFiles::RemoveDir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("rmdir " + path, errno);
}

void RealFiles::RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) ThrowErrno("rename " + from + " " + to, errno);
}

void RealFiles::CreateSparseFile(const std::string& path, uint64_t size) {
  kernel::CreateSparseFile(path, size);
}

void RealFiles::GrowFile(const std::string& path, uint64_t new_size) {
  kernel::GrowFile(path, new_size);
}

uint64_t RealFiles::SizeOf(const std::string& path) { return BlockDeviceSize(path); }

bool RealFiles::IsBlockDevice(const std::string& path) { return kernel::IsBlockDevice(path); }

std::vector<std::string> RealFiles::ProbeSignatures(const std::string& device) {
  return kernel::ProbeSignatures(device);
}

void RealFiles::CheckNotInUse(const std::string& device) {
  UniqueFd fd = OpenExclusive(device, /*read_write=*/false);
  fd.Close();
}

void RealFiles::ZeroStart(const std::string& device, uint64_t bytes) {
  UniqueFd fd(::open(device.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) ThrowErrno("open " + device, errno);
  ZeroRange(fd.get(), 0, bytes);
  fd.Close();
}

void RealFiles::Discard(const std::string& device) {
  kernel::Discard(device, 0, BlockDeviceSize(device));
}

std::unique_ptr<BlockIo> RealFiles::OpenBlockIo(const std::string& device, bool writable) {
  return OpenDirectBlockIo(device, writable);
}

}  // namespace thinsnap::kernel
