#include "thinpool/layers/layer_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/error.h"
#include "thinpool/layers/tree_internal.h"

namespace thinsnap::layers {
namespace {

using tree_internal::UniqueFd;
using tree_internal::Xattrs;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr size_t kHoleBlock = 4096;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ArchiveReadFree>;

struct DigestFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// An entry name as errors show it: one that would swamp the line (a hostile tar may carry
// names of many KiB) keeps its start and end around the number of bytes cut out.
std::string ShownName(const char* name) {
  std::string s = name != nullptr ? name : "";
  if (s.size() <= 300) return s;
  return s.substr(0, 200) + "...(" + std::to_string(s.size() - 260) + " bytes)..." +
         s.substr(s.size() - 60);
}

std::string ArchiveMessage(archive* a) {
  const char* message = archive_error_string(a);
  return message != nullptr ? message : "unknown libarchive error";
}

std::string Join(const std::vector<std::string>& components, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += '/';
    out += components[i];
  }
  return out;
}

// Calls the progress callback at most once per interval.
class ProgressTicker {
 public:
  ProgressTicker(const ApplyOptions& options, const uint64_t* bytes, const uint64_t* entries)
      : options_(options), bytes_(bytes), entries_(entries) {}

  void Tick() {
    if (!options_.progress) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < options_.progress_interval) return;
    last_ = now;
    options_.progress(*bytes_, *entries_);
  }
  void Final() {
    if (options_.progress) options_.progress(*bytes_, *entries_);
  }

 private:
  const ApplyOptions& options_;
  const uint64_t* bytes_;
  const uint64_t* entries_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// SHA-256 of a byte stream on its own thread, so hashing overlaps the extraction: the digest of
// a layer costs about as much CPU as writing its files (under TCG both were ~15 s for 242 MB).
// Add() copies each chunk (the caller's buffer is only valid until its next read) into one of
// kSlots buffers and waits only when all of them are still queued.
class StreamHasher {
 public:
  StreamHasher() : md_(EVP_MD_CTX_new()) {
    if (!md_) throw Error("apply layer: out of memory");
    if (EVP_DigestInit_ex(md_.get(), EVP_sha256(), nullptr) != 1) {
      throw Error("apply layer: cannot initialise sha256");
    }
    worker_ = std::thread([this] { Work(); });
  }
  ~StreamHasher() { Stop(); }
  StreamHasher(const StreamHasher&) = delete;
  StreamHasher& operator=(const StreamHasher&) = delete;

  void Add(const void* data, size_t size) {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] { return queued_.size() < kSlots; });
    std::vector<char> chunk;
    if (!free_.empty()) {
      chunk = std::move(free_.back());
      free_.pop_back();
    }
    chunk.assign(static_cast<const char*>(data), static_cast<const char*>(data) + size);
    queued_.push_back(std::move(chunk));
    work_.notify_one();
  }

  // "sha256:<hex>" of everything added. Call once.
  std::string Finish() {
    Stop();
    if (failed_) throw Error("apply layer: sha256 update failed");
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(md_.get(), digest.data(), &length) != 1) {
      throw Error("apply layer: sha256 final failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned int i = 0; i < length; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  static constexpr size_t kSlots = 8;

  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_.wait(lock, [&] { return !queued_.empty() || done_; });
      if (queued_.empty()) return;  // done_ and nothing left
      std::vector<char> chunk = std::move(queued_.front());
      queued_.pop_front();
      lock.unlock();
      if (!failed_ && EVP_DigestUpdate(md_.get(), chunk.data(), chunk.size()) != 1) failed_ = true;
      lock.lock();
      free_.push_back(std::move(chunk));
      room_.notify_one();
    }
  }

  // Lets the worker hash what is queued, then joins it.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    work_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

  std::unique_ptr<EVP_MD_CTX, DigestFree> md_;
  std::mutex mu_;
  std::condition_variable work_, room_;
  std::deque<std::vector<char>> queued_;
  std::vector<std::vector<char>> free_;
  bool done_ = false;
  bool failed_ = false;  // written by the worker only; read after the join
  std::thread worker_;
};

