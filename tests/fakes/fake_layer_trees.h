// FakeLayerTrees: kernel::LayerTrees for unit tests. Layer tarballs are read whole and
// "applied" by remembering their size; each device may carry a tree of files (`trees`), which
// DiffTrees really compares and ExportChanges really writes out, found through the mounts of a
// FakeFilesystems. Deterministic.
#ifndef THINSNAP_TESTS_FAKES_FAKE_LAYER_TREES_H_
#define THINSNAP_TESTS_FAKES_FAKE_LAYER_TREES_H_

#include <map>
#include <string>
#include <vector>

#include "tests/fakes/fake_filesystems.h"
#include "tests/fakes/fake_link.h"
#include "thinpool/kernel/system/layer_trees.h"

namespace thinsnap::kernel {

class FakeLayerTrees : public virtual LayerTrees {
 public:
  explicit FakeLayerTrees(FakeFilesystems* filesystems) : filesystems_(filesystems) {}

  LayerApplyStats ApplyLayer(int tar_fd, const std::string& root,
                             const LayerProgress& progress) override;
  // Compares the trees of the devices mounted at `lower` and `upper` like layers::DiffTrees:
  // sorted by path, a deleted directory alone, a directory with a change inside it changed.
  std::vector<TreeChange> DiffTrees(const std::string& lower, const std::string& upper) override;
  // Writes one line per change to out_fd: "A /path <content in upper>", "D /path".
  void ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                     int out_fd) override;

  // device -> its files: path ("/etc/passwd") -> content; a directory's path ends in "/" and its
  // content is its metadata ("0755 root").
  using Tree = std::map<std::string, std::string>;
  std::map<std::string, Tree> trees;

 private:
  FakeLink<FakeFilesystems> filesystems_;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_LAYER_TREES_H_
