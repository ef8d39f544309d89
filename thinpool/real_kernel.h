// The real kernel behind the engine's two interfaces (kernel::DeviceMapper over libdevmapper,
// kernel::System over kernel/ and layers/): what every program opens an Engine over. The CLI,
// its benchmarks and the services make them here and nowhere else; tests pass fakes instead.
#ifndef THINSNAP_THINPOOL_REAL_KERNEL_H_
#define THINSNAP_THINPOOL_REAL_KERNEL_H_

#include <memory>

#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"

namespace thinsnap {

struct RealKernel {
  std::unique_ptr<kernel::DeviceMapper> dm;
  std::unique_ptr<kernel::System> sys;
};

// Makes LibDevmapper and RealSystem. Cheap: libdevmapper is initialized, nothing is opened.
RealKernel MakeRealKernel();

}  // namespace thinsnap

#endif  // THINSNAP_THINPOOL_REAL_KERNEL_H_
