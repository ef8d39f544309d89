// Pool creation is all or nothing: a fault at any step (a full disk, no device-mapper, no
// thin-pool target, mkfs failing, Ctrl-C, a kill) leaves the root without a pool, files or
// kernel devices, and the same create then succeeds. And `pool destroy --force` is a way out
// when the kernel cannot be reached. Against FakeDeviceMapper + FakeSystem.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>

#include "base/error.h"
#include "metadata/store.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"
#include "thinpool/engine.h"

namespace thinsnap {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeOp;
using kernel::FakeSystem;
using kernel::InjectedFailure;

struct Killed {};

InjectedFailure Failure(FakeOp op, int nth, int err, std::string message_prefix = "",
                        bool after_effect = false) {
  InjectedFailure f;
  f.op = op;
  f.nth = nth;
  f.err = err;
  f.message_prefix = std::move(message_prefix);
  f.after_effect = after_effect;
  return f;
}  // not an Error: the create stops dead, as under kill -9

class PoolCreateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-pool-create-test-XXXXXX";
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
    opts.detail = [this](const std::string& line) { details_.push_back(line); };
    opts.interrupted = [this] { return --polls_until_interrupt_ == 0; };
    engine_ = Engine::Open(root_, &dm_, &sys_, opts);
  }
  static PoolCreateOptions Loopback() {
    PoolCreateOptions o;
    o.data_size = 1ull << 30;
    o.metadata_size = 16 << 20;
    o.base_size = 256 << 20;
    return o;
  }
  // What a failed create may leave: nothing of a pool.
  void ExpectNoPool(const std::string& step) {
    for (const char* f : {"/data", "/metadata", "/metadata.spare"}) {
      EXPECT_FALSE(sys_.Exists(root_ + f)) << step << ": " << f << " left behind";
    }
    EXPECT_TRUE(dm_.List().empty()) << step << ": " << dm_.List().size() << " dm devices left";
    EXPECT_TRUE(engine_->store().catalog().config().empty()) << step << ": settings left";
    EXPECT_EQ(engine_->store().catalog().size(), 0u) << step << ": records left";
    EXPECT_FALSE(engine_->store().pending().has_value()) << step;
  }
  // The same create succeeds and yields a working pool.
  void ExpectRetrySucceeds(const std::string& step) {
    sys_.fault = nullptr;
    dm_.ClearInjectedFailures();
    polls_until_interrupt_ = -1;
    ASSERT_NO_THROW(engine_->CreatePool(Loopback())) << step;
    PoolReport r = engine_->Status();
    EXPECT_TRUE(r.active) << step;
    EXPECT_EQ(engine_->store().catalog().size(), 1u) << step;  // the base
    EXPECT_NO_THROW(engine_->CreateVolume("v", 64 << 20, FsType::kExt4)) << step;
    EXPECT_TRUE(engine_->Check().clean()) << step;
  }

  std::string root_;
  FakeDeviceMapper dm_;
  FakeSystem sys_{&dm_};
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> details_;
  int polls_until_interrupt_ = -1;
};

TEST_F(PoolCreateTest, AFaultAtEverySystemStepIsUndoneAndTheRetrySucceeds) {
  // Every System step of a loopback create, in order, with the path it acts on.
  const std::vector<std::pair<std::string, std::string>> steps = {
      {"CreateSparseFile", "/data"},
      {"CreateSparseFile", "/metadata"},
      {"CreateSparseFile", "/metadata.spare"},
      {"AttachLoop", "/data"},
      {"AttachLoop", "/metadata"},
      {"ZeroStart", ""},
      {"MakeFilesystem", ""},
  };
  for (const auto& [op, suffix] : steps) {
    SCOPED_TRACE(op + " " + suffix);
    TearDown();
    dm_ = FakeDeviceMapper();
    sys_ = FakeSystem(&dm_);
    SetUp();
    int fired = 0;
    sys_.fault = [&, op = op, suffix = suffix](const std::string& o, const std::string& path) {
      if (o != op || (!suffix.empty() && path != root_ + suffix)) return;
      ++fired;
      throw Error(o + " " + path + ": No space left on device", ErrorKind::kNoSpace, ENOSPC);
    };
    try {
      engine_->CreatePool(Loopback());
      ADD_FAILURE() << "create did not fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNoSpace);
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("pool create undone"), std::string::npos) << e.what();
    }
    EXPECT_EQ(fired, 1);
    ExpectNoPool(op);
    ExpectRetrySucceeds(op);
  }
}

TEST_F(PoolCreateTest, AFaultAtEveryKernelStepIsUndoneAndTheRetrySucceeds) {
  // The device-mapper calls of a create: the pool table, the base's create_thin, its
  // activation and deactivation.
  const std::vector<std::pair<std::string, InjectedFailure>> steps = {
      {"create pool", Failure(FakeOp::kCreate, 1, EINVAL)},
      {"create_thin base", Failure(FakeOp::kMessage, 1, EIO, "create_thin")},
      {"create_thin base, reply lost", Failure(FakeOp::kMessage, 1, EIO, "create_thin", true)},
      {"activate base", Failure(FakeOp::kCreate, 2, ENOMEM)},
      {"deactivate base", Failure(FakeOp::kRemove, 1, EIO)},
  };
  for (const auto& [name, failure] : steps) {
    SCOPED_TRACE(name);
    TearDown();
    dm_ = FakeDeviceMapper();
    sys_ = FakeSystem(&dm_);
    SetUp();
    dm_.InjectFailure(failure);
    EXPECT_THROW(engine_->CreatePool(Loopback()), Error);
    dm_.ClearInjectedFailures();
    ExpectNoPool(name);
    ExpectRetrySucceeds(name);
  }
}

