// Crash tests for the metadata store: a simulated power cut at every step of a workload
// (tests/fakes/fault_fs.h drops every write not covered by a sync), and the real fault points,
// which kill the process with exit status 137.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "metadata/fault.h"
#include "metadata/store.h"
#include "tests/fakes/fault_fs.h"
#include "tests/metadata/metadata_test_util.h"

namespace thinsnap {
namespace {

using testing::SampleDevice;
using testing::ScratchDir;

// What the store must show after reopening.
struct State {
  std::vector<DeviceRecord> devices;
  PoolConfig config;
  uint64_t txn = 0;
  std::optional<Intent> pending;
  bool operator==(const State&) const = default;
};

State Snapshot(const Store& s) {
  State st;
  s.catalog().ForEach([&](const DeviceRecord& d) { st.devices.push_back(d); });
  st.config = s.catalog().config();
  st.txn = s.catalog().transaction_id();
  st.pending = s.pending();
  return st;
}

// A workload of store operations; each step is one public call. It records the state after
// every step that returned, so a crash test knows what must have survived.
class Workload {
 public:
  static constexpr int kSteps = 16;

  // Runs steps [from, kSteps); returns how many steps completed in total before a throw.
  static int Run(Store& s, int from, std::vector<State>* states) {
    int done = from;
    try {
      for (int i = from; i < kSteps; ++i) {
        Step(s, i);
        done = i + 1;
        if (states) states->push_back(Snapshot(s));
      }
    } catch (const Error&) {
      // The power cut: the caller reopens and compares. Nothing else may throw here.
    }
    return done;
  }

