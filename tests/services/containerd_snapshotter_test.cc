// containerd's snapshots API over the engine's fakes: the handlers of services/containerd
// (mapping, labels, update masks, filters, error codes), without gRPC's transport.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "base/error.h"
#include "services/containerd/snapshotter.h"
#include "services/containerd/status.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"

namespace thinsnap::containerd {
namespace {

using grpc::StatusCode;

class SnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-ctd-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    OpenHost();
    host_->Run([](Engine& e) {
      PoolCreateOptions p;
      p.data_size = 1ull << 30;
      p.metadata_size = 16 << 20;
      p.base_size = 64 << 20;
      e.CreatePool(p);
    });
  }
  void TearDown() override {
    snap_.reset();
    host_.reset();
    ASSERT_EQ(std::system(("rm -rf " + root_).c_str()), 0);
  }
  void OpenHost() {
    snap_.reset();
    host_.reset();
    EngineHostOptions o;
    o.root = root_;
    o.engine.lock_timeout_ms = 2000;
    host_ = std::make_unique<EngineHost>(&dm_, &sys_, o);
    snap_ = std::make_unique<Snapshotter>(host_.get());
  }

  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       std::map<std::string, std::string> labels = {},
                       api::PrepareSnapshotResponse* out = nullptr) {
    api::PrepareSnapshotRequest r;
    r.set_key(key);
    r.set_parent(parent);
    for (auto& [k, v] : labels) (*r.mutable_labels())[k] = v;
    api::PrepareSnapshotResponse ignored;
    return snap_->Prepare(r, out ? out : &ignored);
  }
  grpc::Status View(const std::string& key, const std::string& parent,
                    api::ViewSnapshotResponse* out = nullptr) {
    api::ViewSnapshotRequest r;
    r.set_key(key);
    r.set_parent(parent);
    api::ViewSnapshotResponse ignored;
    return snap_->View(r, out ? out : &ignored);
  }
  grpc::Status Commit(const std::string& name, const std::string& key,
                      std::map<std::string, std::string> labels = {}) {
    api::CommitSnapshotRequest r;
    r.set_name(name);
    r.set_key(key);
    for (auto& [k, v] : labels) (*r.mutable_labels())[k] = v;
    return snap_->Commit(r);
  }
  grpc::Status Remove(const std::string& key) {
    api::RemoveSnapshotRequest r;
    r.set_key(key);
    return snap_->Remove(r);
  }
  api::Info Stat(const std::string& key, StatusCode want = StatusCode::OK) {
    api::StatSnapshotRequest r;
    r.set_key(key);
    api::StatSnapshotResponse out;
    EXPECT_EQ(snap_->Stat(r, &out).error_code(), want) << key;
    return out.info();
  }
  grpc::Status Update(api::Info info, std::vector<std::string> paths, api::Info* out) {
    api::UpdateSnapshotRequest r;
    *r.mutable_info() = std::move(info);
    for (auto& p : paths) r.mutable_update_mask()->add_paths(p);
    api::UpdateSnapshotResponse resp;
    grpc::Status st = snap_->Update(r, &resp);
    *out = resp.info();
    return st;
  }
  std::vector<std::string> List(std::vector<std::string> filters) {
    api::ListSnapshotsRequest r;
    for (auto& f : filters) r.add_filters(f);
    std::vector<std::string> names;
    grpc::Status st = snap_->List(r, [&](const api::ListSnapshotsResponse& batch) {
      for (const api::Info& i : batch.info()) names.push_back(i.name());
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::sort(names.begin(), names.end());
    return names;
  }
  // The host let the root's lock go (a CLI command could run now).
  void ExpectRootLockFree() {
    EngineOptions o;
    o.lock_timeout_ms = 0;
    EXPECT_NO_THROW(Engine::Open(root_, &dm_, &sys_, o));
  }
  DeviceRecord Record(const std::string& key) {
    return host_->Run(
        [&](Engine& e) { return *e.store().catalog().FindByName(DeviceNameFor(key)); });
  }

  std::string root_;
  kernel::FakeDeviceMapper dm_;
  kernel::FakeSystem sys_{&dm_};
  std::unique_ptr<EngineHost> host_;
  std::unique_ptr<Snapshotter> snap_;
};

// Arbitrary strings, as containerd's metadata store makes them (namespace/id/key).
const std::string kKey = "testsuite/12/" + std::string(200, 'k') + " with spaces/and:colons";

TEST_F(SnapshotterTest, ParentlessPrepareIsAWritableBlockMountFromTheEmptyRoot) {
  api::PrepareSnapshotResponse out;
  ASSERT_TRUE(Prepare(kKey, "", {{"containerd.io/gc.root", "now"}}, &out).ok());
  ASSERT_EQ(out.mounts_size(), 1);
  EXPECT_EQ(out.mounts(0).type(), "ext4");
  EXPECT_EQ(out.mounts(0).source().rfind("/dev/mapper/thinsnap-", 0), 0u) << out.mounts(0).source();
  EXPECT_EQ(out.mounts(0).options_size(), 0);
  api::Info info = Stat(kKey);
  EXPECT_EQ(info.name(), kKey);
  EXPECT_EQ(info.kind(), api::ACTIVE);
  EXPECT_EQ(info.parent(), "");
  EXPECT_EQ(info.labels().at("containerd.io/gc.root"), "now");
  EXPECT_EQ(info.created_at().seconds(), info.updated_at().seconds());
  EXPECT_EQ(info.created_at().nanos(), info.updated_at().nanos());
  DeviceRecord rec = Record(kKey);
  EXPECT_EQ(rec.kind, DeviceKind::kContainer);
  EXPECT_EQ(rec.labels.at(kKeyLabel), kKey);
  DeviceRecord root =
      host_->Run([](Engine& e) { return *e.store().catalog().FindByName(kRootLayer); });
  EXPECT_EQ(rec.parent_id, root.id);
  EXPECT_EQ(root.state, DeviceState::kReady);
  EXPECT_EQ(List({}), std::vector<std::string>{kKey});  // the root layer is not a snapshot
}

TEST_F(SnapshotterTest, CommitViewAndPrepareFromTheCommittedLayer) {
  ASSERT_TRUE(Prepare("a", "").ok());
  ASSERT_TRUE(Commit("c1", "a", {{"l", "1"}}).ok());
  Stat("a", StatusCode::NOT_FOUND);
  api::Info c1 = Stat("c1");
  EXPECT_EQ(c1.kind(), api::COMMITTED);
  EXPECT_EQ(c1.labels().at("l"), "1");
  EXPECT_EQ(Record("c1").kind, DeviceKind::kLayer);

  api::ViewSnapshotResponse view;
  ASSERT_TRUE(View("v", "c1", &view).ok());
  ASSERT_EQ(view.mounts_size(), 1);
  std::vector<std::string> opts(view.mounts(0).options().begin(), view.mounts(0).options().end());
  EXPECT_EQ(opts, (std::vector<std::string>{"ro", "noload"}));
  EXPECT_EQ(Stat("v").kind(), api::VIEW);
  EXPECT_EQ(Stat("v").parent(), "c1");
  EXPECT_TRUE(Record("v").read_only);

  ASSERT_TRUE(Prepare("b", "c1").ok());
  EXPECT_EQ(Stat("b").parent(), "c1");
  ASSERT_TRUE(Commit("c2", "b").ok());
  EXPECT_EQ(Stat("c2").parent(), "c1");
  api::MountsRequest mr;
  mr.set_key("v");
  api::MountsResponse mounts;
  EXPECT_TRUE(snap_->Mounts(mr, &mounts).ok());
  EXPECT_EQ(mounts.mounts(0).source(), view.mounts(0).source());
}

TEST_F(SnapshotterTest, UsageIsTheExclusiveBytesAndTheInodesAddedOverTheParent) {
  auto usage = [&](const std::string& key, grpc::Status* st = nullptr) {
    api::UsageRequest r;
    r.set_key(key);
    api::UsageResponse out;
    grpc::Status got = snap_->Usage(r, &out);
    EXPECT_TRUE(got.ok()) << got.error_message();
    if (st) *st = got;
    return std::make_pair(out.size(), out.inodes());
  };
  auto dm_name = [](const api::PrepareSnapshotResponse& p) {
    const std::string& src = p.mounts(0).source();
    return src.substr(src.rfind('/') + 1);
  };
  api::PrepareSnapshotResponse a, b;
  ASSERT_TRUE(Prepare("a", "", {}, &a).ok());
  sys_.used_inodes[dm_name(a)] = 15;  // the empty root layer's filesystem has 0 in the fake
  std::string pool = host_->Run([](Engine& e) { return e.PoolName(); });
  dm_.MapBlocks(pool, Record("a").id, 10);
  // Not mounted: read through a short read-only mount of ours, which goes again.
  EXPECT_EQ(usage("a"), std::make_pair(int64_t{10 * 64 << 10}, int64_t{15}));
  EXPECT_TRUE(sys_.mounts.empty());

  ASSERT_TRUE(Commit("c", "a").ok());
  EXPECT_EQ(usage("c"), std::make_pair(int64_t{10 * 64 << 10}, int64_t{15}));
  sys_.used_inodes[dm_name(a)] = 999;  // a committed layer never changes: its count is kept
  EXPECT_EQ(usage("c").second, 15);
  ASSERT_TRUE(Prepare("b", "c", {}, &b).ok());
  sys_.used_inodes[dm_name(b)] = 40;
  dm_.MapBlocks(pool, Record("b").id, 3);
  // Mounted by containerd: read where it is mounted.
  sys_.mounts["/run/containerd/rootfs"] = b.mounts(0).source();
  int calls = sys_.usage_calls;
  EXPECT_EQ(usage("b"), std::make_pair(int64_t{3 * 64 << 10}, int64_t{25}));
  EXPECT_EQ(sys_.usage_calls, calls + 1);  // the parent's count came from memory
  EXPECT_EQ(usage("c").first, 0);          // its blocks are all shared with b now
  sys_.used_inodes[dm_name(b)] = 7;        // b deleted more than it added
  EXPECT_EQ(usage("b").second, 0);
  sys_.mounts.erase("/run/containerd/rootfs");

  // Open but not mounted (a VM's disk): no mount of ours; inodes unknown, reported as 0.
  dm_.HoldOpen(dm_name(b));
  EXPECT_EQ(usage("b"), std::make_pair(int64_t{3 * 64 << 10}, int64_t{0}));
  EXPECT_TRUE(sys_.mounts.empty());
  dm_.CloseHold(dm_name(b));
  api::UsageRequest r;
  r.set_key("nope");
  api::UsageResponse out;
  EXPECT_EQ(snap_->Usage(r, &out).error_code(), StatusCode::NOT_FOUND);
}

// containerd sends Prepare/Commit/Remove in parallel: every interleaving lands, races on one key
// have exactly one winner, and nothing is left behind.
TEST_F(SnapshotterTest, ParallelPrepareCommitRemoveAllLandAndLeakNothing) {
  constexpr int kThreads = 4, kRounds = 6;
  std::atomic<int> ok{0}, prepare_won{0}, remove_won{0}, lost{0}, unexpected{0};
  auto count = [&](const grpc::Status& st, std::atomic<int>* won, StatusCode lose) {
    if (st.ok()) {
      ++*won;
    } else if (st.error_code() == lose) {
      ++lost;
    } else {
      ++unexpected;
      ADD_FAILURE() << st.error_message();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::string k = "ns/" + std::to_string(t) + "/" + std::to_string(i);
        for (const grpc::Status& st :
             {Prepare(k + "/a", ""), Commit(k + "/c", k + "/a"), Prepare(k + "/b", k + "/c"),
              Remove(k + "/b"), Remove(k + "/c")}) {
          count(st, &ok, StatusCode::OK);
        }
        std::string race = "ns/race/" + std::to_string(i);
        count(Prepare(race, ""), &prepare_won, StatusCode::ALREADY_EXISTS);
        count(Remove(race), &remove_won, StatusCode::NOT_FOUND);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kRounds * 5);
  EXPECT_EQ(unexpected.load(), 0);
  // Each race key: made once and removed once, however the threads interleaved (a key removed
  // before a late Prepare is made again, and then removed again).
  EXPECT_GE(prepare_won.load(), kRounds);
  EXPECT_EQ(prepare_won.load(), remove_won.load());
  EXPECT_EQ(prepare_won.load() + remove_won.load() + lost.load(), kThreads * kRounds * 2);
  EXPECT_EQ(List({}), std::vector<std::string>{});
  host_->Run([&](Engine& e) {
    EXPECT_TRUE(e.Check().clean());
    std::vector<std::string> names;
    for (const DeviceRecord& r : e.List()) names.push_back(r.name);
    EXPECT_EQ(names.size(), 2u);  // the pool's origin and the empty root layer
    std::set<std::string> known = {e.PoolName()};
    for (const DeviceRecord& r : e.List()) known.insert(e.Inspect(r.name).dm_name);
    for (const kernel::ListedDevice& d : dm_.List()) EXPECT_TRUE(known.count(d.name)) << d.name;
  });
}

// A Prepare's kernel work (activation, a size label's growth) runs outside the host's turns:
// while one request is held inside its filesystem growth, other requests come and go; one on
// the held snapshot itself (Mounts; Commit, Remove, Update and Usage alike) waits for it.
TEST_F(SnapshotterTest, PrepareGrowsOutsideTheTurnWhileOtherRequestsRun) {
  ASSERT_TRUE(Prepare("a", "").ok());
  ASSERT_TRUE(Commit("base", "a").ok());
  std::mutex mu;
  std::condition_variable cv;
  bool growing = false, release = false;
  sys_.on_grow = [&](const std::string&) {
    std::unique_lock<std::mutex> l(mu);
    growing = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
  };
  grpc::Status big_status;
  std::thread big([&] { big_status = Prepare("big", "base", {{kSizeLabel, "512M"}}); });
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return growing; }));
  }
  // "big" is inside its growth: the engine is free for everyone else.
  EXPECT_EQ(host_->pinned(), 1u);
  EXPECT_TRUE(Prepare("small", "base").ok());
  EXPECT_EQ(Stat("small").kind(), api::ACTIVE);
  EXPECT_EQ(Stat("big").kind(), api::ACTIVE);  // recorded, not yet finished
  EXPECT_EQ(List({}), (std::vector<std::string>{"base", "big", "small"}));
  std::atomic<bool> mounted{false};
  std::thread mounts([&] {
    api::MountsRequest r;
    r.set_key("big");
    api::MountsResponse out;
    EXPECT_TRUE(snap_->Mounts(r, &out).ok());
    EXPECT_EQ(out.mounts_size(), 1);
    mounted = true;
  });
  EXPECT_TRUE(Remove("small").ok());
  EXPECT_FALSE(mounted.load());  // waits for "big"'s pin
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  big.join();
  mounts.join();
  EXPECT_TRUE(mounted.load());
  EXPECT_TRUE(big_status.ok()) << big_status.error_message();
  EXPECT_EQ(host_->pinned(), 0u);
  ExpectRootLockFree();
  EXPECT_TRUE(Remove("big").ok());
  EXPECT_EQ(List({}), std::vector<std::string>{"base"});
  host_->Run([&](Engine& e) { EXPECT_TRUE(e.Check().clean()); });
}

