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
// Overlapped creates (Order::kOverlapped): an intent of creates only, none of whose origins can
// change (no origin, or a read-only layer whose device is not live), does not wait for its
// fdatasync before the kernel works: the sync runs on another thread while the kernel does, and
// the pool's transaction id moves first, so that the pool itself records that a transaction began:
//   1. Store::Begin(intent N+1, deferred)      written, not synced; its fdatasync starts on a
//                                              worker thread                  [after-intent]
//   2. message "set_transaction_id N N+1"      [after-set-transaction-id]
//   3. the creates                             [after-kernel-op]
//   4. wait for step 1's fdatasync             [after-intent-sync]
//   5. Store::Commit(N+1), not synced          [after-commit]; only now is it acknowledged
// Nothing is acknowledged before the intent and the kernel's work are both durable, as before;
// the saving is the fdatasync overlapping steps 2-3 (and the device's activation, which follows).
// Ids are allocated deterministically, lowest free first, from the journal's state, so recovery
// knows which ids an intent lost to a power cut may have created without reading it.
//
// Recovery (Reconcile), with the pool active and intent N+1 pending in the journal:
//   kernel txn == N+1           step 3 happened (overlapped: step 2; its creates may not all
//                               have): roll forward: the creates again (EEXIST: already made;
//                               their origins cannot have changed, so one made now is the same),
//                               Commit(N+1).
//   kernel txn == N+2           intent N+1 is done and its commit record was lost with an
//                               overlapped intent N+2 to a power cut (N+2 began only after N+1
//                               was committed): Commit(N+1), then the row "nothing pending,
//                               kernel txn == N+1" below.
//   kernel txn == N, creates    step 3 did not happen: roll back: delete every id the intent
//                               creates (ENODATA: it never got made), Abort(N+1).
//   kernel txn == N, deletes    a delete may be half done and cannot be undone: roll forward:
//                               delete again (ENODATA is fine), set_transaction_id, Commit(N+1).
//   anything else               refuse: the journal and the pool disagree by more than one step;
//                               the user runs `thinsnap pool check`.
// With nothing pending the two ids must be equal, or:
//   kernel txn == N+1           an overlapped intent N+1 never reached the disk (a power cut in
//                               steps 1-4), so it was never acknowledged: roll it back: delete
//                               every id it may have created, the first kMaxCreatesPerIntent free
//                               ids (`next_ids`; ENODATA: never made), then set_transaction_id
//                               N+1 N. Deleting first keeps it repeatable after another crash.
//   anything else               refused the same way.
// An intent never mixes creates and deletes, so the direction is always clear.
#ifndef THINSNAP_THINPOOL_TRANSACTION_H_
#define THINSNAP_THINPOOL_TRANSACTION_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "metadata/records.h"
#include "metadata/store.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/thin_status.h"

namespace thinsnap {

class Transactor {
 public:
  // Borrows all three; `pool` is the dm name of the active thin-pool device.
  Transactor(Store* store, kernel::DeviceMapper* dm, std::string pool)
      : store_(store), dm_(dm), pool_(std::move(pool)) {}

  // The most creates one intent may hold (Engine::BeginContainers groups up to this many): the
  // ids recovery deletes for a lost overlapped intent.
  static constexpr size_t kMaxCreatesPerIntent = 32;

  enum class Order {
    kSyncFirst,   // steps 1-4 above: the intent is durable before the kernel is told anything
    kOverlapped,  // "Overlapped creates": only for creates whose origins cannot change
  };

  // Runs one transaction (intent.txn is filled in). On a kernel failure it asks the pool how far
  // the transaction got: when the pool reached N+1 (a lost reply) it commits and returns; when
  // it is still at N the creates already done are undone and the intent aborted before the
  // kernel's error is rethrown; deletes stay pending and are rolled forward at the next open.
  // Overlapped, a kernel failure or a failed fdatasync undoes the creates and the transaction id
  // (N+1 -> N) before the error is rethrown.
  // REQUIRES: nothing pending; `intent` holds only creates or only deletes (kOverlapped: creates,
  // at most kMaxCreatesPerIntent).
  void Run(Intent intent, Order order = Order::kSyncFirst);

  // Reads the pool's transaction id from its status.
  uint64_t KernelTransactionId();

  // Brings journal and pool into agreement as described above; returns what it did, one line
  // ("rolled back transaction 7 (create_snap 12 3)"), empty when nothing was needed.
  // `next_ids` gives the first kMaxCreatesPerIntent ids the catalog would allocate now (the ids
  // a lost overlapped intent may have created); without it that case is refused.
  std::string Reconcile(const std::function<std::vector<uint32_t>()>& next_ids = {});

  // The message text of a kernel op ("create_snap 7 3").
  static std::string MessageFor(const KernelOp& op);

 private:
  void Apply(const KernelOp& op, bool tolerate_done);
  void Undo(const Intent& intent, size_t done);
  void RunOverlapped(Intent intent, uint64_t from);
  // Overlapped: puts the kernel back at `from` after `error` (creates deleted, transaction id
  // N+1 -> N when it moved) and the journal too when it still can. Throws only what StatusAfter
  // throws.
  void UndoOverlapped(const Intent& intent, uint64_t from, size_t done, bool intent_durable,
                      const Error& error);
  // The pool's status after `error` of a transaction's kernel work; nullopt when the pool cannot
  // be asked. A pool that stopped answering (failed, read-only, needs_check) throws `error`
  // saying so, with the way out (pool repair); the intent stays pending.
  std::optional<kernel::PoolStatus> StatusAfter(const Error& error);
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
