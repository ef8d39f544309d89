#include "thinpool/kernel/blockdev.h"

#include <blkid/blkid.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/error.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap::kernel {
namespace {

struct ProbeDeleter {
  void operator()(blkid_struct_probe* p) const { blkid_free_probe(p); }
};
using Probe = std::unique_ptr<blkid_struct_probe, ProbeDeleter>;

std::string Lookup(blkid_probe probe, const char* name) {
  const char* value = nullptr;
  size_t len = 0;
  if (blkid_probe_lookup_value(probe, name, &value, &len) != 0 || value == nullptr) return "";
  return std::string(value, strnlen(value, len));
}

std::string Identity(blkid_probe probe, const char* uuid_key) {
  std::string uuid = Lookup(probe, uuid_key);
  std::string label = Lookup(probe, "LABEL");
  std::string out;
  if (!uuid.empty()) out = "UUID " + uuid;
  if (!label.empty()) out += (out.empty() ? "" : ", ") + std::string("LABEL ") + label;
  return out.empty() ? "" : " (" + out + ")";
}

std::string SuperblockName(const std::string& type, const std::string& usage) {
  if (type == "LVM2_member") return "LVM2 physical volume";
  if (type == "linux_raid_member") return "Linux MD RAID member";
  if (type == "swap") return "swap space";
  if (usage == "filesystem") return type + " filesystem";
  if (usage == "crypto") return type + " encrypted volume";
  if (usage == "raid") return type + " RAID member";
  return type + " signature";
}

// Describes the signature the last blkid_do_probe() found.
std::string Describe(blkid_probe probe) {
  std::string pttype = Lookup(probe, "PTTYPE");
  if (!pttype.empty()) return pttype + " partition table" + Identity(probe, "PTUUID");
  std::string type = Lookup(probe, "TYPE");
  if (type.empty()) return "unknown signature";
  return SuperblockName(type, Lookup(probe, "USAGE")) + Identity(probe, "UUID");
}

Probe NewProbe(const std::string& path) {
  Probe probe(blkid_new_probe_from_filename(path.c_str()));
  if (!probe) ThrowErrno("blkid probe " + path, errno != 0 ? errno : EIO);
  blkid_probe_enable_superblocks(probe.get(), 1);
  blkid_probe_set_superblocks_flags(probe.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
                                                     BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL |
                                                     BLKID_SUBLKS_MAGIC);
  blkid_probe_enable_partitions(probe.get(), 1);
  blkid_probe_set_partitions_flags(probe.get(), BLKID_PARTS_MAGIC);
  return probe;
}

struct stat StatPath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) ThrowErrno("stat " + path, errno);
  return st;
}

void WriteAllZeros(int fd, uint64_t offset, uint64_t len) {
  static const char kZeros[65536] = {};
  while (len > 0) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(len, sizeof kZeros));
    ssize_t n = ::pwrite(fd, kZeros, chunk, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ThrowErrno("write zeros at offset " + std::to_string(offset), n < 0 ? errno : EIO);
    offset += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
}

}  // namespace

std::vector<std::string> ProbeSignatures(const std::string& path) {
  Probe probe = NewProbe(path);
  std::vector<std::string> found;
  for (;;) {
    int rc = blkid_do_probe(probe.get());
    if (rc == 1) break;  // nothing more
    if (rc < 0) ThrowErrno("blkid probe " + path, errno != 0 ? errno : EIO);
    std::string description = Describe(probe.get());
    if (std::find(found.begin(), found.end(), description) == found.end()) {
      found.push_back(description);
    }
  }
  return found;
}

bool IsBlockDevice(const std::string& path) { return S_ISBLK(StatPath(path).st_mode); }

uint64_t BlockDeviceSize(const std::string& path) {
  struct stat st = StatPath(path);
  if (!S_ISBLK(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  UniqueFd fd = UniqueFd::Open(path, O_RDONLY);
  uint64_t size = 0;
  if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) ThrowErrno("BLKGETSIZE64 " + path, errno);
  fd.Close();
  return size;
}

uint32_t LogicalBlockSize(const std::string& path) {
  if (!IsBlockDevice(path)) return 512;
  UniqueFd fd = UniqueFd::Open(path, O_RDONLY);
  int size = 0;
  if (::ioctl(fd.get(), BLKSSZGET, &size) != 0) ThrowErrno("BLKSSZGET " + path, errno);
  fd.Close();
  return static_cast<uint32_t>(size);
}

UniqueFd OpenExclusive(const std::string& path, bool read_write) {
  if (!IsBlockDevice(path)) {
    throw Error(path + " is not a block device", ErrorKind::kUsage);
  }
  int fd = ::open(path.c_str(), (read_write ? O_RDWR : O_RDONLY) | O_EXCL | O_CLOEXEC);
  if (fd < 0 && errno == EBUSY) {
    throw Error(path + " is in use (mounted, or held by device-mapper, md or another program)",
                ErrorKind::kBusy, EBUSY);
  }
  if (fd < 0) ThrowErrno("open " + path + " exclusively", errno);
  return UniqueFd(fd, path);
}

void ZeroRange(int fd, uint64_t offset, uint64_t len) {
  WriteAllZeros(fd, offset, len);
  if (::fsync(fd) != 0) ThrowErrno("fsync after zeroing", errno);
}

void Discard(const std::string& path, uint64_t offset, uint64_t len) {
  if (len == 0) len = BlockDeviceSize(path) - offset;
  UniqueFd fd = UniqueFd::Open(path, O_RDWR);
  uint64_t range[2] = {offset, len};
  if (::ioctl(fd.get(), BLKDISCARD, range) != 0) ThrowErrno("BLKDISCARD " + path, errno);
  fd.Close();
}

void CreateSparseFile(const std::string& path, uint64_t size) {
  int raw = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (raw < 0) ThrowErrno("create " + path, errno);
  UniqueFd fd(raw, path);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    ThrowErrno("size " + path + " to " + HumanBytes(size), err);
  }
  if (::fsync(fd.get()) != 0) ThrowErrno("fsync " + path, errno);
  fd.Close();
}

void GrowFile(const std::string& path, uint64_t new_size) {
  UniqueFd fd = UniqueFd::Open(path, O_WRONLY);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) ThrowErrno("stat " + path, errno);
  uint64_t old_size = static_cast<uint64_t>(st.st_size);
  if (new_size < old_size) {
    throw Error("cannot shrink " + path + " from " + HumanBytes(old_size) + " to " +
                    HumanBytes(new_size) + ": thin pools only grow",
                ErrorKind::kUsage);
  }
  if (new_size == old_size) return;
  if (::ftruncate(fd.get(), static_cast<off_t>(new_size)) != 0) {
    ThrowErrno("grow " + path + " to " + HumanBytes(new_size), errno);
  }
  if (::fsync(fd.get()) != 0) ThrowErrno("fsync " + path, errno);
  fd.Close();
}

}  // namespace thinsnap::kernel
