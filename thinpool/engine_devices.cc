// Layers, containers and volumes: creating them as thin devices and snapshots, activation,
// mounts, removal, and the tree operations (import, diff, export) on mounted filesystems.
#include <cstdio>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

constexpr char kImporting[] = "thinsnap.importing";

}  // namespace

DeviceRecord Engine::CreateLayer(const std::string& name, const std::string& parent) {
  Impl& m = *impl_;
  kernel::PoolStatus status = m.RequireActivePoolStatus();
  m.RequireNameFree(name);
  PoolSettings s = m.settings();
  const DeviceRecord* origin = m.catalog().FindById(s.base_id);
  if (!parent.empty()) {
    origin = &m.Find(parent);
    if (origin->kind != DeviceKind::kLayer || origin->state != DeviceState::kReady) {
      throw Error("parent '" + parent + "' is not a sealed layer", ErrorKind::kUsage);
    }
  }
  if (!origin) throw Error("the pool has no base device; run thinsnap pool check");
  m.CheckSpace("layer create " + name, &status);
  uint64_t size = std::max(origin->size_bytes, s.base_size);
  DeviceRecord rec = m.NewRecord(name, DeviceKind::kLayer, origin->id, size, origin->fs);
  rec.state = DeviceState::kWritableLayer;
  m.CreateDevice(rec, origin);
  if (size > origin->size_bytes) m.GrowOrRollBack(rec, "layer create " + name);
  return rec;
}

void Engine::SealLayer(const std::string& name) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (rec.kind != DeviceKind::kLayer || rec.state != DeviceState::kWritableLayer) {
    throw Error("'" + name + "' is not an unsealed layer", ErrorKind::kUsage);
  }
  if (!rec.mountpoint.empty()) {
    throw Error("layer '" + name + "' is mounted at " + rec.mountpoint + "; unmount it first",
                ErrorKind::kBusy);
  }
  if (m.ThinActive(rec.id)) m.DeactivateThin(rec.id, false);
  rec.state = DeviceState::kReady;
  rec.read_only = true;
  rec.active = false;
  rec.labels.erase(kImporting);
  m.NewIdentity(&rec);
  m.UpdateRecord(rec);
}

DeviceRecord Engine::ImportLayer(const std::string& name, const std::string& parent, int tar_fd) {
  Impl& m = *impl_;
  DeviceRecord rec = CreateLayer(name, parent);
  rec.labels[kImporting] = "1";
  m.UpdateRecord(rec);
  ImportProgress progress{.name = name};
  bool shown = false;
  auto report = [&](bool done) {  // the done call ends a line that was shown, once
    if (!m.opts.import_progress || (done && !shown)) return;
    progress.done = done;
    shown = !done;
    m.opts.import_progress(progress);
  };
  try {
    kernel::LayerApplyStats stats;
    {
      auto mount = m.MountTemporarily(rec, /*read_only=*/false);
      const int64_t start = m.sys->NowNs();
      int64_t last = start;
      stats = m.sys->ApplyLayer(tar_fd, mount->dir(), [&](uint64_t bytes, uint64_t entries) {
        int64_t now = m.sys->NowNs();
        progress.bytes = bytes;
        progress.entries = entries;
        progress.elapsed_ns = now - start;
        if (now - start < int64_t{m.opts.import_progress_after_ms} * 1'000'000) return;
        if (shown && now - last < 250'000'000) return;
        last = now;
        report(false);
      });
      progress.bytes = stats.bytes;
      progress.entries = stats.entries;
      progress.elapsed_ns = m.sys->NowNs() - start;
      report(true);
      mount->Release();
    }
    rec = m.Find(name);
    rec.digest = stats.digest;
    m.UpdateRecord(rec);
    SealLayer(name);
    return m.Find(name);
  } catch (const Error& e) {
    report(true);  // end the progress line before the error
    // Roll the half-made layer back; the pool and journal stay as they were before.
    const DeviceRecord* half = m.catalog().FindByName(name);
    if (half) {
      if (m.ThinActive(half->id)) m.DeactivateThin(half->id, false);
      m.DeleteDevice(*half);
    }
    throw e.Wrap("layer import " + name + " (rolled back)");
  }
}

