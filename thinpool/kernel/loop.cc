#include "thinpool/kernel/loop.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

constexpr int kGetFreeAttempts = 20;

bool SupportsDirectIo(const std::string& file, bool read_only) {
  int fd = ::open(file.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

int GetFreeLoopNumber() {
  UniqueFd control = UniqueFd::Open("/dev/loop-control", O_RDWR);
  int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
  if (n < 0) ThrowErrno("LOOP_CTL_GET_FREE on /dev/loop-control", errno);
  control.Close();
  return n;
}

loop_info64 MakeInfo(const std::string& file, const LoopOptions& opts, bool direct_io) {
  loop_info64 info;
  std::memset(&info, 0, sizeof info);
  std::strncpy(reinterpret_cast<char*>(info.lo_file_name), file.c_str(), LO_NAME_SIZE - 1);
  if (opts.read_only) info.lo_flags |= LO_FLAGS_READ_ONLY;
  if (opts.autoclear) info.lo_flags |= LO_FLAGS_AUTOCLEAR;
  if (direct_io) info.lo_flags |= LO_FLAGS_DIRECT_IO;
  return info;
}

// Returns 0 or the errno of LOOP_CONFIGURE.
int Configure(int loop_fd, int file_fd, const loop_info64& info) {
  loop_config config;
  std::memset(&config, 0, sizeof config);
  config.fd = static_cast<uint32_t>(file_fd);
  config.info = info;
  return ::ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0 ? 0 : errno;
}

// The pre-5.8 way: bind the file, then set the flags. Returns 0 or an errno.
int SetFdAndStatus(int loop_fd, int file_fd, loop_info64 info) {
  bool direct_io = (info.lo_flags & LO_FLAGS_DIRECT_IO) != 0;
  info.lo_flags &= ~static_cast<uint32_t>(LO_FLAGS_DIRECT_IO | LO_FLAGS_READ_ONLY);
  if (::ioctl(loop_fd, LOOP_SET_FD, file_fd) != 0) return errno;
  if (::ioctl(loop_fd, LOOP_SET_STATUS64, &info) != 0) {
    int err = errno;
    ::ioctl(loop_fd, LOOP_CLR_FD, 0);
    return err;
  }
  if (direct_io) ::ioctl(loop_fd, LOOP_SET_DIRECT_IO, 1UL);  // best effort, as losetup does
  return 0;
}

// Binds `file_fd` to the loop device: LOOP_CONFIGURE with direct I/O, without it (the kernel
// refuses direct I/O when the block sizes don't line up), then the old two-step way.
int Bind(int loop_fd, int file_fd, const std::string& file, const LoopOptions& opts,
         bool& direct_io) {
  int err = Configure(loop_fd, file_fd, MakeInfo(file, opts, direct_io));
  if (err == EINVAL && direct_io) {
    direct_io = false;
    err = Configure(loop_fd, file_fd, MakeInfo(file, opts, false));
  }
  if (err == EINVAL || err == ENOTTY) {
    err = SetFdAndStatus(loop_fd, file_fd, MakeInfo(file, opts, direct_io));
  }
  return err;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

bool SameFile(const std::string& a, const struct stat& b) {
  struct stat sa;
  return ::stat(a.c_str(), &sa) == 0 && sa.st_dev == b.st_dev && sa.st_ino == b.st_ino;
}

}  // namespace

LoopDevice& LoopDevice::operator=(LoopDevice&& other) noexcept {
  if (this != &other) {
    if (fd_.valid()) ::ioctl(fd_.get(), LOOP_CLR_FD, 0);
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    direct_io_ = other.direct_io_;
    other.path_.clear();
  }
  return *this;
}

LoopDevice::~LoopDevice() {
  if (fd_.valid()) ::ioctl(fd_.get(), LOOP_CLR_FD, 0);
}

LoopDevice LoopDevice::Attach(const std::string& file, const LoopOptions& opts) {
  UniqueFd file_fd = UniqueFd::Open(file, opts.read_only ? O_RDONLY : O_RDWR);
  bool direct_io = opts.direct_io_if_possible && SupportsDirectIo(file, opts.read_only);
  for (int attempt = 0;; ++attempt) {
    std::string path = "/dev/loop" + std::to_string(GetFreeLoopNumber());
    UniqueFd loop_fd = UniqueFd::Open(path, opts.read_only ? O_RDONLY : O_RDWR);
    int err = Bind(loop_fd.get(), file_fd.get(), file, opts, direct_io);
    if (err == 0) {
      file_fd.Close();
      return LoopDevice(path, std::move(loop_fd), direct_io);
    }
    // EBUSY: another process took the same free device between GET_FREE and our bind.
    if (err != EBUSY || attempt + 1 >= kGetFreeAttempts) {
      ThrowErrno("attach " + file + " to " + path, err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * (attempt + 1)));
  }
}

std::string LoopDevice::Release() {
  fd_.Close();
  return std::exchange(path_, std::string());
}

void LoopDevice::Detach() {
  if (!fd_.valid()) return;
  if (::ioctl(fd_.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO) {
    int err = errno;
    fd_.Close();
    ThrowErrno("detach " + path_, err);
  }
  fd_.Close();
  path_.clear();
}

std::optional<std::string> FindLoopForFile(const std::string& path) {
  struct stat target;
  if (::stat(path.c_str(), &target) != 0) ThrowErrno("stat " + path, errno);
  DIR* dir = ::opendir("/sys/block");
  if (dir == nullptr) ThrowErrno("opendir /sys/block", errno);
  std::optional<std::string> found;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind("loop", 0) != 0) continue;
    std::string backing = ReadFirstLine("/sys/block/" + name + "/loop/backing_file");
    if (!backing.empty() && SameFile(backing, target)) {
      found = "/dev/" + name;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

std::optional<std::string> LoopBackingFile(const std::string& loop_path) {
  std::string name = loop_path.substr(loop_path.rfind('/') + 1);
  std::string backing = ReadFirstLine("/sys/block/" + name + "/loop/backing_file");
  if (backing.empty()) return std::nullopt;
  return backing;
}

void DetachLoopDevice(const std::string& loop_path) {
  UniqueFd fd = UniqueFd::Open(loop_path, O_RDONLY);
  if (::ioctl(fd.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO) {
    ThrowErrno("detach " + loop_path, errno);
  }
  fd.Close();
}

void RefreshCapacity(const std::string& loop_path) {
  UniqueFd fd = UniqueFd::Open(loop_path, O_RDONLY);
  if (::ioctl(fd.get(), LOOP_SET_CAPACITY, 0) != 0) {
    ThrowErrno("LOOP_SET_CAPACITY on " + loop_path, errno);
  }
  fd.Close();
}

}  // namespace thinsnap::kernel
