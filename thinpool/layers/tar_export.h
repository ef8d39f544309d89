// ExportChanges: writes the changes DiffTrees found as a layer tarball, the inverse of ApplyLayer:
// for trees L and U, ApplyLayer(ExportChanges(U, DiffTrees(L, U))) onto a copy of L gives U
// (content, type, permission bits, uid/gid, mtimes, xattrs, symlink targets, device numbers,
// hardlinks), apart from the metadata of the root directory itself, which a diff never lists.
//
// Format: POSIX pax (the interchange variant, so nanosecond mtimes are always recorded; long names
// and xattrs as SCHILY.xattr / LIBARCHIVE.xattr records), uncompressed. Added and changed entries
// are written with their metadata and content; sparse files keep their holes (GNU sparse 1.0 pax
// records); a path deleted in U becomes a whiteout "dir/.wh.NAME". Files sharing an inode within
// the exported set are written once and then as hardlinks to the first path in sort order.
// Sockets are skipped (tar cannot hold them). A name starting with ".wh." cannot be represented
// and is an error.
//
// Errors: thinsnap::Error naming the path. The output is then incomplete.
// REQUIRES: `changes` sorted by path as DiffTrees returns them; upper_root unchanged while
// exporting (the engine exports a read-only snapshot); /proc mounted.
// Ownership: out_fd stays the caller's and is not closed.
#ifndef THINSNAP_THINPOOL_LAYERS_TAR_EXPORT_H_
#define THINSNAP_THINPOOL_LAYERS_TAR_EXPORT_H_

#include <string>
#include <vector>

#include "thinpool/layers/tree_diff.h"

namespace thinsnap::layers {

void ExportChanges(const std::string& upper_root, const std::vector<TreeChange>& changes,
                   int out_fd);

}  // namespace thinsnap::layers

#endif  // THINSNAP_THINPOOL_LAYERS_TAR_EXPORT_H_
