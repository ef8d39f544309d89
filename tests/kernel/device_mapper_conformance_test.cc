// One suite of DeviceMapper behaviour, run against FakeDeviceMapper everywhere and against
// LibDevmapper (the real kernel) when THINSNAP_REAL_DM=1 (vm-tests/scenarios/dm_conformance.sh).
// What the fake promises is checked here against what the kernel does.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/kernel/kernel_test_util.h"
#include "thinpool/kernel/blockdev.h"
#include "thinpool/kernel/dm_tables.h"
#include "thinpool/kernel/libdevmapper.h"
#include "thinpool/kernel/loop.h"
#include "thinpool/kernel/thin_status.h"

namespace thinsnap::kernel {
namespace {

constexpr uint64_t kBlockSectors = 128;  // 64 KiB
constexpr uint64_t kDataBytes = 64 << 20;
constexpr uint64_t kDataBlocks = kDataBytes / (kBlockSectors * 512);
constexpr uint64_t kThinSectors = 32 << 11;  // 32 MiB

// A DeviceMapper plus what the tests need around it: backing devices, writes, holders.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceMapper& dm() = 0;
  // A fresh zeroed metadata and data device of the given sizes.
  virtual std::string NewDevice(const std::string& role, uint64_t bytes) = 0;
  // Writes `blocks` pool blocks at the start of thin device `name` (thin `id` of pool `pool`).
  virtual void WriteBlocks(const std::string& name, const std::string& pool, uint32_t id,
                           uint64_t blocks) = 0;
  virtual void HoldOpen(const std::string& name) = 0;
  virtual void CloseHold(const std::string& name) = 0;
  virtual void GrowDevice(const std::string& dev, uint64_t bytes) = 0;
};

class FakeBackend : public Backend {
 public:
  DeviceMapper& dm() override { return fake_; }
  std::string NewDevice(const std::string& role, uint64_t bytes) override {
    std::string dev = "/dev/fake-" + role + "-" + std::to_string(next_++);
    fake_.SetDeviceSize(dev, bytes);
    return dev;
  }
  void WriteBlocks(const std::string&, const std::string& pool, uint32_t id,
                   uint64_t blocks) override {
    fake_.MapBlocks(pool, id, blocks);
  }
  void HoldOpen(const std::string& name) override { fake_.HoldOpen(name); }
  void CloseHold(const std::string& name) override { fake_.CloseHold(name); }
  void GrowDevice(const std::string& dev, uint64_t bytes) override {
    fake_.SetDeviceSize(dev, bytes);
  }

 private:
  FakeDeviceMapper fake_;
  int next_ = 0;
};

class RealBackend : public Backend {
 public:
  DeviceMapper& dm() override { return dm_; }
  std::string NewDevice(const std::string& role, uint64_t bytes) override {
    std::string file = dir_.File(role + std::to_string(loops_.size()));
    CreateSparseFile(file, bytes);
    loops_.push_back(LoopDevice::Attach(file));
    files_[loops_.back().path()] = file;
    return loops_.back().path();
  }
  void WriteBlocks(const std::string& name, const std::string&, uint32_t,
                   uint64_t blocks) override {
    UniqueFd fd = UniqueFd::Open(dm_.DevicePath(name), O_WRONLY);
    std::string data(kBlockSectors * 512, 'x');
    for (uint64_t b = 0; b < blocks; ++b) {
      ssize_t n = ::pwrite(fd.get(), data.data(), data.size(), static_cast<off_t>(b * data.size()));
      if (n != static_cast<ssize_t>(data.size())) ThrowErrno("write " + name, errno);
    }
    if (::fsync(fd.get()) != 0) ThrowErrno("fsync " + name, errno);
    fd.Close();
  }
  void HoldOpen(const std::string& name) override {
    holders_[name] = UniqueFd::Open(dm_.DevicePath(name), O_RDONLY);
  }
  void CloseHold(const std::string& name) override { holders_.erase(name); }
  void GrowDevice(const std::string& dev, uint64_t bytes) override {
    GrowFile(files_.at(dev), bytes);
    RefreshCapacity(dev);
  }

