// Behaviour of FakeDeviceMapper beyond the shared conformance suite: its test hooks.
#include "tests/fakes/fake_device_mapper.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap::kernel {
namespace {

constexpr uint64_t kBlockSectors = 128;

class FakeDm : public ::testing::Test {
 protected:
  void CreatePool(uint64_t data_blocks = 100, uint64_t low_water = 10) {
    dm_.Create(
        "pool",
        {ThinPoolTable("meta", "data", data_blocks * kBlockSectors, kBlockSectors, low_water)},
        CreateOptions{});
  }
  void CreateThinDevice(const std::string& name, uint32_t id) {
    dm_.Create(name, {ThinTable("/dev/mapper/pool", id, 1 << 20)}, CreateOptions{});
  }
  int ErrnoOf(auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.error_number();
    }
    return 0;
  }

  FakeDeviceMapper dm_;
};

TEST_F(FakeDm, MetadataSurvivesRebootButDevicesDoNot) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  dm_.Message("pool", "set_transaction_id 0 1");
  dm_.Reboot();
  EXPECT_FALSE(dm_.Exists("pool"));
  EXPECT_EQ(dm_.ThinIds("meta"), std::vector<uint32_t>{1});
  CreatePool();
  EXPECT_EQ(ParsePoolStatus(dm_.Status("pool")).transaction_id, 1u);
  EXPECT_EQ(ErrnoOf([&] { dm_.Message("pool", "create_thin 1"); }), EEXIST);
}

TEST_F(FakeDm, WipedMetadataStartsAFreshPool) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  dm_.Reboot();
  dm_.WipeMetadata("meta");
  CreatePool();
  EXPECT_TRUE(dm_.ThinIds("meta").empty());
  EXPECT_EQ(dm_.TransactionId("meta"), 0u);
}

TEST_F(FakeDm, InjectedFailureHitsTheNthMatchingCall) {
  CreatePool();
  dm_.InjectFailure({.op = FakeOp::kMessage,
                     .nth = 2,
                     .err = EIO,
                     .name = "",
                     .message_prefix = "create_thin",
                     .after_effect = false});
  dm_.Message("pool", "create_thin 1");
  dm_.Message("pool", "set_transaction_id 0 1");  // does not match the prefix
  EXPECT_EQ(ErrnoOf([&] { dm_.Message("pool", "create_thin 2"); }), EIO);
  EXPECT_EQ(dm_.ThinIds("meta"), std::vector<uint32_t>{1}) << "failed before taking effect";
  dm_.Message("pool", "create_thin 2");  // the injection is used up
}

TEST_F(FakeDm, InjectedFailureAfterEffectLosesOnlyTheReply) {
  CreatePool();
  dm_.InjectFailure({.op = FakeOp::kMessage,
                     .nth = 1,
                     .err = EIO,
                     .name = "pool",
                     .message_prefix = "",
                     .after_effect = true});
  EXPECT_EQ(ErrnoOf([&] { dm_.Message("pool", "create_thin 5"); }), EIO);
  EXPECT_EQ(dm_.ThinIds("meta"), std::vector<uint32_t>{5});
}

TEST_F(FakeDm, InjectedCreateFailureLeavesNoDevice) {
  dm_.InjectFailure({.op = FakeOp::kCreate,
                     .nth = 1,
                     .err = ENOMEM,
                     .name = "",
                     .message_prefix = "",
                     .after_effect = false});
  EXPECT_EQ(ErrnoOf([&] { CreatePool(); }), ENOMEM);
  EXPECT_FALSE(dm_.Exists("pool"));
}

TEST_F(FakeDm, SnapshotOfAnUnsuspendedActiveOriginIsRecorded) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  CreateThinDevice("t1", 1);
  dm_.Message("pool", "create_snap 2 1");
  EXPECT_EQ(dm_.unsuspended_snapshot_origins(), std::vector<uint32_t>{1});
  dm_.Suspend("t1");
  dm_.Message("pool", "create_snap 3 1");
  dm_.Resume("t1");
  EXPECT_EQ(dm_.unsuspended_snapshot_origins().size(), 1u);
}

TEST_F(FakeDm, ThinLsCountsSharedAndExclusiveBlocks) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  CreateThinDevice("t1", 1);
  dm_.MapBlocks("pool", 1, 5);
  dm_.Message("pool", "create_snap 2 1");
  dm_.MapBlocks("pool", 2, 3);
  EXPECT_EQ(dm_.ThinLs("meta"), (std::vector<ThinLsRow>{{1, 5, 0, 5}, {2, 8, 3, 5}}));
  EXPECT_EQ(ParsePoolStatus(dm_.Status("pool")).data_used_blocks, 8u);
  dm_.Remove("t1", RemoveOptions{});
  dm_.Message("pool", "delete 1");
  EXPECT_EQ(dm_.ThinLs("meta"), (std::vector<ThinLsRow>{{2, 8, 8, 0}}));
  EXPECT_EQ(ParsePoolStatus(dm_.Status("pool")).data_used_blocks, 8u);
}

