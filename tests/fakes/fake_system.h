// FakeSystem: kernel::System for engine unit tests, the seven fakes of tests/fakes/ side by side
// over one FakeDeviceMapper: FakeFiles (files in maps, block devices, O_DIRECT I/O on thin
// devices), FakeLoops, FakeFilesystems (mounts in a map), FakeThinTools (thin_ls and thin_delta
// from the fake pool's metadata), FakeLayerTrees (trees that DiffTrees really compares),
// FakeClock and FakeHost. Their test hooks (`mounts`, `trees`, `fault`, ...) are members of
// FakeSystem. A test that needs one concern may use that fake alone. Deterministic.
#ifndef THINSNAP_TESTS_FAKES_FAKE_SYSTEM_H_
#define THINSNAP_TESTS_FAKES_FAKE_SYSTEM_H_

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_device_mapper.h"
#include "tests/fakes/fake_files.h"
#include "tests/fakes/fake_filesystems.h"
#include "tests/fakes/fake_host.h"
#include "tests/fakes/fake_layer_trees.h"
#include "tests/fakes/fake_loops.h"
#include "tests/fakes/fake_thin_tools.h"
#include "thinpool/kernel/system.h"

namespace thinsnap::kernel {

class FakeSystem : public System,
                   public FakeFiles,
                   public FakeLoops,
                   public FakeFilesystems,
                   public FakeThinTools,
                   public FakeLayerTrees,
                   public FakeClock,
                   public FakeHost {
 public:
  explicit FakeSystem(FakeDeviceMapper* dm)
      : FakeFiles(dm),
        FakeLoops(dm, this),
        FakeFilesystems(dm, this),
        FakeThinTools(dm, this),
        FakeLayerTrees(this) {}

  // Loop devices go away and nothing is mounted, as after a reboot (pair with
  // FakeDeviceMapper::Reboot()).
  void Reboot() {
    FakeLoops::Reboot();
    FakeFilesystems::Reboot();
  }
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_SYSTEM_H_
