// How many device-mapper calls each engine operation makes, against FakeDeviceMapper's call log.
// The kernel's floor for a container (issue: performance) is create_snap + set_transaction_id +
// the new device's create/load/resume; the engine adds one read of the pool's status, which
// tells at once that the pool is active and how much space it has. A create from a layer that
// cannot change moves the transaction id first (thinpool/transaction.h, "Overlapped creates").
// FakeDeviceMapper logs create/load/resume as one "create" call (libdevmapper makes it three
// ioctls).
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"
#include "thinpool/engine.h"

namespace thinsnap {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeSystem;

class IoctlCountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-ioctl-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    EngineOptions opts;
    opts.lock_timeout_ms = 0;
    engine_ = Engine::Open(root_, &dm_, &sys_, opts);
    PoolCreateOptions o;
    o.data_size = 1ull << 30;
    o.metadata_size = 16 << 20;
    o.base_size = 256 << 20;
    o.fs = FsType::kExt4;
    engine_->CreatePool(o);
    engine_->CreateLayer("l1", "");
    engine_->SealLayer("l1");
    dm_.ClearCalls();
  }
  void TearDown() override {
    engine_.reset();
    std::string cmd = "rm -rf " + root_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  // The calls since the last Take(), each as "op" (its first word: "status", "message", ...) plus
  // the message's verb for messages ("message create_snap").
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    for (const std::string& call : dm_.calls()) {
      std::string op = call.substr(0, call.find(' '));
      if (op == "message") {
        // "message <pool> <verb> ...": keep the verb.
        size_t pool_end = call.find(' ', 8);
        size_t verb_end = call.find(' ', pool_end + 1);
        op += " " + call.substr(pool_end + 1, verb_end - pool_end - 1);
      }
      out.push_back(op);
    }
    dm_.ClearCalls();
    return out;
  }
  using Calls = std::vector<std::string>;

  std::string root_;
  FakeDeviceMapper dm_;
  FakeSystem sys_{&dm_};
  std::unique_ptr<Engine> engine_;
};

TEST_F(IoctlCountTest, CreateContainerIsOneStatusAndThePoolTransaction) {
  engine_->CreateContainer("c1", "l1", std::nullopt);
  EXPECT_EQ(Take(), (Calls{"status", "message set_transaction_id", "message create_snap"}));
}

TEST_F(IoctlCountTest, CreateActiveContainerAddsOnlyTheDevicesCreate) {
  std::string dev = engine_->CreateActiveContainer("c1", "l1", std::nullopt);
  EXPECT_EQ(Take(),
            (Calls{"status", "message set_transaction_id", "message create_snap", "create"}));
  ASSERT_EQ(dev.rfind("/dev/mapper/", 0), 0u) << dev;
  std::optional<kernel::DeviceInfo> info = dm_.Info(dev.substr(12));
  ASSERT_TRUE(info.has_value()) << dev;
  EXPECT_FALSE(info->read_only);
  const DeviceRecord* rec = engine_->store().catalog().FindByName("c1");
  ASSERT_NE(rec, nullptr);
  EXPECT_TRUE(rec->active);
  EXPECT_EQ(rec->labels.count("thinsnap.written"), 1u);
}

TEST_F(IoctlCountTest, ServedPrepareIsTheSameAsCreateActive) {
  Engine::ActivationWork w = engine_->BeginContainer("c1", "l1", std::nullopt);
  Engine::RunActivation(w, &dm_, &sys_);
  engine_->FinishActivation(w);
  EXPECT_EQ(Take(),
            (Calls{"status", "message set_transaction_id", "message create_snap", "create"}));
}

TEST_F(IoctlCountTest, AGroupOfCreatesSharesOneStatusReadAndOnePoolTransaction) {
  std::vector<Engine::ContainerRequest> requests;
  for (int i = 0; i < 5; ++i) requests.push_back({"c" + std::to_string(i), "l1", std::nullopt, {}});
  std::vector<Engine::BegunContainer> begun = engine_->BeginContainers(requests);
  Calls want{"status", "message set_transaction_id"};
  want.insert(want.end(), 5, "message create_snap");
  EXPECT_EQ(Take(), want);
  ASSERT_EQ(begun.size(), 5u);
  std::set<uint32_t> ids;
  for (const Engine::BegunContainer& b : begun) {
    ASSERT_TRUE(b.work.has_value()) << (b.error ? b.error->what() : "");
    ids.insert(b.work->id);
    Engine::RunActivation(*b.work, &dm_, &sys_);
    engine_->FinishActivation(*b.work);
  }
  EXPECT_EQ(ids.size(), 5u);  // each its own thin id
  // Each device then costs its own create only.
  EXPECT_EQ(Take(), Calls(5, "create"));
}

