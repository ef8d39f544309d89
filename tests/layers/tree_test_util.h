// Test helpers for layer_tar_test, tree_diff_test and tar_export_test: temp directories on a
// disk that supports xattrs, an in-memory tar writer, tree builders and a fingerprint of a tree
// used to prove that nothing outside a layer's root was touched.
#ifndef THINSNAP_TESTS_LAYERS_TREE_TEST_UTIL_H_
#define THINSNAP_TESTS_LAYERS_TREE_TEST_UTIL_H_

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace thinsnap::testing {

// A directory removed (recursively) on destruction. Lives under $THINSNAP_TEST_TMPDIR or
// /var/tmp (on the real disk: tmpfs may lack user./trusted. xattrs).
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("THINSNAP_TEST_TMPDIR");
    std::string pattern =
        std::string(base != nullptr ? base : "/var/tmp") + "/thinsnap-tree-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Owns an fd in tests.
class TestFd {
 public:
  explicit TestFd(int fd) : fd_(fd) {}
  ~TestFd() {
    if (fd_ >= 0) close(fd_);
  }
  TestFd(const TestFd&) = delete;
  TestFd& operator=(const TestFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// An anonymous in-memory file holding bytes, positioned at 0.
inline int MemFdWith(const std::string& bytes) {
  int fd = memfd_create("tar", MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error("memfd_create failed");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) throw std::runtime_error("write memfd failed");
    done += n;
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

inline std::string ReadAllFd(int fd) {
  lseek(fd, 0, SEEK_SET);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

// Builds a tar stream in memory with libarchive's writer.
class TarBuilder {
 public:
  explicit TarBuilder(int filter = ARCHIVE_FILTER_NONE,
                      int format = ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE)
      : a_(archive_write_new()) {
    archive_write_set_format(a_, format);
    if (filter != ARCHIVE_FILTER_NONE) archive_write_add_filter(a_, filter);
    // No padding after the last (possibly compressed) block: a zstd frame followed by zeros is
    // not a valid zstd stream, and the uncompressed stream stays the same for every filter.
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open(a_, this, nullptr, &TarBuilder::Append, nullptr);
  }
  ~TarBuilder() { archive_write_free(a_); }

  using Setup = std::function<void(archive_entry*)>;

  TarBuilder& Add(const std::string& name, mode_t type, mode_t perm, const std::string& data = "",
                  const Setup& setup = {}) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, type == AE_IFREG ? data.size() : 0);
    archive_entry_set_mtime(e, 1600000000, 0);
    if (setup) setup(e);
    Check(archive_write_header(a_, e), "header " + name);
    if (!data.empty()) archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& File(const std::string& name, const std::string& data, mode_t perm = 0644) {
    return Add(name, AE_IFREG, perm, data);
  }
  TarBuilder& Dir(const std::string& name, mode_t perm = 0755) { return Add(name, AE_IFDIR, perm); }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    return Add(name, AE_IFLNK, 0777, "",
               [&](archive_entry* e) { archive_entry_set_symlink(e, target.c_str()); });
  }
  TarBuilder& Hardlink(const std::string& name, const std::string& target) {
    return Add(name, AE_IFREG, 0644, "", [&](archive_entry* e) {
      archive_entry_set_hardlink(e, target.c_str());
      archive_entry_set_size(e, 0);
    });
  }
  // A sparse file of `size` bytes holding `pieces` (offset -> bytes) and holes elsewhere.
  TarBuilder& Sparse(const std::string& name, int64_t size,
                     const std::map<int64_t, std::string>& pieces) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    for (const auto& [offset, bytes] : pieces) {
      archive_entry_sparse_add_entry(e, offset, bytes.size());
    }
    Check(archive_write_header(a_, e), "header " + name);
    static const std::string zeros(1 << 20, '\0');
    int64_t pos = 0;
    auto feed_zeros = [&](int64_t until) {
      while (pos < until) {
        size_t n = std::min<int64_t>(until - pos, zeros.size());
        archive_write_data(a_, zeros.data(), n);
        pos += n;
      }
    };
    for (const auto& [offset, bytes] : pieces) {
      feed_zeros(offset);
      archive_write_data(a_, bytes.data(), bytes.size());
      pos += bytes.size();
    }
    feed_zeros(size);
    archive_entry_free(e);
    return *this;
  }

  std::string Finish() {
    archive_write_close(a_);
    return out_;
  }

 private:
  static la_ssize_t Append(archive*, void* self, const void* data, size_t size) {
    static_cast<TarBuilder*>(self)->out_.append(static_cast<const char*>(data), size);
    return static_cast<la_ssize_t>(size);
  }
  void Check(int r, const std::string& what) {
    if (r < ARCHIVE_WARN) {
      throw std::runtime_error(what + ": " + archive_error_string(a_));
    }
  }

  archive* a_;
  std::string out_;
};

// A hand-made ustar header (for names the writer refuses to produce), followed by data.
inline std::string RawUstarEntry(const std::string& name, char type, const std::string& data,
                                 const std::string& link = "") {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(&h[100], 8, "%07o", 0644);
  std::snprintf(&h[108], 8, "%07o", 0);
  std::snprintf(&h[116], 8, "%07o", 0);
  std::snprintf(&h[124], 12, "%011o", static_cast<unsigned>(data.size()));
  std::snprintf(&h[136], 12, "%011o", 1600000000u);
  h[156] = type;
  std::memcpy(&h[157], link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  std::string out = h + data;
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}
// One pax extended-header record "<len> key=value\n" (len counts itself).
inline std::string PaxRecord(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}
inline std::string RawUstarEnd() { return std::string(1024, '\0'); }

inline std::string ReadFileAt(const std::string& path) {
  TestFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  return ReadAllFd(fd.get());
}

inline void WriteFileAt(const std::string& path, const std::string& data, mode_t mode = 0644) {
  TestFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (fd.get() < 0) throw std::runtime_error("create " + path + ": " + std::strerror(errno));
  if (write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    throw std::runtime_error("write " + path);
  }
  fchmod(fd.get(), mode);
}

inline void SetTimes(const std::string& path, time_t sec, long nsec = 0) {
  timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
    throw std::runtime_error("utimensat " + path + ": " + std::strerror(errno));
  }
}

inline struct stat Lstat(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    throw std::runtime_error("lstat " + path + ": " + std::strerror(errno));
  }
  return st;
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

inline std::string GetXattr(const std::string& path, const std::string& key) {
  char buf[4096];
  ssize_t n = lgetxattr(path.c_str(), key.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, n);
}

// Everything observable about a tree (types, modes, owners, sizes, mtimes, link counts,
// contents, link targets, xattrs), as one comparable string.
inline std::string Fingerprint(const std::string& root) {
  std::string out;
  std::vector<std::string> paths;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& p : paths) {
    struct stat st = Lstat(p);
    out += p + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
           std::to_string(st.st_gid) + " n" + std::to_string(st.st_nlink) + " t" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    if (S_ISREG(st.st_mode)) out += " =" + ReadFileAt(p);
    if (S_ISLNK(st.st_mode)) out += " ->" + std::filesystem::read_symlink(p).string();
    char names[4096];
    ssize_t n = llistxattr(p.c_str(), names, sizeof names);
    if (n > 0) out += " x" + std::string(names, n);
    out += "\n";
  }
  return out;
}

}  // namespace thinsnap::testing

#endif  // THINSNAP_TESTS_LAYERS_TREE_TEST_UTIL_H_
