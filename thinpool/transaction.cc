#include "thinpool/transaction.h"

#include <cerrno>
#include <chrono>
#include <exception>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "metadata/fault.h"
#include "thinpool/kernel/thin_status.h"

namespace thinsnap {

std::string Transactor::MessageFor(const KernelOp& op) {
  switch (op.kind) {
    case KernelOp::Kind::kCreateThin:
      return "create_thin " + std::to_string(op.id);
    case KernelOp::Kind::kCreateSnap:
      return "create_snap " + std::to_string(op.id) + " " + std::to_string(op.origin);
    case KernelOp::Kind::kDelete:
      return "delete " + std::to_string(op.id);
    case KernelOp::Kind::kNone:
      break;
  }
  return "";
}

bool Transactor::HasDeletes(const Intent& intent) {
  for (const KernelOp& op : intent.kernel_ops) {
    if (op.kind == KernelOp::Kind::kDelete) return true;
  }
  return false;
}

std::string Transactor::Describe(const Intent& intent) {
  std::ostringstream out;
  out << "transaction " << intent.txn;
  const char* sep = " (";
  for (const KernelOp& op : intent.kernel_ops) {
    if (op.kind == KernelOp::Kind::kNone) continue;
    out << sep << MessageFor(op);
    sep = ", ";
  }
  if (std::string(sep) == ", ") out << ")";
  return out.str();
}

uint64_t Transactor::KernelTransactionId() {
  kernel::PoolStatus status = kernel::ParsePoolStatus(dm_->Status(pool_, /*no_flush=*/true));
  if (status.failed) {
    throw Error("pool " + pool_ + " has failed (status Fail); run thinsnap pool check");
  }
  return status.transaction_id;
}

// A thin device whose dm device has just gone away can still be open inside the pool for a
// moment: after the last close of a device marked for deferred removal (a committed snapshot
// its client had mounted), dm tears the table down from a work queue, and until then `delete`
// fails with EBUSY. So a delete is retried on EBUSY for up to 2 s before it counts as failed.
namespace {
void SendRetryingBusyDelete(kernel::DeviceMapper* dm, const std::string& pool, const KernelOp& op) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    try {
      dm->Message(pool, Transactor::MessageFor(op));
      return;
    } catch (const Error& e) {
      if (op.kind != KernelOp::Kind::kDelete || e.error_number() != EBUSY ||
          std::chrono::steady_clock::now() >= deadline) {
        throw;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}
}  // namespace

// Sends one op. With tolerate_done (recovery), an op the kernel already did is not an error:
// EEXIST for a create, ENODATA for a delete.
void Transactor::Apply(const KernelOp& op, bool tolerate_done) {
  if (op.kind == KernelOp::Kind::kNone) return;
  try {
    SendRetryingBusyDelete(dm_, pool_, op);
  } catch (const Error& e) {
    bool done = (op.kind == KernelOp::Kind::kDelete && e.error_number() == ENODATA) ||
                (op.kind != KernelOp::Kind::kDelete && e.error_number() == EEXIST);
    if (!(tolerate_done && done)) throw;
  }
}

// Deletes the ids that the first `done` creates of `intent` may have made.
void Transactor::Undo(const Intent& intent, size_t done) {
  for (size_t i = 0; i < done && i < intent.kernel_ops.size(); ++i) {
    const KernelOp& op = intent.kernel_ops[i];
    if (op.kind == KernelOp::Kind::kNone || op.kind == KernelOp::Kind::kDelete) continue;
    Apply(KernelOp{KernelOp::Kind::kDelete, op.id, 0}, /*tolerate_done=*/true);
  }
}

void Transactor::SetKernelTransactionId(uint64_t from, uint64_t to) {
  dm_->Message(pool_, "set_transaction_id " + std::to_string(from) + " " + std::to_string(to));
}

void Transactor::Run(Intent intent, Order order) {
  uint64_t from = store_->catalog().transaction_id();
  intent.txn = from + 1;
  if (order == Order::kOverlapped) {
    if (HasDeletes(intent) || intent.kernel_ops.size() > kMaxCreatesPerIntent) {
      throw Error("an overlapped transaction holds only creates, at most " +
                  std::to_string(kMaxCreatesPerIntent));
    }
    RunOverlapped(std::move(intent), from);
    return;
  }
  store_->Begin(intent);
  FaultPoint("after-intent");
  size_t done = 0;
  try {
    for (const KernelOp& op : intent.kernel_ops) {
      ++done;  // counted before sending: a failed create may still have happened
      Apply(op, /*tolerate_done=*/false);
    }
    FaultPoint("after-kernel-op");
    SetKernelTransactionId(from, intent.txn);
  } catch (const Error& e) {
    if (!Settle(intent, from, done, e)) throw;
    return;
  }
  FaultPoint("after-set-transaction-id");
  store_->Commit(intent.txn, Sync::kDeferred);  // see "Only step 1 waits" in the header
  FaultPoint("after-commit");
}

// "Overlapped creates" in the header.
void Transactor::RunOverlapped(Intent intent, uint64_t from) {
  store_->Begin(intent, Sync::kDeferred);
  FaultPoint("after-intent");
  // The intent's fdatasync, while the kernel works. The store is not touched here until it is
  // done (Store::SyncJournal's contract).
  std::exception_ptr sync_error;
  std::thread syncer([&] {
    try {
      store_->SyncJournal();
    } catch (...) {
      sync_error = std::current_exception();
    }
  });
  size_t done = 0;
  std::exception_ptr kernel_error;
  std::optional<Error> kernel_failure;  // the kernel_error when it is one of ours
  try {
    SetKernelTransactionId(from, intent.txn);
    FaultPoint("after-set-transaction-id");
    for (const KernelOp& op : intent.kernel_ops) {
      ++done;  // counted before sending: a failed create may still have happened
      Apply(op, /*tolerate_done=*/false);
    }
    FaultPoint("after-kernel-op");
  } catch (const Error& e) {
    // EEXIST: the id belongs to a device we did not make (an orphan); never delete that one.
    if (e.error_number() == EEXIST && done > 0) --done;
    kernel_error = std::current_exception();
    kernel_failure = e;
  } catch (...) {
    kernel_error = std::current_exception();
  }
  syncer.join();
  if (kernel_error) {
    if (kernel_failure) UndoOverlapped(intent, from, done, !sync_error, *kernel_failure);
    std::rethrow_exception(kernel_error);
  }
  if (sync_error) {
    try {
      std::rethrow_exception(sync_error);
    } catch (const Error& e) {
      UndoOverlapped(intent, from, done, /*intent_durable=*/false, e);
      throw;
    }
  }
  FaultPoint("after-intent-sync");
  store_->Commit(intent.txn, Sync::kDeferred);
  FaultPoint("after-commit");
}

void Transactor::UndoOverlapped(const Intent& intent, uint64_t from, size_t done,
                                bool intent_durable, const Error& error) {
  std::optional<kernel::PoolStatus> status = StatusAfter(error);
  if (!status) return;  // the pool cannot tell us: the next open reconciles (by the header)
  uint64_t kernel_txn = status->transaction_id;
  try {
    if (kernel_txn == intent.txn) {
      // With the intent durable, the transaction id goes back first: a crash then leaves the
      // intent pending with the pool at N, which rolls back. Without it (or when it is unknown)
      // the creates go first: a crash leaves nothing pending with the pool at N+1, which rolls
      // back too. Either order repeats safely.
      if (intent_durable) SetKernelTransactionId(intent.txn, from);
      Undo(intent, done);
      if (!intent_durable) SetKernelTransactionId(intent.txn, from);
    } else if (kernel_txn != from) {
      return;  // not ours to guess: the next open refuses with a pointer to pool check
    }
    if (intent_durable) store_->Abort(intent.txn);
  } catch (const Error&) {
    // What is left is one of the recoverable states above; the next open settles it.
  }
}

std::optional<kernel::PoolStatus> Transactor::StatusAfter(const Error& error) {
  kernel::PoolStatus status;
  try {
    status = kernel::ParsePoolStatus(dm_->Status(pool_, /*no_flush=*/true));
  } catch (const Error&) {
    return std::nullopt;
  }
  if (status.failed || status.needs_check || status.mode == kernel::PoolIoMode::kReadOnly) {
    // The kernel aborted its metadata transaction and answers no more messages: nothing can be
    // undone now. The intent stays pending; pool repair reconciles it.
    throw Error(std::string(error.what()) + "; pool " + pool_ + " is now " +
                    (status.failed ? "failed" : "read-only") + ": run thinsnap pool repair",
                error.kind(), error.error_number());
  }
  return status;
}

// After a kernel error inside Run(): finds out from the pool's transaction id what really
// happened, and makes the journal say the same. Returns true when the transaction did complete
// (its reply was lost), false when it was rolled back or left pending for the next open.
bool Transactor::Settle(const Intent& intent, uint64_t from, size_t done, const Error& error) {
  std::optional<kernel::PoolStatus> status = StatusAfter(error);
  if (!status) return false;  // the pool cannot tell us: the intent stays pending for the next open
  uint64_t kernel_txn = status->transaction_id;
  if (kernel_txn == intent.txn) {
    store_->Commit(intent.txn);
    FaultPoint("after-commit");
    return true;
  }
  if (kernel_txn != from || HasDeletes(intent)) return false;  // the next open rolls forward
  // EEXIST: the id belongs to a device we did not make (an orphan); never delete that one.
  if (error.error_number() == EEXIST && done > 0) --done;
  Undo(intent, done);
  store_->Abort(intent.txn);
  return false;
}

std::string Transactor::Reconcile(const std::function<std::vector<uint32_t>()>& next_ids) {
  uint64_t kernel_txn = KernelTransactionId();
  uint64_t journal_txn = store_->catalog().transaction_id();
  std::string prefix;
  if (store_->pending() && kernel_txn == store_->pending()->txn + 1 && next_ids) {
    // N+1 is done (N+2 began after it); its commit record went with N+2's intent.
    prefix = "rolled forward " + Describe(*store_->pending()) + "; ";
    store_->Commit(store_->pending()->txn);
    journal_txn = store_->catalog().transaction_id();
  }
  const std::optional<Intent>& pending = store_->pending();
  if (!pending) {
    if (kernel_txn == journal_txn) return prefix;
    if (kernel_txn == journal_txn + 1 && next_ids) {
      // A lost overlapped intent: its creates are deleted, then the transaction id goes back.
      std::vector<uint32_t> ids = next_ids();
      Intent lost{kernel_txn, {}, {}};
      for (uint32_t id : ids) lost.kernel_ops.push_back({KernelOp::Kind::kCreateThin, id, 0});
      Undo(lost, lost.kernel_ops.size());
      SetKernelTransactionId(kernel_txn, journal_txn);
      return prefix + "rolled back transaction " + std::to_string(kernel_txn) +
             ", whose intent never reached the disk (ids " +
             (ids.empty() ? std::string("none")
                          : std::to_string(ids.front()) + ".." + std::to_string(ids.back())) +
             " deleted where present)";
    }
    throw Error("journal is at transaction " + std::to_string(journal_txn) + " but pool " + pool_ +
                    " is at " + std::to_string(kernel_txn) +
                    "; refusing to guess: run thinsnap pool check",
                ErrorKind::kCorrupt);
  }
  Intent intent = *pending;
  if (kernel_txn == intent.txn) {
    // An overlapped intent moved the transaction id before its creates: make the missing ones
    // (EEXIST: made). A first-protocol intent's creates are all made already.
    if (!HasDeletes(intent)) {
      for (const KernelOp& op : intent.kernel_ops) Apply(op, /*tolerate_done=*/true);
    }
    store_->Commit(intent.txn);
    return prefix + "rolled forward " + Describe(intent);
  }
  if (kernel_txn != journal_txn) {
    throw Error("journal has transaction " + std::to_string(intent.txn) + " pending after " +
                    std::to_string(journal_txn) + " but pool " + pool_ + " is at " +
                    std::to_string(kernel_txn) + "; refusing to guess: run thinsnap pool check",
                ErrorKind::kCorrupt);
  }
  if (HasDeletes(intent)) {
    for (const KernelOp& op : intent.kernel_ops) Apply(op, /*tolerate_done=*/true);
    SetKernelTransactionId(journal_txn, intent.txn);
    store_->Commit(intent.txn);
    return prefix + "rolled forward " + Describe(intent);
  }
  Undo(intent, intent.kernel_ops.size());
  store_->Abort(intent.txn);
  return prefix + "rolled back " + Describe(intent);
}

}  // namespace thinsnap