// The layer's bytes after decompression. A libarchive reader in "raw" format undoes any
// compression; every byte it yields goes to the StreamHasher (hashed beside the extraction) and
// to the tar reader through Read(), so the digest covers exactly the uncompressed stream in a
// single pass. DrainRest() hashes what the tar reader leaves after its end-of-archive blocks.
class DecompressedStream {
 public:
  explicit DecompressedStream(int fd) : raw_(archive_read_new()) {
    if (!raw_) throw Error("apply layer: out of memory");
    EnableDecompressors();
    archive_read_support_format_raw(raw_.get());
    if (archive_read_open_fd(raw_.get(), fd, 1 << 16) != ARCHIVE_OK) {
      throw Error("apply layer: open input: " + ArchiveMessage(raw_.get()));
    }
    archive_entry* entry;
    int r = archive_read_next_header(raw_.get(), &entry);
    if (r == ARCHIVE_EOF) eof_ = true;
    if (r < ARCHIVE_WARN) throw Error("apply layer: decompress: " + ArchiveMessage(raw_.get()));
  }

  void set_ticker(ProgressTicker* ticker) { ticker_ = ticker; }
  const uint64_t* bytes_counter() const { return &bytes_; }
  uint64_t bytes() const { return bytes_; }
  const std::string& error() const { return error_; }

  // archive_read_callback for the tar reader.
  static la_ssize_t Read(archive*, void* self, const void** buffer) {
    return static_cast<DecompressedStream*>(self)->Next(buffer);
  }

  void DrainRest() {
    const void* buffer;
    while (Next(&buffer) > 0) {
    }
    if (!error_.empty()) throw Error("apply layer: decompress: " + error_);
  }

  std::string DiffId() { return hasher_.Finish(); }

 private:
  void EnableDecompressors() {
    // Named filters only: archive_read_support_filter_all would also allow filters that run
    // external programs on hostile input.
    archive* a = raw_.get();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_lz4(a);
  }

  la_ssize_t Next(const void** buffer) {
    for (;;) {
      if (eof_ || !error_.empty()) return error_.empty() ? 0 : -1;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(raw_.get(), buffer, &size, &offset);
      if (r == ARCHIVE_EOF) eof_ = true;
      if (r < ARCHIVE_WARN) error_ = ArchiveMessage(raw_.get());
      if (r == ARCHIVE_EOF || r < ARCHIVE_WARN || size == 0) continue;
      hasher_.Add(*buffer, size);
      bytes_ += size;
      if (ticker_ != nullptr) ticker_->Tick();
      return static_cast<la_ssize_t>(size);
    }
  }

  ReadArchive raw_;
  StreamHasher hasher_;
  ProgressTicker* ticker_ = nullptr;
  uint64_t bytes_ = 0;
  bool eof_ = false;
  std::string error_;
};

// Writes file data at given offsets into a freshly created (all-hole) file, leaving aligned
// 4 KiB blocks of zeros unwritten so they stay holes in the thin snapshot.
class SparseWriter {
 public:
  SparseWriter(int fd, const std::string& shown) : fd_(fd), shown_(shown) {}

  void Write(uint64_t offset, const char* data, size_t size) {
    const char* run = nullptr;
    uint64_t run_offset = 0;
    while (size > 0) {
      size_t chunk = std::min<uint64_t>(size, kHoleBlock - offset % kHoleBlock);
      bool hole = IsZero(data, chunk);  // the file is new: unwritten bytes read as zero
      if (hole && run != nullptr) {
        WriteAll(run_offset, run, data - run);
        run = nullptr;
      } else if (!hole && run == nullptr) {
        run = data;
        run_offset = offset;
      }
      data += chunk;
      offset += chunk;
      size -= chunk;
    }
    if (run != nullptr) WriteAll(run_offset, run, data - run);
  }

 private:
  static bool IsZero(const char* data, size_t size) {
    return data[0] == 0 && std::memcmp(data, data + 1, size - 1) == 0;
  }

  void WriteAll(uint64_t offset, const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = pwrite(fd_, data, size, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) tree_internal::ThrowErrnoAt("write", shown_, errno);
      data += n;
      offset += n;
      size -= n;
    }
  }

  int fd_;
  const std::string& shown_;
};