 private:
  testing::TempDir dir_;
  LibDevmapper dm_;
  std::vector<LoopDevice> loops_;
  std::map<std::string, std::string> files_;
  std::map<std::string, UniqueFd> holders_;
};

bool RealDmRequested() {
  const char* v = std::getenv("THINSNAP_REAL_DM");
  return v != nullptr && std::string(v) == "1";
}

class DeviceMapperConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "real") {
      if (!RealDmRequested()) GTEST_SKIP() << "set THINSNAP_REAL_DM=1 to run against the kernel";
      backend_ = std::make_unique<RealBackend>();
    } else {
      backend_ = std::make_unique<FakeBackend>();
    }
    prefix_ = "tsconf-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + "-";
    pool_ = prefix_ + "pool";
  }

  void TearDown() override {
    if (!backend_) return;
    // Thin devices first: they hold the pool open.
    for (bool pools : {false, true}) {
      for (const ListedDevice& d : dm().List()) {
        if (d.name.rfind(prefix_, 0) != 0) continue;
        if ((d.name == pool_) != pools) continue;
        if (dm().Info(d.name)->suspended) dm().Resume(d.name);
        dm().Remove(d.name, RemoveOptions{.busy_retry_ms = 2000, .deferred = false});
      }
    }
  }

  DeviceMapper& dm() { return backend_->dm(); }

  void CreatePool(uint64_t low_water = 16, const PoolFeatures& f = {}) {
    meta_ = backend_->NewDevice("meta", 4 << 20);
    data_ = backend_->NewDevice("data", kDataBytes);
    dm().Create(pool_, {ThinPoolTable(meta_, data_, kDataBytes / 512, kBlockSectors, low_water, f)},
                CreateOptions{});
  }

  std::string CreateThin(uint32_t id, bool send_message = true, bool read_only = false) {
    if (send_message) dm().Message(pool_, "create_thin " + std::to_string(id));
    std::string name = prefix_ + "thin" + std::to_string(id);
    dm().Create(name, {ThinTable(dm().DevicePath(pool_), id, kThinSectors)},
                CreateOptions{.uuid = "", .read_only = read_only});
    return name;
  }

  // The status params of `name`; against the kernel they are printed, so that the real lines
  // can be copied into thin_status_test.cc.
  std::string StatusOf(const std::string& name, bool no_flush = false) {
    std::string line = dm().Status(name, no_flush);
    if (GetParam() == "real") std::printf("kernel status %s: \"%s\"\n", name.c_str(), line.c_str());
    return line;
  }
  PoolStatus Pool() { return ParsePoolStatus(StatusOf(pool_)); }

  // Runs `fn` expecting an Error with errno `err`; returns its message.
  template <typename F>
  std::string ExpectErrno(int err, F&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      EXPECT_EQ(e.error_number(), err) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no error, expected errno " << err;
    return "";
  }

  std::unique_ptr<Backend> backend_;
  std::string prefix_, pool_, meta_, data_;
  static inline int counter_ = 0;
};

TEST_P(DeviceMapperConformance, FreshPoolStatusAndInfo) {
  CreatePool();
  PoolStatus s = Pool();
  EXPECT_FALSE(s.failed);
  EXPECT_EQ(s.transaction_id, 0u);
  EXPECT_EQ(s.data_used_blocks, 0u);
  EXPECT_EQ(s.data_total_blocks, kDataBlocks);
  EXPECT_EQ(s.metadata_total_blocks, (4u << 20) / 4096);
  EXPECT_GT(s.metadata_used_blocks, 0u);
  EXPECT_EQ(s.mode, PoolIoMode::kReadWrite);
  EXPECT_EQ(s.discard, DiscardMode::kPassdown);
  EXPECT_FALSE(s.error_if_no_space);
  EXPECT_FALSE(s.needs_check);
  EXPECT_FALSE(s.held_metadata_root.has_value());
  std::optional<DeviceInfo> info = dm().Info(pool_);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->live_table);
  EXPECT_FALSE(info->suspended);
  EXPECT_EQ(info->open_count, 0);
  EXPECT_EQ(info->target_count, 1);
  Table table = dm().GetTable(pool_);
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0].target, "thin-pool");
  EXPECT_EQ(table[0].length, kDataBytes / 512);
  EXPECT_NO_THROW(ParsePoolStatus(dm().Status(pool_, /*no_flush=*/true)));
}

TEST_P(DeviceMapperConformance, PoolFeaturesShowInStatus) {
  PoolFeatures f;
  f.no_discard_passdown = true;
  f.error_if_no_space = true;
  f.skip_block_zeroing = true;
  CreatePool(16, f);
  PoolStatus s = Pool();
  EXPECT_EQ(s.discard, DiscardMode::kNoPassdown);
  EXPECT_TRUE(s.error_if_no_space);
}