DeviceRecord Engine::CreateEmptyLayer(const std::string& name, const NewDeviceOptions& extra) {
  Impl& m = *impl_;
  DeviceRecord rec = CreateLayer(name, "");
  m.ReplaceLabels(&rec, extra.labels);
  rec.labels[kImporting] = "1";  // half-made until sealed: check and repair know it by this
  m.UpdateRecord(rec);
  try {
    {
      auto mount = m.MountTemporarily(rec, /*read_only=*/false);
      m.sys->RemoveDir(mount->dir() + "/lost+found");  // mkfs.ext4 makes it; xfs has none
      mount->Release();
    }
    SealLayer(name);
    return m.Find(name);
  } catch (const Error& e) {
    const DeviceRecord* half = m.catalog().FindByName(name);
    if (half) {
      if (m.ThinActive(half->id)) m.DeactivateThin(half->id, false);
      m.DeleteDevice(*half);
    }
    throw e.Wrap("empty layer " + name + " (rolled back)");
  }
}

DeviceRecord Engine::CreateContainer(const std::string& name, const std::string& from,
                                     std::optional<uint64_t> size, const NewDeviceOptions& extra) {
  Impl& m = *impl_;
  DeviceRecord rec = m.NewContainer(name, from, size, extra, /*written=*/false);
  const DeviceRecord& layer = m.Find(from);
  if (rec.size_bytes > layer.size_bytes) m.GrowOrRollBack(rec, "container create " + name);
  return rec;
}

DeviceRecord Engine::Impl::NewContainer(const std::string& name, const std::string& from,
                                        std::optional<uint64_t> size, const NewDeviceOptions& extra,
                                        bool written) {
  kernel::PoolStatus status = RequireActivePoolStatus();
  DeviceRecord rec = PlanContainer(name, from, size, extra, written, &status);
  CreateDevice(rec, catalog().FindById(rec.parent_id));
  return rec;
}

DeviceRecord Engine::Impl::PlanContainer(const std::string& name, const std::string& from,
                                         std::optional<uint64_t> size,
                                         const NewDeviceOptions& extra, bool written,
                                         const kernel::PoolStatus* status) {
  Impl& m = *this;
  m.RequireNameFree(name);
  const DeviceRecord& layer = m.Find(from);
  if (layer.kind != DeviceKind::kLayer && layer.kind != DeviceKind::kBase) {
    throw Error("'" + from + "' is a " + DeviceKindName(layer.kind) +
                    ", not a layer; containers start from layers",
                ErrorKind::kUsage);
  }
  if (layer.state != DeviceState::kReady) {
    throw Error("layer '" + from + "' is not sealed; run thinsnap layer seal " + from,
                ErrorKind::kUsage);
  }
  uint64_t want = size.value_or(layer.size_bytes);
  if (want < layer.size_bytes) {
    throw Error("--size " + FormatSize(want) + " is smaller than layer '" + from + "' (" +
                    FormatSize(layer.size_bytes) + "); devices never shrink",
                ErrorKind::kUsage);
  }
  if (want % 512 != 0) throw Error("--size must be a multiple of 512 bytes", ErrorKind::kUsage);
  if (extra.read_only && want != layer.size_bytes) {
    throw Error("a read-only container cannot be larger than its layer", ErrorKind::kUsage);
  }
  if (status) m.CheckSpace("container create " + name, status);
  DeviceRecord rec = m.NewRecord(name, DeviceKind::kContainer, layer.id, want, layer.fs);
  m.ReplaceLabels(&rec, extra.labels);
  rec.read_only = extra.read_only;
  if (written && !rec.read_only) rec.labels[kWrittenLabel] = "1";
  return rec;
}

DeviceRecord Engine::Commit(const std::string& container, const std::string& new_layer) {
  Impl& m = *impl_;
  kernel::PoolStatus status = m.RequireActivePoolStatus();
  m.RequireNameFree(new_layer);
  const DeviceRecord& src = m.FindKind(container, DeviceKind::kContainer);
  m.CheckSpace("commit " + container, &status);
  DeviceRecord rec =
      m.NewRecord(new_layer, DeviceKind::kLayer, src.parent_id, src.size_bytes, src.fs);
  rec.read_only = true;
  rec.labels["thinsnap.committed-from"] = container;
  m.CreateDevice(rec, &src);
  return rec;
}

DeviceRecord Engine::CommitInPlace(const std::string& container, const std::string& new_layer,
                                   const std::map<std::string, std::string>& labels) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.FindKind(container, DeviceKind::kContainer);
  if (new_layer != container) m.RequireNameFree(new_layer);
  if (rec.read_only) {
    throw Error("'" + container + "' is a read-only container; only writable ones are committed",
                ErrorKind::kUsage);
  }
  if (!rec.mountpoint.empty()) {
    throw Error("'" + container + "' is mounted at " + rec.mountpoint + "; unmount it first",
                ErrorKind::kBusy);
  }
  // Deactivated: layers are activated read-only. A device its client still has mounted goes
  // away when closed (deferred remove, as containerd's devmapper snapshotter does it); a
  // snapshot taken of it meanwhile suspends it first, which freezes and flushes that mount. So a
  // deferred one stays `active` in the record: the writable device may still be live
  // (Impl::CreateDevice asks the kernel before snapshotting an active origin).
  kernel::RemoveResult gone = m.DeactivateThin(rec.id, /*allow_deferred=*/true);
  rec.name = new_layer;
  rec.kind = DeviceKind::kLayer;
  rec.read_only = true;
  rec.active = gone == kernel::RemoveResult::kDeferred;
  m.ReplaceLabels(&rec, labels);
  m.NewIdentity(&rec);
  m.UpdateRecord(rec);
  return rec;
}

