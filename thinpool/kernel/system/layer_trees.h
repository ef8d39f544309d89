// LayerTrees: layer tarballs applied to, and changes read from, trees of files on mounted
// filesystems. One of System's narrow interfaces (thinpool/kernel/system.h). The interface lives
// here with the others so that System stays one header of kernel/; its real implementation,
// RealLayerTrees (thinpool/real_system.h), is the engine's, over thinpool/layers/ (libarchive).
// tests/fakes/fake_layer_trees.h compares maps of paths.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_LAYER_TREES_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_LAYER_TREES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/tree_change.h"

namespace thinsnap::kernel {

struct LayerApplyStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // of the uncompressed tar
  std::string digest;  // "sha256:<hex>" of the uncompressed tar
};
using LayerProgress = std::function<void(uint64_t bytes, uint64_t entries)>;

class LayerTrees {
 public:
  virtual ~LayerTrees() = default;

  virtual LayerApplyStats ApplyLayer(int tar_fd, const std::string& root,
                                     const LayerProgress& progress) = 0;
  virtual std::vector<TreeChange> DiffTrees(const std::string& lower, const std::string& upper) = 0;
  virtual void ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                             int out_fd) = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_LAYER_TREES_H_
