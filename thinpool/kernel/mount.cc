#include "thinpool/kernel/mount.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

struct FlagWord {
  unsigned long set;
  unsigned long clear;
};

const std::map<std::string, FlagWord>& FlagWords() {
  static const std::map<std::string, FlagWord> words = {
      {"ro", {MS_RDONLY, 0}},
      {"rw", {0, MS_RDONLY}},
      {"nosuid", {MS_NOSUID, 0}},
      {"suid", {0, MS_NOSUID}},
      {"nodev", {MS_NODEV, 0}},
      {"dev", {0, MS_NODEV}},
      {"noexec", {MS_NOEXEC, 0}},
      {"exec", {0, MS_NOEXEC}},
      {"sync", {MS_SYNCHRONOUS, 0}},
      {"dirsync", {MS_DIRSYNC, 0}},
      {"noatime", {MS_NOATIME, 0}},
      {"atime", {0, MS_NOATIME}},
      {"nodiratime", {MS_NODIRATIME, 0}},
      {"relatime", {MS_RELATIME, 0}},
      {"strictatime", {MS_STRICTATIME, 0}},
      {"lazytime", {MS_LAZYTIME, 0}},
      {"defaults", {0, 0}},
  };
  return words;
}

// mountinfo escapes blanks and backslashes in paths as \ooo octal.
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out += static_cast<char>(std::strtol(field.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::string MajMin(const std::string& device) {
  if (device.find(':') != std::string::npos && device[0] != '/') return device;
  struct stat st;
  if (::stat(device.c_str(), &st) != 0) ThrowErrno("stat " + device, errno);
  if (!S_ISBLK(st.st_mode)) throw Error(device + " is not a block device", ErrorKind::kUsage);
  return std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
}

struct MountInfoLine {
  std::string majmin;
  std::string mount_point;
};

std::vector<MountInfoLine> ReadMountInfo() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) ThrowErrno("open /proc/self/mountinfo", errno);
  std::vector<MountInfoLine> lines;
  for (std::string line; std::getline(in, line);) {
    // <id> <parent> <maj:min> <root> <mount point> ...
    std::istringstream fields(line);
    std::string id, parent, majmin, root, mount_point;
    if (fields >> id >> parent >> majmin >> root >> mount_point) {
      lines.push_back({majmin, Unescape(mount_point)});
    }
  }
  return lines;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) ThrowErrno("resolve " + path, errno);
  return buf;
}

}  // namespace

MountOptions ParseMountOptions(const std::string& options) {
  MountOptions out;
  std::istringstream in(options);
  for (std::string word; std::getline(in, word, ',');) {
    if (word.empty()) continue;
    auto it = FlagWords().find(word);
    if (it == FlagWords().end()) {
      out.data += (out.data.empty() ? "" : ",") + word;
      continue;
    }
    out.flags = (out.flags | it->second.set) & ~it->second.clear;
  }
  return out;
}

void Mount(const std::string& source, const std::string& target, const std::string& fstype,
           const std::string& options) {
  MountOptions parsed = ParseMountOptions(options);
  const char* data = parsed.data.empty() ? nullptr : parsed.data.c_str();
  if (::mount(source.c_str(), target.c_str(), fstype.c_str(), parsed.flags, data) != 0) {
    ThrowErrno("mount " + source + " on " + target + " (" + fstype +
                   (options.empty() ? "" : ", " + options) + ")",
               errno);
  }
}

void Unmount(const std::string& target, bool lazy) {
  if (::umount2(target.c_str(), lazy ? MNT_DETACH : 0) == 0) return;
  int err = errno;
  if (err == EBUSY) {
    throw Error("unmount " + target + ": it is busy (a process has a file open or its working " +
                    "directory there; `fuser -vm " + target + "` shows which)",
                ErrorKind::kBusy, err);
  }
  ThrowErrno("unmount " + target, err);
}

std::vector<std::string> FindMounts(const std::string& device) {
  std::string majmin = MajMin(device);
  std::vector<std::string> out;
  for (const MountInfoLine& line : ReadMountInfo()) {
    if (line.majmin == majmin) out.push_back(line.mount_point);
  }
  return out;
}

FilesystemUsage UsageOf(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) ThrowErrno("statvfs " + dir, errno);
  return {st.f_files, st.f_ffree, uint64_t{st.f_blocks} * st.f_frsize,
          uint64_t{st.f_bfree} * st.f_frsize};
}

bool IsMountPoint(const std::string& dir) {
  std::string resolved = RealPath(dir);
  for (const MountInfoLine& line : ReadMountInfo()) {
    if (line.mount_point == resolved) return true;
  }
  return false;
}

}  // namespace thinsnap::kernel