TEST_F(PoolCreateTest, NoDeviceMapperCreatesNothingAndSaysWhatToDo) {
  dm_.unreachable =
      "dm create (dm_task_create): failed: /dev/mapper/control: open failed: No such device";
  sys_.host_paths.clear();  // no driver, no /dev/mapper/control
  try {
    engine_->CreatePool(Loopback());
    ADD_FAILURE() << "create did not fail";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("this kernel has no device-mapper"), std::string::npos) << msg;
    EXPECT_NE(msg.find("modprobe dm_thin_pool"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("dm_task_create"), std::string::npos) << "raw log in the message: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  ASSERT_EQ(details_.size(), 1u);  // libdevmapper's words, for -v
  EXPECT_NE(details_[0].find("/dev/mapper/control: open failed"), std::string::npos);
  dm_.unreachable.clear();
  ExpectNoPool("no device-mapper");
  sys_.host_paths = {"/dev/mapper/control", "/sys/class/misc/device-mapper"};
  ExpectRetrySucceeds("no device-mapper");
}

TEST_F(PoolCreateTest, ControlNodeMissingAndNoAccessAreNamed) {
  dm_.unreachable = "open /dev/mapper/control failed";
  sys_.host_paths = {"/sys/module/dm_mod"};
  try {
    engine_->CreatePool(Loopback());
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dmsetup mknodes"), std::string::npos) << e.what();
  }
  dm_.unreachable.clear();
  ExpectNoPool("no control node");
  dm_.unreachable = "/dev/mapper/control: open failed: Permission denied";
  sys_.host_paths = {"/dev/mapper/control", "/sys/class/misc/device-mapper"};
  try {
    engine_->CreatePool(Loopback());
    ADD_FAILURE() << "create did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run thinsnap as root"), std::string::npos) << e.what();
  }
  dm_.unreachable.clear();
  ExpectNoPool("not root");
}

TEST_F(PoolCreateTest, AThinPoolTargetTooOldIsNamedWithBothVersions) {
  dm_.thin_target_version = kernel::Version{1, 9, 0};
  try {
    engine_->CreatePool(Loopback());
    ADD_FAILURE() << "create did not fail";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("version 1.9.0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("needs 1.10.0"), std::string::npos) << msg;
  }
  ExpectNoPool("old target");
  dm_.thin_target_version = kernel::Version{1, 23, 0};
  ExpectRetrySucceeds("old target");
}

TEST_F(PoolCreateTest, NoThinPoolTargetIsDiagnosedAndUndone) {
  dm_.thin_target_version = std::nullopt;  // not loaded, and the kernel cannot load it
  dm_.InjectFailure(Failure(FakeOp::kCreate, 1, EINVAL));
  try {
    engine_->CreatePool(Loopback());
    ADD_FAILURE() << "create did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no thin-pool target"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("modprobe dm_thin_pool"), std::string::npos);
  }
  ExpectNoPool("no thin-pool target");
  dm_.thin_target_version = kernel::Version{1, 23, 0};
  ExpectRetrySucceeds("no thin-pool target");
}

TEST_F(PoolCreateTest, InterruptedBetweenAnyTwoStepsIsUndone) {
  for (int polls = 1; polls <= 4; ++polls) {  // CreatePool polls four times
    SCOPED_TRACE("interrupted at poll " + std::to_string(polls));
    TearDown();
    dm_ = FakeDeviceMapper();
    sys_ = FakeSystem(&dm_);
    SetUp();
    polls_until_interrupt_ = polls;
    try {
      engine_->CreatePool(Loopback());
      ADD_FAILURE() << "create was not interrupted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("pool create interrupted"), std::string::npos);
      EXPECT_EQ(e.error_number(), EINTR);
    }
    ExpectNoPool("interrupted");
    ExpectRetrySucceeds("interrupted");
  }
}

TEST_F(PoolCreateTest, ACreateKilledMidwayIsUndoneByTheNextCreate) {
  sys_.fault = [](const std::string& op, const std::string&) {
    if (op == "MakeFilesystem") throw Killed{};
  };
  EXPECT_THROW(engine_->CreatePool(Loopback()), Killed);
  // What a killed process leaves: files, the pool and the base in the kernel, a record.
  EXPECT_TRUE(sys_.Exists(root_ + "/data"));
  EXPECT_FALSE(dm_.List().empty());
  EXPECT_THROW(engine_->Status(), Error);  // "not fully created"
  Open();                                  // a new process
  ExpectRetrySucceeds("killed create");
}