DeviceRecord Engine::SetLabels(const std::string& name,
                               const std::map<std::string, std::string>& labels) {
  Impl& m = *impl_;
  m.RequirePool();
  DeviceRecord rec = m.Find(name);
  m.ReplaceLabels(&rec, labels);
  m.UpdateRecord(rec);
  return rec;
}

DeviceRecord Engine::CreateVolume(const std::string& name, uint64_t size, FsType fs) {
  Impl& m = *impl_;
  kernel::PoolStatus status = m.RequireActivePoolStatus();
  m.RequireNameFree(name);
  if (size < (1 << 20) || size % 512 != 0) {
    throw Error("--size: " + FormatSize(size) +
                    " is out of range (at least 1 MiB, a multiple of "
                    "512 bytes)",
                ErrorKind::kUsage);
  }
  if (fs == FsType::kXfs && size < (300ull << 20)) {
    throw Error("--size: xfs needs at least 300 MiB", ErrorKind::kUsage);
  }
  m.CheckSpace("volume create " + name, &status);
  DeviceRecord rec = m.NewRecord(name, DeviceKind::kVolume, kNoParent, size, fs);
  m.CreateDevice(rec, nullptr);
  if (fs == FsType::kNone) return rec;
  try {
    std::string dev = m.ActivateThin(rec);
    {
      Impl::Step step(m.opts, "formatting " + name + " (mkfs." + std::string(FsTypeName(fs)) +
                                  ", " + FormatSize(size) + ")");
      m.sys->MakeFilesystem(dev, fs, m.settings().mkfs_args);
    }
    m.DeactivateThin(rec.id, false);
  } catch (const Error& e) {
    if (m.ThinActive(rec.id)) m.DeactivateThin(rec.id, false);
    m.DeleteDevice(rec);
    throw e.Wrap("volume create " + name + " (rolled back)");
  }
  return rec;
}

DeviceRecord Engine::CloneVolume(const std::string& source, const std::string& name) {
  Impl& m = *impl_;
  kernel::PoolStatus status = m.RequireActivePoolStatus();
  m.RequireNameFree(name);
  const DeviceRecord& src = m.FindKind(source, DeviceKind::kVolume);
  m.CheckSpace("volume clone " + source, &status);
  DeviceRecord rec = m.NewRecord(name, DeviceKind::kVolume, src.id, src.size_bytes, src.fs);
  m.CreateDevice(rec, &src);
  return rec;
}

namespace {

// A block device's size is a signed 64-bit byte count in the kernel (i_size); stay a sector below.
constexpr uint64_t kMaxDeviceBytes = (1ull << 63) - 512;

void RequireGrowable(const DeviceRecord& rec) {
  if (rec.kind == DeviceKind::kBase) {
    throw Error("'" + rec.name +
                    "' is the pool's base device; it is never grown (thinsnap pool set "
                    "--base-size sets the size of new layers)",
                ErrorKind::kUsage);
  }
  if (rec.kind == DeviceKind::kLayer || rec.read_only) {
    throw Error("'" + rec.name +
                    "' is a layer, a read-only image; grow a container made from it instead "
                    "(or create the container with --size)",
                ErrorKind::kUsage);
  }
  if (rec.state == DeviceState::kDeletePending) {
    throw Error("'" + rec.name + "' is being removed", ErrorKind::kBusy);
  }
}

}  // namespace

