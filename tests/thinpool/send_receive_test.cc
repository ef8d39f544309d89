// Engine::Send and Engine::Receive against FakeDeviceMapper + FakeSystem: two pools (two roots)
// in one fake kernel, block contents simulated per thin device, thin_delta computed from them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include "base/error.h"
#include "metadata/stream.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"
#include "tests/fakes/string_stream.h"
#include "thinpool/engine.h"

namespace thinsnap {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeSystem;

constexpr uint64_t kBlock = 64 << 10;
constexpr uint64_t kVolSize = 16 << 20;

struct Pool {
  std::string root;
  std::unique_ptr<Engine> engine;
};

class SendReceiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Pool* p : {&a_, &b_}) {
      char tmpl[] = "/tmp/thinsnap-sendrecv-test-XXXXXX";
      p->root = ::mkdtemp(tmpl);
      Open(p);
      PoolCreateOptions o;
      o.data_size = 1ull << 30;
      o.metadata_size = 16 << 20;
      o.base_size = 64 << 20;
      p->engine->CreatePool(o);
    }
  }
  void TearDown() override {
    for (Pool* p : {&a_, &b_}) {
      p->engine.reset();
      ASSERT_EQ(std::system(("rm -rf " + p->root).c_str()), 0);
    }
  }
  void Open(Pool* p) {
    p->engine.reset();
    EngineOptions opts;
    opts.lock_timeout_ms = 0;
    opts.progress = [this](const std::string& line) { notes_.push_back(line); };
    p->engine = Engine::Open(p->root, &dm_, &sys_, opts);
  }
  std::string Meta(const Pool& p) { return *sys_.FindLoop(p.root + "/metadata"); }
  const std::map<uint64_t, std::string>& Blocks(Pool& p, const std::string& name) {
    return dm_.ThinBlocks(Meta(p), p.engine->Inspect(name).record.id);
  }
  // Writes `n` bytes of `fill` at `offset` of NAME (activating it, as a user would).
  void Write(Pool& p, const std::string& name, uint64_t offset, size_t n, char fill) {
    std::string path = p.engine->Activate(name);
    std::string bytes(n, fill);
    sys_.OpenBlockIo(path, true)->WriteAt(offset, bytes.data(), n);
    p.engine->Deactivate(name);
  }
  void Discard(Pool& p, const std::string& name, uint64_t offset, uint64_t n) {
    std::string path = p.engine->Activate(name);
    sys_.OpenBlockIo(path, true)->Discard(offset, n);
    p.engine->Deactivate(name);
  }
  std::string Send(Pool& p, const std::string& name, const std::string& base = "",
                   TransferStats* stats = nullptr) {
    StringSink sink;
    TransferStats s = p.engine->Send(name, base, &sink);
    EXPECT_EQ(s.wire_bytes, sink.out.size());
    if (stats) *stats = s;
    return sink.out;
  }
  TransferStats Receive(Pool& p, const std::string& name, const std::string& stream,
                        const std::string& base = "") {
    StringSource src(stream);
    return p.engine->Receive(name, base, &src);
  }
  std::vector<std::string> Names(Pool& p) {
    std::vector<std::string> out;
    for (const DeviceRecord& r : p.engine->List()) out.push_back(r.name);
    return out;
  }
  // Kernel and catalog agree, nothing pending, no thin device left active, check clean.
  void ExpectConsistent(Pool& p) {
    std::set<uint32_t> catalog;
    p.engine->store().catalog().ForEach([&](const DeviceRecord& r) { catalog.insert(r.id); });
    auto ids = dm_.ThinIds(Meta(p));
    EXPECT_EQ(std::set<uint32_t>(ids.begin(), ids.end()), catalog);
    EXPECT_FALSE(p.engine->store().pending().has_value());
    CheckReport r = p.engine->Check();
    const std::vector<std::string> problems = r.problems();
    EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems.front());
    for (const DeviceRecord& rec : p.engine->List()) {
      EXPECT_FALSE(p.engine->Inspect(rec.name).active) << rec.name;
    }
  }
  // A refused receive: the error names `what`, and the pool is as it was.
  void ExpectRefused(const std::string& name, const std::string& stream, const std::string& what,
                     const std::string& base = "") {
    std::vector<std::string> before = Names(b_);
    try {
      Receive(b_, name, stream, base);
      ADD_FAILURE() << "receive accepted a bad stream (" << what << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    EXPECT_EQ(Names(b_), before);
    ExpectConsistent(b_);
  }
  // A volume with blocks 0, 5 and the last one written.
  void MakeVolume(const std::string& name) {
    a_.engine->CreateVolume(name, kVolSize, FsType::kNone);
    Write(a_, name, 0, kBlock, 'a');
    Write(a_, name, 5 * kBlock, kBlock, 'b');
    Write(a_, name, kVolSize - kBlock, kBlock, 'c');
  }

  FakeDeviceMapper dm_;
  FakeSystem sys_{&dm_};
  Pool a_, b_;
  std::vector<std::string> notes_;
};

