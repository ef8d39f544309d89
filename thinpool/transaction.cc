#include "thinpool/transaction.h"

#include <cerrno>
#include <chrono>
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

void Transactor::Run(Intent intent) {
  uint64_t from = store_->catalog().transaction_id();
  intent.txn = from + 1;
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

// After a kernel error inside Run(): finds out from the pool's transaction id what really
// happened, and makes the journal say the same. Returns true when the transaction did complete
// (its reply was lost), false when it was rolled back or left pending for the next open.
bool Transactor::Settle(const Intent& intent, uint64_t from, size_t done, const Error& error) {
  kernel::PoolStatus status;
  try {
    status = kernel::ParsePoolStatus(dm_->Status(pool_, /*no_flush=*/true));
  } catch (const Error&) {
    return false;  // the pool cannot tell us: the intent stays pending for the next open
  }
  if (status.failed || status.needs_check || status.mode == kernel::PoolIoMode::kReadOnly) {
    // The kernel aborted its metadata transaction and answers no more messages: nothing can be
    // undone now. The intent stays pending; pool repair reconciles it.
    throw Error(std::string(error.what()) + "; pool " + pool_ + " is now " +
                    (status.failed ? "failed" : "read-only") + ": run thinsnap pool repair",
                error.kind(), error.error_number());
  }
  uint64_t kernel_txn = status.transaction_id;
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

std::string Transactor::Reconcile() {
  uint64_t kernel_txn = KernelTransactionId();
  uint64_t journal_txn = store_->catalog().transaction_id();
  const std::optional<Intent>& pending = store_->pending();
  if (!pending) {
    if (kernel_txn == journal_txn) return "";
    throw Error("journal is at transaction " + std::to_string(journal_txn) + " but pool " + pool_ +
                    " is at " + std::to_string(kernel_txn) +
                    "; refusing to guess: run thinsnap pool check",
                ErrorKind::kCorrupt);
  }
  Intent intent = *pending;
  if (kernel_txn == intent.txn) {
    store_->Commit(intent.txn);
    return "rolled forward " + Describe(intent);
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
    return "rolled forward " + Describe(intent);
  }
  Undo(intent, intent.kernel_ops.size());
  store_->Abort(intent.txn);
  return "rolled back " + Describe(intent);
}

}  // namespace thinsnap