// Ownership, permissions, times and xattrs carried by one tar entry.
struct EntryMeta {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t perm = 0;
  std::array<timespec, 2> times{};  // atime, mtime (utimensat order)
  Xattrs xattrs;
};

EntryMeta ReadMeta(archive_entry* entry) {
  EntryMeta meta;
  meta.uid = static_cast<uid_t>(archive_entry_uid(entry));
  meta.gid = static_cast<gid_t>(archive_entry_gid(entry));
  meta.perm = archive_entry_perm(entry) & 07777;
  meta.times[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
  meta.times[0] = meta.times[1];
  if (archive_entry_atime_is_set(entry)) {
    meta.times[0] = {archive_entry_atime(entry), archive_entry_atime_nsec(entry)};
  }
  archive_entry_xattr_reset(entry);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    meta.xattrs[name] = std::string(static_cast<const char*>(value), size);
  }
  return meta;
}

// Where metadata goes: `name` inside dir_fd, or dir_fd itself when name is empty (the root).
struct Target {
  int dir_fd;
  std::string name;
  std::string shown;
};

// Attributes the kernel or the security module manages; never removed when merging a directory.
bool IsSystemXattr(const std::string& key) {
  return key.starts_with("system.") || key == "security.selinux";
}

void SetXattr(const Target& target, const std::string& key, const std::string& value) {
  int r;
  if (target.name.empty()) {
    r = fsetxattr(target.dir_fd, key.c_str(), value.data(), value.size(), 0);
  } else {
    std::string path = tree_internal::ProcPath(target.dir_fd, target.name);
    r = lsetxattr(path.c_str(), key.c_str(), value.data(), value.size(), 0);
  }
  if (r != 0) tree_internal::ThrowErrnoAt("setxattr " + key, target.shown, errno);
}

void RemoveXattr(const Target& target, const std::string& key) {
  int r;
  if (target.name.empty()) {
    r = fremovexattr(target.dir_fd, key.c_str());
  } else {
    std::string path = tree_internal::ProcPath(target.dir_fd, target.name);
    r = lremovexattr(path.c_str(), key.c_str());
  }
  if (r != 0 && errno != ENODATA) {
    tree_internal::ThrowErrnoAt("removexattr " + key, target.shown, errno);
  }
}

// Makes the target's xattrs exactly the entry's (apart from system ones) when `merge` says the
// object existed before this entry.
void ApplyXattrs(const Target& target, const EntryMeta& meta, bool merge) {
  if (merge) {
    Xattrs old = target.name.empty()
                     ? Xattrs{}
                     : tree_internal::ReadXattrs(target.dir_fd, target.name, target.shown);
    for (const auto& [key, value] : old) {
      if (!IsSystemXattr(key) && !meta.xattrs.contains(key)) RemoveXattr(target, key);
    }
  }
  for (const auto& [key, value] : meta.xattrs) SetXattr(target, key, value);
}

// chown first (it clears setuid bits and security.capability), then mode, then xattrs.
void ApplyOwnerModeXattrs(const Target& target, const EntryMeta& meta, bool is_symlink,
                          bool merge) {
  int flags = AT_SYMLINK_NOFOLLOW | (target.name.empty() ? AT_EMPTY_PATH : 0);
  if (fchownat(target.dir_fd, target.name.c_str(), meta.uid, meta.gid, flags) != 0) {
    tree_internal::ThrowErrnoAt("chown", target.shown, errno);
  }
  if (!is_symlink) {
    int r = target.name.empty() ? fchmod(target.dir_fd, meta.perm)
                                : fchmodat(target.dir_fd, target.name.c_str(), meta.perm, 0);
    if (r != 0) tree_internal::ThrowErrnoAt("chmod", target.shown, errno);
  }
  ApplyXattrs(target, meta, merge);
}

void ApplyTimes(const Target& target, const std::array<timespec, 2>& times) {
  int r = target.name.empty()
              ? futimens(target.dir_fd, times.data())
              : utimensat(target.dir_fd, target.name.c_str(), times.data(), AT_SYMLINK_NOFOLLOW);
  if (r != 0) tree_internal::ThrowErrnoAt("set times", target.shown, errno);
}

