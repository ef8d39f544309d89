#include "tests/fakes/fake_system.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

class FakeLoop : public LoopHandle {
 public:
  explicit FakeLoop(std::string path) : path_(std::move(path)) {}
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
};

}  // namespace

void FakeSystem::RenameFile(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) throw Error("rename " + from + ": no such file", ErrorKind::kNotFound);
  files_[to] = it->second;
  files_.erase(from);
}

void FakeSystem::CreateSparseFile(const std::string& path, uint64_t size) {
  if (fault) fault("CreateSparseFile", path);
  if (files_.count(path))
    throw Error("create " + path + ": File exists", ErrorKind::kExists, EEXIST);
  files_[path] = size;
}

void FakeSystem::GrowFile(const std::string& path, uint64_t new_size) {
  if (new_size < files_.at(path)) throw Error("cannot shrink " + path, ErrorKind::kUsage);
  files_[path] = new_size;
}

uint64_t FakeSystem::SizeOf(const std::string& path) {
  if (auto it = loops_.find(path); it != loops_.end()) return files_.at(it->second);
  if (auto it = block_devices_.find(path); it != block_devices_.end()) return it->second;
  if (auto it = files_.find(path); it != files_.end()) return it->second;
  throw Error("stat " + path + ": No such file or directory", ErrorKind::kNotFound, ENOENT);
}

std::vector<std::string> FakeSystem::ProbeSignatures(const std::string& device) {
  auto it = signatures_.find(device);
  if (it == signatures_.end() || it->second.empty()) return {};
  return {it->second};
}

void FakeSystem::ZeroStart(const std::string& device, uint64_t) {
  if (fault) fault("ZeroStart", device);
  signatures_.erase(device);
  dm_->WipeMetadata(device);
}

std::unique_ptr<LoopHandle> FakeSystem::AttachLoop(const std::string& file) {
  if (fault) fault("AttachLoop", file);
  if (!files_.count(file)) throw Error("attach " + file + ": no such file", ErrorKind::kNotFound);
  // The same file gets the same loop device back after a reboot, as the pool metadata that the
  // fake keeps per device path must be found again.
  auto it = loop_names_.emplace(file, "/dev/loop" + std::to_string(loop_names_.size())).first;
  std::string path = it->second;
  loops_[path] = file;
  dm_->SetDeviceSize(path, files_.at(file));
  return std::make_unique<FakeLoop>(path);
}

std::optional<std::string> FakeSystem::FindLoop(const std::string& file) {
  for (auto& [loop, backing] : loops_) {
    if (backing == file) return loop;
  }
  return std::nullopt;
}

void FakeSystem::RefreshLoopCapacity(const std::string& loop) {
  dm_->SetDeviceSize(loop, files_.at(loops_.at(loop)));
}

void FakeSystem::MakeFilesystem(const std::string& device, FsType fs,
                                const std::vector<std::string>&) {
  if (fault) fault("MakeFilesystem", device);
  filesystems_[device] = fs;
}

void FakeSystem::Mount(const std::string& device, const std::string& dir, FsType,
                       const std::string&) {
  if (mounts.count(dir)) throw Error("mount " + dir + ": busy", ErrorKind::kBusy, EBUSY);
  mounts[dir] = device;
  dm_->HoldOpen(device.substr(device.rfind('/') + 1));
}

void FakeSystem::Unmount(const std::string& dir) {
  auto it = mounts.find(dir);
  if (it == mounts.end())
    throw Error("umount " + dir + ": not mounted", ErrorKind::kFailure, EINVAL);
  dm_->CloseHold(it->second.substr(it->second.rfind('/') + 1));
  mounts.erase(it);
  shut_down.erase(dir);
  gave_up.erase(dir);
  frozen.erase(dir);
}

void FakeSystem::ShutdownFilesystem(const std::string& dir, FsType fs) {
  fs_control_calls.push_back(std::string("shutdown ") + FsTypeName(fs) + " " + dir);
  if (!mounts.count(dir))
    throw Error("shut down " + dir + ": not mounted", ErrorKind::kFailure, ENOTTY);
  if (std::exchange(fs_control_fails, false)) {
    throw Error("shut down " + dir + ": Input/output error", ErrorKind::kFailure, EIO);
  }
  shut_down.insert(dir);
}

void FakeSystem::FreezeFilesystem(const std::string& dir) {
  fs_control_calls.push_back("freeze " + dir);
  if (!mounts.count(dir))
    throw Error("freeze " + dir + ": not mounted", ErrorKind::kFailure, ENOTTY);
  if (std::exchange(fs_control_fails, false)) {
    throw Error("freeze " + dir + ": Input/output error", ErrorKind::kFailure, EIO);
  }
  frozen.insert(dir);
}

