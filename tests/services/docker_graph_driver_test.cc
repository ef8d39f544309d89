// Docker's graph driver handlers against the engine's fakes: the call sequences dockerd makes
// for docker load, run, commit and rm, the replies' shapes, and the errors' one translation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "base/error.h"
#include "services/docker/graph_driver.h"
#include "services/docker/names.h"
#include "tests/services/docker_test_pool.h"

namespace thinsnap::docker {
namespace {

using nlohmann::json;

const std::string kL1(64, 'a');
const std::string kL2(64, 'b');
const std::string kC(64, 'c');
const std::string kInit = kC + "-init";

// A request body handed out in pieces of at most `piece` bytes, as a socket would.
BodyReader BodyOf(const std::string& text, size_t piece = 7) {
  auto offset = std::make_shared<size_t>(0);
  return [text, piece, offset](char* out, size_t size) {
    size_t n = std::min({size, piece, text.size() - *offset});
    text.copy(out, n, *offset);
    *offset += n;
    return n;
  };
}

class GraphDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::make_unique<DockerTestPool>("thinsnap-docker-test");
    root_ = pool_->root();
    host_ = pool_->host.get();
    driver_ = pool_->driver.get();
  }
  void TearDown() override { pool_.reset(); }
  Reply Call(const std::string& method, const json& req) { return driver_->Call(method, req); }
  json Ok(const std::string& method, const json& req) {
    Reply r = Call(method, req);
    EXPECT_EQ(r.status, 200) << method << ": " << r.body.dump();
    return r.body;
  }
  // docker load's two calls for one layer.
  Reply Load(const std::string& id, const std::string& parent, const std::string& tar) {
    Ok("GraphDriver.Create", {{"ID", id}, {"Parent", parent}});
    return driver_->ApplyDiff(id, parent, BodyOf(tar));
  }
  DeviceRecord Record(const std::string& id) {
    DeviceRecord rec;
    host_->Run([&](Engine& e) { rec = e.Inspect(DeviceNameFor(id)).record; });
    return rec;
  }
  size_t DeviceCount() {
    size_t n = 0;
    host_->Run([&](Engine& e) { n = e.List().size(); });
    return n;
  }

  std::unique_ptr<DockerTestPool> pool_;
  std::string root_;
  EngineHost* host_ = nullptr;
  GraphDriver* driver_ = nullptr;
};

TEST_F(GraphDriverTest, ActivateNamesTheGraphDriverAndCapabilitiesAreNotExact) {
  EXPECT_EQ(Ok("Plugin.Activate", json::object()),
            json::parse(R"({"Implements":["GraphDriver"]})"));
  EXPECT_EQ(Ok("GraphDriver.Capabilities", json::object())["Capabilities"]["ReproducesExactDiffs"],
            false);
}

TEST_F(GraphDriverTest, LoadedLayersAreSealedImportsWithTheirSize) {
  Reply r1 = Load(kL1, "", std::string(3000, 'x'));
  ASSERT_EQ(r1.status, 200) << r1.body.dump();
  EXPECT_EQ(r1.body["Size"], 3000);
  Reply r2 = Load(kL2, kL1, "second layer");
  ASSERT_EQ(r2.status, 200) << r2.body.dump();
  DeviceRecord l2 = Record(kL2);
  EXPECT_EQ(l2.kind, DeviceKind::kLayer);
  EXPECT_EQ(l2.state, DeviceState::kReady);
  EXPECT_TRUE(l2.read_only);
  EXPECT_EQ(l2.parent_id, Record(kL1).id);
  EXPECT_EQ(l2.digest, "sha256:fake-12");
  EXPECT_EQ(Ok("GraphDriver.Exists", {{"ID", kL2}})["Exists"], true);
  EXPECT_EQ(Ok("GraphDriver.Exists", {{"ID", kC}})["Exists"], false);
}

TEST_F(GraphDriverTest, HostileLayerIsRefusedNamingTheEntryAndLeavesNothing) {
  size_t before = DeviceCount();
  Reply r = Load(kL1, "", "header EVIL trailer");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body["Err"].get<std::string>().find("'../EVIL' escapes the layer root"),
            std::string::npos)
      << r.body.dump();
  EXPECT_EQ(Ok("GraphDriver.Exists", {{"ID", kL1}})["Exists"], false);
  EXPECT_EQ(DeviceCount(), before);
}

