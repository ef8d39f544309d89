// FileSystem: the few file operations the metadata store needs, behind an interface so that
// tests can inject faults (tests/fakes/fault_fs.h simulates power cuts that lose unsynced writes).
// PosixFileSystem is the real one. Every failure throws through ThrowErrno, naming the path.
//
// Durability model assumed by metadata/store.cc (and simulated by tests/fakes/fault_fs.h):
//   - data appended to a file is durable only after WritableFile::Sync() on it;
//   - a created, renamed or removed name is durable only after SyncDir() on its directory;
//   - Truncate() is durable when it returns.
//
// Thread-safety: PosixFileSystem is stateless and thread-safe; a WritableFile is not.
#ifndef THINSNAP_METADATA_FILE_H_
#define THINSNAP_METADATA_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace thinsnap {

// An open file that is only ever appended to. Owns its descriptor. Close() reports errors; the
// destructor closes quietly as a backstop.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual void Append(std::string_view data) = 0;
  // fdatasync: the data appended so far (and the file size) survive a power cut.
  virtual void Sync() = 0;
  virtual void Close() = 0;
};

class FileSystem {
 public:
  enum class OpenMode { kAppend, kTruncate };

  virtual ~FileSystem() = default;
  // Creates the file when absent. kAppend keeps its contents, kTruncate empties it.
  virtual std::unique_ptr<WritableFile> OpenWritable(const std::string& path, OpenMode mode) = 0;
  virtual std::string ReadFile(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Atomically replaces `to` (POSIX rename).
  virtual void Rename(const std::string& from, const std::string& to) = 0;
  // fsync on the directory: makes creations, renames and removals in it durable.
  virtual void SyncDir(const std::string& dir) = 0;
  // Removes a file; absent is not an error.
  virtual void Remove(const std::string& path) = 0;
  // Cuts the file to `size` bytes and syncs it.
  virtual void Truncate(const std::string& path, uint64_t size) = 0;
  // mkdir; an existing directory is not an error.
  virtual void CreateDir(const std::string& path) = 0;
  // A string that changes whenever the file is written, truncated or replaced (POSIX: device,
  // inode, size, mtime and ctime); "-" when it is absent. Store::DiskStamp.
  virtual std::string Identity(const std::string& path) = 0;
};

// The process-wide POSIX implementation. Never null; do not delete.
FileSystem* PosixFileSystem();

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_FILE_H_
