// Engine logic against FakeDeviceMapper + FakeSystem: the pool lifecycle, devices, the guards,
// and crash recovery through the journal/transaction-id protocol, including a randomized
// property test with power cuts at every step.
#include "thinpool/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <set>

#include "base/error.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"
#include "tests/fakes/fault_fs.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeSystem;

// Writes `content` into a pipe and returns its read end (the tar "file").
int PipeWith(const std::string& content) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  EXPECT_EQ(::write(fds[1], content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fds[1]);
  return fds[0];
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-engine-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    engine_.reset();
    std::string cmd = "rm -rf " + root_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void Open() {
    engine_.reset();
    EngineOptions opts;
    opts.lock_timeout_ms = 0;
    opts.store.fs = &fs_;
    opts.import_progress = [this](const ImportProgress& p) { progress_.push_back(p); };
    opts.import_progress_after_ms = progress_after_ms_;
    opts.warning = [this](const std::string& line) { warnings_.push_back(line); };
    engine_ = Engine::Open(root_, &dm_, &sys_, opts);
  }
  void CreateLoopbackPool(FsType fs = FsType::kExt4) {
    PoolCreateOptions o;
    o.data_size = 1ull << 30;
    o.metadata_size = 16 << 20;
    o.base_size = fs == FsType::kXfs ? 320 << 20 : 256 << 20;
    o.fs = fs;
    engine_->CreatePool(o);
  }
  std::string MetadataLoop() { return *sys_.FindLoop(root_ + "/metadata"); }
  std::set<uint32_t> KernelIds() {
    auto ids = dm_.ThinIds(MetadataLoop());
    return {ids.begin(), ids.end()};
  }
  std::set<uint32_t> CatalogIds() {
    std::set<uint32_t> ids;
    engine_->store().catalog().ForEach([&](const DeviceRecord& r) { ids.insert(r.id); });
    return ids;
  }
  void ExpectConsistent() {
    EXPECT_EQ(KernelIds(), CatalogIds());
    EXPECT_EQ(*dm_.TransactionId(MetadataLoop()), engine_->store().catalog().transaction_id());
    EXPECT_FALSE(engine_->store().pending().has_value());
    CheckReport r = engine_->Check();
    EXPECT_TRUE(r.problems().empty()) << (r.problems().empty() ? "" : r.problems().front());
  }

  std::string root_;
  std::vector<ImportProgress> progress_;
  std::vector<std::string> warnings_;  // EngineOptions::warning
  int progress_after_ms_ = 1000;
  FakeDeviceMapper dm_;
  FakeSystem sys_{&dm_};
  FaultFileSystem fs_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, CreatePoolMakesAndFormatsTheBaseDevice) {
  CreateLoopbackPool();
  PoolReport r = engine_->Status();
  EXPECT_TRUE(r.active);
  EXPECT_EQ(r.settings.mode, PoolMode::kLoopback);
  EXPECT_EQ(r.status.transaction_id, 1u);
  EXPECT_EQ(r.status.data_total_blocks, (1ull << 30) / (64 << 10));
  const DeviceRecord* base = engine_->store().catalog().FindByName(kOriginName);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->kind, DeviceKind::kBase);
  EXPECT_EQ(base->size_bytes, 256u << 20);
  EXPECT_EQ(KernelIds(), std::set<uint32_t>{base->id});
  ExpectConsistent();
}

TEST_F(EngineTest, SecondPoolInTheSameRootIsRefused) {
  CreateLoopbackPool();
  try {
    CreateLoopbackPool();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kExists);
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos);
  }
}

TEST_F(EngineTest, BadBlockSizeIsAUsageErrorBeforeAnythingIsMade) {
  PoolCreateOptions o;
  o.block_size = 96 << 10;
  EXPECT_THROW(engine_->CreatePool(o), Error);
  EXPECT_FALSE(sys_.Exists(root_ + "/data"));
}

TEST_F(EngineTest, DirectModeRefusesADeviceWithAFilesystemUnlessForced) {
  sys_.AddBlockDevice("/dev/nvme0n1", 4ull << 30, "ext4 filesystem (UUID 1234)");
  sys_.AddBlockDevice("/dev/nvme1n1", 256 << 20);
  PoolCreateOptions o;
  o.mode = PoolMode::kDirect;
  o.data_device = "/dev/nvme0n1";
  o.metadata_device = "/dev/nvme1n1";
  o.base_size = 256 << 20;
  try {
    engine_->CreatePool(o);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ext4 filesystem"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(engine_->store().catalog().config().empty() ||
              engine_->store().catalog().config().count("pool.id") == 0);
  o.force = true;
  engine_->CreatePool(o);
  EXPECT_EQ(engine_->Status().settings.mode, PoolMode::kDirect);
}

TEST_F(EngineTest, LayerContainerCommitAndRemove) {
  CreateLoopbackPool();
  DeviceRecord layer = engine_->ImportLayer("l1", "", PipeWith("tar bytes"));
  EXPECT_TRUE(layer.read_only);
  EXPECT_EQ(layer.state, DeviceState::kReady);
  EXPECT_EQ(layer.digest, "sha256:fake-9");
  DeviceRecord c = engine_->CreateContainer("c1", "l1", std::nullopt);
  EXPECT_EQ(c.parent_id, layer.id);
  std::string dir = engine_->Mount("c1", "");
  EXPECT_EQ(dir, root_ + "/mnt/c1");
  EXPECT_EQ(sys_.mounts.count(dir), 1u);
  DeviceRecord l2 = engine_->Commit("c1", "l2");
  EXPECT_EQ(l2.parent_id, layer.id);
  EXPECT_TRUE(l2.read_only);
  EXPECT_THROW(engine_->Remove("c1", false, false), Error);  // mounted
  EXPECT_THROW(engine_->Remove("l1", false, false), Error);  // has children
  EXPECT_EQ(engine_->Remove("c1", true, false), RemoveOutcome::kRemoved);
  EXPECT_EQ(sys_.mounts.count(dir), 0u);
  EXPECT_EQ(engine_->store().catalog().FindByName("c1"), nullptr);
  ExpectConsistent();
}

TEST_F(EngineTest, ContainerSizeGrowsTheFilesystemAndNeverShrinks) {
  CreateLoopbackPool();
  engine_->ImportLayer("l1", "", PipeWith("x"));
  EXPECT_THROW(engine_->CreateContainer("small", "l1", 128 << 20), Error);
  DeviceRecord big = engine_->CreateContainer("big", "l1", 1ull << 30);
  EXPECT_EQ(big.size_bytes, 1ull << 30);
  ASSERT_EQ(sys_.grown.size(), 1u);
  ExpectConsistent();
}

