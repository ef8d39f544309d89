#include "cli/live_line.h"

#include <cstdio>
#include <utility>

namespace thinsnap::cli {

std::string FormatStepProgress(const std::string& step, int64_t elapsed_ns) {
  char took[32];
  std::snprintf(took, sizeof took, ", %.1f s",
                static_cast<double>(elapsed_ns < 0 ? 0 : elapsed_ns) / 1e9);
  return step + took;
}

LiveLine::LiveLine(std::function<void(const std::string&)> draw, std::chrono::milliseconds after,
                   std::chrono::milliseconds every)
    : draw_(std::move(draw)), after_(after), every_(every) {}

LiveLine::~LiveLine() { End(); }

void LiveLine::Step(const StepProgress& p) {
  if (p.done) {
    End();
  } else {
    End();
    Begin(p.step);
  }
}

void LiveLine::Begin(const std::string& step) {
  std::lock_guard<std::mutex> lock(mu_);
  step_ = step;
  start_ = Clock::now();
  running_ = true;
  shown_ = false;
  thread_ = std::thread([this] { Redraw(); });
}

void LiveLine::End() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    running_ = false;
    Clock::time_point now = Clock::now();
    if (shown_ || now - start_ >= after_) DrawLocked(now, /*last=*/true);
  }
  wake_.notify_all();
  thread_.join();
}

void LiveLine::Redraw() {
  std::unique_lock<std::mutex> lock(mu_);
  Clock::time_point next = start_ + after_;
  while (running_) {
    if (wake_.wait_until(lock, next, [this] { return !running_; })) break;
    Clock::time_point now = Clock::now();
    DrawLocked(now, /*last=*/false);
    next = now + every_;
  }
}

void LiveLine::DrawLocked(Clock::time_point now, bool last) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_).count();
  draw_("\r" + FormatStepProgress(step_, ns) + "\033[K" + (last ? "\n" : ""));
  shown_ = true;
}

}  // namespace thinsnap::cli
