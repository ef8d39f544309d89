// Private to the engine's .cc files: the state behind Engine and the helpers they share.
#ifndef THINSNAP_THINPOOL_ENGINE_IMPL_H_
#define THINSNAP_THINPOOL_ENGINE_IMPL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "thinpool/engine.h"
#include "thinpool/pool_backing.h"
#include "thinpool/transaction.h"

namespace thinsnap {

// The lines of thin_check's output that name damage, joined with "; ": its progress lines
// ("examining ...", "checking ...") and counters (TRANSACTION_ID=3) are left out.
std::string ThinCheckDamage(const std::string& output);

// dm->Create(name, ...), unless a device of that name is already there (EBUSY, and Info finds
// it): then false and nothing done. Saves the Info call before a create that is expected to
// succeed.
bool CreateUnlessPresent(kernel::DeviceMapper* dm, const std::string& name,
                         const kernel::Table& table, const kernel::CreateOptions& opts);

// The label of a device that has been activated writable at least once (engine_send.cc: an
// unwritten snapshot is still identical to its parent).
inline constexpr char kWrittenLabel[] = "thinsnap.written";

struct Engine::Impl {
  Impl(Engine* engine, std::string root, kernel::DeviceMapper* dm, kernel::System* sys,
       EngineOptions opts, RootLock lock)
      : self(engine),
        root(std::move(root)),
        dm(dm),
        sys(sys),
        opts(std::move(opts)),
        lock(std::move(lock)) {}

  Engine* self;
  std::string root;
  kernel::DeviceMapper* dm;
  kernel::System* sys;
  EngineOptions opts;
  RootLock lock;

  Store& store() { return *self->store_; }
  const Catalog& catalog() { return self->store_->catalog(); }
  // The pool's settings, parsed from the catalog's config once per change of it.
  const PoolSettings& settings() {
    if (settings_version_ != catalog().config_version()) {
      settings_ = PoolSettings::FromConfig(catalog().config());
      settings_version_ = catalog().config_version();
    }
    return settings_;
  }

  // --- names and paths ---
  // What the pool `s` stands on (loopback files, devices, an adopted pool):
  // thinpool/pool_backing.h.
  std::unique_ptr<PoolBacking> Backing(const PoolSettings& s) {
    return MakePoolBacking(s, dm, sys);
  }
  std::string PoolName();
  // How thin tables name the pool: its /dev/mapper path, or for an adopted pool (whose node
  // another tool manages) its major:minor.
  std::string PoolDevice();
  std::string ThinName(uint32_t id);
  std::string ThinUuid(uint32_t id);
  std::string MetaDir() const { return root + "/meta"; }
  std::string DefaultMountDir(const std::string& name) const { return root + "/mnt/" + name; }
  std::string TempDir(const std::string& tag) const { return root + "/tmp/" + tag; }
  // The block devices under the pool: the loop device of a loopback file, else the path itself.
  std::string DataDevice(const PoolSettings& s);
  std::string MetadataDevice(const PoolSettings& s);
  // A device as a pool table names it: "254:0" becomes the /dev/mapper path of that dm device;
  // a path stays as it is.
  std::string DeviceNode(const std::string& ref);
  // The dm name of the thin-pool target behind `arg` (dm name or /dev/mapper path), following
  // LVM's linear layer over "<vg>-<pool>-tpool". Throws kNotFound / kUsage with the reason.
  std::string ResolveThinPool(const std::string& arg);
  // Thin ids in the pool `pool` whose metadata is on `meta_dev`, through a metadata snapshot.
  std::vector<kernel::ThinUsage> LiveThinDevices(const std::string& pool,
                                                 const std::string& meta_dev);
  // `pool create --thinpool`: resolves the pool, takes its block size, and refuses (before
  // anything is recorded) a pool that is in use unless o.force; fills s->adopted_pool and the
  // "adopt.foreign_ids" it must leave alone into `config`.
  void InspectForAdoption(const PoolCreateOptions& o, PoolSettings* s, PoolConfig* config);
  // Adopted pools: the thin ids that were there before thinsnap (adopted with --force).
  // An origin that takes no writes while it is snapshotted: a read-only layer whose record says
  // no device of it is live. Its snapshot needs no suspend, and an intent of such creates may
  // overlap its fdatasync with the kernel (transaction.h, "Overlapped creates").
  static bool Unchanging(const DeviceRecord& origin) { return origin.read_only && !origin.active; }
  // The ids the next transaction's creates get, in order (NewRecord's choice, lowest free first,
  // never a foreign one): the first Transactor::kMaxCreatesPerIntent. Recovery of a lost
  // overlapped intent deletes these.
  std::vector<uint32_t> NextFreeIds();
  std::vector<uint32_t> ForeignIds();
  // For the thin tools on an inactive pool: the metadata as a block device (a loopback file is
  // attached for as long as the returned handle lives; the tools want O_DIRECT, which files on
  // tmpfs refuse).
  std::string OfflineMetadataDevice(const PoolSettings& s,
                                    std::unique_ptr<kernel::LoopHandle>* keep);

