// The command line against FakeDeviceMapper + FakeSystem: argument handling (exit status 2 and
// one line for usage errors) and the --json shapes of ls, inspect, pool status, pool check, df,
// which programs parse. Each Run is one "process": a fresh Program over the same fakes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/program.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_system.h"

namespace thinsnap::cli {
namespace {

using kernel::FakeDeviceMapper;
using kernel::FakeSystem;

struct Outcome {
  int status = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/thinsnap-cli-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + root_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  Outcome Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"thinsnap", "--root", root_, "--lock-timeout", "0"});
    Program program(&dm_, &sys_);
    program.SetTerminalForTest(terminal_, std::chrono::milliseconds(0));
    Outcome o;
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    o.status = RunCommandLine(args, &program);
    o.err = testing::internal::GetCapturedStderr();
    o.out = testing::internal::GetCapturedStdout();
    return o;
  }
  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    Outcome o = Run(args);
    EXPECT_EQ(o.status, 0) << o.err;
    return nlohmann::json::parse(o.out);
  }
  void CreatePool() {
    Outcome o = Run({"pool", "create", "--loopback", "--data-size", "1G", "--metadata-size", "16M",
                     "--base-size", "256M"});
    ASSERT_EQ(o.status, 0) << o.err;
    ASSERT_EQ(o.out.rfind("created pool ", 0), 0u) << o.out;
  }

  std::string root_;
  bool terminal_ = false;  // whether Run's stderr counts as a terminal
  FakeDeviceMapper dm_;
  FakeSystem sys_{&dm_};
};

void ExpectUsageError(const Outcome& o, const std::string& message) {
  EXPECT_EQ(o.status, 2) << o.out << o.err;
  EXPECT_EQ(o.err.rfind("thinsnap: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(message), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;  // one line
}

TEST(CliArgs, NoCommandIsAUsageError) {
  FakeDeviceMapper dm;
  FakeSystem sys(&dm);
  Program program(&dm, &sys);
  testing::internal::CaptureStderr();
  int status = RunCommandLine({"thinsnap"}, &program);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 2);
  EXPECT_NE(err.find("see thinsnap --help"), std::string::npos) << err;
}

TEST_F(CliTest, UsageErrorsExitTwoWithOneLine) {
  ExpectUsageError(Run({"frobnicate"}), "unknown command 'frobnicate'");
  ExpectUsageError(Run({"pool", "crate"}), "unknown command 'crate' (did you mean 'create'?)");
  ExpectUsageError(Run({"pool", "create", "--loopback", "--thinpool", "vg-pool"}),
                   "choose one of --loopback, --data/--metadata, --thinpool");
  ExpectUsageError(Run({"pool", "create", "--data", "/dev/nvme0n1"}), "--data needs --metadata");
  ExpectUsageError(Run({"pool", "create", "--loopback", "--on-full", "wait"}),
                   "--on-full: 'wait' must be error or queue");
  ExpectUsageError(Run({"pool", "create", "--loopback", "--no-space", "wait"}),
                   "--on-full: 'wait' must be error or queue");
  ExpectUsageError(Run({"pool", "create", "--loopback", "--discard", "some"}),
                   "--discard: 'some' must be passdown, nopassdown or ignore");
  ExpectUsageError(Run({"pool", "create", "--loopback", "--block-size", "12Q"}),
                   "--block-size: '12Q' is not a size");
  ExpectUsageError(Run({"volume", "create", "v"}), "--size is required");
  ExpectUsageError(Run({"pool", "set", "--autoextend-threshold", "120"}), "--autoextend-threshold");
  // Nothing was created by any of them.
  EXPECT_FALSE(sys_.Exists(root_ + "/data"));
  EXPECT_TRUE(dm_.List().empty());
}

TEST_F(CliTest, FailuresExitOne) {
  CreatePool();
  Outcome o = Run({"inspect", "nosuch"});
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("nosuch"), std::string::npos) << o.err;
  o = Run({"volume", "create", "v", "--size", "64M", "--fs", "none"});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "v\n");
  o = Run({"volume", "create", "v", "--size", "64M"});
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("a device named 'v' already exists"), std::string::npos) << o.err;
}

