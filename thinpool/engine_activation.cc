// Engine::BeginContainer / RunActivation / FinishActivation / AbandonActivation: a container's
// creation and activation split so that the kernel work runs outside the engine (engine.h).
#include <algorithm>
#include <set>

#include "base/error.h"
#include "thinpool/engine.h"
#include "thinpool/engine_impl.h"
#include "thinpool/kernel/dm_tables.h"
#include "thinpool/transaction.h"

namespace thinsnap {

Engine::ActivationWork Engine::BeginContainer(const std::string& name, const std::string& from,
                                              std::optional<uint64_t> size,
                                              const NewDeviceOptions& extra) {
  return impl_->WorkFor(impl_->NewContainer(name, from, size, extra, /*written=*/true));
}

Engine::ActivationWork Engine::Impl::WorkFor(const DeviceRecord& rec) {
  Impl& m = *this;
  ActivationWork w;
  w.name = rec.name;
  w.id = rec.id;
  w.created_ns = rec.created_ns;
  w.dm_name = m.ThinName(rec.id);
  w.table = {kernel::ThinTable(m.PoolDevice(), rec.id, rec.size_bytes / 512)};
  w.create.uuid = m.ThinUuid(rec.id);
  w.create.read_only = rec.read_only;
  w.fs = rec.fs;
  const DeviceRecord* layer = m.catalog().FindById(rec.parent_id);
  w.grow = rec.fs != FsType::kNone && layer && rec.size_bytes > layer->size_bytes;
  if (w.grow) {
    w.grow_dir = m.TempDir(std::to_string(rec.id));
    w.mount_options = m.MountOptions(rec, /*force_read_only=*/false);
  }
  return w;
}

static_assert(Engine::kMaxGroupedCreates <= Transactor::kMaxCreatesPerIntent,
              "recovery of a lost group deletes kMaxCreatesPerIntent ids");

std::vector<Engine::BegunContainer> Engine::BeginContainers(
    const std::vector<ContainerRequest>& requests) {
  Impl& m = *impl_;
  std::vector<BegunContainer> out(requests.size());
  auto alone = [&](size_t i) {
    const ContainerRequest& r = requests[i];
    try {
      out[i].work = BeginContainer(r.name, r.from, r.size, r.extra);
    } catch (const Error& e) {
      out[i].error = e;
    }
  };
  for (size_t first = 0; first < requests.size(); first += kMaxGroupedCreates) {
    size_t last = std::min(requests.size(), first + kMaxGroupedCreates);
    if (last - first == 1) {
      alone(first);
      continue;
    }
    // One status read and one space check for the group; when that fails, each request meets
    // the failure alone, in its own words.
    bool space = true;
    try {
      kernel::PoolStatus status = m.RequireActivePoolStatus();
      m.CheckSpace("container create", &status);
    } catch (const Error&) {
      space = false;
    }
    if (!space) {
      for (size_t i = first; i < last; ++i) alone(i);
      continue;
    }
    std::vector<size_t> grouped, later;
    std::vector<DeviceRecord> records;
    std::set<std::string> names;
    Intent intent;
    try {
      for (size_t i = first; i < last; ++i) {
        const ContainerRequest& r = requests[i];
        if (names.count(r.name)) {
          out[i].error =
              Error("a device named '" + r.name + "' already exists", ErrorKind::kExists);
          continue;
        }
        try {
          DeviceRecord rec = m.PlanContainer(r.name, r.from, r.size, r.extra, /*written=*/true,
                                             /*status=*/nullptr);
          const DeviceRecord* origin = m.catalog().FindById(rec.parent_id);
          if (!origin || !Impl::Unchanging(*origin)) {
            later.push_back(i);  // may need the origin suspended: CreateDevice's way, alone
            continue;
          }
          m.planned_ids.push_back(rec.id);
          names.insert(r.name);
          grouped.push_back(i);
          intent.kernel_ops.push_back({KernelOp::Kind::kCreateSnap, rec.id, rec.parent_id});
          intent.mutations.push_back(Mutation::Put(rec));
          records.push_back(std::move(rec));
        } catch (const Error& e) {
          out[i].error = e;
        }
      }
    } catch (...) {
      m.planned_ids.clear();
      throw;
    }
    m.planned_ids.clear();
    bool committed = grouped.empty();
    if (!committed) {
      try {
        // Every origin in the group is a read-only layer that is not live.
        Transactor(&m.store(), m.dm, m.PoolName())
            .Run(std::move(intent), Transactor::Order::kOverlapped);
        committed = true;
      } catch (const Error& e) {
        // Rolled back (or left pending for recovery when the pool stopped answering): each
        // request is tried alone, and fails alone with the error it meets.
        m.Progress("group create of " + std::to_string(grouped.size()) +
                   " containers failed, trying each alone: " + e.what());
      }
    }
    for (size_t k = 0; k < grouped.size(); ++k) {
      if (committed) {
        out[grouped[k]].work = m.WorkFor(records[k]);
      } else {
        alone(grouped[k]);
      }
    }
    for (size_t i : later) alone(i);
  }
  return out;
}

std::string Engine::RunActivation(const ActivationWork& w, kernel::DeviceMapper* dm,
                                  kernel::System* sys) {
  // Created without asking first; one already there (EBUSY) is the device wanted.
  CreateUnlessPresent(dm, w.dm_name, w.table, w.create);
  std::string dev = dm->DevicePath(w.dm_name);
  if (!w.grow) return dev;
  sys->MakeDirs(w.grow_dir);
  sys->Mount(dev, w.grow_dir, w.fs, w.mount_options);
  try {
    sys->GrowFilesystem(dev, w.grow_dir, w.fs);
  } catch (const Error& e) {
    try {
      sys->Unmount(w.grow_dir);
    } catch (const Error& undo) {
      throw e.Wrap("growing the filesystem of " + w.name + " (unmounting " + w.grow_dir +
                   " failed too: " + undo.what() + ")");
    }
    throw e.Wrap("growing the filesystem of " + w.name);
  }
  sys->Unmount(w.grow_dir);
  sys->RemoveDir(w.grow_dir);
  return dev;
}

namespace {

// The device of `w`, if the catalog still has that very one (not a namesake made since).
const DeviceRecord* Same(const Catalog& catalog, const Engine::ActivationWork& w) {
  const DeviceRecord* r = catalog.FindById(w.id);
  return r && r->created_ns == w.created_ns && r->name == w.name ? r : nullptr;
}

}  // namespace

DeviceRecord Engine::FinishActivation(const ActivationWork& w) {
  Impl& m = *impl_;
  const DeviceRecord* found = Same(m.catalog(), w);
  if (!found) {
    throw Error("'" + w.name + "' was removed while it was being activated", ErrorKind::kNotFound);
  }
  DeviceRecord rec = *found;
  if (!rec.active) {
    rec.active = true;
    // Deferred, as in Activate: the flag only tells `pool activate` what to bring back.
    m.store().Update({Mutation::Put(rec)}, Sync::kDeferred);
  }
  return rec;
}

std::string Engine::CreateActiveContainer(const std::string& name, const std::string& from,
                                          std::optional<uint64_t> size,
                                          const NewDeviceOptions& extra) {
  ActivationWork w = BeginContainer(name, from, size, extra);
  std::string dev;
  try {
    dev = RunActivation(w, impl_->dm, impl_->sys);
  } catch (const Error& e) {
    try {
      AbandonActivation(w);
    } catch (const Error& undo) {
      throw e.Wrap("container create " + name + " (rolling it back failed too: " + undo.what() +
                   ")");
    }
    throw e.Wrap("container create " + name + " (rolled back)");
  }
  FinishActivation(w);
  return dev;
}

void Engine::AbandonActivation(const ActivationWork& w) {
  Impl& m = *impl_;
  const DeviceRecord* found = Same(m.catalog(), w);
  if (!found) return;
  DeviceRecord rec = *found;
  if (m.ThinActive(rec.id)) m.DeactivateThin(rec.id, /*allow_deferred=*/false);
  m.DeleteDevice(rec);
}

}  // namespace thinsnap
