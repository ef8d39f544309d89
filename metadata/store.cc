#include "metadata/store.h"

#include <algorithm>
#include <functional>

#include "base/error.h"
#include "metadata/codec.h"
#include "metadata/fault.h"
#include "metadata/file.h"
#include "metadata/journal.h"

namespace thinsnap {
namespace {

[[noreturn]] void ReplayError(const std::string& what) { throw Error(what, ErrorKind::kCorrupt); }

}  // namespace

struct Store::Impl {
  std::string dir;
  FileSystem* fs = nullptr;
  StoreOptions opts;
  Catalog catalog;
  std::optional<Intent> pending;
  uint64_t checkpoint_seq = 0;    // last journal seq the checkpoint on disk covers
  uint64_t checkpoint_bytes = 0;  // the size of that checkpoint
  std::unique_ptr<JournalWriter> journal;
  std::vector<std::string> notes;
  std::string failure;  // non-empty once a write failed: the store refuses further changes

  std::string CatalogPath() const { return dir + "/catalog"; }
  std::string JournalPath() const { return dir + "/journal"; }
  uint64_t LastSeq() const { return journal ? journal->next_seq() - 1 : checkpoint_seq; }

  void CheckUsable() const {
    if (!failure.empty()) {
      throw Error("metadata store " + dir + " is unusable after an earlier failure (" + failure +
                  "); open it again");
    }
  }

  // Runs an I/O step; a failure poisons the store, then propagates unchanged.
  template <typename F>
  void Guarded(F&& step) {
    try {
      step();
    } catch (const std::exception& e) {
      failure = e.what();
      throw;
    }
  }

