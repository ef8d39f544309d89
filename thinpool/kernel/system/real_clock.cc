#include "thinpool/kernel/system/real_clock.h"

#include <chrono>
#include <thread>

namespace thinsnap::kernel {

int64_t RealClock::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RealClock::SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace thinsnap::kernel