// The three phases of a served Prepare leave what CreateContainer + Activate leave, with fewer
// store operations (the written label goes in with the record), and the kernel work between
// them touches no engine state.
TEST_F(EngineTest, ActivationInPhasesMatchesCreateAndActivate) {
  CreateLoopbackPool();
  engine_->ImportLayer("l1", "", PipeWith("x"));
  int64_t before = fs_.mutating_ops();
  engine_->CreateContainer("one", "l1", 1ull << 30);
  engine_->Activate("one");
  int64_t classic = fs_.mutating_ops() - before;
  sys_.grown.clear();

  before = fs_.mutating_ops();
  Engine::ActivationWork w = engine_->BeginContainer("two", "l1", 1ull << 30);
  EXPECT_TRUE(w.grow);
  EXPECT_FALSE(dm_.Exists(w.dm_name));
  int64_t ops = fs_.mutating_ops();
  std::string dev = Engine::RunActivation(w, &dm_, &sys_);
  EXPECT_EQ(fs_.mutating_ops(), ops);  // no journal work outside the engine
  EXPECT_EQ(dev, "/dev/mapper/" + w.dm_name);
  EXPECT_EQ(sys_.grown, std::vector<std::string>{dev});
  EXPECT_TRUE(sys_.mounts.empty());  // the growth's temporary mount is gone
  DeviceRecord two = engine_->FinishActivation(w);
  EXPECT_LT(fs_.mutating_ops() - before, classic);
  EXPECT_TRUE(two.active);
  EXPECT_EQ(two.size_bytes, 1ull << 30);
  EXPECT_EQ(two.labels.count(kWrittenLabel), 1u);
  EXPECT_EQ(engine_->Inspect("one").record.labels.count(kWrittenLabel), 1u);
  kernel::ParsedThinTable t = kernel::ParseThinTableParams(dm_.GetTable(w.dm_name).at(0).params);
  EXPECT_EQ(t.thin_id, two.id);
  EXPECT_EQ(dm_.GetTable(w.dm_name).at(0).length, (1ull << 30) / 512);
  ExpectConsistent();

  // Abandoned (the kernel work failed): the device goes again, whole.
  Engine::ActivationWork bad = engine_->BeginContainer("three", "l1", std::nullopt);
  EXPECT_FALSE(bad.grow);
  Engine::RunActivation(bad, &dm_, &sys_);
  engine_->AbandonActivation(bad);
  EXPECT_EQ(engine_->store().catalog().FindByName("three"), nullptr);
  EXPECT_FALSE(dm_.Exists(bad.dm_name));
  ExpectConsistent();

  // Removed by someone else in between: Finish says so, Abandon has nothing to do, and a
  // namesake made since is not mistaken for it.
  Engine::ActivationWork gone = engine_->BeginContainer("four", "l1", std::nullopt);
  engine_->Remove("four", true, false);
  engine_->CreateContainer("four", "l1", std::nullopt);
  try {
    engine_->FinishActivation(gone);
    ADD_FAILURE() << "FinishActivation of a removed device";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  engine_->AbandonActivation(gone);
  EXPECT_NE(engine_->store().catalog().FindByName("four"), nullptr);
  ExpectConsistent();
}

std::vector<Engine::ContainerRequest> Requests(const std::vector<std::string>& names,
                                               const std::string& from) {
  std::vector<Engine::ContainerRequest> out;
  for (const std::string& n : names) out.push_back({n, from, std::nullopt, {}});
  return out;
}

TEST_F(EngineTest, AGroupOfCreatesIsOneTransactionAndOneJournalSyncAndBadRequestsFailAlone) {
  CreateLoopbackPool();
  engine_->ImportLayer("l1", "", PipeWith("x"));
  int64_t before = fs_.mutating_ops();
  Engine::ActivationWork single = engine_->BeginContainer("single", "l1", std::nullopt);
  int64_t one = fs_.mutating_ops() - before;
  engine_->AbandonActivation(single);

  uint64_t txn = engine_->store().catalog().transaction_id();
  std::vector<Engine::ContainerRequest> requests = Requests({"a", "b", "c", "b", "l1", "d"}, "l1");
  requests.push_back({"e", "nope", std::nullopt, {}});
  requests.push_back({"f", "l1", 1ull << 30, {}});
  before = fs_.mutating_ops();
  std::vector<Engine::BegunContainer> begun = engine_->BeginContainers(requests);
  EXPECT_EQ(fs_.mutating_ops() - before, one);  // the journal's work of a single create
  EXPECT_EQ(engine_->store().catalog().transaction_id(), txn + 1);
  ASSERT_EQ(begun.size(), requests.size());
  auto kind = [&](size_t i) { return begun[i].error ? begun[i].error->kind() : ErrorKind::kUsage; };
  for (size_t i : {0, 1, 2, 5, 7}) {
    ASSERT_TRUE(begun[i].work.has_value()) << i << ": " << begun[i].error->what();
    EXPECT_FALSE(begun[i].error.has_value());
    EXPECT_EQ(begun[i].work->name, requests[i].name);
  }
  EXPECT_EQ(kind(3), ErrorKind::kExists);    // "b" twice in one group
  EXPECT_EQ(kind(4), ErrorKind::kExists);    // "l1" is the layer's name
  EXPECT_EQ(kind(6), ErrorKind::kNotFound);  // no layer "nope"
  EXPECT_TRUE(begun[7].work->grow);
  for (size_t i : {0, 1, 2, 5, 7}) {
    std::string dev = Engine::RunActivation(*begun[i].work, &dm_, &sys_);
    EXPECT_EQ(engine_->FinishActivation(*begun[i].work).id, begun[i].work->id);
    EXPECT_TRUE(dm_.Exists(begun[i].work->dm_name)) << dev;
  }
  EXPECT_EQ(engine_->Inspect("f").record.size_bytes, 1ull << 30);
  ExpectConsistent();
}

TEST_F(EngineTest, AGroupThatTheKernelFailsIsRolledBackAndEachIsTriedAlone) {
  CreateLoopbackPool();
  engine_->ImportLayer("l1", "", PipeWith("x"));
  uint64_t txn = engine_->store().catalog().transaction_id();
  kernel::InjectedFailure f;
  f.message_prefix = "create_snap";
  f.nth = 3;  // the group's third create: the two before it are undone
  f.err = ENOSPC;
  dm_.InjectFailure(f);
  std::vector<Engine::BegunContainer> begun =
      engine_->BeginContainers(Requests({"a", "b", "c", "d"}, "l1"));
  for (const Engine::BegunContainer& b : begun) {
    ASSERT_TRUE(b.work.has_value()) << b.error->what();
  }
  EXPECT_EQ(engine_->store().catalog().transaction_id(), txn + 4);  // one each, alone
  ExpectConsistent();
}

TEST_F(EngineTest, AGroupLargerThanTheLimitIsSeveralTransactions) {
  CreateLoopbackPool();
  engine_->ImportLayer("l1", "", PipeWith("x"));
  uint64_t txn = engine_->store().catalog().transaction_id();
  std::vector<std::string> names;
  for (size_t i = 0; i < Engine::kMaxGroupedCreates + 3; ++i)
    names.push_back("c" + std::to_string(i));
  std::vector<Engine::BegunContainer> begun = engine_->BeginContainers(Requests(names, "l1"));
  for (const Engine::BegunContainer& b : begun) ASSERT_TRUE(b.work.has_value());
  EXPECT_EQ(engine_->store().catalog().transaction_id(), txn + 2);
  ExpectConsistent();
}

TEST_F(EngineTest, AGroupSurvivesAPowerCutAtEveryStoreStepAllOrNone) {
  for (int64_t cut = 0;; ++cut) {
    TearDown();
    SetUp();
    CreateLoopbackPool();
    engine_->ImportLayer("l1", "", PipeWith("x"));
    fs_.CrashAfter(cut);
    bool threw = false;
    try {
      std::vector<Engine::BegunContainer> begun =
          engine_->BeginContainers(Requests({"a", "b", "c"}, "l1"));
      for (const Engine::BegunContainer& b : begun) {
        if (!b.work) throw *b.error;
      }
    } catch (const Error&) {
      threw = true;
    }
    fs_.CrashAfter(-1);
    if (!threw) {
      EXPECT_GE(cut, 2) << "the group should have store steps to cut";
      break;
    }
    engine_.reset();
    fs_.Crash();
    Open();
    const Catalog& cat = engine_->store().catalog();
    size_t present = (cat.FindByName("a") != nullptr) + (cat.FindByName("b") != nullptr) +
                     (cat.FindByName("c") != nullptr);
    EXPECT_TRUE(present == 0 || present == 3) << "cut " << cut << ": " << present;
    ExpectConsistent();
  }
}

TEST_F(EngineTest, ImportProgressOnlyAfterAMomentThenEndsOnce) {
  CreateLoopbackPool();
  engine_->ImportLayer("quick", "", PipeWith("tar bytes"));
  EXPECT_TRUE(progress_.empty());  // the fake clock says it took microseconds
  progress_after_ms_ = 0;
  Open();
  engine_->ImportLayer("slow", "", PipeWith("tar bytes"));
  ASSERT_EQ(progress_.size(), 2u);
  EXPECT_FALSE(progress_[0].done);
  EXPECT_TRUE(progress_[1].done);
  EXPECT_EQ(progress_[1].name, "slow");
  EXPECT_EQ(progress_[1].bytes, 9u);
  progress_.clear();
  EXPECT_THROW(engine_->ImportLayer("bad", "", PipeWith("EVIL")), Error);
  EXPECT_TRUE(progress_.empty() || progress_.back().done);
}

TEST_F(EngineTest, HostileLayerIsRolledBack) {
  CreateLoopbackPool();
  std::set<uint32_t> before = KernelIds();
  try {
    engine_->ImportLayer("bad", "", PipeWith("EVIL"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rolled back"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("escapes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(engine_->store().catalog().FindByName("bad"), nullptr);
  EXPECT_EQ(KernelIds(), before);
  EXPECT_TRUE(sys_.mounts.empty());
  ExpectConsistent();
}

TEST_F(EngineTest, NamesAndSizesAreValidated) {
  CreateLoopbackPool();
  for (std::string bad :
       std::vector<std::string>{"", "a/b", "../x", std::string(65, 'a'), ".hidden", "-x"}) {
    EXPECT_THROW(engine_->CreateVolume(bad, 1 << 30, FsType::kNone), Error) << bad;
  }
  EXPECT_THROW(engine_->CreateVolume("tiny", 4096, FsType::kNone), Error);
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  try {
    engine_->CreateVolume("v", 64 << 20, FsType::kNone);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kExists);
  }
  ExpectConsistent();
}

TEST_F(EngineTest, FreedIdsAreReused) {
  CreateLoopbackPool();
  DeviceRecord a = engine_->CreateVolume("a", 64 << 20, FsType::kNone);
  engine_->CreateVolume("b", 64 << 20, FsType::kNone);
  engine_->Remove("a", false, false);
  DeviceRecord c = engine_->CreateVolume("c", 64 << 20, FsType::kNone);
  EXPECT_EQ(c.id, a.id);
  ExpectConsistent();
}

TEST_F(EngineTest, KernelFailureRollsTheTransactionBack) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  uint64_t txn = engine_->store().catalog().transaction_id();
  kernel::InjectedFailure f;
  f.message_prefix = "create_snap";
  f.err = ENOSPC;
  dm_.InjectFailure(f);
  EXPECT_THROW(engine_->CloneVolume("v", "v2"), Error);
  EXPECT_EQ(engine_->store().catalog().transaction_id(), txn);
  EXPECT_EQ(engine_->store().catalog().FindByName("v2"), nullptr);
  ExpectConsistent();
}

TEST_F(EngineTest, LostReplyAfterSetTransactionIdRollsForwardAtNextOpen) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  kernel::InjectedFailure f;
  f.message_prefix = "set_transaction_id";
  f.after_effect = true;
  dm_.InjectFailure(f);
  // The kernel moved to N+1 but the reply was lost: the engine asks the pool, sees N+1 and
  // commits, so the clone exists and the journal agrees.
  EXPECT_NO_THROW(engine_->CloneVolume("v", "v2"));
  EXPECT_NE(engine_->store().catalog().FindByName("v2"), nullptr);
  ExpectConsistent();
  Open();
  EXPECT_NE(engine_->store().catalog().FindByName("v2"), nullptr);
  ExpectConsistent();
}

TEST_F(EngineTest, BusyDeviceIsRemovedDeferredAndFinishedLater) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  std::string path = engine_->Activate("v");
  std::string dm_name = path.substr(path.rfind('/') + 1);
  dm_.HoldOpen(dm_name);
  EXPECT_EQ(engine_->Remove("v", false, false), RemoveOutcome::kDeferred);
  EXPECT_EQ(engine_->store().catalog().FindByName("v")->state, DeviceState::kDeletePending);
  dm_.CloseHold(dm_name);
  std::vector<std::string> done = engine_->Gc();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(engine_->store().catalog().FindByName("v"), nullptr);
  ExpectConsistent();
}

