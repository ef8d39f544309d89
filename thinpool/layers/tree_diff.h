// DiffTrees: what changed between a parent layer's tree and a child's, like `docker diff`.
//
// Each TreeChange names a path as "/etc/passwd" (relative to the roots, leading "/") and a kind:
//   kAdded   only in upper; every entry inside an added directory is listed too.
//   kDeleted only in lower; a deleted directory is listed alone, not its contents.
//   kChanged in both, but differing in type, permission bits, uid, gid, mtime (ns), xattrs,
//            symlink target, device number, or for non-directories size, link count or content.
//            A directory is also kChanged when anything inside it changed (docker's convention,
//            which also makes the export carry the directory's metadata). The roots themselves
//            are never listed.
// Unlike docker diff, a directory whose only difference is its mtime counts as changed, so
// ExportChanges can reproduce the upper tree's mtimes exactly.
// `lost+found` directly under either root is ignored, and mount points below a root are
// compared as entries but not descended into. Symlinks are never followed.
// The result is sorted by path (bytewise), so a directory precedes its contents.
//
// Errors: thinsnap::Error naming the path. REQUIRES: neither tree changes while being compared;
// /proc mounted. Thread-safety: independent calls may run concurrently.
#ifndef THINSNAP_THINPOOL_LAYERS_TREE_DIFF_H_
#define THINSNAP_THINPOOL_LAYERS_TREE_DIFF_H_

#include <string>
#include <vector>

#include "base/tree_change.h"

namespace thinsnap::layers {

struct DiffOptions {
  // Compare the bytes of regular files whose metadata all match. Off trusts size and mtime
  // (like docker), which is much faster on large trees.
  bool compare_content = true;
};

// lower_root may be "" for a layer without a parent: then everything in upper_root is kAdded.
std::vector<TreeChange> DiffTrees(const std::string& lower_root, const std::string& upper_root,
                                  const DiffOptions& options = {});

}  // namespace thinsnap::layers

#endif  // THINSNAP_THINPOOL_LAYERS_TREE_DIFF_H_