bool FakeSystem::ThawFilesystem(const std::string& dir) {
  fs_control_calls.push_back("thaw " + dir);
  return frozen.erase(dir) > 0;
}

namespace {

std::string PathOf(const std::string& key) {  // "/etc/" -> "/etc"
  return key.size() > 1 && key.back() == '/' ? key.substr(0, key.size() - 1) : key;
}

std::string DirOf(const std::string& path) {  // "/etc/passwd" -> "/etc/"
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

}  // namespace

std::vector<TreeChange> FakeSystem::DiffTrees(const std::string& lower, const std::string& upper) {
  auto tree_at = [&](const std::string& dir) {
    auto m = mounts.find(dir);
    if (m == mounts.end()) throw Error("diff: nothing mounted at " + dir, ErrorKind::kFailure);
    return trees[m->second];
  };
  Tree l = lower.empty() ? Tree{} : tree_at(lower);
  Tree u = tree_at(upper);
  std::map<std::string, ChangeKind> changes;  // by tree key
  for (const auto& [key, content] : u) {
    auto it = l.find(key);
    if (it == l.end()) {
      changes[key] = ChangeKind::kAdded;
    } else if (it->second != content) {
      changes[key] = ChangeKind::kChanged;
    }
  }
  for (const auto& [key, content] : l) {
    if (u.count(key)) continue;
    std::string dir = DirOf(PathOf(key));
    if (!dir.empty() && l.count(dir) && !u.count(dir)) continue;  // inside a deleted directory
    changes[key] = ChangeKind::kDeleted;
  }
  // A directory in both trees with a change inside it is changed too.
  for (auto c = changes; const auto& [key, kind] : c) {
    for (std::string dir = DirOf(PathOf(key)); !dir.empty(); dir = DirOf(PathOf(dir))) {
      if (l.count(dir) && u.count(dir) && !changes.count(dir)) changes[dir] = ChangeKind::kChanged;
    }
  }
  std::vector<TreeChange> out;
  for (const auto& [key, kind] : changes) out.push_back({PathOf(key), kind});
  std::sort(out.begin(), out.end(),
            [](const TreeChange& a, const TreeChange& b) { return a.path < b.path; });
  return out;
}

void FakeSystem::ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                               int out_fd) {
  auto m = mounts.find(upper);
  if (m == mounts.end()) throw Error("export: nothing mounted at " + upper, ErrorKind::kFailure);
  const Tree& u = trees[m->second];
  std::string text;
  for (const TreeChange& c : changes) {
    text += std::string(1, ChangeLetter(c.kind)) + " " + c.path;
    if (c.kind != ChangeKind::kDeleted) {
      auto it = u.find(c.path);
      if (it == u.end()) it = u.find(c.path + "/");
      if (it == u.end()) throw Error("export: " + c.path + " is not in " + upper);
      text += " " + it->second;
    }
    text += "\n";
  }
  if (::write(out_fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    ThrowErrno("export: write", errno);
  }
}

std::vector<std::string> FakeSystem::MountsOf(const std::string& device) {
  std::vector<std::string> out;
  for (auto& [dir, dev] : mounts) {
    if (dev == device) out.push_back(dir);
  }
  return out;
}

FilesystemUsage FakeSystem::UsageOf(const std::string& dir) {
  ++usage_calls;
  auto it = mounts.find(dir);
  if (it == mounts.end())
    throw Error("statvfs " + dir + ": not mounted", ErrorKind::kNotFound, ENOENT);
  uint64_t used = used_inodes[it->second.substr(it->second.rfind('/') + 1)];
  return {kFakeInodes, kFakeInodes - used, 64ull << 20, 32ull << 20};
}

ToolResult FakeSystem::ThinCheck(const std::string&) {
  return {!thin_check_fails, thin_check_fails ? "bad checksum in superblock" : ""};
}

ToolResult FakeSystem::ThinRepair(const std::string& from, const std::string& to) {
  repairs.push_back({from, to});
  return {true, ""};
}

ToolResult FakeSystem::ThinClearNeedsCheck(const std::string& metadata_device) {
  std::string dev = metadata_device;
  if (auto loop = FindLoop(metadata_device)) dev = *loop;
  dm_->SetNeedsCheck(dev, false);
  return {true, ""};
}

std::vector<ThinUsage> FakeSystem::ThinLs(const std::string& metadata_device, bool) {
  std::string dev = metadata_device;
  // Offline thin_ls on a loopback pool reads the file: answer from its loop device's metadata.
  if (auto loop = FindLoop(metadata_device)) dev = *loop;
  std::vector<ThinUsage> out;
  for (const ThinLsRow& r : dm_->ThinLs(dev)) {
    out.push_back({r.dev_id, r.mapped_blocks, r.exclusive_blocks, r.shared_blocks});
  }
  return out;
}

std::vector<DeltaRange> FakeSystem::ThinDelta(const std::string& metadata_device, uint32_t snap1,
                                              uint32_t snap2) {
  if (thin_delta_fails) throw Error("thin_delta: exit status 1: bad metadata");
  std::string dev = metadata_device;
  if (auto loop = FindLoop(metadata_device)) dev = *loop;
  return dm_->ThinDelta(dev, snap1, snap2);
}

namespace {

class FakeBlockIo : public BlockIo {
 public:
  FakeBlockIo(FakeDeviceMapper::ThinDisk disk, FakeSystem* sys, bool writable)
      : disk_(disk), sys_(sys), writable_(writable) {}

  void ReadAt(uint64_t offset, void* buf, size_t n) override {
    Check(offset, n, "read");
    auto* out = static_cast<char*>(buf);
    for (size_t done = 0; done < n;) {
      uint64_t block = (offset + done) / disk_.block_bytes;
      uint64_t in = (offset + done) % disk_.block_bytes;
      size_t k = std::min<uint64_t>(n - done, disk_.block_bytes - in);
      auto it = disk_.blocks->find(block);
      if (it == disk_.blocks->end()) {
        std::memset(out + done, 0, k);
      } else {
        std::memcpy(out + done, it->second.data() + in, k);
      }
      done += k;
    }
  }

  void WriteAt(uint64_t offset, const void* buf, size_t n) override {
    Check(offset, n, "write");
    if (!writable_) throw Error("write: read-only", ErrorKind::kFailure, EBADF);
    if (sys_->fail_write_after == 0)
      throw Error("write: Input/output error", ErrorKind::kFailure, EIO);
    if (sys_->fail_write_after > 0) --sys_->fail_write_after;
    const auto* in_bytes = static_cast<const char*>(buf);
    for (size_t done = 0; done < n;) {
      uint64_t block = (offset + done) / disk_.block_bytes;
      uint64_t in = (offset + done) % disk_.block_bytes;
      size_t k = std::min<uint64_t>(n - done, disk_.block_bytes - in);
      std::string& b = (*disk_.blocks)[block];
      if (b.empty()) b.assign(disk_.block_bytes, '\0');
      std::memcpy(b.data() + in, in_bytes + done, k);
      done += k;
    }
  }

  void Discard(uint64_t offset, uint64_t length) override {
    Check(offset, length, "discard");
    sys_->block_io_log.push_back("discard " + std::to_string(offset) + "+" +
                                 std::to_string(length));
    uint64_t first = (offset + disk_.block_bytes - 1) / disk_.block_bytes;
    uint64_t end = (offset + length) / disk_.block_bytes;
    for (uint64_t b = first; b < end; ++b) disk_.blocks->erase(b);
  }

  void Flush() override {}
  void Close() override {}
  uint64_t size() const override { return disk_.size_bytes; }

 private:
  void Check(uint64_t offset, uint64_t n, const char* op) {
    if (offset % 512 || n % 512 || offset + n > disk_.size_bytes) {
      throw Error(
          std::string(op) + ": bad range " + std::to_string(offset) + "+" + std::to_string(n),
          ErrorKind::kFailure, EINVAL);
    }
  }

  FakeDeviceMapper::ThinDisk disk_;
  FakeSystem* sys_;
  bool writable_;
};

}  // namespace

std::unique_ptr<BlockIo> FakeSystem::OpenBlockIo(const std::string& device, bool writable) {
  block_io_log.push_back("open " + device + (writable ? " rw" : " ro"));
  return std::make_unique<FakeBlockIo>(dm_->OpenThinDisk(device), this, writable);
}

void FakeSystem::RandomBytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>((++random_counter) * 37);
}

LayerApplyStats FakeSystem::ApplyLayer(int tar_fd, const std::string&,
                                       const LayerProgress& progress) {
  std::string data;
  char buf[4096];
  for (ssize_t n; (n = ::read(tar_fd, buf, sizeof buf)) > 0;) data.append(buf, n);
  if (data.find("EVIL") != std::string::npos) {
    throw Error("tar entry '../EVIL' escapes the layer root", ErrorKind::kUsage);
  }
  if (progress) progress(data.size(), 1);
  return {1, data.size(), "sha256:fake-" + std::to_string(data.size())};
}

void FakeSystem::AddBlockDevice(const std::string& path, uint64_t size, std::string signature) {
  block_devices_[path] = size;
  signatures_[path] = std::move(signature);
  dm_->SetDeviceSize(path, size);
}

void FakeSystem::Reboot() {
  loops_.clear();
  mounts.clear();
}

}  // namespace thinsnap::kernel