TEST_F(EngineTest, MinFreeSpaceGuardNamesTheNumbers) {
  CreateLoopbackPool();
  DeviceRecord v = engine_->CreateVolume("v", 1ull << 30, FsType::kNone);
  dm_.MapBlocks(engine_->PoolName(), v.id, (1ull << 30) / (64 << 10) * 95 / 100);
  try {
    engine_->CreateVolume("w", 64 << 20, FsType::kNone);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNoSpace);
    EXPECT_NE(std::string(e.what()).find("below --min-free-space 10%"), std::string::npos)
        << e.what();
  }
  ExpectConsistent();
}

TEST_F(EngineTest, AutoextendGrowsTheLoopbackDataFile) {
  CreateLoopbackPool();
  PoolSetOptions set;
  set.autoextend_threshold = 80;
  set.autoextend_percent = 50;
  engine_->SetPool(set);
  DeviceRecord v = engine_->CreateVolume("v", 1ull << 30, FsType::kNone);
  dm_.MapBlocks(engine_->PoolName(), v.id, (1ull << 30) / (64 << 10) * 85 / 100);
  engine_->CreateVolume("w", 64 << 20, FsType::kNone);  // autoextends first, then fits
  EXPECT_EQ(sys_.SizeOf(root_ + "/data"), (1ull << 30) * 3 / 2);
  EXPECT_EQ(engine_->Status().status.data_total_blocks, (1ull << 30) * 3 / 2 / (64 << 10));
  ExpectConsistent();
}

// Runs `pool monitor` for `turns` turns with the engine closed (the monitor takes the lock).
std::vector<std::string> RunMonitorTurns(const std::string& root, FakeDeviceMapper* dm,
                                         FakeSystem* sys, FaultFileSystem* fs, int turns) {
  std::vector<std::string> lines;
  MonitorOptions mon;
  mon.report = [&](const std::string& line) { lines.push_back(line); };
  mon.keep_running = [&turns] { return turns-- > 0; };
  EngineOptions opts;
  opts.lock_timeout_ms = 0;
  opts.store.fs = fs;
  RunPoolMonitor(root, dm, sys, opts, mon);
  return lines;
}

bool HasLine(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST_F(EngineTest, MonitorAutoextendsWithoutHoldingTheLock) {
  CreateLoopbackPool();
  PoolSetOptions set;
  set.autoextend_threshold = 80;
  set.autoextend_percent = 50;
  engine_->SetPool(set);
  DeviceRecord v = engine_->CreateVolume("v", 1ull << 30, FsType::kNone);
  std::string pool = engine_->PoolName();
  engine_.reset();
  dm_.MapBlocks(pool, v.id, (1ull << 30) / (64 << 10) * 85 / 100);
  dm_.TriggerEvent(pool);  // the kernel's low-water event
  // Turn 1 grows the pool, then waits (the fake has no further event: reported, not fatal).
  std::vector<std::string> lines = RunMonitorTurns(root_, &dm_, &sys_, &fs_, 1);
  EXPECT_TRUE(HasLine(lines, "autoextend: " + root_ + "/data 1 GiB -> 1.5 GiB")) << lines[0];
  EXPECT_EQ(sys_.SizeOf(root_ + "/data"), (1ull << 30) * 3 / 2);
  Open();  // the lock was released
  ExpectConsistent();
}

TEST_F(EngineTest, DirectAutoextendWarnsAndTheMonitorRunsTheHook) {
  sys_.AddBlockDevice("/dev/nvme0n1", 1ull << 30);
  sys_.AddBlockDevice("/dev/nvme1n1", 64 << 20);
  sys_.AddBlockDevice("/dev/nvme2n1", 64 << 20);
  PoolCreateOptions o;
  o.mode = PoolMode::kDirect;
  o.data_device = "/dev/nvme0n1";
  o.metadata_device = "/dev/nvme1n1";
  o.metadata_spare = "/dev/nvme2n1";
  o.base_size = 256 << 20;
  engine_->CreatePool(o);
  EXPECT_EQ(engine_->Status().settings.metadata_spare, "/dev/nvme2n1");
  PoolSetOptions set;
  set.autoextend_threshold = 80;
  set.autoextend_hook = "grow-my-lun";
  set.min_free_percent = 5;
  engine_->SetPool(set);
  DeviceRecord v = engine_->CreateVolume("v", 1ull << 30, FsType::kNone);
  std::string pool = engine_->PoolName();
  dm_.MapBlocks(pool, v.id, (1ull << 30) / (64 << 10) * 85 / 100);
  // A command above the threshold warns but cannot run the hook under its own lock.
  EXPECT_NE(engine_->MaybeAutoextend().find("above the autoextend threshold 80%"),
            std::string::npos);
  EXPECT_TRUE(warnings_.empty());  // MaybeAutoextend reports; it does not print or warn
  engine_->CreateVolume("w", 64 << 20, FsType::kNone);
  ASSERT_EQ(warnings_.size(), 1u);  // a new device checks the space and warns its user
  EXPECT_EQ(warnings_[0], "pool " + pool +
                              " usage 84% data, 0% metadata, above the autoextend threshold 80%; "
                              "thinsnap pool monitor runs the autoextend hook");
  EXPECT_TRUE(sys_.hooks.empty());
  EXPECT_EQ(sys_.SizeOf("/dev/nvme0n1"), 1ull << 30);  // never grown by thinsnap
  engine_.reset();
  std::vector<std::string> lines = RunMonitorTurns(root_, &dm_, &sys_, &fs_, 1);
  ASSERT_EQ(sys_.hooks.size(), 1u);
  EXPECT_EQ(sys_.hooks[0].command, "grow-my-lun");
  std::set<std::string> env(sys_.hooks[0].env.begin(), sys_.hooks[0].env.end());
  EXPECT_TRUE(env.count("THINSNAP_POOL=" + pool));
  EXPECT_TRUE(env.count("THINSNAP_REASON=data"));
  int percent = -1;
  for (const std::string& e : env) {
    if (e.rfind("THINSNAP_DATA_PERCENT=", 0) == 0) percent = std::stoi(e.substr(22));
  }
  EXPECT_TRUE(percent >= 80 && percent <= 85) << percent;
  EXPECT_TRUE(env.count("THINSNAP_DATA_DEVICE=/dev/nvme0n1"));
  EXPECT_TRUE(env.count("THINSNAP_ROOT=" + root_));
  EXPECT_TRUE(HasLine(lines, "autoextend hook 'grow-my-lun': ok"));
  // A failing hook is reported with its exit status, and the monitor goes on.
  sys_.hook_result = {false, "exit status 3: no space on the array"};
  lines = RunMonitorTurns(root_, &dm_, &sys_, &fs_, 2);
  EXPECT_EQ(sys_.hooks.size(), 3u);
  EXPECT_TRUE(HasLine(lines, "failed: exit status 3: no space on the array"));
}

TEST_F(EngineTest, MetadataSpareIsReservedAndChecked) {
  CreateLoopbackPool();
  EXPECT_EQ(sys_.SizeOf(root_ + "/metadata.spare"), 16u << 20);
  PoolSetOptions set;
  set.metadata_size = 32 << 20;
  engine_->SetPool(set);
  EXPECT_EQ(sys_.SizeOf(root_ + "/metadata.spare"), 32u << 20);  // keeps pace
  set = {};
  set.metadata_spare = "/dev/nvme9n1";
  EXPECT_THROW(engine_->SetPool(set), Error);  // loopback keeps its own spare
  engine_->DestroyPool(true);
  EXPECT_FALSE(sys_.Exists(root_ + "/metadata.spare"));
}

TEST_F(EngineTest, DirectSpareMustBeLargeEnoughAndOfItsOwn) {
  sys_.AddBlockDevice("/dev/nvme0n1", 1ull << 30);
  sys_.AddBlockDevice("/dev/nvme1n1", 64 << 20);
  sys_.AddBlockDevice("/dev/nvme2n1", 32 << 20);
  PoolCreateOptions o;
  o.mode = PoolMode::kDirect;
  o.data_device = "/dev/nvme0n1";
  o.metadata_device = "/dev/nvme1n1";
  o.base_size = 256 << 20;
  o.metadata_spare = "/dev/nvme2n1";
  try {
    engine_->CreatePool(o);
    FAIL() << "a spare smaller than the metadata was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than the metadata device"), std::string::npos)
        << e.what();
  }
  o.metadata_spare = "/dev/nvme1n1";
  EXPECT_THROW(engine_->CreatePool(o), Error);
}