TEST_F(IoctlCountTest, RemoveIsTheDevicesRemoveAndThePoolTransaction) {
  engine_->CreateActiveContainer("c1", "l1", std::nullopt);
  engine_->CreateContainer("c2", "l1", std::nullopt);
  Take();
  EXPECT_EQ(engine_->Remove("c1", /*force=*/false, /*discard=*/false), RemoveOutcome::kRemoved);
  EXPECT_EQ(Take(), (Calls{"info", "remove", "message delete", "message set_transaction_id"}));
  // An inactive one costs the same: removing an absent device answers "absent" in one call.
  EXPECT_EQ(engine_->Remove("c2", false, false), RemoveOutcome::kRemoved);
  EXPECT_EQ(Take(), (Calls{"info", "remove", "message delete", "message set_transaction_id"}));
}

TEST_F(IoctlCountTest, CreateLayerAndCommitReadThePoolOnce) {
  engine_->CreateLayer("l2", "l1");
  EXPECT_EQ(Take(), (Calls{"status", "message set_transaction_id", "message create_snap"}));
  engine_->CreateContainer("c1", "l1", std::nullopt);
  Take();
  // A writable origin is asked about: if it is live it is suspended for the snapshot.
  engine_->Commit("c1", "l3");
  EXPECT_EQ(Take(), (Calls{"status", "info", "message create_snap", "message set_transaction_id"}));
}

TEST_F(IoctlCountTest, ALiveWritableOriginIsStillSuspendedForItsSnapshot) {
  engine_->CreateActiveContainer("c1", "l1", std::nullopt);
  Take();
  engine_->Commit("c1", "l2");
  EXPECT_EQ(Take(), (Calls{"status", "info", "suspend", "message create_snap",
                           "message set_transaction_id", "resume"}));
  EXPECT_TRUE(dm_.unsuspended_snapshot_origins().empty());
}

TEST_F(IoctlCountTest, ACommitWhoseDeviceIsStillOpenIsSuspendedWhenSnapshotted) {
  std::string dev = engine_->CreateActiveContainer("c1", "l1", std::nullopt);
  dm_.HoldOpen(dev.substr(12));  // its client still has it mounted: the removal is deferred
  engine_->CommitInPlace("c1", "l2", {});
  const DeviceRecord* l2 = engine_->store().catalog().FindByName("l2");
  ASSERT_NE(l2, nullptr);
  EXPECT_TRUE(l2->read_only);
  EXPECT_TRUE(l2->active);  // the writable device may still be live
  Take();
  engine_->CreateContainer("c2", "l2", std::nullopt);
  EXPECT_EQ(Take(), (Calls{"status", "info", "suspend", "message create_snap",
                           "message set_transaction_id", "resume"}));
  EXPECT_TRUE(dm_.unsuspended_snapshot_origins().empty());
}

TEST_F(IoctlCountTest, ADeviceLeftLiveUnderAnInactiveRecordIsTakenAsItIs) {
  // A killed process can leave a device its record calls inactive: the create meets EBUSY, looks,
  // and uses the one that is there.
  Engine::ActivationWork w = engine_->BeginContainer("c1", "l1", std::nullopt);
  Engine::RunActivation(w, &dm_, &sys_);
  Take();
  EXPECT_EQ(Engine::RunActivation(w, &dm_, &sys_), dm_.DevicePath(w.dm_name));
  EXPECT_EQ(Take(), (Calls{"create", "info"}));
}

TEST_F(IoctlCountTest, AnInactivePoolIsNamedAsSuch) {
  engine_->DeactivatePool(false);
  try {
    engine_->CreateContainer("c1", "l1", std::nullopt);
    FAIL() << "created a container on an inactive pool";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not active; run: thinsnap pool activate"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace thinsnap
