// PoolBacking, one implementation per way a pool stands on storage, against the fakes: the
// names and devices the engine's tables and tools get, and the files destroy removes.
#include "thinpool/pool_backing.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeSystem;

class PoolBackingTest : public ::testing::Test {
 protected:
  PoolSettings Settings(PoolMode mode) {
    PoolSettings s;
    s.pool_id = "0badcafe";
    s.mode = mode;
    if (mode == PoolMode::kLoopback) {
      s.data_path = "/root/data";
      s.metadata_path = "/root/metadata";
      s.metadata_spare = "/root/metadata.spare";
    } else if (mode == PoolMode::kDirect) {
      s.data_path = "/dev/nvme0n1";
      s.metadata_path = "/dev/nvme1n1";
    } else {
      s.adopted_pool = "vg-pool-tpool";
    }
    return s;
  }
  ErrorKind KindOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.kind();
    }
    ADD_FAILURE() << "did not throw";
    return ErrorKind::kFailure;
  }

  FakeDeviceMapper dm_;
  FakeSystem sys_{&dm_};
};

TEST_F(PoolBackingTest, LoopbackNamesItsLoopDevicesAndOwnsItsFiles) {
  PoolSettings s = Settings(PoolMode::kLoopback);
  std::unique_ptr<PoolBacking> b = MakePoolBacking(s, &dm_, &sys_);
  EXPECT_EQ(b->PoolName(), "thinsnap-0badcafe-pool");
  EXPECT_TRUE(b->OwnsPoolDevice());
  EXPECT_EQ(b->PoolDevice(), dm_.DevicePath("thinsnap-0badcafe-pool"));
  EXPECT_EQ(b->Files(),
            (std::vector<std::string>{"/root/data", "/root/metadata", "/root/metadata.spare"}));
  // Not attached (after a reboot): the error names the next step.
  sys_.CreateSparseFile(s.data_path, 1 << 30);
  sys_.CreateSparseFile(s.metadata_path, 16 << 20);
  try {
    b->DataDevice();
    ADD_FAILURE() << "an unattached data file has no device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data file /root/data is not attached; run thinsnap "
                                         "pool activate"),
              std::string::npos)
        << e.what();
  }
  std::unique_ptr<kernel::LoopHandle> data = sys_.AttachLoop(s.data_path);
  EXPECT_EQ(b->DataDevice(), data->path());
  EXPECT_THROW(b->MetadataDevice(), Error);
  // Offline, the metadata file is attached for as long as the caller keeps the handle.
  std::unique_ptr<kernel::LoopHandle> keep;
  std::string meta = b->OfflineMetadataDevice(&keep);
  ASSERT_NE(keep, nullptr);
  EXPECT_EQ(meta, keep->path());
  EXPECT_EQ(b->MetadataDevice(), meta);
  EXPECT_NE(meta, data->path());
  // Attached already: that loop, and no new handle.
  std::unique_ptr<kernel::LoopHandle> again;
  EXPECT_EQ(b->OfflineMetadataDevice(&again), meta);
  EXPECT_EQ(again, nullptr);
}

TEST_F(PoolBackingTest, DirectUsesTheDevicesAsTheyAreAndOwnsNoFiles) {
  std::unique_ptr<PoolBacking> b = MakePoolBacking(Settings(PoolMode::kDirect), &dm_, &sys_);
  EXPECT_EQ(b->PoolName(), "thinsnap-0badcafe-pool");
  EXPECT_TRUE(b->OwnsPoolDevice());
  EXPECT_EQ(b->DataDevice(), "/dev/nvme0n1");
  EXPECT_EQ(b->MetadataDevice(), "/dev/nvme1n1");
  std::unique_ptr<kernel::LoopHandle> keep;
  EXPECT_EQ(b->OfflineMetadataDevice(&keep), "/dev/nvme1n1");
  EXPECT_EQ(keep, nullptr);
  EXPECT_TRUE(b->Files().empty());
}

TEST_F(PoolBackingTest, AdoptedPoolIsNamedByItsOwnerAndItsLiveTable) {
  std::unique_ptr<PoolBacking> b = MakePoolBacking(Settings(PoolMode::kAdopted), &dm_, &sys_);
  EXPECT_EQ(b->PoolName(), "vg-pool-tpool");
  EXPECT_FALSE(b->OwnsPoolDevice());
  EXPECT_TRUE(b->Files().empty());
  EXPECT_EQ(KindOf([&] { b->PoolDevice(); }), ErrorKind::kNotFound);  // not active
  dm_.SetDeviceSize("/dev/vg/meta", 16 << 20);
  dm_.Create("vg-pool-tpool",
             {kernel::ThinPoolTable("/dev/vg/meta", "/dev/vg/data", (1ull << 30) / 512, 256, 0)},
             {});
  kernel::DeviceInfo info = *dm_.Info("vg-pool-tpool");
  EXPECT_EQ(b->PoolDevice(), std::to_string(info.major) + ":" + std::to_string(info.minor));
  EXPECT_EQ(b->MetadataDevice(), "/dev/vg/meta");  // read from the table, not recorded
}

