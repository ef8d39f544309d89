#include "tests/fakes/fault_fs.h"

#include <cerrno>
#include <cstdint>

#include "base/error.h"

namespace thinsnap {
namespace {

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

}  // namespace

class FaultFileSystem::File final : public WritableFile {
 public:
  File(FaultFileSystem* fs, std::shared_ptr<Inode> inode, std::string path)
      : fs_(fs), inode_(std::move(inode)), path_(std::move(path)), epoch_(fs->epoch_) {}

  void Append(std::string_view data) override {
    Check("append");
    inode_->data.append(data);
    ++inode_->writes;
  }
  void Sync() override {
    Check("fdatasync");
    inode_->durable = inode_->data;
  }
  void Close() override {
    if (closed_) return;
    closed_ = true;
    Check("close");
  }

 private:
  void Check(const char* op) {
    if (epoch_ != fs_->epoch_) ThrowErrno(std::string(op) + " " + path_ + " (after crash)", EIO);
    if (closed_ && std::string(op) != "close") ThrowErrno(std::string(op) + " " + path_, EBADF);
    fs_->Step();
  }

  FaultFileSystem* fs_;
  std::shared_ptr<Inode> inode_;
  std::string path_;
  uint64_t epoch_;
  bool closed_ = false;
};

FaultFileSystem::FaultFileSystem() = default;
FaultFileSystem::~FaultFileSystem() = default;

void FaultFileSystem::Step() {
  if (!dead_ && crash_at_ >= 0 && ops_ >= crash_at_) dead_ = true;
  if (dead_) throw Error("simulated power cut", ErrorKind::kFailure, EIO);
  ++ops_;
}

std::shared_ptr<FaultFileSystem::Inode> FaultFileSystem::Lookup(const std::string& path) const {
  auto it = names_.find(path);
  return it == names_.end() ? nullptr : it->second;
}

std::unique_ptr<WritableFile> FaultFileSystem::OpenWritable(const std::string& path,
                                                            OpenMode mode) {
  Step();
  if (!dirs_.count(DirOf(path))) ThrowErrno("open " + path, ENOENT);
  std::shared_ptr<Inode> inode = Lookup(path);
  if (!inode) {
    inode = std::make_shared<Inode>();
    names_[path] = inode;
  } else if (mode == OpenMode::kTruncate) {
    inode->data.clear();
    ++inode->writes;
  }
  return std::make_unique<File>(this, inode, path);
}

std::string FaultFileSystem::ReadFile(const std::string& path) {
  if (dead_) throw Error("simulated power cut", ErrorKind::kFailure, EIO);
  std::shared_ptr<Inode> inode = Lookup(path);
  if (!inode) ThrowErrno("open " + path, ENOENT);
  return inode->data;
}

bool FaultFileSystem::Exists(const std::string& path) {
  if (dead_) throw Error("simulated power cut", ErrorKind::kFailure, EIO);
  return names_.count(path) > 0 || dirs_.count(path) > 0;
}

void FaultFileSystem::Rename(const std::string& from, const std::string& to) {
  Step();
  std::shared_ptr<Inode> inode = Lookup(from);
  if (!inode) ThrowErrno("rename " + from + " " + to, ENOENT);
  names_.erase(from);
  names_[to] = inode;
}

void FaultFileSystem::SyncDir(const std::string& dir) {
  Step();
  if (!dirs_.count(dir)) ThrowErrno("open " + dir, ENOENT);
  dirs_[dir] = true;
  for (auto it = durable_names_.begin(); it != durable_names_.end();) {
    it = DirOf(it->first) == dir ? durable_names_.erase(it) : std::next(it);
  }
  for (const auto& [path, inode] : names_) {
    if (DirOf(path) == dir) durable_names_[path] = inode;
  }
}

void FaultFileSystem::Remove(const std::string& path) {
  Step();
  names_.erase(path);
}

void FaultFileSystem::Truncate(const std::string& path, uint64_t size) {
  Step();
  std::shared_ptr<Inode> inode = Lookup(path);
  if (!inode) ThrowErrno("open " + path, ENOENT);
  inode->data.resize(size);
  inode->durable = inode->data;
  ++inode->writes;
}

std::string FaultFileSystem::Identity(const std::string& path) {
  std::shared_ptr<Inode> inode = Lookup(path);
  if (!inode) return "-";
  return std::to_string(reinterpret_cast<uintptr_t>(inode.get())) + ":" +
         std::to_string(inode->writes) + ":" + std::to_string(inode->data.size());
}

void FaultFileSystem::CreateDir(const std::string& path) {
  Step();
  // A new directory survives once its parent is synced; the tests keep it simple and treat a
  // directory as durable once created, since the store's own files are what is under test.
  dirs_.emplace(path, true);
}

void FaultFileSystem::CrashAfter(int64_t n) { crash_at_ = n < 0 ? -1 : ops_ + n; }

void FaultFileSystem::Crash(size_t keep_unsynced) {
  names_ = durable_names_;
  for (auto& [path, inode] : names_) {
    const std::string& d = inode->durable;
    std::string& cur = inode->data;
    const bool appended = cur.size() > d.size() && cur.compare(0, d.size(), d) == 0;
    if (appended && keep_unsynced > 0) {
      cur.resize(std::min(cur.size(), d.size() + keep_unsynced));
    } else {
      cur = d;
    }
    inode->durable = cur;
  }
  dead_ = false;
  crash_at_ = -1;
  ++epoch_;
}

std::string FaultFileSystem::Contents(const std::string& path) const {
  std::shared_ptr<Inode> inode = Lookup(path);
  if (!inode) throw Error("no file " + path, ErrorKind::kNotFound);
  return inode->data;
}

void FaultFileSystem::SetContents(const std::string& path, std::string data) {
  std::shared_ptr<Inode> inode = Lookup(path);
  if (!inode) {
    inode = std::make_shared<Inode>();
    names_[path] = inode;
    durable_names_[path] = inode;
  }
  inode->data = std::move(data);
  inode->durable = inode->data;
  ++inode->writes;
}

std::vector<std::string> FaultFileSystem::ListFiles() const {
  std::vector<std::string> out;
  for (const auto& [path, inode] : names_) out.push_back(path);
  return out;
}

}  // namespace thinsnap
