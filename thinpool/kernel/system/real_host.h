// RealHost: the Host interface (host.h) over the real kernel: /bin/sh through
// thinpool/kernel/process.h, getrandom(2), /run/udev/control.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_HOST_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_HOST_H_

#include "thinpool/kernel/system/host.h"

namespace thinsnap::kernel {

class RealHost : public virtual Host {
 public:
  ToolResult RunHook(const std::string& command, const std::vector<std::string>& env) override;
  void RandomBytes(void* out, size_t n) override;
  bool UdevRunning() override;  // /run/udev/control exists
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_REAL_HOST_H_
