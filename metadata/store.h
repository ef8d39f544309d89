// Store: thinsnap's crash-safe metadata in one directory: a checkpoint file (the whole catalog)
// plus an append-only journal of changes since, both described in metadata/FORMAT.md.
//
// Durability: every mutating call returns only after its record is on disk (fdatasync), unless
// it is passed Sync::kDeferred: then the record is written (a crashed process loses nothing) and
// reaches the disk with the next synced record or checkpoint; a power cut may lose it. A kernel
// transaction is Begin(intent N+1) -> kernel op -> set_transaction_id N N+1 -> Commit(N+1); the
// engine's thinpool/transaction.h drives it and reconciles a pending intent with the kernel,
// which is why its commits can be deferred (the pool's transaction id is the durable record).
//
// Errors: a REQUIRES violated throws Error(kFailure) and changes nothing; mutations that break a
// catalog invariant throw Error(kCorrupt) before anything is written; a limit of the format
// (metadata/codec.h) throws Error(kUsage) before anything is written. A failed write or sync
// throws the I/O error and leaves the Store unusable (every later change throws): what reached
// the disk is unknown until the store is opened again.
//
// Files: <dir>/catalog (checkpoint) and <dir>/journal; <dir>/*.tmp are leftovers of an
// interrupted checkpoint, removed by Open().
//
// Thread-safety: none (but SyncJournal); one process at a time, under metadata/lock.h's RootLock.
#ifndef THINSNAP_METADATA_STORE_H_
#define THINSNAP_METADATA_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metadata/catalog.h"
#include "metadata/records.h"

namespace thinsnap {

class FileSystem;  // metadata/file.h: the file operations, replaceable by a fault injector

// Whether a journal record is fdatasynced before the call returns (see "Durability" above).
enum class Sync { kNow, kDeferred };

struct StoreOptions {
  FileSystem* fs = nullptr;  // nullptr: the real POSIX file system
  // Checkpoint automatically once the journal grows past this many bytes. Opening replays the
  // journal, which costs ~5x more per device than loading a checkpoint (a create is an intent
  // and a commit record): with 10,000 devices a 1.3 MiB journal opened in 62 ms on the host,
  // their 540 KiB checkpoint in 12 ms. Every thinsnap command opens the store, so the journal
  // is kept short; a checkpoint every 256 KiB of journal (~1,900 creates) costs little. A large
  // catalog raises the bound to a quarter of its checkpoint's size: a checkpoint rewrites every
  // record, so a fixed bound made its cost per create grow with the catalog (11 MiB rewritten
  // every ~1,900 creates at 100,000 devices); a quarter keeps it constant, and keeps an open's
  // replay below about half the checkpoint's own load time.
  uint64_t checkpoint_journal_bytes = 256 << 10;
};

class Store {
 public:
  // Opens the metadata in `dir`, creating an empty store when there is none: loads the
  // checkpoint, replays the journal, cuts a torn tail (noted in recovery_notes()). Damage before
  // the tail throws Error(kCorrupt) naming the file and the byte offset.
  static std::unique_ptr<Store> Open(const std::string& dir, const StoreOptions& opts = {});
  virtual ~Store();

  const Catalog& catalog() const;
  // The intent with no commit or abort after it (left by a crash, or begun by Begin()).
  const std::optional<Intent>& pending() const;

  // REQUIRES: !pending() and intent.txn == catalog().transaction_id() + 1. With Sync::kDeferred
  // the intent is written but not synced: the caller runs SyncJournal() before acting on it
  // (thinpool/transaction.h, "Overlapped creates").
  void Begin(const Intent& intent, Sync sync = Sync::kNow);
  // fdatasyncs every record written so far. The one call that may run on another thread, while
  // the owner makes no other call of this Store (the owner waits for it before its next one).
  void SyncJournal();
  // REQUIRES: pending()->txn == txn. Applies its mutations and sets the transaction id to txn.
  void Commit(uint64_t txn, Sync sync = Sync::kNow);
  // REQUIRES: pending()->txn == txn. Forgets the intent (the kernel side was rolled back).
  void Abort(uint64_t txn);
  // A change with no kernel side (mountpoint, labels, config). REQUIRES: !pending().
  void Update(const std::vector<Mutation>& mutations, Sync sync = Sync::kNow);
  // Writes the whole catalog to a new checkpoint and starts an empty journal.
  void Checkpoint();

  // The identity of the store's files on disk (device, inode, size, mtime and ctime of the
  // checkpoint and the journal): it changes with every record any process writes, so a holder
  // that let the root's lock go can tell, once it has the lock again, whether its catalog in
  // memory is still the store's (EngineHost). Equal stamps: nothing was written. A journal
  // inode cannot be reused meanwhile, as this Store keeps its journal open.
  std::string DiskStamp() const;

  // What Open() had to repair, one line each ("journal: cut 37 torn bytes at offset 4096").
  const std::vector<std::string>& recovery_notes() const;

  // The journal's current length in bytes, and the sequence number of the last record written
  // (or covered by the checkpoint). For tests, `pool status` and benchmarks.
  uint64_t journal_bytes() const;
  uint64_t last_seq() const;

 private:
  Store();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_STORE_H_