  void Open();
  void LoadCheckpoint();
  void ReplayJournal();
  void ApplyRecord(const JournalRecord& r);
  void Append(JournalRecord r, Sync sync = Sync::kNow);
  void WriteFileDurably(const std::string& path, std::string_view bytes);
  void ResetJournal(uint64_t next_seq);
  void Checkpoint();
  void MaybeCheckpoint() {
    if (journal->size() > std::max(opts.checkpoint_journal_bytes, checkpoint_bytes / 4)) {
      Checkpoint();
    }
  }
};

// ---- Opening ----

void Store::Impl::Open() {
  fs->CreateDir(dir);
  // Leftovers of a checkpoint interrupted before its renames: never part of the state.
  fs->Remove(CatalogPath() + ".tmp");
  fs->Remove(JournalPath() + ".tmp");
  if (!fs->Exists(CatalogPath())) {
    if (fs->Exists(JournalPath()) && !fs->ReadFile(JournalPath()).empty()) {
      throw Error(
          JournalPath() + ": journal present but the checkpoint " + CatalogPath() + " is missing",
          ErrorKind::kCorrupt);
    }
    Checkpoint();  // a new, empty store: checkpoint seq 0, empty journal
    return;
  }
  LoadCheckpoint();
  ReplayJournal();
}

void Store::Impl::LoadCheckpoint() {
  const std::string file = fs->ReadFile(CatalogPath());
  CheckpointData c = DecodeCheckpoint(file, CatalogPath());
  checkpoint_seq = c.seq;
  checkpoint_bytes = file.size();
  try {
    catalog.Load(std::move(c.devices), std::move(c.config), c.transaction_id);
  } catch (const Error& e) {
    throw e.Wrap(CatalogPath());
  }
  pending = std::move(c.pending);
}

// Applies the journal records the checkpoint does not cover. Records with seq <= checkpoint_seq
// are left from a checkpoint interrupted before its journal reset: skipped, then a new checkpoint
// finishes that reset. The first record applied must be checkpoint_seq + 1.
void Store::Impl::ReplayJournal() {
  if (!fs->Exists(JournalPath())) {  // crashed while creating a new store
    ResetJournal(checkpoint_seq + 1);
    return;
  }
  JournalContents j = ParseJournal(fs->ReadFile(JournalPath()), JournalPath());
  if (!j.note.empty()) {
    notes.push_back(j.note);
    fs->Truncate(JournalPath(), j.valid_bytes);  // never append after a torn record
  }
  size_t stale = 0;
  uint64_t last = checkpoint_seq;
  for (size_t i = 0; i < j.records.size(); ++i) {
    const JournalRecord& r = j.records[i];
    if (r.seq <= checkpoint_seq) {
      ++stale;
      continue;
    }
    const std::string where = JournalPath() + " at offset " + std::to_string(j.offsets[i]);
    if (r.seq != last + 1) {
      throw Error(where + ": record " + std::to_string(r.seq) + " but the checkpoint ends at " +
                      std::to_string(last),
                  ErrorKind::kCorrupt);
    }
    try {
      ApplyRecord(r);
    } catch (const Error& e) {
      throw e.Wrap(where);
    }
    last = r.seq;
  }
  journal = std::make_unique<JournalWriter>(
      fs->OpenWritable(JournalPath(), FileSystem::OpenMode::kAppend), last + 1, j.valid_bytes);
  if (stale > 0) {
    notes.push_back(JournalPath() + ": skipped " + std::to_string(stale) +
                    " records already in the checkpoint");
    Checkpoint();
  }
}

void Store::Impl::ApplyRecord(const JournalRecord& r) {
  const uint64_t txn = catalog.transaction_id();
  switch (r.type) {
    case RecordType::kIntent:
      if (pending)
        ReplayError("intent " + std::to_string(r.intent.txn) + " while another is pending");
      if (r.intent.txn != txn + 1) {
        ReplayError("intent " + std::to_string(r.intent.txn) + " after transaction " +
                    std::to_string(txn));
      }
      pending = r.intent;
      return;
    case RecordType::kCommit:
    case RecordType::kAbort:
      if (!pending || pending->txn != r.txn) {
        ReplayError("commit/abort of transaction " + std::to_string(r.txn) + " not pending");
      }
      if (r.type == RecordType::kCommit) {
        catalog.ApplyAll(pending->mutations);
        catalog.set_transaction_id(r.txn);
      }
      pending.reset();
      return;
    case RecordType::kUpdate:
      if (pending)
        ReplayError("update while transaction " + std::to_string(pending->txn) + " pending");
      catalog.ApplyAll(r.mutations);
      return;
  }
  ReplayError("unknown record type");
}

// ---- Writing ----

void Store::Impl::Append(JournalRecord r, Sync sync) {
  // Encoding (and its limit checks) happens before the first byte is written, so a kUsage error
  // leaves the journal untouched and the store usable.
  const std::string bytes = journal->Encode(std::move(r));
  Guarded([&] { journal->Write(bytes, sync == Sync::kNow); });
}

void Store::Impl::WriteFileDurably(const std::string& path, std::string_view bytes) {
  std::unique_ptr<WritableFile> f = fs->OpenWritable(path, FileSystem::OpenMode::kTruncate);
  f->Append(bytes);
  f->Sync();
  f->Close();
}

void Store::Impl::ResetJournal(uint64_t next_seq) {
  const std::string tmp = JournalPath() + ".tmp";
  WriteFileDurably(tmp, "");
  fs->Rename(tmp, JournalPath());
  fs->SyncDir(dir);
  journal = std::make_unique<JournalWriter>(
      fs->OpenWritable(JournalPath(), FileSystem::OpenMode::kAppend), next_seq, 0);
}

// Checkpoint protocol (also metadata/FORMAT.md "Checkpoint protocol"). S = the last journal
// sequence number; every record <= S is already applied to the in-memory state.
//   1. Write the whole state (catalog, transaction id, pending intent, S) to catalog.tmp,
//      fdatasync it, close it. A crash here leaves catalog.tmp, which Open() deletes.
//   2. rename(catalog.tmp, catalog), then fsync(dir). Until the fsync either checkpoint may be
//      found after a crash: the old one plus the old journal, or the new one plus the old
//      journal whose records are all <= S and so skipped. Both give the same state.
//   3. (fault point mid-checkpoint)
//   4. Start an empty journal: write journal.tmp empty, fdatasync, rename over journal,
//      fsync(dir). A crash before the fsync leaves the old journal (all records <= S: skipped,
//      and Open() finishes the reset) or the new empty one.
//   5. The next record appended is S + 1, only after step 4's fsync: it can never land in a
//      journal whose name is not durable.
void Store::Impl::Checkpoint() {
  CheckUsable();
  CheckpointSource c;
  c.seq = LastSeq();
  c.transaction_id = catalog.transaction_id();
  c.config = &catalog.config();
  c.device_count = catalog.size();
  c.for_each_device = [this](const std::function<void(const DeviceRecord&)>& visit) {
    catalog.ForEach(visit);
  };
  c.pending = &pending;
  const std::string bytes = EncodeCheckpoint(c);
  Guarded([&] {
    const std::string tmp = CatalogPath() + ".tmp";
    WriteFileDurably(tmp, bytes);    // step 1
    fs->Rename(tmp, CatalogPath());  // step 2
    fs->SyncDir(dir);
    checkpoint_seq = c.seq;
    checkpoint_bytes = bytes.size();
    FaultPoint("mid-checkpoint");  // step 3
    if (journal) journal->Close();
    ResetJournal(c.seq + 1);  // steps 4 and 5
  });
}

// ---- Store ----

Store::Store() : impl_(std::make_unique<Impl>()) {}
Store::~Store() = default;

std::unique_ptr<Store> Store::Open(const std::string& dir, const StoreOptions& opts) {
  std::unique_ptr<Store> s(new Store());
  s->impl_->dir = dir;
  s->impl_->opts = opts;
  s->impl_->fs = opts.fs ? opts.fs : PosixFileSystem();
  s->impl_->Open();
  return s;
}

const Catalog& Store::catalog() const { return impl_->catalog; }
const std::optional<Intent>& Store::pending() const { return impl_->pending; }
const std::vector<std::string>& Store::recovery_notes() const { return impl_->notes; }
uint64_t Store::journal_bytes() const { return impl_->journal ? impl_->journal->size() : 0; }
uint64_t Store::last_seq() const { return impl_->LastSeq(); }

std::string Store::DiskStamp() const {
  return impl_->fs->Identity(impl_->CatalogPath()) + " " +
         impl_->fs->Identity(impl_->JournalPath());
}

void Store::Begin(const Intent& intent, Sync sync) {
  Impl& s = *impl_;
  s.CheckUsable();
  if (s.pending)
    throw Error("Begin: transaction " + std::to_string(s.pending->txn) + " is pending");
  if (intent.txn != s.catalog.transaction_id() + 1) {
    throw Error("Begin: transaction " + std::to_string(intent.txn) + " does not follow " +
                std::to_string(s.catalog.transaction_id()));
  }
  s.catalog.CheckAll(intent.mutations);  // so that Commit can never fail to apply them
  s.Append(JournalRecord::MakeIntent(intent), sync);
  s.pending = intent;
  s.MaybeCheckpoint();
}

void Store::SyncJournal() {
  Impl& s = *impl_;
  s.CheckUsable();
  s.Guarded([&] { s.journal->Sync(); });
}

void Store::Commit(uint64_t txn, Sync sync) {
  Impl& s = *impl_;
  s.CheckUsable();
  if (!s.pending || s.pending->txn != txn) {
    throw Error("Commit: transaction " + std::to_string(txn) + " is not pending");
  }
  s.Append(JournalRecord::MakeCommit(txn), sync);
  s.Guarded([&] { s.catalog.ApplyAll(s.pending->mutations); });  // checked by Begin
  s.catalog.set_transaction_id(txn);
  s.pending.reset();
  s.MaybeCheckpoint();
}

void Store::Abort(uint64_t txn) {
  Impl& s = *impl_;
  s.CheckUsable();
  if (!s.pending || s.pending->txn != txn) {
    throw Error("Abort: transaction " + std::to_string(txn) + " is not pending");
  }
  s.Append(JournalRecord::MakeAbort(txn));
  s.pending.reset();
  s.MaybeCheckpoint();
}

void Store::Update(const std::vector<Mutation>& mutations, Sync sync) {
  Impl& s = *impl_;
  s.CheckUsable();
  if (s.pending) {
    throw Error("Update: transaction " + std::to_string(s.pending->txn) + " is pending");
  }
  s.catalog.CheckAll(mutations);
  s.Append(JournalRecord::MakeUpdate(mutations), sync);
  s.Guarded([&] { s.catalog.ApplyAll(mutations); });
  s.MaybeCheckpoint();
}

void Store::Checkpoint() { impl_->Checkpoint(); }

}  // namespace thinsnap