// Splits an entry name into clean components (see the header for the rules); empty means the
// root itself.
std::vector<std::string> CleanName(std::string_view name) {
  if (name.empty()) throw Error("empty entry name");
  if (name.size() > PATH_MAX) throw Error("entry name longer than PATH_MAX");
  std::vector<std::string> out;
  for (std::string& part : tree_internal::SplitPath(name)) {
    if (part == ".") continue;
    if (part == "..") {
      if (out.empty()) throw Error("refusing path that escapes the root");
      out.pop_back();
      continue;
    }
    out.push_back(std::move(part));
  }
  return out;
}

// Applies entries one at a time beneath root_dir. Owns the root fd; remembers which paths this
// tar put in place (for opaque markers) and directory mtimes to set at the end.
class LayerApplier {
 public:
  explicit LayerApplier(const std::string& root_dir)
      : root_(tree_internal::OpenTrustedDirectory(root_dir)) {}

  void Apply(archive* tar, archive_entry* entry) {
    const char* raw_name = archive_entry_pathname(entry);
    std::vector<std::string> path = CleanName(raw_name != nullptr ? raw_name : "");
    if (path.empty()) return ApplyRoot(entry);
    const std::string& leaf = path.back();
    if (leaf.starts_with(kWhiteoutPrefix)) return ApplyWhiteout(path);
    UniqueFd parent = tree_internal::WalkBeneath(root_.get(), path, path.size() - 1, true);
    Target target{parent.get(), leaf, Join(path, path.size())};
    if (archive_entry_hardlink(entry) != nullptr) {
      MakeHardlink(target, archive_entry_hardlink(entry));
    } else {
      MakeNode(tar, entry, target);
    }
    Keep(target.shown);
  }

  // Sets the directory mtimes recorded while applying (after all contents are in place).
  void Finish() {
    for (const auto& [path, times] : dir_times_) {
      std::vector<std::string> parts = tree_internal::SplitPath(path);
      if (parts.empty()) {
        ApplyTimes(Target{root_.get(), "", "/"}, times);
        continue;
      }
      UniqueFd parent = tree_internal::WalkBeneath(root_.get(), parts, parts.size() - 1, false);
      if (!parent.valid()) throw Error("set directory times " + path + ": directory vanished");
      ApplyTimes(Target{parent.get(), parts.back(), path}, times);
    }
  }

 private:
  void ApplyRoot(archive_entry* entry) {
    if (archive_entry_filetype(entry) != AE_IFDIR) {
      throw Error("refusing a non-directory entry for the root itself");
    }
    EntryMeta meta = ReadMeta(entry);
    ApplyOwnerModeXattrs(Target{root_.get(), "", "/"}, meta, false, false);
    dir_times_[""] = meta.times;
  }

  void ApplyWhiteout(const std::vector<std::string>& path) {
    const std::string& leaf = path.back();
    size_t depth = path.size() - 1;
    if (leaf == kOpaqueMarker) return MakeOpaque(path);
    if (leaf.starts_with(kWhiteoutMetaPrefix)) return;  // aufs metadata (.wh..wh..plnk etc.)
    std::string victim = leaf.substr(kWhiteoutPrefix.size());
    if (victim.empty() || victim == "." || victim == "..") {
      throw Error("refusing whiteout of \"" + victim + "\"");
    }
    UniqueFd parent = tree_internal::WalkBeneath(root_.get(), path, depth, false);
    if (!parent.valid()) return;  // nothing below to remove
    std::string shown = depth == 0 ? victim : Join(path, depth) + "/" + victim;
    ForgetDirTimes(shown);
    tree_internal::RemoveTree(parent.get(), victim, shown);
  }

  void MakeOpaque(const std::vector<std::string>& path) {
    size_t depth = path.size() - 1;
    UniqueFd dir = tree_internal::WalkBeneath(root_.get(), path, depth, true);
    std::string dir_path = Join(path, depth);
    Keep(dir_path);
    Prune(dir.get(), dir_path);
  }