  // --- state checks ---
  void RequirePool();  // a finished `pool create`
  bool PoolActive();
  void RequireActivePool();  // RequirePool + active
  // RequireActivePool that returns the pool's status, from the one ioctl that also tells whether
  // it is active: operations that go on to check space pass it to CheckSpace.
  kernel::PoolStatus RequireActivePoolStatus();
  const DeviceRecord& Find(const std::string& name);
  // Find() that also requires the kind: "'x' is not a container" otherwise.
  const DeviceRecord& FindKind(const std::string& name, DeviceKind kind);
  void RequireNameFree(const std::string& name);
  kernel::PoolStatus PoolStatusNow();
  // Refuses new allocations when the pool is out of space, read-only, failed, or below the
  // --min-free-space guard; autoextends first when configured. `known`: the pool's status as
  // this operation read it (RequireActivePoolStatus), read again only when autoextend grew it.
  void CheckSpace(const std::string& operation, const kernel::PoolStatus* known = nullptr);
  // Engine::MaybeAutoextend's work. `report` is what it did or, for a pool it cannot grow, the
  // warning line ("autoextend: warning: ..."); `warning` is then that warning alone, for Warn().
  struct AutoextendResult {
    std::string report;
    std::string warning;
    bool grew = false;  // the pool's table was reloaded larger: an earlier status is stale
  };
  // `known`: the pool's status if the caller has just read it.
  AutoextendResult Autoextend(std::optional<AutoextendHook>* hook,
                              const kernel::PoolStatus* known = nullptr);

  // --- thin devices ---
  bool ThinActive(uint32_t id);
  // Activates `rec`'s thin device (cancelling a deferred removal); returns its path.
  std::string ActivateThin(const DeviceRecord& rec);
  kernel::RemoveResult DeactivateThin(uint32_t id, bool allow_deferred);
  // Reloads the live table of an active thin device with the size in `rec` (suspend, resume).
  void ReloadThin(const DeviceRecord& rec);
  // Creates `rec` in the kernel and the catalog as one transaction: a snapshot of `origin`
  // (suspending it when active) or, with no origin, a new thin device.
  // CreateContainer's checks, record and thin snapshot, without the growth. `written`: the record
  // carries the written label from the start (it is activated writable next).
  DeviceRecord NewContainer(const std::string& name, const std::string& from,
                            std::optional<uint64_t> size, const NewDeviceOptions& extra,
                            bool written);
  // NewContainer's checks and record, without the kernel work. `status`: the pool's status for
  // the space check; nullptr when the caller checked the space for a whole group.
  DeviceRecord PlanContainer(const std::string& name, const std::string& from,
                             std::optional<uint64_t> size, const NewDeviceOptions& extra,
                             bool written, const kernel::PoolStatus* status);
  // The kernel work BeginContainer hands out for the container `rec`, just created.
  Engine::ActivationWork WorkFor(const DeviceRecord& rec);
  // Ids given to records planned in a group but not in the catalog yet: NewRecord skips them.
  std::vector<uint32_t> planned_ids;
  void CreateDevice(const DeviceRecord& rec, const DeviceRecord* origin);
  // Deletes `rec` in one transaction, re-parenting its children to its parent.
  void DeleteDevice(const DeviceRecord& rec);
  void UpdateRecord(const DeviceRecord& rec);
  std::string MountOptions(const DeviceRecord& rec, bool force_read_only);
  // Mounts `rec` at a temporary dir (or reuses its mountpoint) for the life of the returned
  // guard; activates it first when needed, and undoes what it did on destruction.
  class TempMount {
   public:
    TempMount(Impl* impl, const DeviceRecord& rec, bool read_only);
    ~TempMount();  // releases, printing a warning when that fails
    // Unmounts and deactivates what the constructor did; errors are thrown.
    void Release();
    const std::string& dir() const { return dir_; }

   private:
    Impl* impl_;
    uint32_t id_;
    std::string dir_;
    bool mounted_ = false;
    bool activated_ = false;
  };
  std::unique_ptr<TempMount> MountTemporarily(const DeviceRecord& rec, bool read_only);
  void GrowFilesystemOf(const DeviceRecord& rec);
  // GrowFilesystemOf for a device just created: on failure it is deleted again, and the error
  // rethrown as "<operation> (rolled back): ...".
  void GrowOrRollBack(const DeviceRecord& rec, const std::string& operation);
  DeviceRecord NewRecord(const std::string& name, DeviceKind kind, uint32_t parent, uint64_t size,
                         FsType fs);