 private:
  static void Step(Store& s, int i) {
    switch (i) {
      case 0:
        return s.Update({Mutation::SetConfig("fs", "ext4")});
      case 1:
        return s.Begin(Create(1, 0, "base", kNoParent));
      case 2:
        return s.Commit(1);
      case 3:
        return s.Begin(Create(2, 1, "layer1", 0));
      case 4:
        return s.Commit(2);
      case 5:
        return s.Checkpoint();
      case 6:
        return s.Begin(Create(3, 2, "container", 1));
      case 7:
        return s.Abort(3);
      case 8:
        return s.Update({Mutation::Put(Mounted(s, 1))});
      case 9:
        return s.Begin(Create(3, 2, "layer2", 1));
      case 10:
        return s.Commit(3);
      case 11:
        return s.Begin(Intent{4, {{KernelOp::Kind::kDelete, 2, 0}}, {Mutation::Delete(2)}});
      case 12:
        return s.Commit(4);
      case 13:
        return s.Update({Mutation::EraseConfig("fs"), Mutation::SetConfig("k", "v")});
      case 14:
        return s.Begin(Create(5, 2, "pending", 1));
      case 15:
        return s.Checkpoint();
    }
  }
  static Intent Create(uint64_t txn, uint32_t id, const std::string& name, uint32_t parent) {
    KernelOp op{parent == kNoParent ? KernelOp::Kind::kCreateThin : KernelOp::Kind::kCreateSnap, id,
                parent == kNoParent ? 0 : parent};
    return Intent{txn, {op}, {Mutation::Put(SampleDevice(id, name, parent))}};
  }
  static DeviceRecord Mounted(const Store& s, uint32_t id) {
    DeviceRecord d = *s.catalog().FindById(id);
    d.mountpoint = "/mnt/x";
    return d;
  }
};

constexpr char kDir[] = "/meta";

// The states a crash-free run passes through: states[k] = after k steps.
std::vector<State> ReferenceStates(uint64_t checkpoint_bytes, int64_t* total_ops) {
  FaultFileSystem fs;
  StoreOptions opts{&fs, checkpoint_bytes};
  auto s = Store::Open(kDir, opts);
  std::vector<State> states{Snapshot(*s)};
  const int64_t ops_before = fs.mutating_ops();
  EXPECT_EQ(Workload::Run(*s, 0, &states), Workload::kSteps);
  *total_ops = fs.mutating_ops() - ops_before;
  return states;
}

// Cuts the power after each of the workload's file operations (and, with keep_torn, keeps
// part of the unsynced bytes), reopens, and checks that the state is the one after the last
// completed step or, when the step in flight reached the disk, the one after it. Then the
// store must accept the rest of the workload and end in the reference final state.
void PowerCutAtEveryStep(uint64_t checkpoint_bytes, size_t keep_torn) {
  int64_t total_ops = 0;
  const std::vector<State> states = ReferenceStates(checkpoint_bytes, &total_ops);
  ASSERT_GT(total_ops, 30);
  std::printf("[ info     ] %lld power-cut points (checkpoint every %llu bytes, torn %zu)\n",
              static_cast<long long>(total_ops + 1),
              static_cast<unsigned long long>(checkpoint_bytes), keep_torn);
  for (int64_t cut = 0; cut <= total_ops; ++cut) {
    FaultFileSystem fs;
    StoreOptions opts{&fs, checkpoint_bytes};
    int done = 0;
    {
      auto s = Store::Open(kDir, opts);
      fs.CrashAfter(cut);
      done = Workload::Run(*s, 0, nullptr);
    }
    fs.Crash(keep_torn);
    auto s = Store::Open(kDir, opts);
    const State got = Snapshot(*s);
    const bool before = got == states[done];
    const bool after = done < Workload::kSteps && got == states[done + 1];
    ASSERT_TRUE(before || after) << "cut after op " << cut << ", " << done << " steps done";
    // The engine's recovery would finish or roll back a pending intent; this test lets the
    // workload continue from where the durable state is.
    const int resume = after ? done + 1 : done;
    ASSERT_EQ(Workload::Run(*s, resume, nullptr), Workload::kSteps) << "cut " << cut;
    s.reset();
    EXPECT_EQ(Snapshot(*Store::Open(kDir, opts)), states.back()) << "cut " << cut;
  }
}

TEST(FaultInjection, PowerCutAtEveryStepNeverLosesACommittedOperation) {
  PowerCutAtEveryStep(4 << 20, 0);
}

TEST(FaultInjection, PowerCutWithAutoCheckpointsAtEveryStep) {
  PowerCutAtEveryStep(300, 0);  // a checkpoint every few records
}

TEST(FaultInjection, PowerCutWithTornWritesAtEveryStep) {
  for (size_t keep : {1u, 23u, 24u, 40u, 1000u}) PowerCutAtEveryStep(300, keep);
}

// A second power cut during recovery (cut tail, skipped stale journal, interrupted
// checkpoint) must also leave a store that opens to the same state.
TEST(FaultInjection, PowerCutDuringRecoveryIsHarmless) {
  int64_t total_ops = 0;
  const std::vector<State> states = ReferenceStates(300, &total_ops);
  for (int64_t cut = 0; cut <= total_ops; cut += 3) {
    for (int64_t second = 0; second < 12; ++second) {
      FaultFileSystem fs;
      StoreOptions opts{&fs, 300};
      int done = 0;
      {
        auto s = Store::Open(kDir, opts);
        fs.CrashAfter(cut);
        done = Workload::Run(*s, 0, nullptr);
      }
      fs.Crash(5);
      State first;
      {
        auto s = Store::Open(kDir, opts);
        first = Snapshot(*s);
      }
      fs.CrashAfter(second);
      try {
        Store::Open(kDir, opts);
      } catch (const Error&) {
        // cut during recovery
      }
      fs.Crash(5);
      auto s = Store::Open(kDir, opts);
      ASSERT_EQ(Snapshot(*s), first) << "cut " << cut << " second " << second;
      ASSERT_TRUE(first == states[done] || first == states[std::min(done + 1, Workload::kSteps)]);
    }
  }
}

// ---- Fault points (real processes) ----

// Runs `body` in a child process with THINSNAP_FAULT set, its stderr captured. The child
// re-executes this test binary so that the variable is read fresh (it is read once per process).
struct ChildResult {
  int exit_code = -1;
  std::string stderr_text;
};

ChildResult RunChild(const std::string& test, const std::string& fault, const std::string& arg) {
  ScratchDir out;
  const std::string err_path = out.path() + "/stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    setenv("THINSNAP_FAULT", fault.c_str(), 1);
    setenv("THINSNAP_FAULT_CHILD_ARG", arg.c_str(), 1);
    const std::string filter = "--gtest_filter=FaultPointChild." + test;
    execl("/proc/self/exe", "child", filter.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ChildResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.stderr_text = ss.str();
  return r;
}

const char* ChildArg() { return std::getenv("THINSNAP_FAULT_CHILD_ARG"); }

// Child bodies: they do nothing in a normal run.
TEST(FaultPointChild, HitAfterCommit) {
  if (!ChildArg()) GTEST_SKIP() << "runs only as a child of FaultPoint tests";
  FaultPoint("after-intent");
  FaultPoint("after-commit");
}

TEST(FaultPointChild, CheckpointStore) {
  if (!ChildArg()) GTEST_SKIP() << "runs only as a child of FaultPoint tests";
  auto s = Store::Open(ChildArg());
  s->Update({Mutation::Put(SampleDevice(1, "after-open"))});
  s->Checkpoint();
}

TEST(FaultPoint, ArmedPointExitsWith137) {
  const ChildResult r = RunChild("HitAfterCommit", "after-kernel-op,after-commit", "x");
  EXPECT_EQ(r.exit_code, kFaultExitCode);
  EXPECT_EQ(r.stderr_text, "thinsnap: fault point after-commit reached\n");
}

TEST(FaultPoint, UnarmedPointsReturn) {
  const ChildResult r = RunChild("HitAfterCommit", "after-commit-not", "x");
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  FaultPoint("after-commit");  // this process has no THINSNAP_FAULT
}

TEST(FaultPoint, CrashMidCheckpointReopensToTheSameState) {
  ScratchDir dir;
  const std::string meta = dir.path() + "/meta";
  {
    auto s = Store::Open(meta);
    s->Begin(
        Intent{1, {{KernelOp::Kind::kCreateThin, 0, 0}}, {Mutation::Put(SampleDevice(0, "base"))}});
    s->Commit(1);
  }
  const ChildResult r = RunChild("CheckpointStore", "mid-checkpoint", meta);
  ASSERT_EQ(r.exit_code, kFaultExitCode) << r.stderr_text;
  EXPECT_EQ(r.stderr_text, "thinsnap: fault point mid-checkpoint reached\n");
  auto s = Store::Open(meta);
  EXPECT_EQ(s->catalog().size(), 2u);
  EXPECT_EQ(s->catalog().transaction_id(), 1u);
  ASSERT_EQ(s->recovery_notes().size(), 1u);
  EXPECT_NE(s->recovery_notes()[0].find("skipped 3 records"), std::string::npos)
      << s->recovery_notes()[0];
  s->Update({Mutation::SetConfig("k", "v")});
  EXPECT_EQ(Store::Open(meta)->catalog().config().at("k"), "v");
}

}  // namespace
}  // namespace thinsnap
