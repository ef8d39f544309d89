// LiveLine: what it draws for a long step and when (the thresholds are the test's own).
#include "cli/live_line.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace thinsnap::cli {
namespace {

using std::chrono::milliseconds;

// What a LiveLine drew, safe to read while its thread draws.
class Drawn {
 public:
  std::function<void(const std::string&)> Sink() {
    return [this](const std::string& s) {
      std::lock_guard<std::mutex> lock(mu_);
      texts_.push_back(s);
    };
  }
  std::vector<std::string> texts() {
    std::lock_guard<std::mutex> lock(mu_);
    return texts_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> texts_;
};

TEST(FormatStepProgress, StepAndSeconds) {
  EXPECT_EQ(FormatStepProgress("formatting the base (mkfs.ext4, 10 GiB)", 3'249'000'000),
            "formatting the base (mkfs.ext4, 10 GiB), 3.2 s");
  EXPECT_EQ(FormatStepProgress("x", -5), "x, 0.0 s");
}

TEST(LiveLine, AShortStepDrawsNothing) {
  Drawn drawn;
  {
    LiveLine line(drawn.Sink(), std::chrono::hours(1));
    line.Step({.step = "checking", .done = false});
    line.Step({.step = "checking", .done = true});
  }
  EXPECT_TRUE(drawn.texts().empty());
}

TEST(LiveLine, ALongStepIsRedrawnThenEndedWithANewline) {
  Drawn drawn;
  LiveLine line(drawn.Sink(), milliseconds(1), milliseconds(1));
  line.Step({.step = "thin_check", .done = false});
  // Until the thread has redrawn twice (bounded: a broken LiveLine fails, it does not hang).
  for (int i = 0; i < 10000 && drawn.texts().size() < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  line.Step({.step = "thin_check", .done = true});
  std::vector<std::string> texts = drawn.texts();
  ASSERT_GE(texts.size(), 3u);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(texts[i].rfind("\rthin_check, ", 0), 0u) << texts[i];
    bool last = i + 1 == texts.size();
    EXPECT_EQ(texts[i].substr(texts[i].size() - (last ? 4 : 3)), last ? "\033[K\n" : "\033[K");
  }
  size_t before = texts.size();
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(drawn.texts().size(), before);  // nothing after the end
}

TEST(LiveLine, ANewStepEndsTheRunningOne) {
  Drawn drawn;
  {
    LiveLine line(drawn.Sink(), milliseconds(0), std::chrono::hours(1));
    line.Step({.step = "one", .done = false});
    line.Step({.step = "two", .done = false});
  }  // the destructor ends "two"
  std::vector<std::string> texts = drawn.texts();
  ASSERT_GE(texts.size(), 2u);
  EXPECT_EQ(texts.front().rfind("\rone, ", 0), 0u);
  EXPECT_EQ(texts.back().rfind("\rtwo, ", 0), 0u);
  EXPECT_EQ(texts.back().back(), '\n');
}

}  // namespace
}  // namespace thinsnap::cli
