// FaultFileSystem: an in-memory FileSystem for crash tests that remembers, for every file and
// every directory entry, what a reader sees now and what would survive a power cut:
//   - appended data survives only once WritableFile::Sync() ran on the file;
//   - a created, renamed or removed name survives only once SyncDir() ran on its directory;
//   - Truncate() survives at once (it syncs).
// Crash() turns the durable view into the current one, as a reboot after a power cut would
// (optionally keeping a few unsynced bytes per file, as a torn write can).
// CrashAfter(n) makes the n-th next mutating operation fail (and every one after it until
// Crash()), so a test can cut the power at every step of a workload, deterministically.
//
// Paths are plain strings; a directory is the part before the last '/'. Not thread-safe.
// Reusable by any test that opens a Store with StoreOptions{.fs = &fault_fs}.
#ifndef THINSNAP_TESTS_FAKES_FAULT_FS_H_
#define THINSNAP_TESTS_FAKES_FAULT_FS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metadata/file.h"

namespace thinsnap {

class FaultFileSystem : public FileSystem {
 public:
  FaultFileSystem();
  ~FaultFileSystem() override;

  std::unique_ptr<WritableFile> OpenWritable(const std::string& path, OpenMode mode) override;
  std::string ReadFile(const std::string& path) override;
  bool Exists(const std::string& path) override;
  void Rename(const std::string& from, const std::string& to) override;
  void SyncDir(const std::string& dir) override;
  void Remove(const std::string& path) override;
  void Truncate(const std::string& path, uint64_t size) override;
  void CreateDir(const std::string& path) override;
  std::string Identity(const std::string& path) override;

  // The n-th mutating operation from now (0 = the very next) throws Error("simulated power
  // cut"), and so does every operation after it until Crash(). n < 0 disarms.
  void CrashAfter(int64_t n);
  // Mutating operations done so far (Append, Sync, Close, OpenWritable, Rename, SyncDir, Remove,
  // Truncate, CreateDir): run a workload once to learn how many crash points it has.
  int64_t mutating_ops() const { return ops_; }
  bool dead() const { return dead_; }

  // The power cut: every name and every file reverts to its durable state; handles opened
  // before become unusable. With keep_unsynced > 0, a file whose durable content is a prefix of
  // its current content keeps up to that many of the unsynced bytes after it (a torn write).
  void Crash(size_t keep_unsynced = 0);

  // Test helpers that bypass fault injection: the current content, and replacing it (durably).
  std::string Contents(const std::string& path) const;
  void SetContents(const std::string& path, std::string data);
  std::vector<std::string> ListFiles() const;

 private:
  struct Inode {
    std::string data;     // what reads see
    std::string durable;  // what survives a crash
    uint64_t writes = 0;  // appends and truncations, for Identity()
  };
  class File;
  friend class File;

  void Step();  // counts one mutating operation, throws when the power is cut
  std::shared_ptr<Inode> Lookup(const std::string& path) const;

  std::map<std::string, std::shared_ptr<Inode>> names_;
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;
  std::map<std::string, bool> dirs_;  // dir -> durably created
  int64_t ops_ = 0;
  int64_t crash_at_ = -1;  // ops_ value at which to fail, -1 never
  bool dead_ = false;
  uint64_t epoch_ = 0;  // bumped by Crash(); stale handles compare it
};

}  // namespace thinsnap

#endif  // THINSNAP_TESTS_FAKES_FAULT_FS_H_
