#include "thinpool/kernel/device_mapper.h"

namespace thinsnap::kernel {

std::string Version::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace thinsnap::kernel
