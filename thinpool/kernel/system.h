// System: every kernel-facing operation the engine needs besides device-mapper itself, as the
// seven narrow interfaces of thinpool/kernel/system/, one per concern:
//   Files        files and block devices (probe, zero, discard, O_DIRECT I/O)   system/files.h
//   Loops        loop devices                                                  system/loops.h
//   Filesystems  mkfs, grow, mounts, usage, shutdown/freeze/thaw               system/filesystems.h
//   ThinTools    thin_check, thin_repair, thin_ls, thin_delta                  system/thin_tools.h
//   LayerTrees   layer tarballs applied to trees, tree diff, export            system/layer_trees.h
//   Clock        wall clock and sleeping                                       system/clock.h
//   Host         hook commands, random bytes, udev                            system/host.h
// Adding an operation touches one interface, its real implementation (RealFiles, ... in
// system/real_*.h; RealLayerTrees in thinpool/real_system.h) and its fake (tests/fakes/fake_*.h).
// Code that needs one concern takes that interface; a System* converts to any of them.
//
// The interfaces are virtual bases, so RealSystem (thinpool/real_system.h) and FakeSystem
// (tests/fakes/fake_system.h) are just the seven implementations side by side: each one's
// overrides are the final ones (dominance), and a System has one Files, one Loops, ...
// Errors are thinsnap::Error with the operation, the path and errno or the tool's message.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_H_

#include "thinpool/kernel/system/clock.h"
#include "thinpool/kernel/system/files.h"
#include "thinpool/kernel/system/filesystems.h"
#include "thinpool/kernel/system/host.h"
#include "thinpool/kernel/system/layer_trees.h"
#include "thinpool/kernel/system/loops.h"
#include "thinpool/kernel/system/thin_tools.h"

namespace thinsnap::kernel {

class System : public virtual Files,
               public virtual Loops,
               public virtual Filesystems,
               public virtual ThinTools,
               public virtual LayerTrees,
               public virtual Clock,
               public virtual Host {};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_H_