TEST_F(FakeDm, FullPoolGoesOutOfDataSpaceAndRaisesAnEvent) {
  CreatePool(/*data_blocks=*/10, /*low_water=*/0);
  dm_.Message("pool", "create_thin 1");
  uint32_t before = dm_.Info("pool")->event_nr;
  EXPECT_EQ(dm_.MapBlocks("pool", 1, 25), 10u);
  PoolStatus s = ParsePoolStatus(dm_.Status("pool"));
  EXPECT_EQ(s.mode, PoolIoMode::kOutOfDataSpace);
  EXPECT_EQ(s.data_used_blocks, 10u);
  EXPECT_GT(dm_.WaitEvent("pool", before), before);
  // Growing the pool brings it back to rw.
  dm_.Reload("pool", {ThinPoolTable("meta", "data", 20 * kBlockSectors, kBlockSectors, 0)});
  dm_.Suspend("pool");
  dm_.Resume("pool");
  EXPECT_EQ(ParsePoolStatus(dm_.Status("pool")).mode, PoolIoMode::kReadWrite);
}

TEST_F(FakeDm, ShrinkingThePoolIsRefusedAtResume) {
  CreatePool(100);
  dm_.Reload("pool", {ThinPoolTable("meta", "data", 50 * kBlockSectors, kBlockSectors, 0)});
  dm_.Suspend("pool");
  EXPECT_EQ(ErrnoOf([&] { dm_.Resume("pool"); }), EINVAL);
  EXPECT_TRUE(dm_.Info("pool")->suspended) << "like the kernel, it stays suspended";
}

TEST_F(FakeDm, BlockSizeOfExistingMetadataCannotChange) {
  CreatePool();
  dm_.Remove("pool", RemoveOptions{});
  EXPECT_EQ(ErrnoOf([&] {
              dm_.Create("pool", {ThinPoolTable("meta", "data", 256 * 100, 256, 0)},
                         CreateOptions{});
            }),
            EINVAL);
  EXPECT_FALSE(dm_.Exists("pool"));
}

TEST_F(FakeDm, MetadataDeviceCanBackOnlyOnePool) {
  CreatePool();
  EXPECT_EQ(ErrnoOf([&] {
              dm_.Create("pool2", {ThinPoolTable("meta", "data2", 12800, kBlockSectors, 0)},
                         CreateOptions{});
            }),
            EBUSY);
}

TEST_F(FakeDm, ReadOnlyOrFailedPoolRefusesMessages) {
  CreatePool();
  dm_.SetPoolIoMode("pool", PoolIoMode::kReadOnly);
  EXPECT_EQ(ErrnoOf([&] { dm_.Message("pool", "create_thin 1"); }), EOPNOTSUPP);
  dm_.FailPool("pool");
  EXPECT_TRUE(ParsePoolStatus(dm_.Status("pool")).failed);
  EXPECT_EQ(dm_.Status("pool"), "Fail");
}

TEST_F(FakeDm, MessagesToAThinDeviceAreInvalid) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  CreateThinDevice("t1", 1);
  EXPECT_EQ(ErrnoOf([&] { dm_.Message("t1", "create_thin 2"); }), EINVAL);
}

TEST_F(FakeDm, ThinTableNeedsAnActivePool) {
  EXPECT_EQ(ErrnoOf([&] { CreateThinDevice("t1", 1); }), EINVAL);
}

TEST_F(FakeDm, CallLogRecordsTheOrder) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  CreateThinDevice("t1", 1);
  dm_.ClearCalls();
  dm_.Suspend("t1", /*flush=*/false);
  dm_.Message("pool", "create_snap 2 1");
  dm_.Resume("t1");
  EXPECT_EQ(dm_.calls(), (std::vector<std::string>{"suspend t1 noflush",
                                                   "message pool create_snap 2 1", "resume t1"}));
  EXPECT_EQ(dm_.CallCount(FakeOp::kMessage), 2);
}

TEST_F(FakeDm, StatusRecordsNoFlushAndMetadataSize) {
  dm_.SetDeviceSize("meta", 64 << 20);
  CreatePool();
  PoolStatus s = ParsePoolStatus(dm_.Status("pool", /*no_flush=*/true));
  EXPECT_TRUE(dm_.last_status_no_flush());
  EXPECT_EQ(s.metadata_total_blocks, (64u << 20) / 4096);
  EXPECT_EQ(s.metadata_low_watermark, 1024u);
}

TEST_F(FakeDm, NeedsCheckShowsInStatus) {
  CreatePool();
  dm_.SetNeedsCheck("meta", true);
  EXPECT_TRUE(ParsePoolStatus(dm_.Status("pool")).needs_check);
}

TEST_F(FakeDm, WaitEventWithoutAnEventThrowsInsteadOfHanging) {
  CreatePool();
  uint32_t now = dm_.Info("pool")->event_nr;
  EXPECT_THROW(dm_.WaitEvent("pool", now), Error);
  dm_.TriggerEvent("pool");
  EXPECT_EQ(dm_.WaitEvent("pool", now), now + 1);
}

TEST_F(FakeDm, DeferredRemoveOfThePoolHappensAfterItsThinsGo) {
  CreatePool();
  dm_.Message("pool", "create_thin 1");
  CreateThinDevice("t1", 1);
  EXPECT_EQ(dm_.Remove("pool", RemoveOptions{.busy_retry_ms = 0, .deferred = true}),
            RemoveResult::kDeferred);
  EXPECT_TRUE(dm_.Exists("pool"));
  dm_.Remove("t1", RemoveOptions{});
  EXPECT_FALSE(dm_.Exists("pool"));
}

}  // namespace
}  // namespace thinsnap::kernel