TEST(ThinCheckDamage, KeepsOnlyTheLinesThatNameDamage) {
  EXPECT_EQ(ThinCheckDamage("TRANSACTION_ID=3\nMETADATA_FREE_BLOCKS=1023\nexamining superblock\n"
                            "checking space map counts\nbad checksum in metadata index block "
                            "(block 71)\n\n"),
            "bad checksum in metadata index block (block 71)");
  EXPECT_EQ(ThinCheckDamage("examining superblock\n"), "(no message)");
}

TEST_F(EngineTest, RepairClearsNeedsCheckAfterACleanOfflineCheck) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  dm_.SetNeedsCheck(MetadataLoop(), true);
  PoolReport st = engine_->Status();
  ASSERT_FALSE(st.warnings.empty());
  EXPECT_NE(st.warnings.front().find("run: thinsnap pool repair"), std::string::npos);
  EXPECT_THROW(engine_->CreateVolume("w", 64 << 20, FsType::kNone), Error);
  CheckReport r = engine_->Repair();
  EXPECT_TRUE(r.problems().empty()) << r.problems().front();
  EXPECT_TRUE(HasLine(r.notes(), "cleared the needs_check flag")) << r.notes().front();
  EXPECT_FALSE(engine_->Status().status.needs_check);
  EXPECT_TRUE(sys_.repairs.empty());  // clean metadata is not rebuilt
  engine_->CreateVolume("w", 64 << 20, FsType::kNone);
  ExpectConsistent();
}

// Seen in the VM (pool_faults): a create whose kernel commit failed leaves its intent pending on a
// read-only pool; repair must take the pool down with active devices on it and still settle it.
TEST_F(EngineTest, RepairSettlesATransactionLeftPendingByAPoolThatWentReadOnly) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  engine_->Activate("v");
  kernel::InjectedFailure f;
  f.message_prefix = "create_snap";
  f.then_needs_check = true;
  dm_.InjectFailure(f);
  EXPECT_THROW(engine_->CloneVolume("v", "v2"), Error);
  ASSERT_TRUE(engine_->store().pending().has_value());
  CheckReport r = engine_->Repair();
  EXPECT_FALSE(engine_->store().pending().has_value());
  EXPECT_EQ(engine_->store().catalog().FindByName("v2"), nullptr);
  EXPECT_FALSE(engine_->Status().status.needs_check);
  engine_->CloneVolume("v", "v3");
  ExpectConsistent();
}

TEST_F(EngineTest, RebootThenActivateRestoresActiveDevices) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
  engine_->Mount("v", "");
  engine_->CreateVolume("raw", 64 << 20, FsType::kNone);
  engine_->Activate("raw");
  engine_.reset();
  dm_.Reboot();
  sys_.Reboot();
  Open();
  EXPECT_FALSE(engine_->Status().active);
  engine_->ActivatePool(/*remount=*/true);
  EXPECT_TRUE(engine_->Inspect("raw").active);
  EXPECT_TRUE(engine_->Inspect("v").active);
  EXPECT_EQ(sys_.mounts.count(root_ + "/mnt/v"), 1u);
  ExpectConsistent();
  EXPECT_NO_THROW(engine_->ActivatePool(true));  // idempotent
}

TEST_F(EngineTest, ActivateRefusesDamagedMetadata) {
  CreateLoopbackPool();
  engine_->DeactivatePool(false);
  sys_.thin_check_fails = true;
  try {
    engine_->ActivatePool(false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pool repair"), std::string::npos) << e.what();
  }
}

TEST_F(EngineTest, CheckFindsOrphansAndRepairDeletesThem) {
  CreateLoopbackPool();
  dm_.Message(engine_->PoolName(), "create_thin 77");
  CheckReport r = engine_->Check();
  ASSERT_FALSE(r.problems().empty());
  EXPECT_NE(r.problems().front().find("orphan thin device id 77"), std::string::npos);
  EXPECT_FALSE(r.clean());
  // The same finding, structured: what it is, which device, how bad.
  ASSERT_EQ(std::count_if(r.findings.begin(), r.findings.end(),
                          [](const Finding& f) { return f.code == "orphan_device"; }),
            1);
  const Finding& orphan = *std::find_if(r.findings.begin(), r.findings.end(),
                                        [](const Finding& f) { return f.code == "orphan_device"; });
  EXPECT_EQ(orphan.severity, Finding::Severity::kProblem);
  EXPECT_EQ(orphan.device, "id 77");
  EXPECT_EQ(orphan.message, r.problems().front());
  CheckReport fixed = engine_->Repair();
  EXPECT_TRUE(fixed.problems().empty());
  EXPECT_TRUE(fixed.clean());
  EXPECT_TRUE(HasLine(fixed.notes(), "deleted orphan thin device id 77"));
  EXPECT_EQ(fixed.findings.front().severity, Finding::Severity::kNote);
  ExpectConsistent();
}

// Diff and Export mount the device and its parent and compare their trees (FakeSystem compares
// the trees it was given for each device): what the user sees is that comparison, in order.
TEST_F(EngineTest, DiffAndExportCompareTheDeviceWithItsParent) {
  CreateLoopbackPool();
  DeviceRecord layer = engine_->CreateLayer("l1", "");
  engine_->SealLayer("l1");
  DeviceRecord box = engine_->CreateContainer("c1", "l1", std::nullopt);
  std::string pool_id = engine_->Status().settings.pool_id;
  auto device = [&](const DeviceRecord& r) {
    return dm_.DevicePath("thinsnap-" + pool_id + "-" + std::to_string(r.id));
  };
  sys_.trees[device(layer)] = {{"/etc/", "0755"},
                               {"/etc/passwd", "root"},
                               {"/old/", "0755"},
                               {"/old/file", "x"},
                               {"/same", "s"}};
  sys_.trees[device(box)] = {
      {"/etc/", "0755"}, {"/etc/passwd", "root me"}, {"/new", "n"}, {"/same", "s"}};
  std::vector<TreeChange> changes = engine_->Diff("c1");
  std::vector<TreeChange> expected = {{"/etc", ChangeKind::kChanged},
                                      {"/etc/passwd", ChangeKind::kChanged},
                                      {"/new", ChangeKind::kAdded},
                                      {"/old", ChangeKind::kDeleted}};
  EXPECT_EQ(changes, expected);
  EXPECT_TRUE(sys_.mounts.empty());  // both temporary mounts are gone

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  engine_->Export("c1", fds[1]);
  ::close(fds[1]);
  char buf[512];
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)),
            "C /etc 0755\nC /etc/passwd root me\nA /new n\nD /old\n");
  EXPECT_TRUE(sys_.mounts.empty());

  // A layer made without --parent is a snapshot of the base: it diffs against the base's tree.
  EXPECT_EQ(engine_->Diff("l1"), (std::vector<TreeChange>{{"/etc", ChangeKind::kAdded},
                                                          {"/etc/passwd", ChangeKind::kAdded},
                                                          {"/old", ChangeKind::kAdded},
                                                          {"/old/file", ChangeKind::kAdded},
                                                          {"/same", ChangeKind::kAdded}}));
}

TEST_F(EngineTest, DestroyLeavesAnEmptyRoot) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  EXPECT_THROW(engine_->DestroyPool(false), Error);
  engine_->DestroyPool(true);
  EXPECT_FALSE(sys_.Exists(root_ + "/data"));
  EXPECT_TRUE(dm_.List().empty());
  CreateLoopbackPool();  // the root is reusable
}