DeviceRecord Engine::Grow(const std::string& name, uint64_t size) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  RequireGrowable(rec);
  if (size % 512 != 0 || size > kMaxDeviceBytes) {
    throw Error("--size: " + std::to_string(size) +
                    " bytes is out of range (a multiple of 512 bytes, at most 8 EiB)",
                ErrorKind::kUsage);
  }
  if (size < rec.size_bytes) {
    throw Error("cannot shrink '" + name + "' from " + FormatSize(rec.size_bytes) + " to " +
                    FormatSize(size) + "; thin devices only grow",
                ErrorKind::kUsage);
  }
  m.MarkWritten(&rec);  // resize2fs / xfs_growfs write to it
  if (size > rec.size_bytes) {
    m.CheckSpace("grow " + name);
    // The record first: the pool keeps no sizes, so this journal record (fdatasync'd) is the
    // size's only home, and a crash from here on leaves a device smaller than its record, never
    // larger: re-running the same grow completes it.
    rec.size_bytes = size;
    m.UpdateRecord(rec);
  }
  bool active = m.ThinActive(rec.id);
  if (active && m.dm->GetTable(m.ThinName(rec.id)).front().length * 512 < size) {
    m.ReloadThin(rec);
  }
  try {
    m.GrowFilesystemOf(rec);
  } catch (const Error& e) {
    throw e.Wrap("grow " + name + ": the device is " + FormatSize(size) +
                 " but its filesystem did not grow; run the same grow again after fixing this");
  }
  return rec;
}

std::string Engine::Activate(const std::string& name) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (rec.state == DeviceState::kDeletePending) {
    throw Error("'" + name + "' is being removed", ErrorKind::kBusy);
  }
  m.MarkWritten(&rec);
  std::string path = m.ActivateThin(rec);
  if (!rec.active) {
    rec.active = true;
    // Deferred: the flag only tells `pool activate` after a reboot what to bring back; a power
    // cut that loses it leaves the device inactive until it is activated again, nothing more.
    m.store().Update({Mutation::Put(rec)}, Sync::kDeferred);
  }
  return path;
}

void Engine::Deactivate(const std::string& name) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (!rec.mountpoint.empty()) {
    throw Error("'" + name + "' is mounted at " + rec.mountpoint + "; unmount it first",
                ErrorKind::kBusy);
  }
  if (m.ThinActive(rec.id)) m.DeactivateThin(rec.id, /*allow_deferred=*/false);
  if (rec.active) {
    rec.active = false;
    m.UpdateRecord(rec);
  }
}

std::string Engine::Mount(const std::string& name, const std::string& dir_arg) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (rec.fs == FsType::kNone) {
    throw Error("'" + name + "' has no filesystem (a raw volume); use thinsnap activate",
                ErrorKind::kUsage);
  }
  std::string dir = dir_arg.empty() ? m.DefaultMountDir(name) : dir_arg;
  std::optional<std::string> stopped = m.StoppedHow(name);
  if (!rec.mountpoint.empty() && (stopped == "shutdown" || stopped == "stuck")) {
    // Shut down at the space reserve: the mount is dead until it is made again (the log replays).
    // "stuck": frozen too; the operator has thawed it (StoppedDevice::next says how).
    m.sys->Unmount(rec.mountpoint);
    if (dir_arg.empty()) dir = rec.mountpoint;
    rec.mountpoint.clear();
    m.UpdateRecord(rec);
    if (stopped == "shutdown") m.ForgetStopped(name);
  }
  if (!rec.mountpoint.empty()) {
    if (rec.mountpoint == dir) return dir;
    throw Error("'" + name + "' is already mounted at " + rec.mountpoint, ErrorKind::kBusy);
  }
  m.sys->MakeDirs(dir);
  m.MarkWritten(&rec);
  std::string dev = m.ActivateThin(rec);
  m.sys->Mount(dev, dir, rec.fs, m.MountOptions(rec, false));
  if (rec.fs == FsType::kXfs && !rec.read_only) m.sys->SetXfsEnospcRetries(dev, 3);
  rec.mountpoint = dir;
  rec.active = true;
  m.UpdateRecord(rec);
  if (stopped == "stuck") {
    // Not thawed first: the unmount left its frozen superblock, and this mount found it again.
    if (!m.sys->FilesystemServesReads(dir)) {
      throw Error("'" + name +
                      "' is still frozen and shut down (the mount found its frozen superblock "
                      "again); run `echo j > /proc/sysrq-trigger` first, then: thinsnap mount " +
                      name,
                  ErrorKind::kBusy);
    }
    m.ForgetStopped(name);
  }
  return dir;
}

void Engine::Unmount(const std::string& name, bool defer_busy) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (rec.mountpoint.empty()) {
    throw Error("'" + name + "' is not mounted", ErrorKind::kUsage);
  }
  // A frozen filesystem would block its unmount until thawed.
  if (m.StoppedHow(name) == "frozen") m.sys->ThawFilesystem(rec.mountpoint);
  m.sys->Unmount(rec.mountpoint);
  m.ForgetStopped(name);
  rec.mountpoint.clear();
  try {
    m.DeactivateThin(rec.id, defer_busy);
  } catch (const Error&) {
    m.UpdateRecord(rec);  // unmounted, still active: what the kernel has now
    throw;
  }
  rec.active = false;
  m.UpdateRecord(rec);
}

