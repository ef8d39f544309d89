// RealSystem: the System interface (thinpool/kernel/system.h) over the real kernel and tools:
// the six real implementations of thinpool/kernel/system/ (RealFiles, RealLoops,
// RealFilesystems, RealThinTools, RealClock, RealHost) and RealLayerTrees, the one that needs
// thinpool/layers/ and so lives here in the engine's library. MakeRealKernel
// (thinpool/real_kernel.h) makes it.
#ifndef THINSNAP_THINPOOL_REAL_SYSTEM_H_
#define THINSNAP_THINPOOL_REAL_SYSTEM_H_

#include "thinpool/kernel/system.h"
#include "thinpool/kernel/system/real_clock.h"
#include "thinpool/kernel/system/real_files.h"
#include "thinpool/kernel/system/real_filesystems.h"
#include "thinpool/kernel/system/real_host.h"
#include "thinpool/kernel/system/real_loops.h"
#include "thinpool/kernel/system/real_thin_tools.h"

namespace thinsnap::kernel {

// The LayerTrees interface over thinpool/layers/: layer_tar, tree_diff and tar_export.
class RealLayerTrees : public virtual LayerTrees {
 public:
  LayerApplyStats ApplyLayer(int tar_fd, const std::string& root,
                             const LayerProgress& progress) override;
  std::vector<TreeChange> DiffTrees(const std::string& lower, const std::string& upper) override;
  void ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                     int out_fd) override;
};

class RealSystem : public System,
                   public RealFiles,
                   public RealLoops,
                   public RealFilesystems,
                   public RealThinTools,
                   public RealLayerTrees,
                   public RealClock,
                   public RealHost {};

// Resident set size of this process, from /proc/self/statm (for benchmarks).
uint64_t ResidentSetBytes();

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_REAL_SYSTEM_H_
