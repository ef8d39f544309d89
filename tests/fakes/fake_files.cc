#include "tests/fakes/fake_files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/error.h"

namespace thinsnap::kernel {

void FakeFiles::RenameFile(const std::string& from, const std::string& to) {
  auto it = files_.find(from);
  if (it == files_.end()) throw Error("rename " + from + ": no such file", ErrorKind::kNotFound);
  files_[to] = it->second;
  files_.erase(from);
}

void FakeFiles::CreateSparseFile(const std::string& path, uint64_t size) {
  Fault("CreateSparseFile", path);
  if (files_.count(path))
    throw Error("create " + path + ": File exists", ErrorKind::kExists, EEXIST);
  files_[path] = size;
}

void FakeFiles::GrowFile(const std::string& path, uint64_t new_size) {
  if (new_size < files_.at(path)) throw Error("cannot shrink " + path, ErrorKind::kUsage);
  files_[path] = new_size;
}

uint64_t FakeFiles::SizeOf(const std::string& path) {
  if (auto it = file_devices_.find(path); it != file_devices_.end()) return files_.at(it->second);
  if (auto it = block_devices_.find(path); it != block_devices_.end()) return it->second;
  if (auto it = files_.find(path); it != files_.end()) return it->second;
  throw Error("stat " + path + ": No such file or directory", ErrorKind::kNotFound, ENOENT);
}

std::vector<std::string> FakeFiles::ProbeSignatures(const std::string& device) {
  auto it = signatures_.find(device);
  if (it == signatures_.end() || it->second.empty()) return {};
  return {it->second};
}

void FakeFiles::ZeroStart(const std::string& device, uint64_t) {
  Fault("ZeroStart", device);
  signatures_.erase(device);
  dm_->WipeMetadata(device);
}

namespace {

class FakeBlockIo : public BlockIo {
 public:
  FakeBlockIo(FakeDeviceMapper::ThinDisk disk, FakeFiles* files, bool writable)
      : disk_(disk), files_(files), writable_(writable) {}

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
    if (files_->fail_write_after == 0)
      throw Error("write: Input/output error", ErrorKind::kFailure, EIO);
    if (files_->fail_write_after > 0) --files_->fail_write_after;
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
    files_->block_io_log.push_back("discard " + std::to_string(offset) + "+" +
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
  FakeFiles* files_;
  bool writable_;
};

}  // namespace

std::unique_ptr<BlockIo> FakeFiles::OpenBlockIo(const std::string& device, bool writable) {
  block_io_log.push_back("open " + device + (writable ? " rw" : " ro"));
  return std::make_unique<FakeBlockIo>(dm_->OpenThinDisk(device), this, writable);
}

void FakeFiles::AddBlockDevice(const std::string& path, uint64_t size, std::string signature) {
  block_devices_[path] = size;
  signatures_[path] = std::move(signature);
  dm_->SetDeviceSize(path, size);
}

}  // namespace thinsnap::kernel