RemoveOutcome Engine::Remove(const std::string& name, bool force, bool discard) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (rec.kind == DeviceKind::kBase) {
    throw Error("the base device belongs to the pool; use thinsnap pool destroy",
                ErrorKind::kUsage);
  }
  // Layers carry the image graph: a layer with layers or containers made from it stays unless
  // forced. Volume clones are independent copies (dm-thin snapshots never need their origin).
  size_t children = m.catalog().Children(rec.id).size();
  if (rec.kind == DeviceKind::kLayer && children > 0 && !force) {
    throw Error("'" + name + "' has " + std::to_string(children) +
                    " devices made from it; remove them first or pass --force",
                ErrorKind::kBusy);
  }
  if (!rec.mountpoint.empty()) {
    if (!force) {
      throw Error("'" + name + "' is mounted at " + rec.mountpoint + "; unmount it or pass --force",
                  ErrorKind::kBusy);
    }
    if (m.StoppedHow(name) == "frozen") m.sys->ThawFilesystem(rec.mountpoint);
    m.sys->Unmount(rec.mountpoint);
    rec.mountpoint.clear();
    m.UpdateRecord(rec);
  }
  m.ForgetStopped(name);
  if (discard) m.sys->Discard(m.ActivateThin(rec));
  // Not asked first whether it is active: removing an absent device is one ioctl too (kAbsent).
  kernel::RemoveResult r = m.DeactivateThin(rec.id, /*allow_deferred=*/true);
  if (r == kernel::RemoveResult::kDeferred) {
    rec.state = DeviceState::kDeletePending;
    rec.active = false;
    m.store().Update({Mutation::Put(rec), Mutation::SetConfig("gc.pending", "1")});
    return RemoveOutcome::kDeferred;
  }
  m.DeleteDevice(rec);
  // The blocks freed may bring back filesystems stopped at the space reserve.
  if (!m.StoppedDevices().empty()) {
    for (const std::string& line : EnforceReserve({.autoextend = false}).did) m.Progress(line);
  }
  return RemoveOutcome::kRemoved;
}

std::vector<DeviceRecord> Engine::List() {
  std::vector<DeviceRecord> out;
  impl_->catalog().ForEach([&](const DeviceRecord& r) { out.push_back(r); });
  return out;
}

DeviceView Engine::Inspect(const std::string& name) {
  Impl& m = *impl_;
  m.RequirePool();
  DeviceView v;
  v.record = m.Find(name);
  v.dm_name = m.ThinName(v.record.id);
  v.active = m.PoolActive() && m.ThinActive(v.record.id);
  if (v.active) {
    v.device_path = m.dm->DevicePath(v.dm_name);
    kernel::ThinStatus st = kernel::ParseThinStatus(m.dm->Status(v.dm_name));
    v.mapped_bytes = st.mapped_sectors * 512;
  }
  for (uint32_t p = v.record.parent_id; p != kNoParent;) {
    const DeviceRecord* parent = m.catalog().FindById(p);
    if (!parent) break;
    v.parent_chain.push_back(parent->name);
    p = parent->parent_id;
  }
  return v;
}

namespace {

// The record a device's changes are measured against: its logical parent.
const DeviceRecord& ParentOf(const Catalog& cat, const DeviceRecord& rec) {
  const DeviceRecord* parent = cat.FindById(rec.parent_id);
  if (!parent) {
    throw Error("'" + rec.name + "' has no parent to compare with", ErrorKind::kUsage);
  }
  return *parent;
}

}  // namespace

std::vector<TreeChange> Engine::Diff(const std::string& name) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  DeviceRecord parent = ParentOf(m.catalog(), rec);
  auto lower = m.MountTemporarily(parent, true);
  auto upper = m.MountTemporarily(rec, true);
  std::vector<TreeChange> changes = m.CompareTrees(rec, lower->dir(), upper->dir());
  upper->Release();
  lower->Release();
  return changes;
}

void Engine::Export(const std::string& name, int out_fd) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  DeviceRecord parent = ParentOf(m.catalog(), rec);
  auto lower = m.MountTemporarily(parent, true);
  auto upper = m.MountTemporarily(rec, true);
  std::vector<TreeChange> changes = m.CompareTrees(rec, lower->dir(), upper->dir());
  {
    Impl::Step step(m.opts, "export " + name + ": writing the tar");
    m.sys->ExportChanges(upper->dir(), changes, out_fd);
  }
  upper->Release();
  lower->Release();
}

}  // namespace thinsnap