// Prepares that wait for a turn together are begun together: one journal sync and one pool
// transaction for all of them; a bad one among them fails alone with its own code.
TEST_F(SnapshotterTest, PreparesQueuedTogetherShareOnePoolTransaction) {
  ASSERT_TRUE(Prepare("a", "").ok());
  ASSERT_TRUE(Commit("base", "a").ok());
  uint64_t txn = host_->Run([](Engine& e) { return e.store().catalog().transaction_id(); });
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, release = false;
  std::thread holder([&] {
    host_->Run([&](Engine&) {
      std::unique_lock<std::mutex> l(mu);
      holding = true;
      cv.notify_all();
      cv.wait(l, [&] { return release; });
    });
  });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return holding; });
  }
  const std::vector<std::pair<std::string, std::string>> asks = {
      {"p1", "base"}, {"p2", "base"}, {"p3", ""}, {"p2", "base"}, {"p4", "nope"}, {"p5", "base"}};
  std::vector<grpc::Status> got(asks.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < asks.size(); ++i) {
    threads.emplace_back([&, i] { got[i] = Prepare(asks[i].first, asks[i].second); });
  }
  for (int tries = 0; snap_->queued() < asks.size() && tries < 1000; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(snap_->queued(), asks.size());
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  holder.join();
  for (auto& t : threads) t.join();
  // One "p2" meets the other inside the group (whichever queued first wins); "nope" is no
  // snapshot.
  std::vector<StatusCode> codes;
  for (const grpc::Status& st : got) codes.push_back(st.error_code());
  if (codes[1] != StatusCode::OK) std::swap(codes[1], codes[3]);
  EXPECT_EQ(codes, (std::vector<StatusCode>{StatusCode::OK, StatusCode::OK, StatusCode::OK,
                                            StatusCode::ALREADY_EXISTS, StatusCode::NOT_FOUND,
                                            StatusCode::OK}));
  EXPECT_EQ(host_->Run([](Engine& e) { return e.store().catalog().transaction_id(); }), txn + 1);
  EXPECT_EQ(List({"kind==active"}), (std::vector<std::string>{"p1", "p2", "p3", "p5"}));
  EXPECT_EQ(host_->pinned(), 0u);
  EXPECT_EQ(snap_->queued(), 0u);
  host_->Run([&](Engine& e) { EXPECT_TRUE(e.Check().clean()); });
}