TEST_F(SendReceiveTest, FullSendCarriesTheProvisionedBlocksOnly) {
  MakeVolume("vol");
  TransferStats s;
  std::string stream = Send(a_, "vol", "", &s);
  EXPECT_EQ(s.data_bytes, 3 * kBlock);
  EXPECT_EQ(s.data_ranges, 3u);
  EXPECT_EQ(s.unmap_ranges, 0u);
  EXPECT_LT(stream.size(), 3 * kBlock + 1024);
  // The metadata snapshot was held for thin_delta only, and released.
  auto count = [this](const std::string& what) {
    const auto& calls = dm_.calls();
    return std::count_if(calls.begin(), calls.end(),
                         [&](const std::string& c) { return c.find(what) != std::string::npos; });
  };
  EXPECT_EQ(count("reserve_metadata_snap"), 1);
  EXPECT_EQ(count("release_metadata_snap"), 1);

  TransferStats r = Receive(b_, "copy", stream);
  EXPECT_EQ(r.data_bytes, 3 * kBlock);
  EXPECT_EQ(Blocks(b_, "copy"), Blocks(a_, "vol"));
  DeviceRecord got = b_.engine->Inspect("copy").record;
  DeviceRecord sent = a_.engine->Inspect("vol").record;
  EXPECT_EQ(got.kind, DeviceKind::kVolume);
  EXPECT_EQ(got.size_bytes, kVolSize);
  EXPECT_EQ(got.fs, FsType::kNone);
  EXPECT_EQ(got.labels.at("thinsnap.uuid"), sent.labels.at("thinsnap.uuid"));
  EXPECT_EQ(r.uuid, sent.labels.at("thinsnap.uuid"));
  EXPECT_EQ(got.labels.count("thinsnap.receiving"), 0u);
  ExpectConsistent(a_);
  ExpectConsistent(b_);
}

TEST_F(SendReceiveTest, ServicesReplacingLabelsKeepTheIdentity) {
  a_.engine->CreateVolume("v", kVolSize, FsType::kNone);
  std::string u = a_.engine->Inspect("v").record.labels.at("thinsnap.uuid");
  a_.engine->SetLabels("v", {{"ctd.label:x", "1"}});
  EXPECT_EQ(a_.engine->Inspect("v").record.labels.at("thinsnap.uuid"), u);
  NewDeviceOptions extra;
  extra.labels = {{"k", "v"}};
  DeviceRecord c = a_.engine->CreateContainer("c", "@base", std::nullopt, extra);
  EXPECT_EQ(c.labels.count("thinsnap.uuid"), 1u);
}

TEST_F(SendReceiveTest, BecomingALayerGivesANewIdentity) {
  // A container sent while writable, then written and committed in place, must not pass for
  // the copy a receiver got earlier.
  a_.engine->CreateContainer("c", "@base", std::nullopt);
  Write(a_, "c", 0, kBlock, 'x');
  std::string before = a_.engine->Inspect("c").record.labels.at("thinsnap.uuid");
  Receive(b_, "c", Send(a_, "c"));
  Write(a_, "c", kBlock, kBlock, 'y');
  DeviceRecord l = a_.engine->CommitInPlace("c", "l", {});
  EXPECT_NE(l.labels.at("thinsnap.uuid"), before);
  EXPECT_EQ(l.labels.count("thinsnap.written"), 0u);
  a_.engine->CreateLayer("w", "");
  std::string w1 = a_.engine->Inspect("w").record.labels.at("thinsnap.uuid");
  a_.engine->SealLayer("w");
  EXPECT_NE(a_.engine->Inspect("w").record.labels.at("thinsnap.uuid"), w1);
}

