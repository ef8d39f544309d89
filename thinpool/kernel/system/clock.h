// Clock: the wall clock and sleeping, so that timing (progress, the pool monitor's polls) runs
// at once against tests/fakes/fake_clock.h. One of System's narrow interfaces
// (thinpool/kernel/system.h); RealClock (real_clock.h) is std::chrono.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_CLOCK_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_CLOCK_H_

#include <cstdint>

namespace thinsnap::kernel {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual int64_t NowNs() = 0;  // wall clock, ns since the Unix epoch
  virtual void SleepMs(int ms) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_CLOCK_H_