// Random workloads with a power cut (store write failure or lost kernel reply) at a random
// step; after each "crash" the engine is reopened and must agree with the kernel, keep every
// operation that returned, and leak nothing.
TEST_F(EngineTest, RandomCrashesAlwaysRecoverToAgreement) {
  CreateLoopbackPool();
  std::mt19937 rng(12345);
  std::set<std::string> committed;
  int crashes = 0;
  for (int round = 0; round < 2000; ++round) {
    int op = rng() % 4;
    std::string name = "d" + std::to_string(rng() % 12);
    bool crash = rng() % 3 == 0;
    if (crash) {
      if (rng() % 2) {
        fs_.CrashAfter(rng() % 6);
      } else {
        kernel::InjectedFailure f;
        static const char* kPrefixes[] = {"create_thin", "create_snap", "delete",
                                          "set_transaction_id"};
        f.message_prefix = kPrefixes[rng() % 4];
        f.after_effect = rng() % 2;
        dm_.InjectFailure(f);
      }
    }
    bool exists = engine_->store().catalog().FindByName(name) != nullptr;
    bool ok = true;
    try {
      if (op == 0 && !exists) engine_->CreateVolume(name, 64 << 20, FsType::kNone);
      if (op == 1 && !exists && !committed.empty()) {
        engine_->CloneVolume(*committed.begin(), name);
      }
      if (op >= 2 && exists) engine_->Remove(name, true, false);
    } catch (const Error&) {
      ok = false;
    }
    dm_.ClearInjectedFailures();
    fs_.CrashAfter(-1);
    if (!ok || fs_.dead()) {
      ++crashes;
      engine_.reset();
      fs_.Crash();
      Open();
    }
    // Whatever happened, journal and kernel agree.
    ASSERT_EQ(KernelIds(), CatalogIds()) << "round " << round;
    ASSERT_EQ(*dm_.TransactionId(MetadataLoop()), engine_->store().catalog().transaction_id());
    ASSERT_FALSE(engine_->store().pending().has_value());
    bool now = engine_->store().catalog().FindByName(name) != nullptr;
    bool after = op <= 1 ? (exists || (op == 0 || !committed.empty())) : false;
    if (ok) {
      ASSERT_EQ(now, op <= 1 ? (exists || op == 0 || !committed.empty()) : false) << round;
    } else {
      ASSERT_TRUE(now == exists || now == after) << "round " << round;
    }
    if (now)
      committed.insert(name);
    else
      committed.erase(name);
    for (const std::string& c : committed) {
      ASSERT_NE(engine_->store().catalog().FindByName(c), nullptr) << c << " lost, round " << round;
    }
  }
  // (Commits are not fdatasynced, so an operation makes fewer file-system calls and fewer of
  // the random crash points land inside one than when every record was synced.)
  EXPECT_GT(crashes, 120);
  ExpectConsistent();
}

TEST_F(EngineTest, DeactivatingAnOpenDeviceSaysWhichAndWhyAndChangesNothing) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  std::string path = engine_->Activate("v");
  dm_.HoldOpen(path.substr(path.rfind('/') + 1));
  try {
    engine_->Deactivate("v");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBusy);
    EXPECT_EQ(e.error_number(), EBUSY);
    std::string what = e.what();
    EXPECT_NE(what.find("cannot deactivate 'v' (" + path + ")"), std::string::npos) << what;
    EXPECT_NE(what.find("busy, still open (open count 1)"), std::string::npos) << what;
  }
  EXPECT_TRUE(engine_->Inspect("v").active);
  EXPECT_TRUE(engine_->store().catalog().FindByName("v")->active);
}

TEST_F(EngineTest, UnmountOfADeviceOpenElsewhereRecordsTheUnmountThenFailsOrDefers) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
  engine_->Mount("v", "");
  std::string dm_name = engine_->Inspect("v").dm_name;
  dm_.HoldOpen(dm_name);  // e.g. a copy of the mount in a container's mount namespace
  EXPECT_THROW(engine_->Unmount("v"), Error);
  const DeviceRecord* rec = engine_->store().catalog().FindByName("v");
  EXPECT_EQ(rec->mountpoint, "");  // the unmount happened; the record says so
  EXPECT_TRUE(rec->active);
  Open();
  EXPECT_EQ(engine_->store().catalog().FindByName("v")->mountpoint, "");

  engine_->Mount("v", "");
  engine_->Unmount("v", /*defer_busy=*/true);
  ASSERT_TRUE(dm_.Info(dm_name));
  EXPECT_TRUE(dm_.Info(dm_name)->deferred_remove);
  EXPECT_FALSE(engine_->store().catalog().FindByName("v")->active);
  engine_->Mount("v", "");  // wanted again: the deferred remove is cancelled
  EXPECT_FALSE(dm_.Info(dm_name)->deferred_remove);
  engine_->Unmount("v", /*defer_busy=*/true);
  dm_.CloseHold(dm_name);  // the last close: the kernel removes it
  EXPECT_FALSE(dm_.Info(dm_name));
  ExpectConsistent();
}

// --- grow ---

uint64_t LiveSectors(FakeDeviceMapper& dm, const std::string& path) {
  return dm.GetTable(path.substr(path.rfind('/') + 1)).front().length;
}

TEST_F(EngineTest, GrowReloadsTheLiveTableAndGrowsTheMountedFilesystem) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
  std::string dir = engine_->Mount("v", "");
  std::string dev = engine_->Inspect("v").device_path;
  dm_.ClearCalls();
  DeviceRecord grown = engine_->Grow("v", 256 << 20);
  EXPECT_EQ(grown.size_bytes, 256u << 20);
  EXPECT_EQ(engine_->store().catalog().FindByName("v")->size_bytes, 256u << 20);
  EXPECT_EQ(LiveSectors(dm_, dev), (256u << 20) / 512);
  ASSERT_EQ(sys_.grown, std::vector<std::string>{dev});
  EXPECT_EQ(sys_.mounts.count(dir), 1u);  // grown online, still mounted where it was
  std::string name = dev.substr(dev.rfind('/') + 1);
  std::vector<std::string> want = {"reload " + name, "suspend " + name, "resume " + name};
  std::vector<std::string> got;
  for (const std::string& c : dm_.calls()) {
    if (c.find(name) != std::string::npos && c.rfind("info", 0) != 0 && c.rfind("table", 0) != 0) {
      got.push_back(c);
    }
  }
  EXPECT_EQ(got, want);
  ExpectConsistent();
}

TEST_F(EngineTest, GrowOfAnInactiveRawVolumeOnlyRecordsTheSize) {
  CreateLoopbackPool();
  engine_->CreateVolume("raw", 64 << 20, FsType::kNone);
  engine_->Grow("raw", 1ull << 30);
  EXPECT_TRUE(sys_.grown.empty());
  EXPECT_EQ(dm_.CallCount(kernel::FakeOp::kReload), 0);
  std::string dev = engine_->Activate("raw");
  EXPECT_EQ(LiveSectors(dm_, dev), (1ull << 30) / 512);
  ExpectConsistent();
}