// A growth that fails outside the turn is rolled back in the next one, leaving nothing.
TEST_F(SnapshotterTest, PrepareWhoseGrowthFailsLeavesNothing) {
  sys_.on_grow = [](const std::string& dev) {
    throw Error("resize2fs " + dev + ": No space left on device", ErrorKind::kNoSpace);
  };
  grpc::Status st = Prepare("big", "", {{kSizeLabel, "512M"}});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.error_message().find("rolled back"), std::string::npos) << st.error_message();
  EXPECT_EQ(List({}), std::vector<std::string>{});
  EXPECT_TRUE(sys_.mounts.empty());
  EXPECT_EQ(host_->pinned(), 0u);
  ExpectRootLockFree();
  sys_.on_grow = nullptr;
  EXPECT_TRUE(Prepare("big", "", {{kSizeLabel, "512M"}}).ok());
  host_->Run([&](Engine& e) { EXPECT_TRUE(e.Check().clean()); });
}

// --serial: the same outcomes with the device work inside the turns.
TEST_F(SnapshotterTest, SerialModeRunsTheSameRequests) {
  snap_.reset();
  host_.reset();
  EngineHostOptions o;
  o.root = root_;
  o.engine.lock_timeout_ms = 2000;
  o.serial = true;
  host_ = std::make_unique<EngineHost>(&dm_, &sys_, o);
  snap_ = std::make_unique<Snapshotter>(host_.get());
  ASSERT_TRUE(Prepare("a", "", {{kSizeLabel, "512M"}}).ok());
  EXPECT_EQ(Record("a").size_bytes, 512ull << 20);
  EXPECT_TRUE(Record("a").active);
  ASSERT_TRUE(Commit("c", "a").ok());
  ASSERT_TRUE(Remove("c").ok());
  EXPECT_EQ(List({}), std::vector<std::string>{});
}

