#include "bench/drivers_host.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/fd.h"

namespace thinsnap::bench::host {
namespace {

constexpr uint64_t kChunk = 1 << 20;
constexpr uint64_t kPage = 4096;

// splitmix64: a fast, well-mixed generator for offsets and file contents.
uint64_t Mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) ThrowErrno("read " + path, errno ? errno : ENOENT);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// "nvme0n1" for /dev/nvme0n1, "dm-3" for /dev/mapper/x.
std::string KernelName(const std::string& device) {
  char real[PATH_MAX];
  if (!realpath(device.c_str(), real)) ThrowErrno("realpath " + device, errno);
  const std::string r = real;
  return r.substr(r.rfind('/') + 1);
}

void FullWrite(int fd, const char* data, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    const ssize_t w = pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) ThrowErrno("write " + path, errno);
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void Fsync(int fd, const std::string& path, bool data_only = false) {
  if ((data_only ? fdatasync(fd) : fsync(fd)) != 0) ThrowErrno("fsync " + path, errno);
}

uint64_t FileSize(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) ThrowErrno("stat " + path, errno);
  return static_cast<uint64_t>(st.st_size);
}

void Ioctl(int fd, unsigned long request, void* arg, const std::string& what) {
  if (ioctl(fd, request, arg) != 0) ThrowErrno(what, errno);
}

// Splits "/a/b/c" into the parent directory "/a/b" (opened) and the name "c".
std::pair<UniqueFd, std::string> OpenParent(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  return {UniqueFd::Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), path.substr(slash + 1)};
}

void CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  UniqueFd in = UniqueFd::Open(from, O_RDONLY | O_CLOEXEC);
  UniqueFd out = UniqueFd::Open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
  for (;;) {
    const ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, 64 << 20, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("copy " + from + " to " + to, errno);
    if (n == 0) break;
  }
  out.Close();
}

}  // namespace

void DropCaches() {
  sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  f << "3\n";
  f.flush();
  if (!f) ThrowErrno("write /proc/sys/vm/drop_caches", errno ? errno : EIO);
}

uint64_t PageCacheBytes() {
  std::istringstream in(ReadSmallFile("/proc/meminfo"));
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "Cached:") return kib * 1024;
  }
  throw Error("/proc/meminfo has no Cached: line");
}

uint64_t DeviceBytesWritten(const std::string& device) {
  const std::string stat = "/sys/class/block/" + KernelName(device) + "/stat";
  std::istringstream in(ReadSmallFile(stat));
  uint64_t f[7] = {};
  for (uint64_t& v : f) {
    if (!(in >> v)) throw Error(stat + ": fewer than 7 fields");
  }
  return f[6] * 512;  // field 7: sectors written
}

std::string DeviceModel(const std::string& device) {
  std::string name = KernelName(device);
  // nvme0n1 -> its controller's model; a partition's model is its disk's.
  std::ifstream in("/sys/class/block/" + name + "/device/model");
  std::string model;
  if (!in || !std::getline(in, model)) return "";
  return Trim(model);
}

std::string KernelRelease() {
  struct utsname u {};
  if (uname(&u) != 0) ThrowErrno("uname", errno);
  return u.release;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return Trim(line.substr(line.find(':') + 1));
  }
  return "unknown";
}

void BtrfsCreateSubvolume(const std::string& path) {
  auto [dir, name] = OpenParent(path);
  btrfs_ioctl_vol_args args{};
  std::strncpy(args.name, name.c_str(), BTRFS_PATH_NAME_MAX);
  Ioctl(dir.get(), BTRFS_IOC_SUBVOL_CREATE, &args, "btrfs subvolume create " + path);
}

void BtrfsSnapshot(const std::string& source, const std::string& path, bool read_only) {
  UniqueFd src = UniqueFd::Open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  auto [dir, name] = OpenParent(path);
  btrfs_ioctl_vol_args_v2 args{};
  args.fd = src.get();
  args.flags = read_only ? BTRFS_SUBVOL_RDONLY : 0;
  std::strncpy(args.name, name.c_str(), BTRFS_SUBVOL_NAME_MAX);
  Ioctl(dir.get(), BTRFS_IOC_SNAP_CREATE_V2, &args,
        "btrfs subvolume snapshot " + source + " " + path);
}

void BtrfsDeleteSubvolume(const std::string& path) {
  auto [dir, name] = OpenParent(path);
  btrfs_ioctl_vol_args args{};
  std::strncpy(args.name, name.c_str(), BTRFS_PATH_NAME_MAX);
  Ioctl(dir.get(), BTRFS_IOC_SNAP_DESTROY, &args, "btrfs subvolume delete " + path);
}

void MakeDirs(const std::string& path) {
  std::string sofar;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      sofar = path.substr(0, i);
      if (mkdir(sofar.c_str(), 0755) != 0 && errno != EEXIST) ThrowErrno("mkdir " + sofar, errno);
    }
  }
}