TEST_F(CliTest, PoolStatusJson) {
  CreatePool();
  nlohmann::json j = Json({"pool", "status"});
  EXPECT_EQ(j["Root"], root_);
  EXPECT_EQ(j["Mode"], "loopback");
  EXPECT_EQ(j["Active"], true);
  EXPECT_EQ(j["State"], "rw");
  EXPECT_EQ(j["BlockSize"], 64 << 10);
  EXPECT_EQ(j["BaseDeviceSize"], 256 << 20);
  EXPECT_EQ(j["BackingFilesystem"], "ext4");
  EXPECT_EQ(j["DataFile"], root_ + "/data");
  EXPECT_EQ(j["DataSpaceTotal"], 1ull << 30);
  EXPECT_EQ(j["MetadataSpaceTotal"], 16 << 20);
  EXPECT_EQ(j["DiscardMode"], "passdown");
  EXPECT_EQ(j["NoSpacePolicy"], "error");
  EXPECT_EQ(j["MinFreeSpacePercent"], 10);
  EXPECT_EQ(j["Devices"], 1);  // the base
  EXPECT_EQ(j["TransactionId"], j["KernelTransactionId"]);
  EXPECT_TRUE(j["Warnings"].is_array());
  EXPECT_EQ(j["PoolName"].get<std::string>().rfind("thinsnap-", 0), 0u) << j["PoolName"];
}

TEST_F(CliTest, LsInspectDfJson) {
  CreatePool();
  ASSERT_EQ(Run({"volume", "create", "v", "--size", "64M", "--fs", "none"}).status, 0);
  ASSERT_EQ(Run({"volume", "clone", "v", "w"}).status, 0);
  nlohmann::json ls = Json({"ls"});
  ASSERT_TRUE(ls.is_array());
  ASSERT_EQ(ls.size(), 3u);  // base, v, w
  nlohmann::json v, w;
  for (const auto& d : ls) {
    if (d["Name"] == "v") v = d;
    if (d["Name"] == "w") w = d;
  }
  EXPECT_EQ(v["Kind"], "volume");
  EXPECT_EQ(v["DeviceSize"], 64 << 20);
  EXPECT_EQ(v["Filesystem"], "none");
  EXPECT_EQ(v["ReadOnly"], false);
  EXPECT_EQ(v["State"], "ready");
  EXPECT_EQ(v["Active"], false);
  EXPECT_TRUE(v["Parent"].is_null());
  EXPECT_EQ(w["Parent"], v["DeviceId"]);
  for (const char* key : {"Mountpoint", "Created", "Digest", "Labels"}) {
    EXPECT_TRUE(v.contains(key)) << key;
  }

  nlohmann::json in = Json({"inspect", "w"});
  EXPECT_EQ(in["Name"], "w");
  EXPECT_EQ(in["ParentChain"], nlohmann::json::array({"v"}));
  EXPECT_EQ(in["Active"], false);
  EXPECT_EQ(in["DevicePath"], "");
  EXPECT_FALSE(in["DeviceName"].get<std::string>().empty());
  EXPECT_EQ(in["MappedBytes"], 0);

  nlohmann::json df = Json({"df"});
  ASSERT_TRUE(df.is_array());
  ASSERT_EQ(df.size(), 3u);
  for (const auto& row : df) {
    for (const char* key : {"Name", "Kind", "DeviceId", "Size", "Mapped", "Exclusive", "Shared"}) {
      EXPECT_TRUE(row.contains(key)) << key;
    }
    if (row["Name"] == "w") {
      EXPECT_EQ(row["Size"], 64 << 20);
    }
  }

  // The table for people: the parent's name, not its id.
  Outcome text = Run({"ls"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.rfind("NAME", 0), 0u) << text.out;
  size_t at = text.out.find("\nw ");
  ASSERT_NE(at, std::string::npos) << text.out;
  std::string row = text.out.substr(at + 1, text.out.find('\n', at + 1) - at - 1);
  EXPECT_NE(row.find(" volume "), std::string::npos) << row;
  EXPECT_NE(row.find(" v "), std::string::npos) << row;
}

// The live line of a long step: drawn on a terminal (here at once: the test's threshold is 0;
// a second outside tests), ended with a newline; never without a terminal, never under --json.
TEST_F(CliTest, LongStepsDrawALiveLineOnATerminalOnly) {
  auto drew = [](const Outcome& o, const std::string& step) {
    size_t at = o.err.find("\r" + step + ", ");
    return at != std::string::npos && o.err.find("\033[K\n", at) != std::string::npos;
  };
  terminal_ = true;
  Outcome made = Run({"pool", "create", "--loopback", "--data-size", "1G", "--metadata-size", "16M",
                      "--base-size", "256M"});
  ASSERT_EQ(made.status, 0) << made.err;
  EXPECT_TRUE(drew(made, "formatting the base (mkfs.ext4, 256 MiB)")) << made.err;

  ASSERT_EQ(Run({"volume", "create", "v", "--size", "64M"}).status, 0);
  Outcome grow = Run({"grow", "v", "--size", "128M"});
  ASSERT_EQ(grow.status, 0) << grow.err;
  EXPECT_TRUE(drew(grow, "growing the filesystem of v to 128 MiB (resize2fs)")) << grow.err;

  Outcome check = Run({"pool", "check"});
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_TRUE(drew(check, "listing the pool's thin devices (thin_ls)")) << check.err;

  Outcome json = Run({"--json", "pool", "check"});
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_EQ(json.err.find('\r'), std::string::npos) << json.err;
  EXPECT_TRUE(nlohmann::json::parse(json.out).is_object()) << json.out;

  terminal_ = false;
  Outcome piped = Run({"pool", "check"});
  ASSERT_EQ(piped.status, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
}

TEST_F(CliTest, PoolCheckJsonAndText) {
  CreatePool();
  Outcome text = Run({"pool", "check"});
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("pool is consistent\n"), std::string::npos) << text.out;
  nlohmann::json clean = Json({"pool", "check"});
  EXPECT_EQ(clean["Clean"], true);
  EXPECT_EQ(clean["Problems"], nlohmann::json::array());
  ASSERT_FALSE(clean["Notes"].empty());
  ASSERT_EQ(clean["Findings"].size(), clean["Notes"].size());
  EXPECT_EQ(clean["Findings"].back()["Code"], "summary");
  EXPECT_EQ(clean["Findings"].back()["Severity"], "note");
  EXPECT_EQ(clean["Findings"].back()["Message"], clean["Notes"].back());

  // An orphan in the pool: a problem, exit 1, in both forms.
  dm_.Message(Json({"pool", "status"})["PoolName"].get<std::string>(), "create_thin 77");
  text = Run({"pool", "check"});
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.out.find("PROBLEM: orphan thin device id 77 in the pool, unknown to the journal\n"
                          "1 problem(s) found\n"),
            std::string::npos)
      << text.out;
  Outcome json = Run({"--json", "pool", "check"});
  EXPECT_EQ(json.status, 1);
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["Clean"], false);
  ASSERT_EQ(j["Problems"].size(), 1u);
  nlohmann::json orphan;
  for (const auto& f : j["Findings"]) {
    if (f["Severity"] == "problem") orphan = f;
  }
  EXPECT_EQ(orphan["Code"], "orphan_device");
  EXPECT_EQ(orphan["Device"], "id 77");
  EXPECT_EQ(orphan["Message"], j["Problems"][0]);
}