  // --- identities (engine_send.cc) ---
  // The device's identity, given one (recorded, synced) when it has none yet.
  DeviceUuid EnsureUuid(DeviceRecord* rec);
  const DeviceRecord* FindByUuid(const std::string& uuid);
  // Before a device is handed out writable: records (synced) that its bytes may change, so it
  // is no longer a valid base for an incremental stream.
  void MarkWritten(DeviceRecord* rec);
  // Replaces rec->labels with `labels`, keeping the identity labels above (services replace
  // a device's labels wholesale; its identity is not theirs to drop).
  void ReplaceLabels(DeviceRecord* rec, std::map<std::string, std::string> labels);
  // A fresh identity for a device that becomes a read-only layer (seal, commit in place): its
  // bytes may differ from what an earlier send of it carried, so no receiver's copy of that may
  // pass for it. The caller records the change.
  void NewIdentity(DeviceRecord* rec);
  // Removes devices that a killed receive left behind (hidden, labelled thinsnap.receiving).
  void RemoveAbandonedReceives(std::vector<std::string>* notes);

  // --- pool ---
  // A direct-mode metadata spare: a block device of its own, unused, at least the metadata's size.
  void CheckSpareDevice(const PoolSettings& s, const std::string& spare);
  void LoadPoolTable(const PoolSettings& s, const std::string& data_dev,
                     const std::string& meta_dev, bool create);
  uint64_t LowWaterBlocks(const PoolSettings& s, uint64_t data_bytes);
  void ReconcileIfActive(std::vector<std::string>* notes);
  // --- the space reserve (engine_space.cc) ---
  std::optional<std::string> StoppedHow(const std::string& name);  // "shutdown", "frozen"
  void ForgetStopped(const std::string& name);                     // no-op when not stopped
  std::vector<StoppedDevice> StoppedDevices();
  // The mounted writable filesystems that could be stopped (not stopped yet).
  std::vector<DeviceRecord> RunningWriters();
  // Sectors mapped by each device's thin device (missing: its status could not be read).
  std::map<uint32_t, uint64_t> MappedSectors(const std::vector<DeviceRecord>& devices);
  // Stops every filesystem of `running` at the reserve: --on-full queue freezes them all;
  // --on-full error shuts down those allocating (see Engine::EnforceReserve), judged against
  // `previous` or, without it, over a 150 ms wait, or all of them when the pool is `full`, and
  // freezes the others.
  void StopWriters(const PoolSettings& s, const std::string& reason, bool full, bool defer_freeze,
                   const std::vector<DeviceRecord>& running,
                   const std::map<uint32_t, uint64_t>* previous, ReserveReport* report);
  void ResumeStopped(ReserveReport* report);
  void FinishDeferredDeletes(std::vector<std::string>* done);
  // Offline (pool inactive): thin_repair from the metadata into the spare, thin_check of the
  // result, then the swap; the damaged metadata is kept. Throws with the metadata unchanged.
  void RepairMetadata(const PoolSettings& s, CheckReport* done);
  std::vector<kernel::ThinUsage> KernelDevices(bool* live);
  // Roots written before the origin left the users' namespace call it "base": renamed on open
  // (one journal record; the id, parent links and everything else stay).
  void MigrateOriginName();

  // --- pool create and destroy (engine_pool.cc) ---
  void BuildPool(const PoolCreateOptions& o, PoolSettings* s, std::vector<std::string>* files);
  void MakeLoopbackFiles(const PoolCreateOptions& o, PoolSettings* s,
                         std::vector<std::string>* created_files, PoolDevices* devs);
  void CheckDirectDevices(const PoolCreateOptions& o, PoolSettings* s, PoolDevices* devs);
  std::string UndoPoolCreate(const PoolSettings& s, const std::vector<std::string>& files);
  void TearDownPool(const PoolSettings& s, std::vector<std::string>* left);
  void WipeStore();
  void CheckInterrupted(const char* step);

  // thin_check of `device`, reported as the step "checking <what> (thin_check)".
  kernel::ToolResult CheckMetadata(const std::string& device, const std::string& what);
  // DiffTrees(lower, upper) for `rec` and its parent, reported as a step.
  std::vector<TreeChange> CompareTrees(const DeviceRecord& rec, const std::string& lower,
                                       const std::string& upper);

  void Warn(const std::string& line) {
    if (opts.warning) opts.warning(line);
  }
  void Progress(const std::string& line) {
    if (opts.progress) opts.progress(line);
  }
  // Reports a long step to EngineOptions::step_progress from construction to destruction.
  class Step {
   public:
    Step(const EngineOptions& opts, std::string what) : opts_(opts) {
      if (!opts_.step_progress) return;
      progress_.step = std::move(what);
      opts_.step_progress(progress_);
    }
    ~Step() {
      if (!opts_.step_progress) return;
      progress_.done = true;
      opts_.step_progress(progress_);
    }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;

   private:
    const EngineOptions& opts_;
    StepProgress progress_;
  };

  PoolSettings settings_;          // settings()'s cache
  uint64_t settings_version_ = 0;  // the config_version() it was parsed from; 0: none yet
};

}  // namespace thinsnap

#endif  // THINSNAP_THINPOOL_ENGINE_IMPL_H_