TEST_F(GraphDriverTest, ContainerLifecycleLikeDockerRunAndRm) {
  ASSERT_EQ(Load(kL1, "", "base layer").status, 200);
  Ok("GraphDriver.CreateReadWrite", {{"ID", kInit}, {"Parent", kL1}});
  EXPECT_EQ(Record(kInit).state, DeviceState::kWritableLayer);
  std::string init_dir = Ok("GraphDriver.Get", {{"ID", kInit}})["Dir"];
  EXPECT_EQ(init_dir, root_ + "/mnt/" + DeviceNameFor(kInit));
  Ok("GraphDriver.Put", {{"ID", kInit}});
  Ok("GraphDriver.CreateReadWrite",
     {{"ID", kC}, {"Parent", kInit}, {"StorageOpt", {{"size", "1G"}}}});
  EXPECT_EQ(Record(kInit).state, DeviceState::kReady);  // sealed once a container came from it
  DeviceRecord c = Record(kC);
  EXPECT_EQ(c.kind, DeviceKind::kContainer);
  EXPECT_EQ(c.size_bytes, 1ull << 30);
  EXPECT_EQ(c.parent_id, Record(kInit).id);

  std::string dir = Ok("GraphDriver.Get", {{"ID", kC}})["Dir"];
  EXPECT_EQ(Ok("GraphDriver.Get", {{"ID", kC}})["Dir"], dir);
  EXPECT_EQ(driver_->MountCounts()[DeviceNameFor(kC)], 2);
  Ok("GraphDriver.Put", {{"ID", kC}});
  EXPECT_EQ(Record(kC).mountpoint, dir);  // one user left
  Ok("GraphDriver.Put", {{"ID", kC}});
  EXPECT_EQ(Record(kC).mountpoint, "");

  json meta = Ok("GraphDriver.GetMetadata", {{"ID", kC}})["Metadata"];
  DeviceView v;
  host_->Run([&](Engine& e) { v = e.Inspect(DeviceNameFor(kC)); });
  EXPECT_EQ(meta["DeviceId"], std::to_string(v.record.id));
  EXPECT_EQ(meta["DeviceName"], v.dm_name);
  EXPECT_EQ(meta["DeviceSize"], std::to_string(1ull << 30));

  size_t with_all = DeviceCount();
  Ok("GraphDriver.Remove", {{"ID", kC}});
  Ok("GraphDriver.Remove", {{"ID", kInit}});
  Ok("GraphDriver.Remove", {{"ID", kInit}});  // again: already gone is fine
  Ok("GraphDriver.Remove", {{"ID", kL1}});
  EXPECT_EQ(DeviceCount(), with_all - 3);
}

TEST_F(GraphDriverTest, RemoveOfAMountedContainerUnmountsItFirst) {
  ASSERT_EQ(Load(kL1, "", "base layer").status, 200);
  Ok("GraphDriver.CreateReadWrite", {{"ID", kC}, {"Parent", kL1}});
  Ok("GraphDriver.Get", {{"ID", kC}});
  Ok("GraphDriver.Remove", {{"ID", kC}});
  EXPECT_EQ(Ok("GraphDriver.Exists", {{"ID", kC}})["Exists"], false);
  EXPECT_TRUE(driver_->MountCounts().empty());
}

TEST_F(GraphDriverTest, PutOfAContainerStillOpenElsewhereDefersItsDeactivation) {
  ASSERT_EQ(Load(kL1, "", "base layer").status, 200);
  Ok("GraphDriver.CreateReadWrite", {{"ID", kC}, {"Parent", kL1}});
  std::string dir = Ok("GraphDriver.Get", {{"ID", kC}})["Dir"];
  std::string dm_name;
  host_->Run([&](Engine& e) { dm_name = e.Inspect(DeviceNameFor(kC)).dm_name; });
  pool_->dm.HoldOpen(dm_name);  // the stopped container's mount namespace, not torn down yet
  Ok("GraphDriver.Put", {{"ID", kC}});
  EXPECT_EQ(Record(kC).mountpoint, "");
  ASSERT_TRUE(pool_->dm.Info(dm_name));
  EXPECT_TRUE(pool_->dm.Info(dm_name)->deferred_remove);
  EXPECT_EQ(Ok("GraphDriver.Get", {{"ID", kC}})["Dir"], dir);  // docker start again
  EXPECT_FALSE(pool_->dm.Info(dm_name)->deferred_remove);
  EXPECT_EQ(Record(kC).mountpoint, dir);
  Ok("GraphDriver.Put", {{"ID", kC}});
  Ok("GraphDriver.Remove", {{"ID", kC}});  // docker rm while the namespace still holds it
  EXPECT_EQ(Ok("GraphDriver.Exists", {{"ID", kC}})["Exists"], false);
  pool_->dm.CloseHold(dm_name);
  EXPECT_FALSE(pool_->dm.Info(dm_name));
}