void RemoveTree(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    ThrowErrno("stat " + path, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    DIR* d = opendir(path.c_str());
    if (!d) ThrowErrno("opendir " + path, errno);
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    for (const std::string& n : names) {
      struct stat child {};
      const std::string p = path + "/" + n;
      if (lstat(p.c_str(), &child) == 0 && child.st_dev != st.st_dev) continue;  // a mount
      RemoveTree(p);
    }
    if (rmdir(path.c_str()) != 0) ThrowErrno("rmdir " + path, errno);
  } else if (unlink(path.c_str()) != 0) {
    ThrowErrno("unlink " + path, errno);
  }
}

void CopyTree(const std::string& from, const std::string& to) {
  struct stat st {};
  if (lstat(from.c_str(), &st) != 0) ThrowErrno("stat " + from, errno);
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(to.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST) {
      ThrowErrno("mkdir " + to, errno);
    }
    DIR* d = opendir(from.c_str());
    if (!d) ThrowErrno("opendir " + from, errno);
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != ".." && n != "lost+found") names.push_back(n);
    }
    closedir(d);
    for (const std::string& n : names) CopyTree(from + "/" + n, to + "/" + n);
  } else if (S_ISREG(st.st_mode)) {
    CopyFile(from, to, st.st_mode);
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    const ssize_t n = readlink(from.c_str(), target, sizeof(target) - 1);
    if (n < 0) ThrowErrno("readlink " + from, errno);
    target[n] = 0;
    if (symlink(target, to.c_str()) != 0) ThrowErrno("symlink " + to, errno);
  }
}

void SyncFs(const std::string& path) {
  UniqueFd fd = UniqueFd::Open(path, O_RDONLY | O_CLOEXEC);
  if (syncfs(fd.get()) != 0) ThrowErrno("syncfs " + path, errno);
}

void WriteDataFile(const std::string& path, uint64_t size, uint64_t seed) {
  // One random megabyte, with every 4 KiB block stamped with (seed, offset): cheap to make, and
  // no two blocks of any file are equal.
  std::vector<uint64_t> buf(kChunk / 8);
  uint64_t state = seed * 0x2545f4914f6cdd1dULL + 1;
  for (uint64_t& w : buf) w = Mix(state);
  UniqueFd fd = UniqueFd::Open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  for (uint64_t off = 0; off < size; off += kChunk) {
    for (uint64_t b = 0; b < kChunk; b += kPage) {
      buf[b / 8] = seed;
      buf[b / 8 + 1] = off + b;
    }
    const size_t n = static_cast<size_t>(std::min(kChunk, size - off));
    FullWrite(fd.get(), reinterpret_cast<const char*>(buf.data()), n, off, path);
  }
  Fsync(fd.get(), path);
  fd.Close();
}

uint64_t ReadWholeFile(const std::string& path) {
  UniqueFd fd = UniqueFd::Open(path, O_RDONLY | O_CLOEXEC);
  std::vector<char> buf(kChunk);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("read " + path, errno);
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
  }
  return total;
}

void RandomReads(const std::vector<std::string>& files, unsigned count, uint64_t seed) {
  std::vector<UniqueFd> fds;
  std::vector<uint64_t> pages;
  for (const std::string& f : files) {
    fds.push_back(UniqueFd::Open(f, O_RDONLY | O_CLOEXEC));
    pages.push_back(FileSize(fds.back().get(), f) / kPage);
    if (pages.back() == 0) throw Error("random reads: " + f + " is smaller than 4 KiB");
  }
  if (fds.empty()) return;
  // No readahead: a random read of 4 KiB should read 4 KiB.
  for (const UniqueFd& fd : fds) posix_fadvise(fd.get(), 0, 0, POSIX_FADV_RANDOM);
  char buf[kPage];
  uint64_t state = seed;
  for (unsigned i = 0; i < count; ++i) {
    const size_t f = i % fds.size();
    const uint64_t off = (Mix(state) % pages[f]) * kPage;
    if (pread(fds[f].get(), buf, kPage, static_cast<off_t>(off)) < 0) {
      ThrowErrno("read " + files[f], errno);
    }
  }
}

void RandomSyncWrites(const std::string& path, unsigned count, uint64_t seed) {
  UniqueFd fd = UniqueFd::Open(path, O_WRONLY | O_CLOEXEC);
  const uint64_t pages = FileSize(fd.get(), path) / kPage;
  if (pages == 0) throw Error("random writes: " + path + " is smaller than 4 KiB");
  std::vector<uint64_t> buf(kPage / 8);
  uint64_t state = seed;
  for (uint64_t& w : buf) w = Mix(state);
  for (unsigned i = 0; i < count; ++i) {
    buf[0] = i;
    const uint64_t off = (Mix(state) % pages) * kPage;
    FullWrite(fd.get(), reinterpret_cast<const char*>(buf.data()), kPage, off, path);
    Fsync(fd.get(), path, /*data_only=*/true);
  }
  fd.Close();
}

void WriteOneByte(const std::string& path) {
  UniqueFd fd = UniqueFd::Open(path, O_RDWR | O_CLOEXEC);
  const uint64_t size = FileSize(fd.get(), path);
  const char byte = 'x';
  FullWrite(fd.get(), &byte, 1, size / 2, path);
  Fsync(fd.get(), path);
  fd.Close();
}

double NowSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace thinsnap::bench::host