  // Removes everything under dir_path not put there by this tar (nor an ancestor of such).
  void Prune(int dir_fd, const std::string& dir_path) {
    for (const std::string& name : tree_internal::ListDirectory(dir_fd, dir_path)) {
      std::string child = dir_path.empty() ? name : dir_path + "/" + name;
      if (!kept_.contains(child)) {
        ForgetDirTimes(child);
        tree_internal::RemoveTree(dir_fd, name, child);
        continue;
      }
      std::optional<struct stat> st = tree_internal::LstatAt(dir_fd, name, child);
      if (!st || !S_ISDIR(st->st_mode)) continue;
      UniqueFd sub = tree_internal::OpenChildDirectory(dir_fd, name, child);
      if (sub.valid()) Prune(sub.get(), child);
    }
  }

  // Records path and its ancestors as coming from this tar.
  void Keep(std::string path) {
    while (kept_.insert(path).second) {
      size_t slash = path.rfind('/');
      if (slash == std::string::npos) return;
      path.resize(slash);
    }
  }

  void ForgetDirTimes(const std::string& path) {
    dir_times_.erase(path);
    std::string prefix = path + "/";
    auto it = dir_times_.lower_bound(prefix);
    while (it != dir_times_.end() && it->first.starts_with(prefix)) it = dir_times_.erase(it);
  }

  // Clears the way for a new object at target; returns true if a directory was left in place
  // because the new entry is a directory too.
  bool ClearFor(const Target& target, bool new_is_dir) {
    std::optional<struct stat> st =
        tree_internal::LstatAt(target.dir_fd, target.name, target.shown);
    if (!st) return false;
    if (S_ISDIR(st->st_mode) && new_is_dir) return true;
    if (S_ISDIR(st->st_mode)) {
      ForgetDirTimes(target.shown);
      tree_internal::RemoveTree(target.dir_fd, target.name, target.shown);
    } else if (unlinkat(target.dir_fd, target.name.c_str(), 0) != 0) {
      tree_internal::ThrowErrnoAt("unlink", target.shown, errno);
    }
    return false;
  }

  void MakeNode(archive* tar, archive_entry* entry, const Target& target) {
    EntryMeta meta = ReadMeta(entry);
    mode_t type = archive_entry_filetype(entry);
    bool merged = ClearFor(target, type == AE_IFDIR);
    switch (type) {
      case AE_IFREG:
        WriteFile(tar, entry, target);
        break;
      case AE_IFDIR:
        if (!merged) MakeDirectory(target);
        break;
      case AE_IFLNK:
        MakeSymlink(entry, target);
        break;
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        MakeSpecial(entry, target, type);
        break;
      default:
        throw Error("unsupported entry type " + std::to_string(type));
    }
    ApplyOwnerModeXattrs(target, meta, type == AE_IFLNK, merged);
    if (type == AE_IFDIR) {
      dir_times_[target.shown] = meta.times;
    } else {
      ApplyTimes(target, meta.times);
    }
  }

