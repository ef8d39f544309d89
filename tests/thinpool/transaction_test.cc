// Transactor on its own: one Store and a FakeDeviceMapper pool, no engine. Each case checks both
// sides of the protocol (thinpool/transaction.h): the pool's thin ids and transaction id, and the
// journal's catalog, transaction id and pending intent, also after reopening the store.
#include "thinpool/transaction.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fault_fs.h"
#include "thinpool/kernel/dm_tables.h"
#include "thinpool/kernel/thin_status.h"

namespace thinsnap {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeOp;
using kernel::InjectedFailure;

constexpr char kPool[] = "pool";
constexpr char kMeta[] = "meta";

class TransactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-transaction-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    store_ = Store::Open(dir_);
    dm_.Create(kPool, {kernel::ThinPoolTable(kMeta, "data", 1000 * 128, 128, 10)},
               kernel::CreateOptions{});
  }
  void TearDown() override {
    store_.reset();
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  Transactor T() { return Transactor(store_.get(), &dm_, kPool); }
  uint64_t KernelTxn() { return *dm_.TransactionId(kMeta); }
  std::vector<uint32_t> KernelIds() { return dm_.ThinIds(kMeta); }
  void Reopen() {
    store_.reset();
    store_ = Store::Open(dir_);
  }

  static Intent Create(uint32_t id, const std::string& name) {
    DeviceRecord d;
    d.id = id;
    d.name = name;
    return Intent{0, {{KernelOp::Kind::kCreateThin, id, 0}}, {Mutation::Put(d)}};
  }
  static Intent Snapshot(uint32_t id, uint32_t origin, const std::string& name) {
    DeviceRecord d;
    d.id = id;
    d.name = name;
    d.parent_id = origin;
    return Intent{0, {{KernelOp::Kind::kCreateSnap, id, origin}}, {Mutation::Put(d)}};
  }
  static Intent Delete(uint32_t id) {
    return Intent{0, {{KernelOp::Kind::kDelete, id, 0}}, {Mutation::Delete(id)}};
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  FakeDeviceMapper dm_;
};

TEST_F(TransactorTest, RunCommitsBothSides) {
  T().Run(Create(1, "a"));
  T().Run(Snapshot(2, 1, "b"));
  EXPECT_EQ(KernelIds(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(KernelTxn(), 2u);
  EXPECT_EQ(store_->catalog().transaction_id(), 2u);
  EXPECT_FALSE(store_->pending().has_value());
  ASSERT_NE(store_->catalog().FindByName("b"), nullptr);
  EXPECT_EQ(store_->catalog().FindByName("b")->parent_id, 1u);
  T().Run(Delete(1));
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{2});
  Reopen();  // the deferred commit record was written
  EXPECT_EQ(store_->catalog().transaction_id(), 3u);
  EXPECT_EQ(store_->catalog().FindById(1), nullptr);
  EXPECT_EQ(T().Reconcile(), "");
}

TEST_F(TransactorTest, AFailedCreateIsRolledBackAndRethrown) {
  T().Run(Create(1, "a"));
  dm_.InjectFailure({FakeOp::kMessage, 1, ENOSPC, kPool, "create_snap"});
  try {
    T().Run(Snapshot(2, 1, "b"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.error_number(), ENOSPC);
  }
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
  EXPECT_EQ(KernelTxn(), 1u);
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);
  EXPECT_FALSE(store_->pending().has_value());  // aborted
  EXPECT_EQ(store_->catalog().FindByName("b"), nullptr);
  Reopen();
  EXPECT_FALSE(store_->pending().has_value());
  EXPECT_EQ(T().Reconcile(), "");
}

TEST_F(TransactorTest, ACreateWhoseSetTransactionIdFailedIsUndoneInTheKernel) {
  dm_.InjectFailure({FakeOp::kMessage, 1, EIO, kPool, "set_transaction_id"});
  EXPECT_THROW(T().Run(Create(1, "a")), Error);
  EXPECT_TRUE(KernelIds().empty());  // create_thin happened and was deleted again
  EXPECT_EQ(KernelTxn(), 0u);
  EXPECT_FALSE(store_->pending().has_value());
}

TEST_F(TransactorTest, ALostReplyCommits) {
  InjectedFailure lost{FakeOp::kMessage, 1, EIO, kPool, "set_transaction_id"};
  lost.after_effect = true;
  dm_.InjectFailure(lost);
  T().Run(Create(1, "a"));  // the pool reached N+1: success, no error
  EXPECT_EQ(KernelTxn(), 1u);
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);
  EXPECT_FALSE(store_->pending().has_value());
  EXPECT_NE(store_->catalog().FindByName("a"), nullptr);
}

TEST_F(TransactorTest, AFailedDeleteStaysPendingAndReconcileRollsItForward) {
  T().Run(Create(1, "a"));
  InjectedFailure lost{FakeOp::kMessage, 1, EIO, kPool, "delete"};
  lost.after_effect = true;  // the kernel deleted it, the reply was lost
  dm_.InjectFailure(lost);
  EXPECT_THROW(T().Run(Delete(1)), Error);
  EXPECT_TRUE(KernelIds().empty());
  ASSERT_TRUE(store_->pending().has_value());
  EXPECT_EQ(store_->pending()->txn, 2u);
  Reopen();
  EXPECT_EQ(T().Reconcile(), "rolled forward transaction 2 (delete 1)");
  EXPECT_EQ(KernelTxn(), 2u);
  EXPECT_EQ(store_->catalog().transaction_id(), 2u);
  EXPECT_EQ(store_->catalog().FindById(1), nullptr);
}

TEST_F(TransactorTest, ReconcileRollsAPendingCreateBackOrForward) {
  // Crash after the kernel op, before set_transaction_id: back.
  Intent back = Create(1, "a");
  back.txn = 1;
  store_->Begin(back);
  dm_.Message(kPool, "create_thin 1");
  Reopen();
  EXPECT_EQ(T().Reconcile(), "rolled back transaction 1 (create_thin 1)");
  EXPECT_TRUE(KernelIds().empty());
  EXPECT_FALSE(store_->pending().has_value());
  EXPECT_EQ(store_->catalog().transaction_id(), 0u);

  // Crash after set_transaction_id, before the commit record: forward.
  Intent forward = Create(1, "a");
  forward.txn = 1;
  store_->Begin(forward);
  dm_.Message(kPool, "create_thin 1");
  dm_.Message(kPool, "set_transaction_id 0 1");
  Reopen();
  EXPECT_EQ(T().Reconcile(), "rolled forward transaction 1 (create_thin 1)");
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);
  EXPECT_NE(store_->catalog().FindByName("a"), nullptr);
}

