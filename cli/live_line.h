// The live progress line for the engine's long steps (EngineOptions::step_progress): mkfs of the
// base, thin_check, thin_repair and thin_ls on large pools, a filesystem grow, the tree
// comparison and the tar of an export. A step that ends within `after` (a second) shows nothing;
// a longer one is drawn as "<step>, 3.2 s" and redrawn in place every `every` until it ends, when
// it is drawn a last time with the time it took and ended with a newline. Whether to show it at
// all (a terminal, no --json) is the caller's decision: Program makes one only then.
//
// Thread-safety: Step() is called from one thread; while a step runs, a thread of the LiveLine's
// own redraws the line, and Step(done) or the destructor joins it.
#ifndef THINSNAP_CLI_LIVE_LINE_H_
#define THINSNAP_CLI_LIVE_LINE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "thinpool/engine.h"

namespace thinsnap::cli {

// "<step>, 3.2 s": one state of the live line.
std::string FormatStepProgress(const std::string& step, int64_t elapsed_ns);

class LiveLine {
 public:
  using Clock = std::chrono::steady_clock;
  // `draw` gets the text to write as it is ("\r...\033[K", the last one ending in "\n").
  explicit LiveLine(std::function<void(const std::string&)> draw,
                    std::chrono::milliseconds after = std::chrono::seconds(1),
                    std::chrono::milliseconds every = std::chrono::milliseconds(250));
  ~LiveLine();
  LiveLine(const LiveLine&) = delete;
  LiveLine& operator=(const LiveLine&) = delete;

  // The step_progress callback. A step that starts while another runs replaces it.
  void Step(const StepProgress& p);

 private:
  void Begin(const std::string& step);
  void End();
  void Redraw();  // the drawing thread
  void DrawLocked(Clock::time_point now, bool last);

  std::function<void(const std::string&)> draw_;
  std::chrono::milliseconds after_, every_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::string step_;         // guarded by mu_
  Clock::time_point start_;  // guarded by mu_
  bool running_ = false;     // guarded by mu_: a step runs
  bool shown_ = false;       // guarded by mu_: its line has been drawn
  std::thread thread_;       // the drawing thread of the running step
};

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_LIVE_LINE_H_