TEST_P(DeviceMapperConformance, MessagesReportTheKernelsErrnos) {
  CreatePool();
  EXPECT_EQ(dm().Message(pool_, "create_thin 1"), "");
  std::string msg = ExpectErrno(EEXIST, [&] { dm().Message(pool_, "create_thin 1"); });
  EXPECT_NE(msg.find(pool_), std::string::npos) << msg;
  EXPECT_NE(msg.find("create_thin 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("File exists (errno 17)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("device-mapper:"), std::string::npos) << "kernel text missing: " << msg;
  ExpectErrno(ENODATA, [&] { dm().Message(pool_, "delete 9"); });
  ExpectErrno(ENODATA, [&] { dm().Message(pool_, "create_snap 5 9"); });
  ExpectErrno(EEXIST, [&] { dm().Message(pool_, "create_snap 1 1"); });
  ExpectErrno(EINVAL, [&] { dm().Message(pool_, "set_transaction_id 5 6"); });
  ExpectErrno(EINVAL, [&] { dm().Message(pool_, "no_such_message 1"); });
  dm().Message(pool_, "set_transaction_id 0 1");
  EXPECT_EQ(Pool().transaction_id, 1u);
  dm().Message(pool_, "delete 1");
  ExpectErrno(ENODATA, [&] { dm().Message(pool_, "delete 1"); });
}

TEST_P(DeviceMapperConformance, ErrorKindsFollowErrno) {
  CreatePool();
  dm().Message(pool_, "create_thin 1");
  try {
    dm().Message(pool_, "create_thin 1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kExists);
  }
}

TEST_P(DeviceMapperConformance, ThinDeviceMapsAndSnapshotsShareBlocks) {
  CreatePool();
  std::string origin = CreateThin(1);
  EXPECT_EQ(dm().Info(pool_)->open_count, 1) << "the thin device holds the pool";
  ThinStatus t = ParseThinStatus(StatusOf(origin));
  EXPECT_EQ(t.mapped_sectors, 0u);
  EXPECT_FALSE(t.highest_mapped_sector.has_value());
  backend_->WriteBlocks(origin, pool_, 1, 4);
  t = ParseThinStatus(StatusOf(origin));
  EXPECT_EQ(t.mapped_sectors, 4 * kBlockSectors);
  EXPECT_EQ(t.highest_mapped_sector, 4 * kBlockSectors - 1);
  dm().Suspend(origin);
  EXPECT_TRUE(dm().Info(origin)->suspended);
  dm().Message(pool_, "create_snap 2 1");
  dm().Resume(origin);
  EXPECT_FALSE(dm().Info(origin)->suspended);
  std::string snap = CreateThin(2, /*send_message=*/false, /*read_only=*/true);
  EXPECT_TRUE(dm().Info(snap)->read_only);
  EXPECT_EQ(ParseThinStatus(StatusOf(snap)).mapped_sectors, 4 * kBlockSectors);
  EXPECT_EQ(Pool().data_used_blocks, 4u) << "the snapshot shares the origin's blocks";
}

TEST_P(DeviceMapperConformance, ThinOfAMissingIdFailsAndLeavesNoDevice) {
  CreatePool();
  std::string name = prefix_ + "ghost";
  std::string msg = ExpectErrno(ENODATA, [&] {
    dm().Create(name, {ThinTable(dm().DevicePath(pool_), 42, kThinSectors)}, CreateOptions{});
  });
  EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_FALSE(dm().Info(name).has_value());
}

TEST_P(DeviceMapperConformance, CreateOfAnExistingNameIsBusy) {
  CreatePool();
  dm().Message(pool_, "create_thin 1");
  CreateThin(1, false);
  ExpectErrno(EBUSY, [&] { CreateThin(1, false); });
}

TEST_P(DeviceMapperConformance, DeletingAnActiveThinIsBusy) {
  CreatePool();
  CreateThin(1);
  ExpectErrno(EBUSY, [&] { dm().Message(pool_, "delete 1"); });
}

TEST_P(DeviceMapperConformance, RemoveRetriesThenFailsBusyOrDefers) {
  CreatePool();
  std::string thin = CreateThin(1);
  ExpectErrno(EBUSY,
              [&] { dm().Remove(pool_, RemoveOptions{.busy_retry_ms = 100, .deferred = false}); });
  backend_->HoldOpen(thin);
  ExpectErrno(EBUSY,
              [&] { dm().Remove(thin, RemoveOptions{.busy_retry_ms = 100, .deferred = false}); });
  EXPECT_EQ(dm().Remove(thin, RemoveOptions{.busy_retry_ms = 100, .deferred = true}),
            RemoveResult::kDeferred);
  EXPECT_TRUE(dm().Info(thin)->deferred_remove);
  backend_->CloseHold(thin);
  // The kernel removes it from a work queue after the last close: allow it a moment.
  for (int i = 0; i < 100 && dm().Info(thin).has_value(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(dm().Info(thin).has_value()) << "removed when the last opener closed it";
  EXPECT_NE(::access(dm().DevicePath(thin).c_str(), F_OK), 0) << "stale node left behind";
  EXPECT_EQ(dm().Remove(thin, RemoveOptions{}), RemoveResult::kAbsent);
  EXPECT_EQ(dm().Remove(pool_, RemoveOptions{}), RemoveResult::kRemoved);
  EXPECT_FALSE(dm().Info(pool_).has_value());
}

TEST_P(DeviceMapperConformance, MetadataSnapshotReserveAndRelease) {
  CreatePool();
  dm().Message(pool_, "reserve_metadata_snap");
  EXPECT_TRUE(Pool().held_metadata_root.has_value());
  ExpectErrno(EBUSY, [&] { dm().Message(pool_, "reserve_metadata_snap"); });
  dm().Message(pool_, "release_metadata_snap");
  EXPECT_FALSE(Pool().held_metadata_root.has_value());
  ExpectErrno(EINVAL, [&] { dm().Message(pool_, "release_metadata_snap"); });
}

TEST_P(DeviceMapperConformance, SuspendNoflushAndResume) {
  CreatePool();
  dm().Suspend(pool_, /*flush=*/false);
  EXPECT_TRUE(dm().Info(pool_)->suspended);
  EXPECT_NO_THROW(Pool());
  dm().Resume(pool_);
  EXPECT_FALSE(dm().Info(pool_)->suspended);
}

TEST_P(DeviceMapperConformance, WaitEventReturnsAfterTheLowWaterMark) {
  CreatePool(/*low_water=*/kDataBlocks - 1);
  std::string thin = CreateThin(1);
  uint32_t before = dm().Info(pool_)->event_nr;
  backend_->WriteBlocks(thin, pool_, 1, 2);
  auto waited = std::make_shared<std::promise<uint32_t>>();
  std::future<uint32_t> result = waited->get_future();
  DeviceMapper* dmp = &dm();
  std::string pool = pool_;
  std::thread([dmp, pool, before, waited] {
    try {
      waited->set_value(dmp->WaitEvent(pool, before));
    } catch (...) {
      waited->set_exception(std::current_exception());
    }
  }).detach();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "no event within 20 s";
  EXPECT_GT(result.get(), before);
}

TEST_P(DeviceMapperConformance, ReloadGrowsThePool) {
  CreatePool();
  backend_->GrowDevice(data_, 2 * kDataBytes);
  dm().Reload(pool_, {ThinPoolTable(meta_, data_, 2 * kDataBytes / 512, kBlockSectors, 16)});
  EXPECT_TRUE(dm().Info(pool_)->inactive_table);
  EXPECT_EQ(Pool().data_total_blocks, kDataBlocks) << "not before the resume";
  dm().Suspend(pool_);
  dm().Resume(pool_);
  EXPECT_EQ(Pool().data_total_blocks, 2 * kDataBlocks);
  EXPECT_EQ(dm().GetTable(pool_)[0].length, 2 * kDataBytes / 512);
}

TEST_P(DeviceMapperConformance, ListAndVersions) {
  CreatePool();
  bool listed = false;
  for (const ListedDevice& d : dm().List()) listed = listed || d.name == pool_;
  EXPECT_TRUE(listed);
  std::optional<Version> v = dm().TargetVersion("thin-pool");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->major, 1u);
  EXPECT_FALSE(dm().TargetVersion("no-such-target").has_value());
  EXPECT_EQ(dm().DriverVersion().major, 4u);
  EXPECT_FALSE(dm().LibraryVersion().empty());
  EXPECT_EQ(dm().DevicePath(pool_), "/dev/mapper/" + pool_);
}

TEST_P(DeviceMapperConformance, OperationsOnAnAbsentDeviceAreNotFound) {
  std::string name = prefix_ + "absent";
  EXPECT_FALSE(dm().Info(name).has_value());
  EXPECT_EQ(dm().Remove(name, RemoveOptions{}), RemoveResult::kAbsent);
  std::string msg = ExpectErrno(ENXIO, [&] { dm().Status(name); });
  EXPECT_NE(msg.find(name), std::string::npos);
  ExpectErrno(ENXIO, [&] { dm().Message(name, "create_thin 1"); });
  ExpectErrno(ENXIO, [&] { dm().Suspend(name); });
}

INSTANTIATE_TEST_SUITE_P(All, DeviceMapperConformance, ::testing::Values("fake", "real"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace thinsnap::kernel
