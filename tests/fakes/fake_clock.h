// FakeClock: kernel::Clock for unit tests: every NowNs() is 1 µs after the last; SleepMs
// returns at once after running `on_sleep` (what happens meanwhile).
#ifndef THINSNAP_TESTS_FAKES_FAKE_CLOCK_H_
#define THINSNAP_TESTS_FAKES_FAKE_CLOCK_H_

#include <cstdint>
#include <functional>

#include "thinpool/kernel/system/clock.h"

namespace thinsnap::kernel {

class FakeClock : public virtual Clock {
 public:
  int64_t NowNs() override { return now_ns += 1000; }
  void SleepMs(int) override {
    if (on_sleep) on_sleep();
  }

  int64_t now_ns = 1'700'000'000'000'000'000;
  std::function<void()> on_sleep;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_CLOCK_H_