TEST_F(SendReceiveTest, EveryDeviceHasItsOwnIdentityFromCreation) {
  a_.engine->CreateVolume("v1", kVolSize, FsType::kNone);
  a_.engine->CloneVolume("v1", "v2");
  std::string u1 = a_.engine->Inspect("v1").record.labels.at("thinsnap.uuid");
  std::string u2 = a_.engine->Inspect("v2").record.labels.at("thinsnap.uuid");
  DeviceUuid parsed;
  EXPECT_TRUE(ParseUuid(u1, &parsed));
  EXPECT_NE(u1, u2);
  Open(&a_);
  EXPECT_EQ(a_.engine->Inspect("v1").record.labels.at("thinsnap.uuid"), u1);
}

TEST_F(SendReceiveTest, IncrementalChainCarriesChangesAndUnmaps) {
  MakeVolume("vol");
  a_.engine->CloneVolume("vol", "s1");
  Receive(b_, "s1", Send(a_, "s1"));

  // Change one block, discard another (the receiver must see the unmap), snapshot again.
  Write(a_, "vol", 7 * kBlock, kBlock, 'd');
  Discard(a_, "vol", 5 * kBlock, kBlock);
  a_.engine->CloneVolume("vol", "s2");
  TransferStats s;
  std::string stream = Send(a_, "s2", "s1", &s);
  EXPECT_EQ(s.data_bytes, kBlock);
  EXPECT_EQ(s.unmapped_bytes, kBlock);
  EXPECT_EQ(s.base, "s1");
  EXPECT_LT(stream.size(), kBlock + 1024);
  TransferStats r = Receive(b_, "s2", stream);  // the base is found by its identity
  EXPECT_EQ(r.base, "s1");
  EXPECT_EQ(Blocks(b_, "s2"), Blocks(a_, "s2"));
  EXPECT_EQ(Blocks(b_, "s2").count(5), 0u);
  EXPECT_EQ(b_.engine->Inspect("s2").record.parent_id, b_.engine->Inspect("s1").record.id);

  // A third link, with an explicit --from.
  Write(a_, "vol", 0, kBlock, 'e');
  a_.engine->CloneVolume("vol", "s3");
  Receive(b_, "s3", Send(a_, "s3", "s2"), "s2");
  EXPECT_EQ(Blocks(b_, "s3"), Blocks(a_, "s3"));
  EXPECT_EQ(Blocks(b_, "s1"), Blocks(a_, "s1"));  // bases untouched
  ExpectConsistent(b_);
}

TEST_F(SendReceiveTest, PartialBlockUnmapsAreZeroedNotDiscarded) {
  // A 4 KiB discard inside a block leaves it mapped: the receiver writes zeros there.
  MakeVolume("vol");
  a_.engine->CloneVolume("vol", "s1");
  Receive(b_, "s1", Send(a_, "s1"));
  a_.engine->CloneVolume("s1", "s2");
  StringSink sink;
  {
    StreamHeader h;
    h.block_size = kBlock;
    h.device_size = kVolSize;
    DeviceUuid u{};
    u[0] = 9;
    h.uuid = u;
    h.base_uuid.emplace();
    ParseUuid(a_.engine->Inspect("s1").record.labels.at("thinsnap.uuid"), &*h.base_uuid);
    StreamWriter w(&sink, h);
    w.Unmap(4096, 4096);
    w.Finish();
  }
  Receive(b_, "z", sink.out);
  const std::string& block0 = Blocks(b_, "z").at(0);
  EXPECT_EQ(block0.substr(4096, 4096), std::string(4096, '\0'));
  EXPECT_EQ(block0.substr(0, 4096), std::string(4096, 'a'));
  EXPECT_EQ(block0.substr(8192, 4096), std::string(4096, 'a'));
}