TEST_F(EngineTest, GrowRefusesLayersShrinkingAndBadSizesChangingNothing) {
  CreateLoopbackPool();
  engine_->ImportLayer("l1", "", PipeWith("x"));
  engine_->CreateContainer("c", "l1", std::nullopt);
  uint64_t size = engine_->store().catalog().FindByName("c")->size_bytes;
  auto expect_usage = [&](const std::string& name, uint64_t want, const std::string& says) {
    try {
      engine_->Grow(name, want);
      ADD_FAILURE() << "grow " << name << " to " << want << " succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  expect_usage("l1", size * 2, "read-only");
  expect_usage("base", size * 2, "base device");
  expect_usage("c", size / 2, "cannot shrink 'c'");
  expect_usage("c", size + 100, "multiple of 512");
  expect_usage("c", UINT64_MAX - 511, "out of range");
  EXPECT_THROW(engine_->Grow("nosuch", size), Error);
  EXPECT_EQ(engine_->store().catalog().FindByName("c")->size_bytes, size);
  EXPECT_TRUE(sys_.grown.empty());
  ExpectConsistent();
}

TEST_F(EngineTest, GrowHonoursTheSpaceGuard) {
  CreateLoopbackPool();
  DeviceRecord v = engine_->CreateVolume("v", 1ull << 30, FsType::kNone);
  dm_.MapBlocks(engine_->PoolName(), v.id, (1ull << 30) / (64 << 10) * 95 / 100);
  try {
    engine_->Grow("v", 2ull << 30);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNoSpace);
    EXPECT_NE(std::string(e.what()).find("grow v"), std::string::npos) << e.what();
  }
  EXPECT_EQ(engine_->store().catalog().FindByName("v")->size_bytes, 1ull << 30);
}

TEST_F(EngineTest, InterruptedGrowIsFinishedByGrowingAgainToTheSameSize) {
  CreateLoopbackPool();
  engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
  std::string dev = engine_->Activate("v");
  kernel::InjectedFailure f;
  f.op = kernel::FakeOp::kReload;
  f.err = ENOMEM;
  dm_.InjectFailure(f);
  EXPECT_THROW(engine_->Grow("v", 128 << 20), Error);
  // The record went first: the device is never larger than it, and the same grow completes.
  EXPECT_EQ(engine_->store().catalog().FindByName("v")->size_bytes, 128u << 20);
  EXPECT_EQ(LiveSectors(dm_, dev), (64u << 20) / 512);
  Open();
  CheckReport r = engine_->Check();
  ASSERT_FALSE(r.notes().empty());
  EXPECT_NE(r.notes().front().find("an interrupted grow); finish it with thinsnap grow v --size " +
                                   std::to_string(128u << 20)),
            std::string::npos)
      << r.notes().front();
  EXPECT_EQ(r.findings.front().code, "interrupted_grow");
  EXPECT_EQ(r.findings.front().device, "v");
  EXPECT_EQ(r.findings.front().severity, Finding::Severity::kNote);
  engine_->Grow("v", 128 << 20);
  EXPECT_EQ(LiveSectors(dm_, dev), (128u << 20) / 512);
  EXPECT_EQ(sys_.grown, std::vector<std::string>{dev});
  ExpectConsistent();
}

// A power cut at every store operation of a grow: after reopening, the size is the old or the
// new one, the live table is never larger than the record, and the same grow completes it.
TEST_F(EngineTest, GrowSurvivesAPowerCutAtEveryStoreStep) {
  for (int64_t cut = 0;; ++cut) {
    TearDown();
    SetUp();
    CreateLoopbackPool();
    engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
    std::string dev = engine_->Activate("v");
    int64_t before = fs_.mutating_ops();
    fs_.CrashAfter(cut);
    bool threw = false;
    try {
      engine_->Grow("v", 128 << 20);
    } catch (const Error&) {
      threw = true;
    }
    fs_.CrashAfter(-1);
    if (!threw) {
      EXPECT_GE(cut, 2) << "the grow should have store steps to cut";
      EXPECT_GT(fs_.mutating_ops(), before);
      break;
    }
    engine_.reset();
    fs_.Crash();
    Open();
    uint64_t size = engine_->store().catalog().FindByName("v")->size_bytes;
    EXPECT_TRUE(size == (64u << 20) || size == (128u << 20)) << "cut " << cut;
    EXPECT_LE(LiveSectors(dm_, dev) * 512, size) << "cut " << cut;
    engine_->Grow("v", 128 << 20);
    EXPECT_EQ(LiveSectors(dm_, dev), (128u << 20) / 512) << "cut " << cut;
    ExpectConsistent();
  }
}

// --- adopting an existing pool (LVM's layout: <vg>-<pool> linear over <vg>-<pool>-tpool) ---

class AdoptTest : public EngineTest {
 protected:
  void MakeLvmPool() {
    dm_.SetDeviceSize("/dev/vg/meta", 16 << 20);
    kernel::TableLine pool =
        kernel::ThinPoolTable("/dev/vg/meta", "/dev/vg/data", (1ull << 30) / 512, 256, 0);
    dm_.Create("vg-pool-tpool", {pool}, {});
    kernel::DeviceInfo info = *dm_.Info("vg-pool-tpool");
    dm_.Create("vg-pool",
               {{0, (1ull << 30) / 512, "linear",
                 std::to_string(info.major) + ":" + std::to_string(info.minor) + " 0"}},
               {});
  }
  void Adopt(bool force) {
    PoolCreateOptions o;
    o.mode = PoolMode::kAdopted;
    o.thinpool = "/dev/mapper/vg-pool";
    o.base_size = 64 << 20;
    o.force = force;
    engine_->CreatePool(o);
  }
};

TEST_F(AdoptTest, AdoptsTheThinPoolBehindLvmsLinearLayerAndLeavesItWhenDeactivated) {
  MakeLvmPool();
  Adopt(false);
  EXPECT_EQ(engine_->PoolName(), "vg-pool-tpool");
  EXPECT_EQ(engine_->Status().settings.block_size, 128u << 10);  // the pool's, not the default
  EXPECT_EQ(engine_->Status().settings.no_space, NoSpacePolicy::kQueue);  // the pool's too
  engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  engine_->CloneVolume("v", "v2");
  EXPECT_EQ(dm_.ThinIds("/dev/vg/meta").size(), 3u);
  EXPECT_EQ(*dm_.TransactionId("/dev/vg/meta"), engine_->store().catalog().transaction_id());
  CheckReport r = engine_->Check();
  EXPECT_TRUE(r.problems().empty()) << r.problems().front();
  engine_->Activate("v");
  engine_->DeactivatePool(false);
  EXPECT_TRUE(dm_.Exists("vg-pool-tpool"));
  EXPECT_TRUE(dm_.Exists("vg-pool"));
  EXPECT_EQ(dm_.List().size(), 2u);  // only the owner's devices are left
}

TEST_F(AdoptTest, RefusesAPoolWithDevicesUnlessForcedAndThenLeavesThemAlone) {
  MakeLvmPool();
  dm_.Message("vg-pool-tpool", "create_thin 0");  // someone else's device; transaction id 0
  try {
    Adopt(false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kExists);
    EXPECT_NE(std::string(e.what()).find("1 thin devices (ids 0)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(engine_->store().catalog().config().empty());  // nothing recorded
  Adopt(true);
  DeviceRecord v = engine_->CreateVolume("v", 64 << 20, FsType::kNone);
  EXPECT_NE(v.id, 0u);
  EXPECT_NE(engine_->store().catalog().FindByName(kOriginName)->id, 0u);
  CheckReport r = engine_->Check();
  EXPECT_TRUE(r.problems().empty()) << r.problems().front();
  engine_->Repair();
  std::vector<uint32_t> ids = dm_.ThinIds("/dev/vg/meta");
  EXPECT_EQ(ids.front(), 0u);  // repair did not delete it
  engine_->DestroyPool(true);
  EXPECT_EQ(dm_.ThinIds("/dev/vg/meta"), std::vector<uint32_t>{0});
}

TEST_F(AdoptTest, RefusesAnUnknownTransactionIdAndNonPools) {
  MakeLvmPool();
  dm_.Message("vg-pool-tpool", "set_transaction_id 0 2");
  try {
    Adopt(false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("transaction id 2"), std::string::npos) << e.what();
  }
  dm_.Create("lin", {{0, 2048, "linear", "/dev/sda 0"}}, {});
  PoolCreateOptions o;
  o.mode = PoolMode::kAdopted;
  o.thinpool = "lin";
  try {
    engine_->CreatePool(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("not a thin pool"), std::string::npos) << e.what();
  }
  o.thinpool = "/dev/mapper/nosuch";
  EXPECT_THROW(engine_->CreatePool(o), Error);
  Adopt(true);  // forced: the pool's count is replaced by the journal's
  EXPECT_EQ(*dm_.TransactionId("/dev/vg/meta"), engine_->store().catalog().transaction_id());
}

// --- what the services record (services/containerd) ---

// A device's labels without the identity labels the engine adds (engine_send.cc).
std::map<std::string, std::string> WithoutIdentity(std::map<std::string, std::string> labels) {
  EXPECT_EQ(labels.count("thinsnap.uuid"), 1u);
  labels.erase("thinsnap.uuid");
  labels.erase("thinsnap.written");
  return labels;
}

TEST_F(EngineTest, ContainerLabelsAndReadOnlyAreRecordedWithTheDevice) {
  CreateLoopbackPool();
  NewDeviceOptions extra;
  extra.labels = {{"containerd.key", "default/1/a very long key: with / and spaces"}};
  extra.read_only = true;
  engine_->CreateContainer("v", "base", std::nullopt, extra);
  EXPECT_THROW(engine_->CreateContainer("w", "base", 512ull << 20, extra), Error);
  Open();  // from the journal alone
  const DeviceRecord* v = engine_->store().catalog().FindByName("v");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(WithoutIdentity(v->labels), extra.labels);
  EXPECT_TRUE(v->read_only);
  EXPECT_EQ(engine_->store().catalog().FindByName("w"), nullptr);
  ExpectConsistent();
}

TEST_F(EngineTest, CommitInPlaceTurnsTheContainerIntoALayerWithoutANewDevice) {
  CreateLoopbackPool();
  DeviceRecord c = engine_->CreateContainer("c", "base", std::nullopt);
  engine_->Activate("c");
  engine_->Mount("c", "");
  EXPECT_THROW(engine_->CommitInPlace("c", "l", {}), Error);  // mounted
  engine_->Unmount("c");
  engine_->Activate("c");
  std::set<uint32_t> before = KernelIds();
  DeviceRecord l = engine_->CommitInPlace("c", "l", {{"k", "v"}});
  EXPECT_EQ(l.id, c.id);
  EXPECT_EQ(KernelIds(), before);
  Open();
  const DeviceRecord* rec = engine_->store().catalog().FindByName("l");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->kind, DeviceKind::kLayer);
  EXPECT_TRUE(rec->read_only);
  EXPECT_FALSE(rec->active);
  EXPECT_EQ(rec->labels.at("k"), "v");
  EXPECT_EQ(engine_->store().catalog().FindByName("c"), nullptr);
  EXPECT_FALSE(dm_.Info(engine_->Inspect("l").dm_name).has_value());  // deactivated
  engine_->CreateContainer("c2", "l", std::nullopt);           // a layer containers start from
  EXPECT_THROW(engine_->CommitInPlace("l", "l2", {}), Error);  // not a container
  ExpectConsistent();
}

TEST_F(EngineTest, EmptyLayerIsSealedAndSetLabelsPersists) {
  CreateLoopbackPool();
  DeviceRecord e = engine_->CreateEmptyLayer("empty", {{{"role", "root"}}, false});
  EXPECT_EQ(e.state, DeviceState::kReady);
  EXPECT_TRUE(e.read_only);
  EXPECT_EQ(WithoutIdentity(e.labels), (std::map<std::string, std::string>{{"role", "root"}}));
  EXPECT_TRUE(sys_.mounts.empty());
  engine_->SetLabels("empty", {{"a", "1"}});
  Open();
  EXPECT_EQ(WithoutIdentity(engine_->store().catalog().FindByName("empty")->labels),
            (std::map<std::string, std::string>{{"a", "1"}}));
  ExpectConsistent();
}

}  // namespace
}  // namespace thinsnap

// --- the space reserve ---

namespace thinsnap {
namespace {

class ReserveTest : public EngineTest {
 protected:
  // A pool with a mounted container, a mounted read-only layer, a raw volume holding most of
  // the space, and `used_percent` of the data blocks mapped.
  // c is the writer: it maps a block whenever the engine waits. With `idle`, a second mounted
  // container d_ that writes nothing.
  void MakePool(int used_percent, bool idle = false, FsType fs = FsType::kExt4) {
    CreateLoopbackPool(fs);
    DeviceRecord c = engine_->CreateContainer("c", "base", std::nullopt);
    c_ = engine_->Mount(c.name, "");
    if (idle) d_ = engine_->Mount(engine_->CreateContainer("d", "base", std::nullopt).name, "");
    DeviceRecord v = engine_->CreateVolume("v", 1ull << 30, FsType::kNone);
    engine_->Activate("v");
    dm_.MapBlocks(engine_->PoolName(), v.id, kBlocks * used_percent / 100);
    WhileWaitingWrites(c.id);
  }
  void WhileWaitingWrites(uint32_t id) {
    std::string pool = engine_->PoolName();
    sys_.on_sleep = [this, pool, id] { dm_.MapBlocks(pool, id, 1); };
  }
  static constexpr uint64_t kBlocks = (1ull << 30) / (64 << 10);
  std::string c_, d_;
};

TEST_F(ReserveTest, AboveTheReserveNothingIsStopped) {
  MakePool(94);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_FALSE(r.under);
  EXPECT_TRUE(r.near);  // past the 10% low-water mark: the monitor polls
  EXPECT_EQ(r.data_reserve_blocks, kBlocks * 5 / 100);
  EXPECT_TRUE(sys_.fs_control_calls.empty());
  EXPECT_TRUE(engine_->Status().stopped.empty());
}

TEST_F(ReserveTest, AtTheReserveMountedWritableFilesystemsAreShutDownAndListed) {
  MakePool(96);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);
  EXPECT_EQ(sys_.fs_control_calls, std::vector<std::string>{"shutdown ext4 " + c_});
  ASSERT_EQ(r.did.size(), 1u);
  EXPECT_EQ(r.did[0], "reserve: pool data space at the reserve: shut down c (" + c_ + ")");
  PoolReport st = engine_->Status();
  ASSERT_EQ(st.stopped.size(), 1u);
  EXPECT_EQ(st.stopped[0].name, "c");
  EXPECT_EQ(st.stopped[0].how, "shutdown");
  EXPECT_EQ(st.stopped[0].reason, "data");
  EXPECT_EQ(st.stopped[0].mountpoint, c_);
  EXPECT_TRUE(HasLine(st.warnings, "then run: thinsnap mount c"));
  // Enforcing again changes nothing: c is stopped already.
  EXPECT_TRUE(engine_->EnforceReserve().did.empty());
  EXPECT_EQ(sys_.fs_control_calls.size(), 1u);
  ExpectConsistent();
}

TEST_F(ReserveTest, AContainerThatIsNotAllocatingIsFrozenNotShutDown) {
  MakePool(96, /*idle=*/true);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);
  // c allocated while the engine watched: shut down. d did not: frozen, so its reads go on.
  EXPECT_EQ(sys_.shut_down, std::set<std::string>{c_});
  EXPECT_EQ(sys_.frozen, std::set<std::string>{d_});
  std::vector<StoppedDevice> stopped = engine_->Status().stopped;
  ASSERT_EQ(stopped.size(), 2u);
  EXPECT_EQ(stopped[0].name + " " + stopped[0].how, "c shutdown");
  EXPECT_EQ(stopped[1].name + " " + stopped[1].how, "d frozen");
  // Growth brings both back: c remounted, d thawed.
  PoolSetOptions set;
  set.data_size = 2ull << 30;
  engine_->SetPool(set);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_TRUE(sys_.shut_down.empty());
  EXPECT_TRUE(sys_.frozen.empty());
  ExpectConsistent();
}

// xfs the same: the allocating one shut down, the idle one frozen (a freeze that the pool's
// filling then turns into a shutdown is the case below: recovery remounts it).
TEST_F(ReserveTest, AnIdleXfsContainerIsFrozenToo) {
  MakePool(96, /*idle=*/true, FsType::kXfs);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);
  EXPECT_EQ(sys_.shut_down, std::set<std::string>{c_});
  EXPECT_EQ(sys_.frozen, std::set<std::string>{d_});
  EXPECT_EQ(
      std::count(sys_.fs_control_calls.begin(), sys_.fs_control_calls.end(), "shutdown xfs " + c_),
      1);
  PoolSetOptions set;
  set.data_size = 2ull << 30;
  engine_->SetPool(set);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_TRUE(sys_.frozen.empty());
  ExpectConsistent();
}

