// Loops: the loop devices that put a loopback pool's files under device-mapper. One of System's
// narrow interfaces (thinpool/kernel/system.h); RealLoops (real_loops.h) attaches them with
// LOOP_CONFIGURE, tests/fakes/fake_loops.h names them /dev/loopN over FakeFiles' files.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_LOOPS_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_LOOPS_H_

#include <memory>
#include <optional>
#include <string>

namespace thinsnap::kernel {

// A loop device attached by this process. It auto-clears: the kernel detaches it once nobody
// holds it open, so it lives as long as the pool table that uses it. Destroying the handle
// closes this process's reference.
class LoopHandle {
 public:
  virtual ~LoopHandle() = default;
  virtual const std::string& path() const = 0;
};

class Loops {
 public:
  virtual ~Loops() = default;

  virtual std::unique_ptr<LoopHandle> AttachLoop(const std::string& file) = 0;
  virtual std::optional<std::string> FindLoop(const std::string& file) = 0;
  virtual void RefreshLoopCapacity(const std::string& loop_device) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_LOOPS_H_
