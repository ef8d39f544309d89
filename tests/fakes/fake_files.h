// FakeFiles: kernel::Files for unit tests. Files and directories are entries in maps (a file
// has a size, no content), block devices are added by the test with a size and a signature, a
// loop device (FakeLoops) is a device over one of the files. O_DIRECT I/O goes to the thin
// devices of a FakeDeviceMapper. Deterministic.
#ifndef THINSNAP_TESTS_FAKES_FAKE_FILES_H_
#define THINSNAP_TESTS_FAKES_FAKE_FILES_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/fakes/fake_device_mapper.h"
#include "thinpool/kernel/system/files.h"

namespace thinsnap::kernel {

class FakeFiles : public virtual Files {
 public:
  explicit FakeFiles(FakeDeviceMapper* dm) : dm_(dm) {}

  bool Exists(const std::string& path) override {
    return files_.count(path) || dirs_.count(path) || host_paths.count(path);
  }
  void MakeDirs(const std::string& path) override { dirs_.insert(path); }
  void RemoveFile(const std::string& path) override { files_.erase(path); }
  void RemoveDir(const std::string& path) override { dirs_.erase(path); }
  void RenameFile(const std::string& from, const std::string& to) override;
  void CreateSparseFile(const std::string& path, uint64_t size) override;
  void GrowFile(const std::string& path, uint64_t new_size) override;
  uint64_t SizeOf(const std::string& path) override;
  bool IsBlockDevice(const std::string& path) override { return block_devices_.count(path) > 0; }
  std::vector<std::string> ProbeSignatures(const std::string& device) override;
  void CheckNotInUse(const std::string&) override {}
  void ZeroStart(const std::string& device, uint64_t) override;
  void Discard(const std::string& device) override { discarded.push_back(device); }
  // An in-memory device over FakeDeviceMapper::OpenThinDisk: writes fill whole blocks (zeros
  // around the written bytes, as a pool that zeroes new blocks), discards drop whole blocks.
  std::unique_ptr<BlockIo> OpenBlockIo(const std::string& device, bool writable) override;

  // Test hooks.
  // Called first by CreateSparseFile, AttachLoop, ZeroStart and MakeFilesystem with the
  // operation's name and path: a test throws from it to fail that step (a full disk, mkfs).
  std::function<void(const std::string& op, const std::string& path)> fault;
  // What Exists() answers for paths outside the fake's files (e.g. /dev/mapper/control).
  std::set<std::string> host_paths = {"/dev/mapper/control", "/sys/class/misc/device-mapper",
                                      "/sys/module/dm_mod"};
  void AddBlockDevice(const std::string& path, uint64_t size, std::string signature = "");
  std::vector<std::string> discarded;
  // Send/receive: the write that fails with EIO after this many succeeded (-1: none).
  int fail_write_after = -1;
  std::vector<std::string> block_io_log;  // "open /dev/mapper/x rw", "discard 0+65536", ...

  // For the other fakes.
  void Fault(const std::string& op, const std::string& path) {
    if (fault) fault(op, path);
  }
  bool HasFile(const std::string& path) const { return files_.count(path) > 0; }
  uint64_t FileSize(const std::string& path) const { return files_.at(path); }
  // `device` (a loop device) is `file` underneath: its size is the file's.
  void AddFileDevice(const std::string& device, const std::string& file) {
    file_devices_[device] = file;
  }
  void RemoveFileDevice(const std::string& device) { file_devices_.erase(device); }

 private:
  FakeDeviceMapper* dm_;
  std::map<std::string, uint64_t> files_;
  std::set<std::string> dirs_;
  std::map<std::string, uint64_t> block_devices_;
  std::map<std::string, std::string> signatures_;
  std::map<std::string, std::string> file_devices_;  // device -> file
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_FILES_H_