// xfs shuts itself down when a write of its freeze finds the pool full, and the freeze still
// succeeds; FreezeFilesystem thaws it again (kShutDown) and it is stopped as a shut-down one,
// which growth brings back by unmount and mount.
TEST_F(ReserveTest, AFreezeThatShutsTheFilesystemDownCountsAsAShutdown) {
  MakePool(96, /*idle=*/true, FsType::kXfs);
  sys_.gives_up_on_freeze.insert(d_);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);
  // The allocating c stops first, so that its writes in flight come before d's freeze.
  EXPECT_EQ(sys_.fs_control_calls,
            (std::vector<std::string>{"shutdown xfs " + c_, "freeze " + d_, "shutdown xfs " + d_}));
  EXPECT_TRUE(sys_.frozen.empty());
  EXPECT_TRUE(HasLine(r.did, "d (" + d_ + ") shut itself down while freezing"));
  std::vector<StoppedDevice> stopped = engine_->Status().stopped;
  ASSERT_EQ(stopped.size(), 2u);
  EXPECT_EQ(stopped[1].name + " " + stopped[1].how, "d shutdown");
  PoolSetOptions set;
  set.data_size = 2ull << 30;
  engine_->SetPool(set);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_EQ(sys_.mounts.count(d_), 1u);
  EXPECT_TRUE(sys_.gave_up.empty());  // unmounted and mounted again
  EXPECT_TRUE(sys_.frozen_superblocks.empty());
  ExpectConsistent();
}

// A filesystem listed frozen that no longer reads but is not frozen (the monitor's deferred
// freeze shut it down and thawed it) comes back by unmount and mount.
TEST_F(ReserveTest, AFrozenOneThatShutDownAndWasThawedIsRemounted) {
  MakePool(96, /*idle=*/true);
  engine_->EnforceReserve();
  ASSERT_EQ(sys_.frozen, std::set<std::string>{d_});
  sys_.frozen.erase(d_);
  sys_.gave_up.insert(d_);
  PoolSetOptions set;
  set.data_size = 2ull << 30;
  engine_->SetPool(set);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_TRUE(sys_.gave_up.empty());
  EXPECT_EQ(sys_.mounts.count(d_), 1u);
  ExpectConsistent();
}

// One that shuts itself down after its freeze returned cannot be thawed (no file on it opens),
// and its unmount leaves the frozen superblock for the next mount to find: growth's remount
// finds it again, so it is marked stuck with what the operator can do.
TEST_F(ReserveTest, AFrozenFilesystemThatShutItselfDownLaterStaysAndSaysHow) {
  MakePool(96, /*idle=*/true);
  engine_->EnforceReserve();
  ASSERT_EQ(sys_.frozen, std::set<std::string>{d_});
  sys_.gave_up.insert(d_);  // a write of its own after the freeze found the pool full
  PoolSetOptions set;
  set.data_size = 2ull << 30;
  engine_->SetPool(set);
  PoolReport st = engine_->Status();
  ASSERT_EQ(st.stopped.size(), 1u);
  EXPECT_EQ(st.stopped[0].name + " " + st.stopped[0].how, "d stuck");
  EXPECT_TRUE(HasLine(st.warnings, "/proc/sysrq-trigger"));
  EXPECT_TRUE(HasLine(st.warnings, "then: thinsnap mount d"));
  EXPECT_EQ(sys_.mounts.count(d_), 1u);  // mounted again, on the same frozen superblock
  EXPECT_EQ(sys_.frozen, std::set<std::string>{d_});
  // Later turns leave it as it is; once the operator has thawed it, mount brings it back.
  EXPECT_TRUE(engine_->EnforceReserve().did.empty());
  // A mount before the thaw finds the same frozen superblock: refused, still stuck.
  try {
    engine_->Mount("d", "");
    ADD_FAILURE() << "mount of a stuck device succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("still frozen and shut down"), std::string::npos);
  }
  EXPECT_EQ(engine_->Status().stopped.at(0).how, "stuck");
  sys_.frozen.erase(d_);  // echo j > /proc/sysrq-trigger
  EXPECT_EQ(engine_->Mount("d", ""), d_);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_TRUE(sys_.gave_up.empty());
  ExpectConsistent();
}

