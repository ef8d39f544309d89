#include "thinpool/layers/tree_diff.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "base/error.h"
#include "thinpool/layers/tree_internal.h"

namespace thinsnap::layers {
namespace {

using tree_internal::UniqueFd;

constexpr size_t kCompareChunk = 1 << 16;

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool MetadataDiffers(const struct stat& a, const struct stat& b) {
  if (a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid) return true;
  if (!SameTime(a.st_mtim, b.st_mtim)) return true;
  if (S_ISDIR(a.st_mode)) return false;
  return a.st_size != b.st_size || a.st_nlink != b.st_nlink || a.st_rdev != b.st_rdev;
}

std::string ReadLinkAt(int dir_fd, const std::string& name, const std::string& shown) {
  std::string target(PATH_MAX, '\0');
  ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(), target.size());
  if (n < 0) tree_internal::ThrowErrnoAt("readlink", shown, errno);
  target.resize(n);
  return target;
}

// Reads up to size bytes, fewer only at end of file.
size_t ReadUpTo(int fd, char* buffer, size_t size, const std::string& shown) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(fd, buffer + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) tree_internal::ThrowErrnoAt("read", shown, errno);
    if (n == 0) break;
    done += n;
  }
  return done;
}

UniqueFd OpenForRead(int dir_fd, const std::string& name, const std::string& shown) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) tree_internal::ThrowErrnoAt("open", shown, errno);
  return fd;
}

bool ContentDiffers(int lower_dir, int upper_dir, const std::string& name,
                    const std::string& shown) {
  UniqueFd lower = OpenForRead(lower_dir, name, "lower " + shown);
  UniqueFd upper = OpenForRead(upper_dir, name, "upper " + shown);
  std::string a(kCompareChunk, '\0'), b(kCompareChunk, '\0');
  for (;;) {
    size_t na = ReadUpTo(lower.get(), a.data(), a.size(), "lower " + shown);
    size_t nb = ReadUpTo(upper.get(), b.data(), b.size(), "upper " + shown);
    if (na != nb || std::memcmp(a.data(), b.data(), na) != 0) return true;
    if (na < a.size()) return false;
  }
}

// Walks two trees in step, collecting changes. Holds the root fds.
class TreeDiffer {
 public:
  TreeDiffer(const std::string& lower_root, const std::string& upper_root,
             const DiffOptions& options)
      : options_(options), upper_(tree_internal::OpenTrustedDirectory(upper_root)) {
    upper_dev_ = DeviceOf(upper_.get(), upper_root);
    if (!lower_root.empty()) {
      lower_ = tree_internal::OpenTrustedDirectory(lower_root);
      lower_dev_ = DeviceOf(lower_.get(), lower_root);
    }
  }

  std::vector<TreeChange> Run() {
    if (lower_.valid()) {
      CompareDirectories(lower_.get(), upper_.get(), "");
    } else {
      AddContents(upper_.get(), "");
    }
    std::sort(changes_.begin(), changes_.end(),
              [](const TreeChange& a, const TreeChange& b) { return a.path < b.path; });
    return std::move(changes_);
  }

 private:
  static dev_t DeviceOf(int fd, const std::string& shown) {
    struct stat st;
    if (fstat(fd, &st) != 0) tree_internal::ThrowErrnoAt("stat", shown, errno);
    return st.st_dev;
  }

  static std::vector<std::string> Names(int dir_fd, const std::string& path) {
    std::vector<std::string> names = tree_internal::ListDirectory(dir_fd, path);
    if (path.empty()) std::erase(names, std::string("lost+found"));
    return names;
  }

  void Emit(const std::string& path, ChangeKind kind) { changes_.push_back({path, kind}); }

  void CompareDirectories(int lower_fd, int upper_fd, const std::string& path) {
    std::vector<std::string> lower = Names(lower_fd, path), upper = Names(upper_fd, path);
    size_t i = 0, j = 0;
    while (i < lower.size() || j < upper.size()) {
      if (j == upper.size() || (i < lower.size() && lower[i] < upper[j])) {
        Emit(path + "/" + lower[i++], ChangeKind::kDeleted);
      } else if (i == lower.size() || upper[j] < lower[i]) {
        AddEntry(upper_fd, upper[j], path + "/" + upper[j]);
        ++j;
      } else {
        CompareEntry(lower_fd, upper_fd, upper[j], path + "/" + upper[j]);
        ++i, ++j;
      }
    }
  }

