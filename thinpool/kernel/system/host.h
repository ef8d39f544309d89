// Host: what the machine offers besides files, devices and time: the user's hook commands,
// random bytes and whether udev runs. One of System's narrow interfaces
// (thinpool/kernel/system.h); RealHost (real_host.h), tests/fakes/fake_host.h.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_HOST_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_HOST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "thinpool/kernel/system/tool_result.h"

namespace thinsnap::kernel {

class Host {
 public:
  virtual ~Host() = default;

  // A user's command (the autoextend hook), run through /bin/sh -c with `env` ("NAME=value")
  // added to the environment. Never throws for a failing command: ok is false and output holds
  // the exit status and its output.
  virtual ToolResult RunHook(const std::string& command, const std::vector<std::string>& env) = 0;
  // Fills `out` with random bytes (getrandom): device identities.
  virtual void RandomBytes(void* out, size_t n) = 0;
  virtual bool UdevRunning() = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_HOST_H_