TEST_F(ReserveTest, TheWritersSinceTheLastLookAreShutDownNotAnOccasionalWriteback) {
  MakePool(93, /*idle=*/true);
  sys_.on_sleep = nullptr;
  ReserveReport near = engine_->EnforceReserve();
  ASSERT_FALSE(near.under);
  ASSERT_TRUE(near.near);
  ASSERT_EQ(near.mapped.size(), 2u);  // c and d
  // Between the looks c writes 2% of the pool, d one block (its metadata writeback).
  const Catalog& cat = engine_->store().catalog();
  dm_.MapBlocks(engine_->PoolName(), cat.FindByName("c")->id, kBlocks * 2 / 100);
  dm_.MapBlocks(engine_->PoolName(), cat.FindByName("d")->id, 1);
  ReserveReport r = engine_->EnforceReserve({.previous_mapped = &near.mapped});
  EXPECT_TRUE(r.under);
  EXPECT_EQ(sys_.shut_down, std::set<std::string>{c_});
  EXPECT_EQ(sys_.frozen, std::set<std::string>{d_});
}

TEST_F(ReserveTest, WithNoFilesystemSeenAllocatingTheyAreAllShutDown) {
  MakePool(96, /*idle=*/true);
  sys_.on_sleep = nullptr;  // the raw volume v filled the pool; no filesystem writes now
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);
  EXPECT_EQ(sys_.shut_down, (std::set<std::string>{c_, d_}));
  EXPECT_TRUE(sys_.frozen.empty());
}

TEST_F(ReserveTest, OnAFullPoolEveryFilesystemIsShutDown) {
  MakePool(96, /*idle=*/true);
  sys_.on_sleep = nullptr;
  dm_.MapBlocks(engine_->PoolName(), engine_->store().catalog().FindByName("v")->id, kBlocks);
  engine_->EnforceReserve();
  EXPECT_EQ(sys_.shut_down, (std::set<std::string>{c_, d_}));
  EXPECT_TRUE(sys_.frozen.empty());
}

TEST_F(ReserveTest, GrowthRemountsTheShutDownContainers) {
  MakePool(96);
  engine_->EnforceReserve();
  PoolSetOptions set;
  set.data_size = 2ull << 30;
  engine_->SetPool(set);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_EQ(sys_.mounts.count(c_), 1u);  // unmounted and mounted again
  EXPECT_TRUE(sys_.shut_down.empty());
  EXPECT_TRUE(engine_->store().catalog().FindByName("c")->mountpoint == c_);
  ExpectConsistent();
}

TEST_F(ReserveTest, RemoveThatFreesSpaceBringsThemBack) {
  MakePool(96);
  engine_->EnforceReserve();
  engine_->Deactivate("v");
  EXPECT_EQ(engine_->Remove("v", false, false), RemoveOutcome::kRemoved);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_TRUE(sys_.shut_down.empty());
}

TEST_F(ReserveTest, MountOfAShutDownContainerMountsItAgain) {
  MakePool(96);
  engine_->EnforceReserve();
  EXPECT_EQ(engine_->Mount("c", ""), c_);
  EXPECT_TRUE(sys_.shut_down.empty());
  EXPECT_EQ(sys_.mounts.count(c_), 1u);
  EXPECT_TRUE(engine_->Status().stopped.empty());
}

TEST_F(ReserveTest, QueuePolicyFreezesAndThawsOnceSpaceIsBack) {
  MakePool(96);
  PoolSetOptions q;
  q.no_space = NoSpacePolicy::kQueue;
  engine_->SetPool(q);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_EQ(sys_.frozen, std::set<std::string>{c_});
  EXPECT_EQ(engine_->Status().stopped.at(0).how, "frozen");
  PoolSetOptions grow;
  grow.data_size = 2ull << 30;
  engine_->SetPool(grow);
  EXPECT_TRUE(sys_.frozen.empty());
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_EQ(sys_.fs_control_calls.back(), "thaw " + c_);
}

TEST_F(ReserveTest, AFailedShutdownIsReportedAndNotRecorded) {
  MakePool(96);
  sys_.fs_control_fails = true;
  ReserveReport r = engine_->EnforceReserve();
  ASSERT_EQ(r.did.size(), 1u);
  EXPECT_NE(r.did[0].find("could not stop c (" + c_ + "): shut down"), std::string::npos)
      << r.did[0];
  EXPECT_TRUE(engine_->Status().stopped.empty());
}

TEST_F(ReserveTest, ZeroReserveLeavesItToTheKernel) {
  MakePool(99);
  PoolSetOptions set;
  set.reserve = "0";
  engine_->SetPool(set);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_FALSE(r.under);
  EXPECT_TRUE(sys_.fs_control_calls.empty());
}

TEST_F(ReserveTest, ReserveInBlocksAndTheLowWaterMarkFollowIt) {
  MakePool(80);
  PoolSetOptions set;
  set.reserve = "4000";  // 24% of 16384 blocks, above the 10% of --min-free-space
  engine_->SetPool(set);
  // The kernel's low-water event must come no later than the reserve.
  auto table = kernel::ParsePoolTableParams(dm_.GetTable(engine_->PoolName()).at(0).params);
  EXPECT_EQ(table.low_water_blocks, 4000u);
  EXPECT_EQ(engine_->Status().data_reserve_blocks, 4000u);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);  // 20% free <= 4000 blocks
  EXPECT_EQ(sys_.shut_down, std::set<std::string>{c_});
}

TEST_F(ReserveTest, TheMonitorStopsWritersAtTheReserveWithoutHoldingTheLock) {
  MakePool(96);
  std::string pool = engine_->PoolName();
  engine_.reset();
  dm_.TriggerEvent(pool);
  std::vector<std::string> lines = RunMonitorTurns(root_, &dm_, &sys_, &fs_, 2);
  EXPECT_TRUE(HasLine(lines, "reserve: pool data space at the reserve: shut down c"));
  EXPECT_EQ(sys_.shut_down, std::set<std::string>{c_});
  Open();  // the lock was released
  EXPECT_EQ(engine_->Status().stopped.size(), 1u);
}

TEST_F(ReserveTest, MetadataAtTheReserveStopsWritersToo) {
  PoolCreateOptions o;
  o.data_size = 16ull << 30;
  o.metadata_size = 2 << 20;  // 512 blocks: a 25-block reserve
  o.base_size = 256 << 20;
  o.min_free_percent = 1;
  engine_->CreatePool(o);
  DeviceRecord c = engine_->CreateContainer("c", "base", std::nullopt);
  c_ = engine_->Mount(c.name, "");
  WhileWaitingWrites(c.id);
  DeviceRecord v = engine_->CreateVolume("v", 16ull << 30, FsType::kNone);
  // 256 mappings per fake metadata block: 110000 mappings leave 72 of 512 blocks free, past
  // the kernel's metadata low-water mark (128) but above the reserve.
  dm_.MapBlocks(engine_->PoolName(), v.id, 110000);
  ReserveReport r = engine_->EnforceReserve();
  EXPECT_FALSE(r.under);
  EXPECT_TRUE(r.near) << "past the kernel's metadata threshold: the monitor must poll";
  dm_.MapBlocks(engine_->PoolName(), v.id, 13000);
  r = engine_->EnforceReserve();
  EXPECT_TRUE(r.under);
  EXPECT_EQ(r.metadata_reserve_blocks, 25u);
  ASSERT_EQ(r.did.size(), 1u);
  EXPECT_EQ(r.did[0], "reserve: pool metadata space at the reserve: shut down c (" + c_ + ")");
  EXPECT_EQ(engine_->Status().stopped.at(0).reason, "metadata");
  PoolSetOptions grow;
  grow.metadata_size = 4 << 20;
  engine_->SetPool(grow);
  EXPECT_TRUE(engine_->Status().stopped.empty());
  EXPECT_TRUE(sys_.shut_down.empty());
}

TEST(Reserve, ParsesPercentagesAndBlocks) {
  int percent = -1;
  uint64_t blocks = 1;
  ParseReserve("5%", &percent, &blocks);
  EXPECT_EQ(percent, 5);
  EXPECT_EQ(blocks, 0u);
  ParseReserve("2048", &percent, &blocks);
  EXPECT_EQ(percent, 0);
  EXPECT_EQ(blocks, 2048u);
  for (const char* bad : {"", "%", "x", "5%%", "51%", "-1", "5 %"}) {
    EXPECT_THROW(ParseReserve(bad, &percent, &blocks), Error) << bad;
  }
  EXPECT_EQ(FormatReserve(5, 0), "5%");
  EXPECT_EQ(FormatReserve(0, 2048), "2048 blocks");
  EXPECT_EQ(FormatReserve(0, 0), "off");
}

}  // namespace
}  // namespace thinsnap