TEST_F(TransactorTest, ReconcileRefusesToGuess) {
  T().Run(Create(1, "a"));
  dm_.Message(kPool, "set_transaction_id 1 5");  // someone else moved the pool on
  try {
    T().Reconcile();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("journal is at transaction 1 but pool pool is at 5"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);  // nothing changed
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
}

// --- overlapped creates (transaction.h "Overlapped creates"), with power cuts ---

class OverlapTest : public TransactorTest {
 protected:
  void SetUp() override {
    TransactorTest::SetUp();
    store_.reset();
    Open();
  }
  void Open() {
    StoreOptions o;
    o.fs = &fs_;
    store_ = Store::Open(dir_, o);
  }
  void PowerCut() {
    store_.reset();
    fs_.CrashAfter(-1);
    fs_.Crash();
    Open();
  }
  static std::vector<uint32_t> Next() { return {1, 2, 3}; }  // what the engine would allocate
  // Steps 1-3 of an overlapped create of `id` from transaction `from`, then the power cut before
  // the intent's fdatasync: the intent is lost, the kernel's work is not.
  void LoseOverlappedCreate(uint32_t id, const std::string& name, uint64_t from) {
    Intent lost = Create(id, name);
    lost.txn = from + 1;
    store_->Begin(lost, Sync::kDeferred);
    dm_.Message(kPool,
                "set_transaction_id " + std::to_string(from) + " " + std::to_string(from + 1));
    dm_.Message(kPool, "create_thin " + std::to_string(id));
    PowerCut();
  }
  // One intent holding both intents' creates and records.
  static Intent Both(Intent a, const Intent& b) {
    a.kernel_ops.insert(a.kernel_ops.end(), b.kernel_ops.begin(), b.kernel_ops.end());
    a.mutations.insert(a.mutations.end(), b.mutations.begin(), b.mutations.end());
    return a;
  }
  FaultFileSystem fs_;
};

TEST_F(OverlapTest, RunMovesTheTransactionIdFirstAndCommitsBothSides) {
  T().Run(Create(1, "a"), Transactor::Order::kOverlapped);
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
  EXPECT_EQ(KernelTxn(), 1u);
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);
  EXPECT_FALSE(store_->pending().has_value());
  PowerCut();  // the commit record is not synced; the intent is
  EXPECT_EQ(T().Reconcile(Next), "rolled forward transaction 1 (create_thin 1)");
  EXPECT_NE(store_->catalog().FindByName("a"), nullptr);
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
}

TEST_F(OverlapTest, AnIntentLostToAPowerCutIsRolledBackByTheIdsItWouldHaveTaken) {
  LoseOverlappedCreate(1, "a", 0);
  EXPECT_FALSE(store_->pending().has_value());
  EXPECT_THROW(T().Reconcile(), Error);  // without the ids it refuses, as before
  EXPECT_EQ(T().Reconcile(Next),
            "rolled back transaction 1, whose intent never reached the disk (ids 1..3 deleted "
            "where present)");
  EXPECT_TRUE(KernelIds().empty());
  EXPECT_EQ(KernelTxn(), 0u);
  EXPECT_EQ(T().Reconcile(Next), "");
  T().Run(Create(1, "a"), Transactor::Order::kOverlapped);  // the id is free again
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
}