TEST_F(GraphDriverTest, ChangesUseDockerChangeKinds) {
  ASSERT_EQ(Load(kL1, "", "base layer").status, 200);
  Ok("GraphDriver.CreateReadWrite", {{"ID", kC}, {"Parent", kL1}});
  // The fake compares the trees of the two devices: /etc's mode changed, /TEST added, /bin/old
  // deleted (so /bin, in both, changed too).
  std::string pool_id;
  host_->Run([&](Engine& e) { pool_id = e.Status().settings.pool_id; });
  auto device = [&](const std::string& id) {
    return pool_->dm.DevicePath("thinsnap-" + pool_id + "-" + std::to_string(Record(id).id));
  };
  pool_->sys.trees[device(kL1)] = {{"/bin/", "0755"}, {"/bin/old", "x"}, {"/etc/", "0755"}};
  pool_->sys.trees[device(kC)] = {{"/bin/", "0755"}, {"/etc/", "0700"}, {"/TEST", "t"}};
  json changes = Ok("GraphDriver.Changes", {{"ID", kC}, {"Parent", kL1}})["Changes"];
  EXPECT_EQ(changes, json::parse(R"([{"Path":"/TEST","Kind":1},{"Path":"/bin","Kind":0},
                                     {"Path":"/bin/old","Kind":2},{"Path":"/etc","Kind":0}])"));
  Reply other = Call("GraphDriver.Changes", {{"ID", kC}, {"Parent", kL2}});
  EXPECT_EQ(other.status, 500);
  EXPECT_NE(other.body["Err"].get<std::string>().find("not from '" + kL2 + "'"), std::string::npos);
}

TEST_F(GraphDriverTest, DiffSpoolsTheExportIntoAReadableFile) {
  ASSERT_EQ(Load(kL1, "", "base layer").status, 200);
  UniqueFd fd = driver_->Diff({{"ID", kL1}});
  ASSERT_TRUE(fd.valid());
  char c;
  EXPECT_EQ(::read(fd.get(), &c, 1), 0);  // the fake exports nothing; positioned at the start
  EXPECT_THROW(driver_->Diff({{"ID", kL2}}), Error);
}

TEST_F(GraphDriverTest, StatusHasDevicemappersPairs) {
  json pairs = Ok("GraphDriver.Status", json::object())["Status"];
  std::map<std::string, std::string> m;
  for (const auto& p : pairs) m[p[0]] = p[1];
  for (const char* key :
       {"Pool Name", "Pool Blocksize", "Base Device Size", "Backing Filesystem", "Data Space Used",
        "Data Space Total", "Data Space Available", "Metadata Space Used", "Metadata Space Total",
        "Metadata Space Available", "Thin Pool Minimum Free Space", "Udev Sync Supported",
        "Deferred Removal Enabled", "Library Version"}) {
    EXPECT_EQ(m.count(key), 1u) << key;
  }
  EXPECT_EQ(m["Pool Blocksize"], "65.54kB");
  EXPECT_EQ(m["Base Device Size"], "268.4MB");
  EXPECT_EQ(m["Backing Filesystem"], "ext4");
  EXPECT_EQ(m["Data Space Total"], "1.074GB");
  EXPECT_NE(m["Pool Name"].find("thinsnap-"), std::string::npos);
}

TEST_F(GraphDriverTest, ErrorsAreOneLineErrReplies) {
  Reply missing = Call("GraphDriver.Get", {{"ID", kC}});
  EXPECT_EQ(missing.status, 500);
  EXPECT_EQ(missing.body["Err"], "no layer or container '" + kC + "' (device " + kC + ")");
  EXPECT_EQ(Call("GraphDriver.Get", json::object()).status, 500);  // no ID
  EXPECT_EQ(Call("GraphDriver.Nonsense", json::object()).status, 404);
  Reply opt = Call("GraphDriver.CreateReadWrite", {{"ID", kC}, {"StorageOpt", {{"quota", "1"}}}});
  EXPECT_EQ(opt.body["Err"], "unsupported storage option 'quota' (thinsnap takes size=S)");
  Reply typed = Call("GraphDriver.Get", {{"ID", 7}});
  EXPECT_EQ(typed.status, 500);
  EXPECT_EQ(typed.body["Err"].get<std::string>().rfind("bad request: ", 0), 0u);
  Reply init = Call("GraphDriver.Init", {{"Opts", {"dm.basesize=1G"}}});
  EXPECT_EQ(init.body["Err"],
            "unsupported storage option 'dm.basesize=1G' (thinsnap takes size=S)");
}

TEST(DockerNames, ValidIdsStayAndLongOnesAreHashedDeterministically) {
  EXPECT_EQ(DeviceNameFor(kL1), kL1);
  std::string init = DeviceNameFor(kInit);
  EXPECT_EQ(init.size(), 64u);
  EXPECT_EQ(init.substr(0, 47), kC.substr(0, 47));
  EXPECT_EQ(init, DeviceNameFor(kInit));
  EXPECT_NE(init, DeviceNameFor(std::string(63, 'c') + "d-init"));
  EXPECT_EQ(DeviceNameFor("-x/y").substr(0, 3), "xy-");
  EXPECT_TRUE(IsInitLayerId(kInit));
  EXPECT_FALSE(IsInitLayerId(kC));
}

TEST(DockerHumanSize, MatchesDockersUnits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(65536), "65.54kB");
  EXPECT_EQ(HumanSize(10737418240.0), "10.74GB");
  EXPECT_EQ(HumanSize(107374182400.0), "107.4GB");
}

}  // namespace
}  // namespace thinsnap::docker