TEST_F(PoolCreateTest, DestroyForceUndoesAKilledCreate) {
  sys_.fault = [](const std::string& op, const std::string&) {
    if (op == "MakeFilesystem") throw Killed{};
  };
  EXPECT_THROW(engine_->CreatePool(Loopback()), Killed);
  Open();
  EXPECT_TRUE(engine_->DestroyPool(/*force=*/true).empty());
  ExpectNoPool("destroyed killed create");
  ExpectRetrySucceeds("destroyed killed create");
}

TEST_F(PoolCreateTest, DestroyForceRemovesOurStateWhenTheKernelCannotBeReached) {
  engine_->CreatePool(Loopback());
  engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
  std::string pool = engine_->PoolName();
  Open();
  dm_.unreachable = "Failure to communicate with kernel device-mapper driver.";
  try {
    engine_->DestroyPool(/*force=*/false);
    ADD_FAILURE() << "destroy without --force went on";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pass --force"), std::string::npos) << e.what();
  }
  std::vector<std::string> left = engine_->DestroyPool(/*force=*/true);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_NE(left[0].find(pool), std::string::npos) << left[0];
  EXPECT_NE(left[0].find("dmsetup remove"), std::string::npos) << left[0];
  EXPECT_FALSE(sys_.Exists(root_ + "/data"));
  EXPECT_TRUE(engine_->store().catalog().config().empty());
  EXPECT_EQ(engine_->store().catalog().size(), 0u);
}

TEST_F(PoolCreateTest, DestroyForceOnAKernelWithoutDeviceMapperLeavesNothingToName) {
  engine_->CreatePool(Loopback());
  dm_.unreachable = "Failure to communicate with kernel device-mapper driver.";
  sys_.host_paths.clear();
  EXPECT_TRUE(engine_->DestroyPool(/*force=*/true).empty());
  EXPECT_EQ(engine_->store().catalog().size(), 0u);
}

TEST_F(PoolCreateTest, OpeningAMissingRootWithoutCreateRootCreatesNothing) {
  engine_.reset();
  std::string missing = root_ + "/new";
  EngineOptions opts;
  opts.create_root = false;
  try {
    Engine::Open(missing, &dm_, &sys_, opts);
    ADD_FAILURE() << "opened a root that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_EQ(
        std::string(e.what()).rfind("no thinsnap pool at " + missing + " (create one with", 0), 0u)
        << e.what();
  }
  EXPECT_FALSE(sys_.Exists(missing));
}

// The origin's name is not the user's: a layer can be called base.
TEST_F(PoolCreateTest, UsersCanNameALayerBaseAndTheOriginStaysReachable) {
  engine_->CreatePool(Loopback());
  const DeviceRecord* origin = engine_->store().catalog().FindByName(kOriginName);
  ASSERT_NE(origin, nullptr);
  EXPECT_EQ(origin->kind, DeviceKind::kBase);
  EXPECT_EQ(engine_->CreateContainer("c0", "base", std::nullopt).parent_id, origin->id);
  DeviceRecord mine = engine_->CreateLayer("base", "");
  EXPECT_EQ(mine.kind, DeviceKind::kLayer);
  EXPECT_EQ(mine.parent_id, origin->id);
  engine_->SealLayer("base");
  EXPECT_EQ(engine_->CreateContainer("c1", "base", std::nullopt).parent_id, mine.id);
  EXPECT_EQ(engine_->CreateContainer("c2", kOriginName, std::nullopt).parent_id, origin->id);
  EXPECT_THROW(engine_->CreateLayer(kOriginName, ""), Error);  // not a user's name
}

// A root written by the format before the rename (origin record named "base") opens with every
// record kept and the origin renamed.
TEST_F(PoolCreateTest, ARootWrittenWithTheOldOriginNameIsMigratedOnOpen) {
  engine_->CreatePool(Loopback());
  engine_->CreateContainer("c", kOriginName, std::nullopt);
  engine_->CreateVolume("v", 64 << 20, FsType::kExt4);
  uint32_t origin_id = engine_->store().catalog().FindByName(kOriginName)->id;
  uint64_t txn = engine_->store().catalog().transaction_id();
  engine_.reset();
  {  // what today's released code writes: the origin is "base"
    std::unique_ptr<Store> old = Store::Open(root_ + "/meta");
    DeviceRecord rec = *old->catalog().FindById(origin_id);
    rec.name = "base";
    old->Update({Mutation::Put(rec)});
  }
  Open();
  const Catalog& c = engine_->store().catalog();
  EXPECT_EQ(c.FindByName("base"), nullptr);
  ASSERT_NE(c.FindByName(kOriginName), nullptr);
  EXPECT_EQ(c.FindByName(kOriginName)->id, origin_id);
  EXPECT_EQ(c.size(), 3u);  // origin, c, v
  EXPECT_EQ(c.FindByName("c")->parent_id, origin_id);
  EXPECT_NE(c.FindByName("v"), nullptr);
  EXPECT_EQ(c.transaction_id(), txn);
  EXPECT_TRUE(engine_->Check().clean());
  EXPECT_EQ(engine_->CreateLayer("base", "").parent_id, origin_id);
}

}  // namespace
}  // namespace thinsnap