TEST_F(SendReceiveTest, LayersArriveReadOnlyWithTheirFilesystem) {
  a_.engine->CreateLayer("img", "");
  a_.engine->SealLayer("img");
  Receive(b_, "img", Send(a_, "img"));
  DeviceRecord got = b_.engine->Inspect("img").record;
  EXPECT_EQ(got.kind, DeviceKind::kLayer);
  EXPECT_TRUE(got.read_only);
  EXPECT_EQ(got.fs, FsType::kExt4);
  EXPECT_EQ(got.size_bytes, a_.engine->Inspect("img").record.size_bytes);
}

TEST_F(SendReceiveTest, IncrementalNeedsTheSameUnchangedBase) {
  MakeVolume("vol");
  a_.engine->CloneVolume("vol", "s1");
  std::string full = Send(a_, "s1");
  Write(a_, "vol", 3 * kBlock, kBlock, 'x');
  a_.engine->CloneVolume("vol", "s2");
  std::string incr = Send(a_, "s2", "s1");

  // No base at all, then a base with another identity.
  ExpectRefused("s2", incr, "which this pool does not hold");
  b_.engine->CreateVolume("other", kVolSize, FsType::kNone);
  ExpectRefused("s2", incr, "the stream was made against", "other");
  // A full stream with --from.
  ExpectRefused("s1", full, "is a full one", "other");
  // The right base, but written since it arrived.
  Receive(b_, "s1", full);
  Write(b_, "s1", 0, kBlock, 'w');
  ExpectRefused("s2", incr, "has been writable since it arrived");
  // The sender refuses a base that may have changed.
  EXPECT_THROW(Send(a_, "s2", "vol"), Error);
  // Receiving the same device twice.
  ExpectRefused("again", full, "already holds that device");
}

TEST_F(SendReceiveTest, BadStreamsLeaveNothingBehind) {
  MakeVolume("vol");
  const std::string stream = Send(a_, "vol");
  ExpectRefused("t", stream.substr(0, stream.size() - 5), "truncated");
  std::string flipped = stream;
  flipped[stream.size() / 2] ^= 0x10;
  ExpectRefused("t", flipped, "checksum mismatch");
  std::string newer = stream;
  newer[4] = 9;
  ExpectRefused("t", newer, "version 9 is newer");
  ExpectRefused("t", "garbage that is not a stream", "bad magic");
  EXPECT_EQ(Names(b_), std::vector<std::string>{"@base"});
}

TEST_F(SendReceiveTest, FailedWriteRollsTheDeviceBack) {
  MakeVolume("vol");
  std::string stream = Send(a_, "vol");
  sys_.fail_write_after = 1;
  ExpectRefused("t", stream, "nothing kept");
  sys_.fail_write_after = -1;
}

TEST_F(SendReceiveTest, KilledReceiveIsCleanedUpByTheNextCommand) {
  MakeVolume("vol");
  std::string stream = Send(a_, "vol");
  StringSource dying(stream, 64 << 10, stream.size() / 2);
  EXPECT_THROW(b_.engine->Receive("t", "", &dying), std::runtime_error);
  b_.engine.reset();  // the process is gone; its lock with it
  Open(&b_);
  EXPECT_EQ(Names(b_), std::vector<std::string>{"@base"});
  ASSERT_FALSE(notes_.empty());
  EXPECT_NE(notes_.back().find("removed the unfinished receive of 't'"), std::string::npos)
      << notes_.back();
  ExpectConsistent(b_);
  Receive(b_, "t", stream);  // and the name is free
  EXPECT_EQ(Blocks(b_, "t"), Blocks(a_, "vol"));
}

TEST_F(SendReceiveTest, SendReleasesTheMetadataSnapshotWhenThinDeltaFails) {
  MakeVolume("vol");
  sys_.thin_delta_fails = true;
  StringSink sink;
  EXPECT_THROW(a_.engine->Send("vol", "", &sink), Error);
  sys_.thin_delta_fails = false;
  EXPECT_TRUE(sink.out.empty());
  Send(a_, "vol");  // a second reserve works: the first was released
}

TEST_F(SendReceiveTest, MountedWritableDeviceIsRefused) {
  a_.engine->CreateVolume("fsvol", kVolSize, FsType::kExt4);
  a_.engine->Mount("fsvol", "");
  StringSink sink;
  EXPECT_THROW(a_.engine->Send("fsvol", "", &sink), Error);
  a_.engine->Unmount("fsvol");
  Send(a_, "fsvol");
}

}  // namespace
}  // namespace thinsnap
