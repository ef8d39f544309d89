// RealLoops: the Loops interface (loops.h) over the real kernel: thinpool/kernel/loop.h.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_LOOPS_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_LOOPS_H_

#include "thinpool/kernel/system/loops.h"

namespace thinsnap::kernel {

class RealLoops : public virtual Loops {
 public:
  std::unique_ptr<LoopHandle> AttachLoop(const std::string& file) override;
  std::optional<std::string> FindLoop(const std::string& file) override;
  void RefreshLoopCapacity(const std::string& loop_device) override;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_LOOPS_H_
