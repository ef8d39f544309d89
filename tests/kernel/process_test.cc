#include "thinpool/kernel/process.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

TEST(Process, CapturesStdoutAndStderr) {
  RunResult r = RunCommand({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_text, "out\n");
  EXPECT_EQ(r.stderr_text, "err\n");
}

TEST(Process, ArgumentsAreNotInterpretedByAShell) {
  RunResult r = RunCommand({"echo", "$HOME", "a;b", "*"});
  EXPECT_EQ(r.stdout_text, "$HOME a;b *\n");
}

TEST(Process, FailureNamesCommandStatusAndLastStderrLines) {
  try {
    RunCommand({"sh", "-c", "for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3"});
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("sh -c"), std::string::npos) << msg;
    EXPECT_NE(msg.find("exit status 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line7"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("line1"), std::string::npos) << msg;
  }
}

TEST(Process, UncheckedReturnsExitCode) {
  RunOptions opts;
  opts.check = false;
  EXPECT_EQ(RunCommand({"sh", "-c", "exit 4"}, opts).exit_code, 4);
}

TEST(Process, SignalDeathIsReported) {
  try {
    RunCommand({"sh", "-c", "kill -9 $$"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("killed by signal 9"), std::string::npos) << e.what();
  }
}

TEST(Process, MissingProgramIsNotFound) {
  try {
    RunCommand({"thinsnap-no-such-tool"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("thinsnap-no-such-tool"), std::string::npos);
  }
}

TEST(Process, LargeOutputOnBothStreamsDoesNotDeadlock) {
  RunResult r =
      RunCommand({"sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; echo done"});
  EXPECT_EQ(r.stdout_text.size(), 300005u);
  EXPECT_EQ(r.stderr_text.size(), 300000u);
}

TEST(Process, ExtraEnvironment) {
  RunOptions opts;
  opts.extra_env = {"THINSNAP_TEST_VAR=hello"};
  EXPECT_EQ(RunCommand({"sh", "-c", "echo $THINSNAP_TEST_VAR"}, opts).stdout_text, "hello\n");
}

}  // namespace
}  // namespace thinsnap::kernel
