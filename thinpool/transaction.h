// The two-phase protocol that keeps thinsnap's journal and the pool's kernel metadata in step.
//
// Every change of the pool's thin devices is one transaction N -> N+1, where N is both the
// catalog's transaction id and the pool's kernel transaction id:
//   1. Store::Begin(intent N+1)                  journal record, fdatasync   [after-intent]
//   2. the kernel ops as pool messages           create_thin/create_snap/delete; the kernel
//                                                commits its metadata after each  [after-kernel-op]
//   3. message "set_transaction_id N N+1"        the kernel's commit point
//   [after-set-transaction-id]
//   4. Store::Commit(N+1)                        journal record, written but not synced
//                                                                            [after-commit]
// ([name] is the THINSNAP_FAULT point that kills the process right after that step.)
// Only step 1 waits for the disk. The commit record needs no fdatasync of its own: once step 3
// is done the pool's transaction id is the durable proof, and a commit record lost to a power
// cut is recreated by recovery (kernel txn == N+1: roll forward), with the same result. The next
// intent's fdatasync, or a checkpoint, makes it durable anyway. A crashed process loses nothing
// (the record is in the page cache).
//
// Recovery (Reconcile), with the pool active and intent N+1 pending in the journal:
//   kernel txn == N+1           step 3 happened: roll forward, Commit(N+1).
//   kernel txn == N, creates    step 3 did not happen: roll back: delete every id the intent
//                               creates (ENODATA: it never got made), Abort(N+1).
//   kernel txn == N, deletes    a delete may be half done and cannot be undone: roll forward:
//                               delete again (ENODATA is fine), set_transaction_id, Commit(N+1).
//   anything else               refuse: the journal and the pool disagree by more than one step;
//                               the user runs `thinsnap pool check`.
// With nothing pending the two ids must be equal, or the pool is refused the same way.
// An intent never mixes creates and deletes, so the direction is always clear.
#ifndef THINSNAP_THINPOOL_TRANSACTION_H_
#define THINSNAP_THINPOOL_TRANSACTION_H_

#include <string>

#include "base/error.h"
#include "metadata/records.h"
#include "metadata/store.h"
#include "thinpool/kernel/device_mapper.h"

namespace thinsnap {

class Transactor {
 public:
  // Borrows all three; `pool` is the dm name of the active thin-pool device.
  Transactor(Store* store, kernel::DeviceMapper* dm, std::string pool)
      : store_(store), dm_(dm), pool_(std::move(pool)) {}

  // Runs one transaction (intent.txn is filled in). On a kernel failure it asks the pool how far
  // the transaction got: when the pool reached N+1 (a lost reply) it commits and returns; when
  // it is still at N the creates already done are undone and the intent aborted before the
  // kernel's error is rethrown; deletes stay pending and are rolled forward at the next open.
  // REQUIRES: nothing pending; `intent` holds only creates or only deletes.
  void Run(Intent intent);

  // Reads the pool's transaction id from its status.
  uint64_t KernelTransactionId();

  // Brings journal and pool into agreement as described above; returns what it did, one line
  // ("rolled back transaction 7 (create_snap 12 3)"), empty when nothing was needed.
  std::string Reconcile();

  // The message text of a kernel op ("create_snap 7 3").
  static std::string MessageFor(const KernelOp& op);

 private:
  void Apply(const KernelOp& op, bool tolerate_done);
  void Undo(const Intent& intent, size_t done);
  bool Settle(const Intent& intent, uint64_t from, size_t done, const Error& error);
  void SetKernelTransactionId(uint64_t from, uint64_t to);
  static bool HasDeletes(const Intent& intent);
  std::string Describe(const Intent& intent);

  Store* store_;
  kernel::DeviceMapper* dm_;
  std::string pool_;
};

}  // namespace thinsnap

#endif  // THINSNAP_THINPOOL_TRANSACTION_H_
