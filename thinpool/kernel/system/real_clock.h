// RealClock: the Clock interface (clock.h) over the real kernel: std::chrono's system clock and
// std::this_thread::sleep_for.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_CLOCK_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_CLOCK_H_

#include "thinpool/kernel/system/clock.h"

namespace thinsnap::kernel {

class RealClock : public virtual Clock {
 public:
  int64_t NowNs() override;
  void SleepMs(int ms) override;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_CLOCK_H_