  // Reports name (in upper) as added, with everything inside it.
  void AddEntry(int upper_dir, const std::string& name, const std::string& path) {
    Emit(path, ChangeKind::kAdded);
    std::optional<struct stat> st = tree_internal::LstatAt(upper_dir, name, path);
    if (!st || !S_ISDIR(st->st_mode) || st->st_dev != upper_dev_) return;
    UniqueFd dir = tree_internal::OpenChildDirectory(upper_dir, name, path);
    if (dir.valid()) AddContents(dir.get(), path);
  }

  void AddContents(int upper_fd, const std::string& path) {
    for (const std::string& name : Names(upper_fd, path)) {
      AddEntry(upper_fd, name, path + "/" + name);
    }
  }

  void CompareEntry(int lower_dir, int upper_dir, const std::string& name,
                    const std::string& path) {
    std::optional<struct stat> l = tree_internal::LstatAt(lower_dir, name, "lower " + path);
    std::optional<struct stat> u = tree_internal::LstatAt(upper_dir, name, "upper " + path);
    if (!l || !u) throw Error("diff " + path + ": entry vanished while comparing");
    bool lower_is_dir = S_ISDIR(l->st_mode), upper_is_dir = S_ISDIR(u->st_mode);
    if ((l->st_mode & S_IFMT) != (u->st_mode & S_IFMT)) {
      Emit(path, ChangeKind::kChanged);
      if (upper_is_dir && u->st_dev == upper_dev_) {
        UniqueFd dir = tree_internal::OpenChildDirectory(upper_dir, name, path);
        if (dir.valid()) AddContents(dir.get(), path);
      }
      return;
    }
    if (lower_is_dir) return CompareDirectoryEntry(lower_dir, upper_dir, name, path, *l, *u);
    if (EntryDiffers(lower_dir, upper_dir, name, path, *l, *u)) Emit(path, ChangeKind::kChanged);
  }

  void CompareDirectoryEntry(int lower_dir, int upper_dir, const std::string& name,
                             const std::string& path, const struct stat& l, const struct stat& u) {
    size_t before = changes_.size();
    bool own = MetadataDiffers(l, u) || XattrsDiffer(lower_dir, upper_dir, name, path);
    if (l.st_dev == lower_dev_ && u.st_dev == upper_dev_) {
      UniqueFd lower = tree_internal::OpenChildDirectory(lower_dir, name, "lower " + path);
      UniqueFd upper = tree_internal::OpenChildDirectory(upper_dir, name, "upper " + path);
      if (!lower.valid() || !upper.valid()) throw Error("diff " + path + ": directory vanished");
      CompareDirectories(lower.get(), upper.get(), path);
    }
    if (own || changes_.size() > before) Emit(path, ChangeKind::kChanged);
  }

  bool XattrsDiffer(int lower_dir, int upper_dir, const std::string& name,
                    const std::string& path) {
    return tree_internal::ReadXattrs(lower_dir, name, "lower " + path) !=
           tree_internal::ReadXattrs(upper_dir, name, "upper " + path);
  }

  bool EntryDiffers(int lower_dir, int upper_dir, const std::string& name, const std::string& path,
                    const struct stat& l, const struct stat& u) {
    if (MetadataDiffers(l, u) || XattrsDiffer(lower_dir, upper_dir, name, path)) return true;
    if (S_ISLNK(u.st_mode)) {
      return ReadLinkAt(lower_dir, name, "lower " + path) !=
             ReadLinkAt(upper_dir, name, "upper " + path);
    }
    if (!S_ISREG(u.st_mode) || !options_.compare_content) return false;
    return ContentDiffers(lower_dir, upper_dir, name, path);
  }

  const DiffOptions& options_;
  UniqueFd lower_;
  UniqueFd upper_;
  dev_t lower_dev_ = 0;
  dev_t upper_dev_ = 0;
  std::vector<TreeChange> changes_;
};

}  // namespace

std::vector<TreeChange> DiffTrees(const std::string& lower_root, const std::string& upper_root,
                                  const DiffOptions& options) {
  return TreeDiffer(lower_root, upper_root, options).Run();
}

}  // namespace thinsnap::layers
