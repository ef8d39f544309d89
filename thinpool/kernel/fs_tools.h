// The external tools thinsnap drives: mkfs/resize/fsck for ext4 and xfs, and the
// thin-provisioning-tools (thin_check, thin_ls, thin_repair, thin_dump) on pool metadata.
// Each runs through RunCommand (no shell); failures throw Error with the command line, the exit
// status and the last lines of its stderr.
//
// Thread-safety: free functions without shared state.
#ifndef THINSNAP_THINPOOL_KERNEL_FS_TOOLS_H_
#define THINSNAP_THINPOOL_KERNEL_FS_TOOLS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/fs_type.h"
#include "thinpool/kernel/system/thin_tools.h"

namespace thinsnap::kernel {

// The argv that MakeFilesystem runs (exposed for tests and `-v` output).
// ext4: mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 [extra] dev
// xfs:  mkfs.xfs -q -f -K [extra] dev
// Throws kUsage for FsType::kNone.
std::vector<std::string> MakeFilesystemArgv(const std::string& device, FsType fs,
                                            const std::vector<std::string>& extra_args);
void MakeFilesystem(const std::string& device, FsType fs,
                    const std::vector<std::string>& extra_args = {});

// Grows the filesystem to fill its (grown) device: resize2fs <device> for ext4 (online when
// mounted), xfs_growfs <mountpoint> for xfs (which must be mounted).
void GrowFilesystem(const std::string& device, const std::string& mountpoint, FsType fs);

struct ToolReport {
  bool ok = false;
  int exit_code = 0;
  std::string output;  // stdout then stderr
};

// Read-only check of an unmounted filesystem: e2fsck -n -f / xfs_repair -n.
ToolReport CheckFilesystem(const std::string& device, FsType fs);

// thin_check on pool metadata (not live: the pool must be inactive, or pass a metadata snapshot
// by its device and metadata_snap=true). Damage is ok=false, not an exception.
ToolReport ThinCheck(const std::string& metadata_dev, bool metadata_snap = false,
                     bool clear_needs_check = false);

struct ThinLsRow {
  uint32_t dev_id = 0;
  uint64_t mapped_blocks = 0;
  uint64_t exclusive_blocks = 0;
  uint64_t shared_blocks = 0;
  bool operator==(const ThinLsRow&) const = default;
};
// thin_ls --no-headers -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS [-m] <metadata_dev>.
// On a live pool pass use_metadata_snap=true after `reserve_metadata_snap`.
std::vector<ThinLsRow> ThinLs(const std::string& metadata_dev, bool use_metadata_snap);
// Parses thin_ls output in that column order; throws kCorrupt quoting a malformed line.
std::vector<ThinLsRow> ParseThinLs(const std::string& output);

// thin_delta [-m] --snap1 <a> --snap2 <b> <metadata_dev>. With a == b every mapped range of a
// comes back as kSame: that is how a full send finds what is provisioned. On a live pool pass
// use_metadata_snap=true after `reserve_metadata_snap`.
std::vector<DeltaRange> ThinDelta(const std::string& metadata_dev, uint32_t snap1, uint32_t snap2,
                                  bool use_metadata_snap);
// Parses thin_delta's XML (one element per line: <same|different|left_only|right_only
// begin=".." length=".."/>, with <superblock>/<diff> around them); throws kCorrupt quoting a
// malformed line. The ranges come back in the tool's order (ascending).
std::vector<DeltaRange> ParseThinDelta(const std::string& output);

// thin_repair -i <in> -o <out>. Throws on failure.
void ThinRepair(const std::string& in, const std::string& out);
// thin_dump [-m] <metadata_dev>: the XML description of the metadata.
std::string ThinDump(const std::string& metadata_dev, bool use_metadata_snap = false);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_FS_TOOLS_H_
