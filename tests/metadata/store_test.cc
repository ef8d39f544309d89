#include "metadata/store.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>

#include "base/error.h"
#include "metadata/codec.h"
#include "metadata/file.h"
#include "metadata/journal.h"
#include "tests/fakes/fault_fs.h"
#include "tests/metadata/metadata_test_util.h"

namespace thinsnap {
namespace {

using testing::SampleDevice;
using testing::ScratchDir;

constexpr char kDir[] = "/meta";

struct MemStore {
  FaultFileSystem fs;
  StoreOptions opts;
  MemStore() {
    opts.fs = &fs;
    fs.CreateDir("/");
  }
  std::unique_ptr<Store> Open() { return Store::Open(kDir, opts); }
};

Intent CreateIntent(uint64_t txn, uint32_t id, const std::string& name) {
  return Intent{
      txn, {{KernelOp::Kind::kCreateThin, id, 0}}, {Mutation::Put(SampleDevice(id, name))}};
}

TEST(Store, NewStoreIsEmptyAndDurable) {
  MemStore m;
  {
    auto s = m.Open();
    EXPECT_EQ(s->catalog().size(), 0u);
    EXPECT_EQ(s->catalog().transaction_id(), 0u);
    EXPECT_FALSE(s->pending());
  }
  m.fs.Crash();
  auto s = m.Open();
  EXPECT_TRUE(m.fs.Exists("/meta/catalog"));
  EXPECT_TRUE(m.fs.Exists("/meta/journal"));
  EXPECT_TRUE(s->recovery_notes().empty());
}

TEST(Store, CommittedTransactionsAndUpdatesSurviveReopen) {
  MemStore m;
  {
    auto s = m.Open();
    s->Begin(CreateIntent(1, 0, "base"));
    EXPECT_EQ(s->catalog().size(), 0u);  // not applied before commit
    s->Commit(1);
    DeviceRecord d = *s->catalog().FindById(0);
    d.mountpoint = "/mnt/base";
    s->Update({Mutation::Put(d), Mutation::SetConfig("fs", "xfs")});
    s->Begin(CreateIntent(2, 1, "aborted"));
    s->Abort(2);
    EXPECT_EQ(s->catalog().transaction_id(), 1u);
  }
  auto s = m.Open();
  EXPECT_EQ(s->catalog().transaction_id(), 1u);
  EXPECT_EQ(s->catalog().size(), 1u);
  EXPECT_EQ(s->catalog().FindByName("base")->mountpoint, "/mnt/base");
  EXPECT_EQ(s->catalog().config().at("fs"), "xfs");
  EXPECT_FALSE(s->pending());
  EXPECT_EQ(s->last_seq(), 5u);  // begin, commit, update, begin, abort
}

// What another process's writes do to DiskStamp(): seen by a Store that kept its catalog.
void ExpectStampFollowsOtherWriters(const std::function<std::unique_ptr<Store>()>& open) {
  auto holder = open();
  std::string stamp = holder->DiskStamp();
  EXPECT_EQ(open()->DiskStamp(), stamp);  // opening and reading writes nothing
  EXPECT_EQ(holder->DiskStamp(), stamp);
  {
    auto other = open();
    other->Begin(CreateIntent(1, 0, "base"));
    other->Commit(1, Sync::kDeferred);  // written, not yet synced: seen all the same
  }
  EXPECT_NE(holder->DiskStamp(), stamp);
  auto reread = open();
  stamp = reread->DiskStamp();
  reread->Checkpoint();  // a new catalog and an empty journal, by rename
  EXPECT_NE(reread->DiskStamp(), stamp);
  stamp = reread->DiskStamp();
  DeviceRecord d = *reread->catalog().FindById(0);
  d.mountpoint = "/mnt/base";
  reread->Update({Mutation::Put(d)});
  EXPECT_NE(reread->DiskStamp(), stamp);
}

TEST(Store, DiskStampChangesWithEveryWriteOfAnyHolder) {
  MemStore m;
  ExpectStampFollowsOtherWriters([&] { return m.Open(); });
  ScratchDir dir;
  ExpectStampFollowsOtherWriters([&] { return Store::Open(dir.path()); });
}

TEST(Store, PendingIntentSurvivesReopenAndCheckpoint) {
  MemStore m;
  const Intent intent = CreateIntent(1, 0, "base");
  {
    auto s = m.Open();
    s->Begin(intent);
  }
  {
    auto s = m.Open();
    ASSERT_TRUE(s->pending());
    EXPECT_EQ(*s->pending(), intent);
    s->Checkpoint();
  }
  auto s = m.Open();
  ASSERT_TRUE(s->pending());
  EXPECT_EQ(*s->pending(), intent);
  s->Commit(1);
  EXPECT_EQ(s->catalog().FindById(0)->name, "base");
}

TEST(Store, RequiresAreCheckedAndChangeNothing) {
  MemStore m;
  auto s = m.Open();
  EXPECT_THROW(s->Begin(CreateIntent(2, 0, "x")), Error);  // txn must be 1
  EXPECT_THROW(s->Commit(1), Error);
  EXPECT_THROW(s->Abort(1), Error);
  s->Begin(CreateIntent(1, 0, "base"));
  EXPECT_THROW(s->Begin(CreateIntent(1, 1, "y")), Error);
  EXPECT_THROW(s->Update({Mutation::SetConfig("a", "b")}), Error);
  EXPECT_THROW(s->Commit(2), Error);
  s->Commit(1);
  // A mutation that breaks an invariant is refused before it is written.
  const uint64_t bytes = s->journal_bytes();
  EXPECT_THROW(s->Begin(CreateIntent(2, 1, "base")), Error);  // name taken
  EXPECT_THROW(s->Update({Mutation::Delete(5)}), Error);      // absent
  EXPECT_THROW(s->Update({Mutation::Put(SampleDevice(3, std::string(300, 'n')))}), Error);
  EXPECT_EQ(s->journal_bytes(), bytes);
  EXPECT_FALSE(s->pending());
  s->Update({Mutation::SetConfig("still", "usable")});
}

TEST(Store, AutoCheckpointKeepsTheJournalSmall) {
  MemStore m;
  m.opts.checkpoint_journal_bytes = 2000;
  {
    auto s = m.Open();
    for (uint32_t i = 0; i < 100; ++i)
      s->Update({Mutation::Put(SampleDevice(i, "d" + std::to_string(i)))});
    EXPECT_LE(s->journal_bytes(), 2000u + 400u);
  }
  EXPECT_LT(m.fs.Contents("/meta/journal").size(), 2500u);
  auto s = m.Open();
  EXPECT_EQ(s->catalog().size(), 100u);
  EXPECT_EQ(s->last_seq(), 100u);
}

// A large catalog's checkpoint is rewritten only once the journal reaches a quarter of it: the
// cost of checkpoints per journal byte stays the same whatever the catalog's size.
TEST(Store, AutoCheckpointBoundGrowsToAQuarterOfALargeCheckpoint) {
  MemStore m;
  m.opts.checkpoint_journal_bytes = 1000;
  auto s = m.Open();
  for (uint32_t i = 0; i < 2000; ++i) {
    s->Update({Mutation::Put(SampleDevice(i, "d" + std::to_string(i)))});
  }
  s->Checkpoint();
  const std::string catalog = m.fs.Contents("/meta/catalog");
  ASSERT_GT(catalog.size() / 4, 8000u);  // well above the configured bound
  uint64_t most = 0;
  uint32_t i = 0;
  for (; i < 20000 && s->journal_bytes() >= most; ++i) {  // until the journal is reset
    most = std::max(most, s->journal_bytes());
    s->Update({Mutation::SetConfig("k", std::to_string(i))});
  }
  EXPECT_GT(most, 8000u);  // long past 1000 bytes before the checkpoint came
  EXPECT_LE(most, catalog.size() / 4);
  EXPECT_LT(s->journal_bytes(), 1000u);
  auto again = m.Open();
  EXPECT_EQ(again->catalog().size(), 2000u);
  EXPECT_EQ(again->catalog().config().at("k"), std::to_string(i - 1));
}

TEST(Store, StaleJournalAfterInterruptedCheckpointIsSkipped) {
  MemStore m;
  std::string old_journal;
  {
    auto s = m.Open();
    s->Update({Mutation::Put(SampleDevice(0, "a"))});
    s->Update({Mutation::Put(SampleDevice(1, "b"))});
    old_journal = m.fs.Contents("/meta/journal");
    s->Checkpoint();
  }
  m.fs.SetContents("/meta/journal", old_journal);  // as if the reset never happened
  {
    auto s = m.Open();
    EXPECT_EQ(s->catalog().size(), 2u);
    ASSERT_EQ(s->recovery_notes().size(), 1u);
    EXPECT_NE(s->recovery_notes()[0].find("skipped 2 records"), std::string::npos);
    s->Update({Mutation::Put(SampleDevice(2, "c"))});
  }
  auto s = m.Open();
  EXPECT_EQ(s->catalog().size(), 3u);
  EXPECT_TRUE(s->recovery_notes().empty());
}

TEST(Store, TornTailIsCutNotedAndAppendsContinue) {
  MemStore m;
  {
    auto s = m.Open();
    s->Update({Mutation::Put(SampleDevice(0, "a"))});
  }
  const std::string good = m.fs.Contents("/meta/journal");
  m.fs.SetContents("/meta/journal", good + std::string("TSJR\x01\x02", 6));
  {
    auto s = m.Open();
    ASSERT_EQ(s->recovery_notes().size(), 1u);
    EXPECT_EQ(s->recovery_notes()[0],
              "/meta/journal: cut 6 torn bytes at offset " + std::to_string(good.size()));
    s->Update({Mutation::Put(SampleDevice(1, "b"))});
  }
  auto s = m.Open();
  EXPECT_EQ(s->catalog().size(), 2u);
  EXPECT_TRUE(s->recovery_notes().empty());
}

TEST(Store, DamageInTheMiddleIsReportedWithFileAndOffset) {
  MemStore m;
  {
    auto s = m.Open();
    for (uint32_t i = 0; i < 3; ++i)
      s->Update({Mutation::Put(SampleDevice(i, "d" + std::to_string(i)))});
  }
  std::string j = m.fs.Contents("/meta/journal");
  j[30] ^= 1;  // payload of the first record
  m.fs.SetContents("/meta/journal", j);
  try {
    m.Open();
    FAIL() << "opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("/meta/journal"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("offset 0"), std::string::npos) << e.what();
  }
}

TEST(Store, DamagedCheckpointIsCorrupt) {
  MemStore m;
  m.Open()->Update({Mutation::Put(SampleDevice(0, "a"))});
  { m.Open()->Checkpoint(); }
  std::string c = m.fs.Contents("/meta/catalog");
  c[c.size() / 2] ^= 4;
  m.fs.SetContents("/meta/catalog", c);
  EXPECT_THROW(m.Open(), Error);
}

TEST(Store, JournalWithoutCheckpointIsCorrupt) {
  MemStore m;
  m.Open()->Update({Mutation::Put(SampleDevice(0, "a"))});
  m.fs.Remove("/meta/catalog");
  EXPECT_THROW(m.Open(), Error);
}

// Cutting the journal at every byte of its last records: every record that is complete is
// replayed, the partial one is dropped, and the store can be written again.
TEST(Store, TruncationAtEveryOffsetKeepsEveryCompleteRecord) {
  MemStore m;
  std::vector<size_t> ends;
  {
    auto s = m.Open();
    s->Update({Mutation::Put(SampleDevice(0, "base"))});
    ends.push_back(s->journal_bytes());
    s->Begin(CreateIntent(1, 1, "vol"));
    ends.push_back(s->journal_bytes());
    s->Commit(1);
    ends.push_back(s->journal_bytes());
    s->Update({Mutation::SetConfig("k", "v")});
    ends.push_back(s->journal_bytes());
  }
  const std::string full = m.fs.Contents("/meta/journal");
  const std::string catalog = m.fs.Contents("/meta/catalog");
  for (size_t len = ends[0]; len <= full.size(); ++len) {
    MemStore t;
    t.fs.CreateDir("/meta");
    t.fs.SetContents("/meta/catalog", catalog);
    t.fs.SetContents("/meta/journal", full.substr(0, len));
    auto s = t.Open();
    const size_t complete = std::upper_bound(ends.begin(), ends.end(), len) - ends.begin();
    EXPECT_EQ(s->catalog().FindByName("base") != nullptr, complete >= 1);
    EXPECT_EQ(s->pending().has_value(), complete == 2) << len;
    EXPECT_EQ(s->catalog().FindByName("vol") != nullptr, complete >= 3) << len;
    EXPECT_EQ(s->catalog().transaction_id(), complete >= 3 ? 1u : 0u);
    EXPECT_EQ(s->catalog().config().count("k"), complete >= 4 ? 1u : 0u);
    if (s->pending()) s->Abort(1);
    s->Update({Mutation::SetConfig("after", "cut")});
    auto again = t.Open();
    EXPECT_EQ(again->catalog().config().at("after"), "cut");
  }
}

TEST(Store, WriteFailureMakesTheStoreUnusableUntilReopened) {
  MemStore m;
  auto s = m.Open();
  s->Update({Mutation::Put(SampleDevice(0, "a"))});
  m.fs.CrashAfter(1);  // the append goes through, the fdatasync fails
  EXPECT_THROW(s->Update({Mutation::Put(SampleDevice(1, "b"))}), Error);
  m.fs.Crash();
  EXPECT_THROW(s->Update({Mutation::SetConfig("x", "y")}), Error);
  s.reset();
  auto r = m.Open();
  EXPECT_EQ(r->catalog().size(), 1u);  // the unsynced record was lost with the power
}

// A deferred commit is lost by a power cut (the intent is pending again, for the engine to
// reconcile with the kernel), survives a crashed process, and is made durable by the next
// synced record.
TEST(Store, DeferredCommitIsDurableOnlyWithTheNextSync) {
  MemStore m;
  {
    auto s = m.Open();
    s->Begin(CreateIntent(1, 0, "base"));
    s->Commit(1, Sync::kDeferred);
    EXPECT_EQ(s->catalog().transaction_id(), 1u);
  }
  {
    auto reopened = m.Open();  // the process died, the page cache did not
    EXPECT_EQ(reopened->catalog().transaction_id(), 1u);
    EXPECT_FALSE(reopened->pending());
  }
  m.fs.Crash();  // power cut: the unsynced commit is gone, the intent is pending again
  {
    auto s = m.Open();
    ASSERT_TRUE(s->pending());
    EXPECT_EQ(s->pending()->txn, 1u);
    EXPECT_EQ(s->catalog().transaction_id(), 0u);
    s->Commit(1, Sync::kDeferred);
    s->Update({Mutation::SetConfig("k", "v")}, Sync::kDeferred);
    s->Begin(CreateIntent(2, 1, "next"));  // synced: takes the two records before it along
  }
  m.fs.Crash();
  auto s = m.Open();
  EXPECT_EQ(s->catalog().transaction_id(), 1u);
  EXPECT_EQ(s->catalog().config().at("k"), "v");
  ASSERT_TRUE(s->pending());
  EXPECT_EQ(s->pending()->txn, 2u);
}

TEST(Store, WorksOnTheRealFileSystem) {
  ScratchDir dir;
  const std::string meta = dir.path() + "/metadata";
  {
    auto s = Store::Open(meta);
    s->Begin(CreateIntent(1, 0, "base"));
    s->Commit(1);
    s->Checkpoint();
    s->Update({Mutation::SetConfig("fs", "ext4")});
  }
  auto s = Store::Open(meta);
  EXPECT_EQ(s->catalog().FindByName("base")->id, 0u);
  EXPECT_EQ(s->catalog().config().at("fs"), "ext4");
  EXPECT_EQ(s->catalog().transaction_id(), 1u);
}

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Benchmark-ish: 10,000 devices loaded by reopening, from a checkpoint and from a journal.
TEST(Store, LoadsTenThousandDevices) {
  ScratchDir dir;
  const std::string cp_dir = dir.path() + "/cp", j_dir = dir.path() + "/j";
  StoreOptions big;
  big.checkpoint_journal_bytes = 1ull << 40;  // keep everything in the journal
  {
    auto cp = Store::Open(cp_dir);
    auto j = Store::Open(j_dir, big);
    std::vector<Mutation> batch;
    for (uint32_t id = 0; id < 10000; ++id) {
      DeviceRecord d =
          SampleDevice(id, "device-" + std::to_string(id), id == 0 ? kNoParent : id / 2);
      batch.push_back(Mutation::Put(d));
      if (batch.size() == 500) {
        j->Update(batch);
        cp->Update(batch);
        batch.clear();
      }
    }
    cp->Checkpoint();
  }
  for (const auto& [name, path] : {std::pair{"checkpoint", cp_dir}, std::pair{"journal", j_dir}}) {
    malloc_trim(0);  // give back what the writers freed, so the RSS delta is the load's own
    const long rss_before = RssKiB();
    const size_t heap_before = mallinfo2().uordblks;
    const auto t0 = std::chrono::steady_clock::now();
    auto s = Store::Open(path, big);
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    const long rss_after = RssKiB();
    const long heap_kib = static_cast<long>(mallinfo2().uordblks - heap_before) / 1024;
    ASSERT_EQ(s->catalog().size(), 10000u);
    EXPECT_EQ(s->catalog().Children(1).size(), 2u);
    EXPECT_EQ(s->catalog().NextFreeId(), 10000u);
    std::printf(
        "[ bench    ] Store::Open of 10000 devices from %s: %.1f ms, RSS +%ld KiB, heap in use "
        "+%ld KiB\n",
        name, us / 1000.0, rss_after - rss_before, heap_kib);
  }
}

}  // namespace
}  // namespace thinsnap