TEST_F(CliTest, SendToAFileAndReceiveFromIt) {
  CreatePool();
  ASSERT_EQ(Run({"volume", "create", "v", "--size", "64M", "--fs", "none"}).status, 0);
  ASSERT_EQ(Run({"volume", "clone", "v", "s1"}).status, 0);
  const std::string file = root_ + "/s1.ts";
  nlohmann::json sent = Json({"send", "s1", "-o", file});
  for (const char* key :
       {"Name", "Base", "Uuid", "BaseUuid", "Kind", "DeviceSize", "WireBytes", "DataBytes",
        "UnmappedBytes", "DataRanges", "UnmapRanges", "Seconds", "BytesPerSecond"}) {
    EXPECT_TRUE(sent.contains(key)) << key;
  }
  EXPECT_EQ(sent["Name"], "s1");
  EXPECT_EQ(sent["Kind"], "volume");
  EXPECT_EQ(sent["DeviceSize"], 64 << 20);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(sent["WireBytes"], static_cast<uint64_t>(st.st_size));

  // The pool already holds that identity: refused in one line, exit 1.
  Outcome again = Run({"receive", "copy", "-i", file});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("already holds that device"), std::string::npos) << again.err;
  EXPECT_EQ(std::count(again.err.begin(), again.err.end(), '\n'), 1) << again.err;

  ASSERT_EQ(Run({"rm", "s1"}).status, 0);
  ExpectUsageError(Run({"receive", "x", "--from", "v", "-i", file}), "is a full one");
  Outcome got = Run({"receive", "copy", "-i", file});
  ASSERT_EQ(got.status, 0) << got.err;
  EXPECT_EQ(got.out, "copy\n");
  nlohmann::json in = Json({"inspect", "copy"});
  EXPECT_EQ(in["Labels"]["thinsnap.uuid"], sent["Uuid"]);
  EXPECT_EQ(in["DeviceSize"], 64 << 20);

  ExpectUsageError(Run({"send", "copy", "--from", "copy", "-o", file}),
                   "--from names the device itself");
}

}  // namespace
}  // namespace thinsnap::cli