  void WriteFile(archive* tar, archive_entry* entry, const Target& target) {
    UniqueFd fd(openat(target.dir_fd, target.name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) tree_internal::ThrowErrnoAt("create", target.shown, errno);
    SparseWriter writer(fd.get(), target.shown);
    for (;;) {
      const void* block;
      size_t size;
      la_int64_t offset;
      int r = archive_read_data_block(tar, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) throw Error("read data: " + ArchiveMessage(tar));
      writer.Write(static_cast<uint64_t>(offset), static_cast<const char*>(block), size);
    }
    if (ftruncate(fd.get(), archive_entry_size(entry)) != 0) {
      tree_internal::ThrowErrnoAt("truncate", target.shown, errno);
    }
    fd.Close(target.shown);
  }

  void MakeDirectory(const Target& target) {
    if (mkdirat(target.dir_fd, target.name.c_str(), 0700) != 0) {
      tree_internal::ThrowErrnoAt("mkdir", target.shown, errno);
    }
  }

  void MakeSymlink(archive_entry* entry, const Target& target) {
    const char* link_target = archive_entry_symlink(entry);
    if (link_target == nullptr || *link_target == '\0') throw Error("symlink without a target");
    if (symlinkat(link_target, target.dir_fd, target.name.c_str()) != 0) {
      tree_internal::ThrowErrnoAt("symlink", target.shown, errno);
    }
  }

  void MakeSpecial(archive_entry* entry, const Target& target, mode_t type) {
    dev_t dev = type == AE_IFIFO
                    ? 0
                    : makedev(archive_entry_rdevmajor(entry), archive_entry_rdevminor(entry));
    if (mknodat(target.dir_fd, target.name.c_str(), type | 0600, dev) != 0) {
      tree_internal::ThrowErrnoAt("mknod", target.shown, errno);
    }
  }

  // The hardlink target is resolved like any entry name: cleaned, beneath the root, no symlink
  // in its parents; linkat without AT_SYMLINK_FOLLOW links a symlink itself, never its target.
  void MakeHardlink(const Target& target, const char* link_name) {
    std::vector<std::string> source = CleanName(link_name);
    std::string source_shown = Join(source, source.size());
    if (source.empty()) throw Error("refusing hardlink to the root");
    if (source_shown == target.shown) return;  // a link to itself is already in place
    UniqueFd source_parent =
        tree_internal::WalkBeneath(root_.get(), source, source.size() - 1, false);
    std::optional<struct stat> st;
    if (source_parent.valid()) {
      st = tree_internal::LstatAt(source_parent.get(), source.back(), source_shown);
    }
    if (!st)
      throw Error("hardlink target " + source_shown + " does not exist", ErrorKind::kNotFound);
    if (S_ISDIR(st->st_mode)) throw Error("refusing hardlink to directory " + source_shown);
    ClearFor(target, false);
    if (linkat(source_parent.get(), source.back().c_str(), target.dir_fd, target.name.c_str(), 0) !=
        0) {
      tree_internal::ThrowErrnoAt("link " + source_shown + " to", target.shown, errno);
    }
  }

  UniqueFd root_;
  std::unordered_set<std::string> kept_;
  std::map<std::string, std::array<timespec, 2>> dir_times_;
};

ReadArchive OpenTarReader(DecompressedStream* stream) {
  ReadArchive tar(archive_read_new());
  if (!tar) throw Error("apply layer: out of memory");
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), stream, nullptr, &DecompressedStream::Read, nullptr) !=
      ARCHIVE_OK) {
    throw Error("apply layer: open tar reader: " + ArchiveMessage(tar.get()));
  }
  return tar;
}

// The reason a read failed: the decompressor's own message when it was the cause.
Error StreamError(archive* tar, const DecompressedStream& stream, const std::string& what) {
  if (!stream.error().empty()) return Error(what + ": decompress: " + stream.error());
  return Error(what + ": " + ArchiveMessage(tar));
}

}  // namespace

ApplyStats ApplyLayer(int tar_fd, const std::string& root_dir, const ApplyOptions& options) {
  LayerApplier applier(root_dir);
  DecompressedStream stream(tar_fd);
  uint64_t entries = 0;
  ProgressTicker ticker(options, stream.bytes_counter(), &entries);
  stream.set_ticker(&ticker);
  ReadArchive tar = OpenTarReader(&stream);
  for (;;) {
    archive_entry* entry;
    int r = archive_read_next_header(tar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      throw StreamError(
          tar.get(), stream,
          "apply layer: read tar header after " + std::to_string(entries) + " entries");
    }
    const char* name = archive_entry_pathname(entry);
    try {
      applier.Apply(tar.get(), entry);
    } catch (const Error& e) {
      std::string context = "layer entry \"" + ShownName(name) + "\"";
      // A failed decompression surfaces as a short read; report the decompressor's reason.
      if (!stream.error().empty()) throw Error(context + ": decompress: " + stream.error());
      throw e.Wrap(context);
    }
    ++entries;
    ticker.Tick();
  }
  applier.Finish();
  stream.DrainRest();
  ticker.Final();
  return ApplyStats{entries, stream.bytes(), stream.DiffId()};
}

}  // namespace thinsnap::layers
