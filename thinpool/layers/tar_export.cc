#include "thinpool/layers/tar_export.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "base/error.h"
#include "thinpool/layers/tree_internal.h"

namespace thinsnap::layers {
namespace {

using tree_internal::UniqueFd;

constexpr size_t kCopyChunk = 1 << 20;

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// A run of real data in a file: [offset, offset + length).
struct Extent {
  off_t offset;
  off_t length;
};

// The data extents of a regular file, from SEEK_DATA/SEEK_HOLE (one extent if the filesystem
// reports no holes).
std::vector<Extent> DataExtents(int fd, off_t size, const std::string& shown) {
  std::vector<Extent> out;
  off_t pos = 0;
  while (pos < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) tree_internal::ThrowErrnoAt("seek data", shown, errno);
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) tree_internal::ThrowErrnoAt("seek hole", shown, errno);
    hole = std::min(hole, size);
    if (hole > data) out.push_back({data, hole - data});
    pos = hole;
  }
  return out;
}

// Writes the layer tar. Owns the libarchive writer and the upper root fd.
class LayerExporter {
 public:
  LayerExporter(const std::string& upper_root, int out_fd)
      : root_(tree_internal::OpenTrustedDirectory(upper_root)), writer_(archive_write_new()) {
    if (!writer_) throw Error("export: out of memory");
    if (archive_write_set_format_pax(writer_.get()) != ARCHIVE_OK ||
        archive_write_open_fd(writer_.get(), out_fd) != ARCHIVE_OK) {
      throw Error("export: open tar writer: " + Message());
    }
  }

  void Export(const TreeChange& change) {
    if (!change.path.starts_with('/')) throw Error("export: path without leading /");
    std::string rel = change.path.substr(1);
    std::vector<std::string> parts = tree_internal::SplitPath(rel);
    if (parts.empty()) throw Error("export: the root itself is not an entry");
    for (const std::string& part : parts) {
      if (part == "." || part == "..") throw Error("export " + change.path + ": bad component");
    }
    if (change.kind == ChangeKind::kDeleted) return WriteWhiteout(parts);
    if (parts.back().starts_with(".wh.")) {
      throw Error("export " + change.path + ": a name starting with .wh. cannot be stored");
    }
    UniqueFd parent = tree_internal::WalkBeneath(root_.get(), parts, parts.size() - 1, false);
    std::optional<struct stat> st;
    if (parent.valid()) st = tree_internal::LstatAt(parent.get(), parts.back(), change.path);
    if (!st) throw Error("export " + change.path + ": no such entry", ErrorKind::kNotFound);
    WriteEntry(parent.get(), parts.back(), rel, *st);
  }

  void Finish() {
    if (archive_write_close(writer_.get()) != ARCHIVE_OK) {
      throw Error("export: finish tar: " + Message());
    }
  }

 private:
  std::string Message() {
    const char* message = archive_error_string(writer_.get());
    return message != nullptr ? message : "unknown libarchive error";
  }

  void WriteHeader(archive_entry* entry, const std::string& shown) {
    if (archive_write_header(writer_.get(), entry) < ARCHIVE_WARN) {
      throw Error("export " + shown + ": write header: " + Message());
    }
  }