TEST_F(PoolBackingTest, LoopbackGrowsItsFilesAndTheSpareWithTheMetadata) {
  PoolSettings s = Settings(PoolMode::kLoopback);
  std::unique_ptr<PoolBacking> b = MakePoolBacking(s, &dm_, &sys_);
  EXPECT_TRUE(b->GrowsItself());
  sys_.CreateSparseFile(s.data_path, 1 << 30);
  sys_.CreateSparseFile(s.metadata_path, 16 << 20);
  sys_.CreateSparseFile(s.metadata_spare, 16 << 20);
  std::unique_ptr<kernel::LoopHandle> data = sys_.AttachLoop(s.data_path);
  b->GrowTo(s.data_path, 2ull << 30);
  EXPECT_EQ(sys_.SizeOf(s.data_path), 2ull << 30);
  EXPECT_EQ(sys_.SizeOf(s.metadata_spare), 16u << 20);  // the data grows alone
  b->GrowTo(s.metadata_path, 32 << 20);
  EXPECT_EQ(sys_.SizeOf(s.metadata_path), 32u << 20);
  EXPECT_EQ(sys_.SizeOf(s.metadata_spare), 32u << 20);  // a repair must fit into it
}

TEST_F(PoolBackingTest, DevicesAreGrownByTheirOwnerOnly) {
  PoolSettings s = Settings(PoolMode::kDirect);
  std::unique_ptr<PoolBacking> b = MakePoolBacking(s, &dm_, &sys_);
  EXPECT_FALSE(b->GrowsItself());
  EXPECT_FALSE(MakePoolBacking(Settings(PoolMode::kAdopted), &dm_, &sys_)->GrowsItself());
  sys_.AddBlockDevice(s.data_path, 1ull << 30);
  try {
    b->GrowTo(s.data_path, 2ull << 30);
    ADD_FAILURE() << "a device shorter than asked was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("/dev/nvme0n1 is only 1 GiB; grow the device itself"),
              std::string::npos)
        << e.what();
  }
  b->GrowTo(s.data_path, 1ull << 30);  // already that long: nothing to do
  EXPECT_EQ(sys_.SizeOf(s.data_path), 1ull << 30);
}

TEST_F(PoolBackingTest, LoopbackAttachAttachesOnlyTheFilesNoLoopHolds) {
  PoolSettings s = Settings(PoolMode::kLoopback);
  sys_.CreateSparseFile(s.data_path, 1 << 30);
  sys_.CreateSparseFile(s.metadata_path, 16 << 20);
  std::unique_ptr<kernel::LoopHandle> data = sys_.AttachLoop(s.data_path);
  std::vector<std::string> notes;
  PoolDevices devs = MakePoolBacking(s, &dm_, &sys_)->Attach(&notes);
  EXPECT_EQ(devs.data, data->path());
  EXPECT_EQ(devs.data_loop, nullptr);
  ASSERT_NE(devs.meta_loop, nullptr);
  EXPECT_EQ(devs.metadata, devs.meta_loop->path());
  EXPECT_EQ(sys_.FindLoop(s.metadata_path), devs.metadata);
  EXPECT_EQ(notes, (std::vector<std::string>{"attached /root/metadata to " + devs.metadata}));
}

TEST_F(PoolBackingTest, DevicesAttachAsTheyAreAndAnAdoptedPoolIsActivatedByItsOwner) {
  std::vector<std::string> notes;
  PoolDevices devs = MakePoolBacking(Settings(PoolMode::kDirect), &dm_, &sys_)->Attach(&notes);
  EXPECT_EQ(devs.data, "/dev/nvme0n1");
  EXPECT_EQ(devs.metadata, "/dev/nvme1n1");
  EXPECT_EQ(devs.data_loop, nullptr);
  EXPECT_TRUE(notes.empty());
  std::unique_ptr<PoolBacking> adopted = MakePoolBacking(Settings(PoolMode::kAdopted), &dm_, &sys_);
  EXPECT_EQ(KindOf([&] { adopted->Attach(&notes); }), ErrorKind::kNotFound);
}

TEST_F(PoolBackingTest, OnlyADirectPoolWipesItsMetadataOnDestroy) {
  std::vector<std::string> zeroed;
  sys_.fault = [&](const std::string& op, const std::string& path) {
    if (op == "ZeroStart") zeroed.push_back(path);
  };
  sys_.AddBlockDevice("/dev/nvme1n1", 1 << 30, "thin-pool metadata");
  for (PoolMode mode : {PoolMode::kLoopback, PoolMode::kAdopted, PoolMode::kDirect}) {
    MakePoolBacking(Settings(mode), &dm_, &sys_)->WipeMetadata();
  }
  EXPECT_EQ(zeroed, (std::vector<std::string>{"/dev/nvme1n1"}));
  EXPECT_TRUE(sys_.ProbeSignatures("/dev/nvme1n1").empty());
}

TEST_F(PoolBackingTest, DmDeviceNodeTurnsMajorMinorIntoTheDmPath) {
  dm_.Create("vg-meta", {{0, 2048, "linear", "/dev/sdb 0"}}, {});
  kernel::DeviceInfo info = *dm_.Info("vg-meta");
  EXPECT_EQ(DmDeviceNode(&dm_, std::to_string(info.major) + ":" + std::to_string(info.minor)),
            dm_.DevicePath("vg-meta"));
  EXPECT_EQ(DmDeviceNode(&dm_, "/dev/sdb"), "/dev/sdb");
  EXPECT_EQ(KindOf([&] { DmDeviceNode(&dm_, "7:99"); }), ErrorKind::kNotFound);
}

}  // namespace
}  // namespace thinsnap
