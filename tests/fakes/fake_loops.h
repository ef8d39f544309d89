// FakeLoops: kernel::Loops for unit tests: /dev/loopN over a FakeFiles file, sized in the
// FakeDeviceMapper as the file is. The same file gets the same name again after Reboot().
#ifndef THINSNAP_TESTS_FAKES_FAKE_LOOPS_H_
#define THINSNAP_TESTS_FAKES_FAKE_LOOPS_H_

#include <map>
#include <string>

#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_files.h"
#include "tests/fakes/fake_link.h"
#include "thinpool/kernel/system/loops.h"

namespace thinsnap::kernel {

class FakeLoops : public virtual Loops {
 public:
  FakeLoops(FakeDeviceMapper* dm, FakeFiles* files) : dm_(dm), files_(files) {}

  std::unique_ptr<LoopHandle> AttachLoop(const std::string& file) override;
  std::optional<std::string> FindLoop(const std::string& file) override;
  void RefreshLoopCapacity(const std::string& loop) override;

  // Loop devices go away, as after a reboot.
  void Reboot();

 private:
  FakeDeviceMapper* dm_;
  FakeLink<FakeFiles> files_;
  std::map<std::string, std::string> loops_;       // /dev/loopN -> file
  std::map<std::string, std::string> loop_names_;  // file -> its loop device, kept over reboots
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_LOOPS_H_