  void WriteWhiteout(const std::vector<std::string>& parts) {
    std::string name;
    for (size_t i = 0; i + 1 < parts.size(); ++i) name += parts[i] + "/";
    name += ".wh." + parts.back();
    EntryPtr entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), 0);
    WriteHeader(entry.get(), name);
  }

  void WriteEntry(int parent, const std::string& name, const std::string& rel,
                  const struct stat& st) {
    if (S_ISSOCK(st.st_mode)) return;
    EntryPtr entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), rel.c_str());
    archive_entry_set_filetype(entry.get(), st.st_mode & S_IFMT);
    archive_entry_set_perm(entry.get(), st.st_mode & 07777);
    archive_entry_set_uid(entry.get(), st.st_uid);
    archive_entry_set_gid(entry.get(), st.st_gid);
    archive_entry_set_mtime(entry.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    archive_entry_set_size(entry.get(), 0);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && LinkToEarlier(entry.get(), st, rel)) {
      return WriteHeader(entry.get(), rel);
    }
    for (const auto& [key, value] : tree_internal::ReadXattrs(parent, name, rel)) {
      archive_entry_xattr_add_entry(entry.get(), key.c_str(), value.data(), value.size());
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdevmajor(entry.get(), major(st.st_rdev));
      archive_entry_set_rdevminor(entry.get(), minor(st.st_rdev));
    }
    if (S_ISLNK(st.st_mode)) {
      archive_entry_set_symlink(entry.get(), ReadLink(parent, name, rel).c_str());
    }
    if (!S_ISREG(st.st_mode)) return WriteHeader(entry.get(), rel);
    WriteFile(parent, name, rel, st, entry.get());
  }

  // Turns entry into a hardlink if an earlier exported path shares its inode; else remembers it.
  bool LinkToEarlier(archive_entry* entry, const struct stat& st, const std::string& rel) {
    auto [it, inserted] = first_path_.try_emplace({st.st_dev, st.st_ino}, rel);
    if (inserted) return false;
    archive_entry_set_hardlink(entry, it->second.c_str());
    return true;
  }

  static std::string ReadLink(int parent, const std::string& name, const std::string& shown) {
    std::string target(PATH_MAX, '\0');
    ssize_t n = readlinkat(parent, name.c_str(), target.data(), target.size());
    if (n < 0) tree_internal::ThrowErrnoAt("readlink", shown, errno);
    target.resize(n);
    return target;
  }

  void WriteFile(int parent, const std::string& name, const std::string& rel, const struct stat& st,
                 archive_entry* entry) {
    UniqueFd fd(openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) tree_internal::ThrowErrnoAt("open", rel, errno);
    archive_entry_set_size(entry, st.st_size);
    std::vector<Extent> extents = DataExtents(fd.get(), st.st_size, rel);
    off_t data_bytes = 0;
    for (const Extent& e : extents) data_bytes += e.length;
    bool sparse = data_bytes < st.st_size;
    if (sparse && extents.empty()) extents.push_back({st.st_size, 0});  // all hole
    if (sparse) {
      for (const Extent& e : extents) archive_entry_sparse_add_entry(entry, e.offset, e.length);
    } else {
      extents = {{0, st.st_size}};
    }
    WriteHeader(entry, rel);
    WriteExtents(fd.get(), extents, st.st_size, rel);
  }

  // The pax writer takes the whole logical content and drops the bytes that fall in holes, so
  // holes are fed as zeros (no copy: the writer only counts them).
  void WriteExtents(int fd, const std::vector<Extent>& extents, off_t size,
                    const std::string& rel) {
    std::string buffer(kCopyChunk, '\0');
    off_t pos = 0;
    for (const Extent& e : extents) {
      FeedZeros(e.offset - pos, rel);
      CopyRange(fd, e.offset, e.length, buffer, rel);
      pos = e.offset + e.length;
    }
    FeedZeros(size - pos, rel);
  }

  void FeedZeros(off_t length, const std::string& rel) {
    static const std::string zeros(kCopyChunk, '\0');
    while (length > 0) {
      size_t n = std::min<off_t>(length, zeros.size());
      WriteData(zeros.data(), n, rel);
      length -= n;
    }
  }

  void CopyRange(int fd, off_t offset, off_t length, std::string& buffer, const std::string& rel) {
    while (length > 0) {
      ssize_t n = pread(fd, buffer.data(), std::min<off_t>(length, buffer.size()), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) tree_internal::ThrowErrnoAt("read", rel, errno);
      if (n == 0) throw Error("export " + rel + ": file shrank while exporting");
      WriteData(buffer.data(), n, rel);
      offset += n;
      length -= n;
    }
  }

  void WriteData(const char* data, size_t size, const std::string& rel) {
    la_ssize_t n = archive_write_data(writer_.get(), data, size);
    if (n < 0) throw Error("export " + rel + ": write data: " + Message());
  }

  UniqueFd root_;
  std::unique_ptr<archive, ArchiveWriteFree> writer_;
  std::map<std::pair<dev_t, ino_t>, std::string> first_path_;
};

}  // namespace

void ExportChanges(const std::string& upper_root, const std::vector<TreeChange>& changes,
                   int out_fd) {
  LayerExporter exporter(upper_root, out_fd);
  for (const TreeChange& change : changes) exporter.Export(change);
  exporter.Finish();
}

}  // namespace thinsnap::layers
