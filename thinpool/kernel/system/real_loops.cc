#include "thinpool/kernel/system/real_loops.h"

#include "thinpool/kernel/loop.h"

namespace thinsnap::kernel {
namespace {

class RealLoop : public LoopHandle {
 public:
  explicit RealLoop(LoopDevice dev) : dev_(std::move(dev)) {}
  // The pool outlives this process: keep the device attached (it auto-clears once device-mapper
  // lets go of it) and only drop our reference.
  ~RealLoop() override {
    if (!dev_.path().empty()) dev_.Release();
  }
  const std::string& path() const override { return dev_.path(); }

 private:
  LoopDevice dev_;
};

}  // namespace

std::unique_ptr<LoopHandle> RealLoops::AttachLoop(const std::string& file) {
  return std::make_unique<RealLoop>(LoopDevice::Attach(file));
}

std::optional<std::string> RealLoops::FindLoop(const std::string& file) {
  return FindLoopForFile(file);
}

void RealLoops::RefreshLoopCapacity(const std::string& loop_device) {
  RefreshCapacity(loop_device);
}

}  // namespace thinsnap::kernel
