// ApplyLayer: unpacks one OCI/Docker layer tarball onto a directory that already holds the parent
// layer's files (the engine mounts the layer's thin snapshot there first).
//
// Input: a tar stream on an fd (file, pipe or stdin), uncompressed or compressed with gzip, zstd,
// xz, bzip2 or lz4 (detected from the data). Only tar formats are accepted (ustar, pax, GNU).
//
// What is applied: regular files (holes in sparse entries and 4 KiB runs of zeros become holes),
// directories, symlinks, hardlinks, char/block devices, fifos; numeric uid/gid, permission bits
// including setuid/setgid/sticky, mtimes (directories get theirs after all entries are in),
// xattrs (SCHILY.xattr / LIBARCHIVE.xattr pax records, e.g. security.capability).
// An entry replaces whatever exists at its path unless both are directories (then the entry's
// metadata is applied to the existing directory and its contents stay). A file is always
// unlinked and recreated, never rewritten in place, so lower-layer hardlinks keep their data.
//
// Whiteouts (never materialised): "dir/.wh.NAME" removes NAME (a whole tree if a directory);
// "dir/.wh..wh..opq" empties dir of everything not put there by this same tar, whether the
// marker comes before or after those entries. Other ".wh..wh." names (aufs metadata) are ignored.
//
// Security: names are cleaned lexically like Docker: a leading "/" is dropped (absolute names are
// relative to root_dir), "." and empty components are dropped, and ".." may not climb above
// root_dir. Every parent directory is resolved one component at a time without following
// symlinks, so an entry below a symlink — whether the symlink came from this layer or the lower
// one, wherever it points — is refused; hardlink targets are resolved the same way. Refused
// entries throw thinsnap::Error naming the entry; nothing outside root_dir is created, modified
// or linked. Names longer than PATH_MAX and empty names are refused.
//
// Errors: thinsnap::Error "layer entry \"<name>\": <what failed>". The tree is then half-applied;
// the caller discards it (the engine deletes the thin snapshot).
// REQUIRES: running as root (ownership, device nodes, trusted.* xattrs); /proc mounted.
// Thread-safety: independent calls may run concurrently on different roots.
#ifndef THINSNAP_THINPOOL_LAYERS_LAYER_TAR_H_
#define THINSNAP_THINPOOL_LAYERS_LAYER_TAR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace thinsnap::layers {

struct ApplyOptions {
  // Called with the uncompressed bytes read and entries applied so far, at most once per
  // progress_interval, and once at the end. May be empty.
  std::function<void(uint64_t bytes, uint64_t entries)> progress;
  std::chrono::milliseconds progress_interval{100};
};

struct ApplyStats {
  uint64_t entries = 0;  // tar entries processed, whiteouts included
  uint64_t bytes = 0;    // length of the uncompressed tar stream
  std::string diff_id;   // "sha256:<64 hex>" of the uncompressed tar stream, like Docker's DiffID
};

// Reads the whole stream from tar_fd (not closed; the caller owns it) and applies it to root_dir.
ApplyStats ApplyLayer(int tar_fd, const std::string& root_dir, const ApplyOptions& options = {});

}  // namespace thinsnap::layers

#endif  // THINSNAP_THINPOOL_LAYERS_LAYER_TAR_H_