TEST_F(OverlapTest, APendingIntentWhoseCreatesDidNotAllHappenIsRolledForward) {
  Intent half = Both(Create(1, "a"), Create(2, "b"));
  half.txn = 1;
  store_->Begin(half);  // synced: the fdatasync finished before the crash
  dm_.Message(kPool, "set_transaction_id 0 1");
  dm_.Message(kPool, "create_thin 1");  // the second create never ran
  PowerCut();
  EXPECT_EQ(T().Reconcile(Next), "rolled forward transaction 1 (create_thin 1, create_thin 2)");
  EXPECT_EQ(KernelIds(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);
}

TEST_F(OverlapTest, ACommitLostWithTheNextOverlappedIntentIsRolledForwardThenThatOneBack) {
  T().Run(Create(1, "a"));  // first protocol: intent synced, commit record not
  LoseOverlappedCreate(2, "b", 1);
  ASSERT_TRUE(store_->pending().has_value());
  EXPECT_EQ(store_->pending()->txn, 1u);
  auto next = [] { return std::vector<uint32_t>{2, 3}; };
  EXPECT_EQ(T().Reconcile(next),
            "rolled forward transaction 1 (create_thin 1); rolled back transaction 2, whose "
            "intent never reached the disk (ids 2..3 deleted where present)");
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
  EXPECT_EQ(KernelTxn(), 1u);
  EXPECT_NE(store_->catalog().FindByName("a"), nullptr);
  EXPECT_EQ(store_->catalog().FindByName("b"), nullptr);
}

TEST_F(OverlapTest, AKernelFailureUndoesTheTransactionIdAndTheCreates) {
  T().Run(Create(1, "a"), Transactor::Order::kOverlapped);
  Intent two = Both(Snapshot(2, 1, "b"), Snapshot(3, 1, "c"));
  InjectedFailure f;
  f.message_prefix = "create_snap";
  f.nth = 2;
  f.err = ENOSPC;
  dm_.InjectFailure(f);
  EXPECT_THROW(T().Run(two, Transactor::Order::kOverlapped), Error);
  EXPECT_EQ(KernelIds(), std::vector<uint32_t>{1});
  EXPECT_EQ(KernelTxn(), 1u);
  EXPECT_EQ(store_->catalog().transaction_id(), 1u);
  EXPECT_FALSE(store_->pending().has_value());
  PowerCut();
  EXPECT_EQ(T().Reconcile(Next), "");
}

TEST_F(OverlapTest, APoolThatStopsAnsweringSaysSoAndLeavesTheIntentForRepair) {
  InjectedFailure f;
  f.message_prefix = "create_thin";
  f.err = EOPNOTSUPP;
  f.then_needs_check = true;  // the kernel aborted its metadata transaction
  dm_.InjectFailure(f);
  try {
    T().Run(Create(1, "a"), Transactor::Order::kOverlapped);
    FAIL() << "the create succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is now read-only: run thinsnap pool repair"),
              std::string::npos)
        << e.what();
  }
  ASSERT_TRUE(store_->pending().has_value());
  EXPECT_EQ(store_->pending()->txn, 1u);
}

TEST_F(OverlapTest, APowerCutAtEveryStoreStepLeavesBeforeOrAfter) {
  for (int64_t cut = 0;; ++cut) {
    TearDown();
    dm_.Remove(kPool, kernel::RemoveOptions{});
    dm_.WipeMetadata(kMeta);
    SetUp();
    T().Run(Create(1, "a"), Transactor::Order::kOverlapped);
    fs_.CrashAfter(cut);
    bool threw = false;
    try {
      T().Run(Snapshot(2, 1, "b"), Transactor::Order::kOverlapped);
    } catch (const Error&) {
      threw = true;
    }
    if (!threw) {
      EXPECT_GE(cut, 2) << "the transaction should have store steps to cut";
      break;
    }
    PowerCut();
    T().Reconcile([] { return std::vector<uint32_t>{2, 3}; });
    bool after = store_->catalog().FindByName("b") != nullptr;
    EXPECT_EQ(KernelIds(), after ? (std::vector<uint32_t>{1, 2}) : std::vector<uint32_t>{1})
        << "cut " << cut;
    EXPECT_EQ(KernelTxn(), store_->catalog().transaction_id()) << "cut " << cut;
    EXPECT_FALSE(store_->pending().has_value());
  }
}

TEST(Transactor, MessagesAreTheKernels) {
  EXPECT_EQ(Transactor::MessageFor({KernelOp::Kind::kCreateThin, 7, 0}), "create_thin 7");
  EXPECT_EQ(Transactor::MessageFor({KernelOp::Kind::kCreateSnap, 7, 3}), "create_snap 7 3");
  EXPECT_EQ(Transactor::MessageFor({KernelOp::Kind::kDelete, 7, 0}), "delete 7");
  EXPECT_EQ(Transactor::MessageFor({KernelOp::Kind::kNone, 7, 0}), "");
}

}  // namespace
}  // namespace thinsnap
