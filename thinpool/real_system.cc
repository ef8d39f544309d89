#include "thinpool/real_system.h"

#include <unistd.h>

#include <fstream>

#include "thinpool/layers/layer_tar.h"
#include "thinpool/layers/tar_export.h"
#include "thinpool/layers/tree_diff.h"

namespace thinsnap::kernel {

LayerApplyStats RealLayerTrees::ApplyLayer(int tar_fd, const std::string& root,
                                           const LayerProgress& progress) {
  layers::ApplyOptions opts;
  opts.progress = progress;
  layers::ApplyStats s = layers::ApplyLayer(tar_fd, root, opts);
  return {s.entries, s.bytes, s.diff_id};
}

std::vector<TreeChange> RealLayerTrees::DiffTrees(const std::string& lower,
                                                  const std::string& upper) {
  return layers::DiffTrees(lower, upper);
}

void RealLayerTrees::ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                                   int out_fd) {
  layers::ExportChanges(upper, changes, out_fd);
}

uint64_t ResidentSetBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace thinsnap::kernel