TEST_F(SnapshotterTest, ErrorsCarryTheCodesContainerdExpects) {
  ASSERT_TRUE(Prepare("a", "").ok());
  EXPECT_EQ(Prepare("a", "").error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(View("a", "").error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Prepare("b", "a").error_code(), StatusCode::INVALID_ARGUMENT);  // not committed
  EXPECT_EQ(Prepare("b", "nope").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Prepare("", "").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Commit("c", "nope").error_code(), StatusCode::NOT_FOUND);
  ASSERT_TRUE(Commit("c", "a").ok());
  ASSERT_TRUE(Prepare("child", "c").ok());
  EXPECT_EQ(Commit("c", "child").error_code(), StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(View("view", "c").ok());
  EXPECT_EQ(Commit("cv", "view").error_code(), StatusCode::FAILED_PRECONDITION);  // not active
  grpc::Status busy = Remove("c");
  EXPECT_EQ(busy.error_code(), StatusCode::FAILED_PRECONDITION) << busy.error_message();
  EXPECT_EQ(Remove("nope").error_code(), StatusCode::NOT_FOUND);
  EXPECT_TRUE(Remove("child").ok());
  EXPECT_TRUE(Remove("view").ok());
  EXPECT_TRUE(Remove("c").ok());
  EXPECT_EQ(List({}), std::vector<std::string>{});
  // The key of a removed snapshot is free again.
  EXPECT_TRUE(Prepare("child", "").ok());
}

TEST_F(SnapshotterTest, ErrorTranslationIsOneTable) {
  EXPECT_EQ(CodeFor(ErrorKind::kNotFound), StatusCode::NOT_FOUND);
  EXPECT_EQ(CodeFor(ErrorKind::kExists), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(CodeFor(ErrorKind::kUsage), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CodeFor(ErrorKind::kBusy), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CodeFor(ErrorKind::kNoSpace), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(CodeFor(ErrorKind::kCorrupt), StatusCode::DATA_LOSS);
  EXPECT_EQ(CodeFor(ErrorKind::kFailure), StatusCode::UNKNOWN);
  grpc::Status st = ToStatus(Error("snapshot 'x' does not exist", ErrorKind::kNotFound));
  EXPECT_EQ(st.error_message(), "snapshot 'x' does not exist");
}

TEST_F(SnapshotterTest, UpdateHonoursFieldPathsAndRefusesParent) {
  ASSERT_TRUE(Prepare("a", "", {{"l1", "v1"}, {"l2", "v2"}}).ok());
  api::Info info = Stat("a");
  (*info.mutable_labels())["l1"] = "updated";
  info.mutable_labels()->erase("l2");
  (*info.mutable_labels())["l4"] = "v4";
  api::Info out;
  ASSERT_TRUE(Update(info, {"labels.l1", "labels.l2"}, &out).ok());
  EXPECT_EQ(out.labels().size(), 1u);  // l2 deleted, l4 not in the mask
  EXPECT_EQ(out.labels().at("l1"), "updated");
  ASSERT_TRUE(Update(info, {"labels"}, &out).ok());
  EXPECT_EQ(out.labels().size(), 2u);
  EXPECT_EQ(out.labels().at("l4"), "v4");
  EXPECT_EQ(out.kind(), api::ACTIVE);
  EXPECT_GE(out.updated_at().seconds() * 1000000000ll + out.updated_at().nanos(),
            out.created_at().seconds() * 1000000000ll + out.created_at().nanos());
  info.set_parent("doesnotexist");
  EXPECT_EQ(Update(info, {"parent"}, &out).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stat("a").parent(), "");
  info.mutable_labels()->clear();
  ASSERT_TRUE(Update(info, {}, &out).ok());  // no mask: all mutable fields (the labels)
  EXPECT_TRUE(Stat("a").labels().empty());
  info.set_name("nope");
  EXPECT_EQ(Update(info, {}, &out).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(SnapshotterTest, WalkFilters) {
  ASSERT_TRUE(Prepare("p", "", {{"containerd.io/gc.root", "x"}}).ok());
  ASSERT_TRUE(Commit("c", "p", {{"containerd.io/gc.root", "x"}}).ok());
  ASSERT_TRUE(Prepare("a", "c", {{"k", "1"}}).ok());
  ASSERT_TRUE(View("v", "c").ok());
  ASSERT_TRUE(Prepare("lone", "").ok());
  using V = std::vector<std::string>;
  EXPECT_EQ(List({}), (V{"a", "c", "lone", "v"}));
  EXPECT_EQ(List({"kind==active"}), (V{"a", "lone"}));
  EXPECT_EQ(List({"kind==view"}), (V{"v"}));
  EXPECT_EQ(List({R"(labels."containerd.io/gc.root"==x)"}), (V{"c"}));
  EXPECT_EQ(List({R"(parent!="")"}), (V{"a", "v"}));
  EXPECT_EQ(List({"labels.k"}), (V{"a"}));
  EXPECT_EQ(List({"kind==active,parent==c"}), (V{"a"}));
  EXPECT_EQ(List({"kind==view", "name==lone"}), (V{"lone", "v"}));
  api::ListSnapshotsRequest bad;
  bad.add_filters("kind==");
  grpc::Status st = snap_->List(bad, [](const api::ListSnapshotsResponse&) { return true; });
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(SnapshotterTest, SizeLabelGrowsTheSnapshot) {
  ASSERT_TRUE(Prepare("big", "", {{kSizeLabel, "512M"}}).ok());
  EXPECT_EQ(Record("big").size_bytes, 512ull << 20);
  EXPECT_FALSE(sys_.grown.empty());
  EXPECT_EQ(Prepare("small", "", {{kSizeLabel, "1M"}}).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Prepare("bad", "", {{kSizeLabel, "lots"}}).error_code(), StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Prepare("default", "").ok());
  EXPECT_EQ(Record("default").size_bytes, 64ull << 20);               // the pool's base size
  EXPECT_EQ(List({}), (std::vector<std::string>{"big", "default"}));  // failures left nothing
}

TEST_F(SnapshotterTest, SnapshotsSurviveARestartOfTheService) {
  ASSERT_TRUE(Prepare("a", "").ok());
  ASSERT_TRUE(Commit("c", "a").ok());
  ASSERT_TRUE(Prepare(kKey, "c", {{"x", "y"}}).ok());
  OpenHost();
  EXPECT_EQ(Stat(kKey).parent(), "c");
  EXPECT_EQ(Stat(kKey).labels().at("x"), "y");
  EXPECT_EQ(Stat("c").kind(), api::COMMITTED);
  api::UsageRequest ur;
  ur.set_key(kKey);
  api::UsageResponse usage;
  EXPECT_TRUE(snap_->Usage(ur, &usage).ok());
  api::CleanupRequest cr;
  EXPECT_TRUE(snap_->Cleanup(cr).ok());
}

}  // namespace
}  // namespace thinsnap::containerd
