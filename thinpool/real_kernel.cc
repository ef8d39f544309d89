#include "thinpool/real_kernel.h"

#include "thinpool/kernel/libdevmapper.h"
#include "thinpool/real_system.h"

namespace thinsnap {

RealKernel MakeRealKernel() {
  return {std::make_unique<kernel::LibDevmapper>(), std::make_unique<kernel::RealSystem>()};
}

}  // namespace thinsnap
