// Engine: thinsnap's pool, layers, containers and volumes on one dm-thin pool, as one C++ object.
// It combines the kernel (kernel::DeviceMapper, kernel::System) with the metadata store; it makes
// no syscalls of its own. One Engine per process and root: Open() takes the root's lock and
// reconciles the journal with the pool (thinpool/transaction.h) before anything else happens.
//
// Root layout: <root>/lock, <root>/meta/ (the store), <root>/data and <root>/metadata (loopback
// files), <root>/mnt/<name> (default mountpoints), <root>/tmp/ (short-lived mounts).
//
// Thread-safety: none. Errors: thinsnap::Error with context.
#ifndef THINSNAP_THINPOOL_ENGINE_H_
#define THINSNAP_THINPOOL_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "metadata/lock.h"
#include "metadata/records.h"
#include "metadata/store.h"
#include "metadata/stream.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"
#include "thinpool/kernel/thin_status.h"
#include "thinpool/pool_config.h"

namespace thinsnap {

// Where a layer import stands, for a live progress line.
struct ImportProgress {
  std::string name;
  uint64_t bytes = 0;    // of the uncompressed tar read so far
  uint64_t entries = 0;  // tar entries applied so far
  int64_t elapsed_ns = 0;
  bool done = false;  // the last call: the import finished or failed
};

// Where a send or receive stands, for a live progress line.
struct TransferProgress {
  std::string name;
  bool receiving = false;
  uint64_t data_bytes = 0;   // device bytes read (send) or written (receive) so far
  uint64_t total_bytes = 0;  // send: the data bytes to read; receive: 0 (unknown until the end)
  uint64_t wire_bytes = 0;   // stream bytes so far
  int64_t elapsed_ns = 0;
  bool done = false;  // the last call: the transfer finished or failed
};

// A long step of a command, for a live progress line: formatting the base, checking, repairing
// or listing the pool's metadata, growing a filesystem, comparing two trees, writing an export.
struct StepProgress {
  std::string step;   // what runs, e.g. "pool create: formatting the base (mkfs.ext4, 10 GiB)"
  bool done = false;  // the last call for this step: it finished or failed
};

// What a send or receive did (`--json` prints it).
struct TransferStats {
  std::string name, base;       // base empty: a full stream
  std::string uuid, base_uuid;  // identities (FormatUuid)
  DeviceKind kind = DeviceKind::kVolume;
  uint64_t device_size = 0;
  uint64_t wire_bytes = 0;      // the whole stream
  uint64_t data_bytes = 0;      // device bytes carried as data
  uint64_t unmapped_bytes = 0;  // device bytes carried as unmaps
  uint64_t data_ranges = 0, unmap_ranges = 0;
  int64_t elapsed_ns = 0;
};

struct EngineOptions {
  int lock_timeout_ms = 30000;
  // When false, Open() refuses a root that holds no thinsnap store (kNotFound, "no thinsnap pool
  // at DIR ...") and creates nothing there: every command but `pool create` opens so.
  bool create_root = true;
  StoreOptions store;  // tests pass a fault-injecting file system here
  // Print a line of progress for long work; may be empty.
  std::function<void(const std::string&)> progress;
  // The raw text behind a diagnosis (e.g. libdevmapper's log lines), for -v; may be empty.
  std::function<void(const std::string&)> detail;
  // Polled between the steps of long work that can be undone (pool create): true means stop
  // and undo (the CLI sets it on SIGINT/SIGTERM). May be empty.
  std::function<bool()> interrupted;
  // A warning for the user that does not stop the operation (a cleanup that failed, a direct
  // pool above its autoextend threshold); may be empty. The engine never prints: the CLI shows
  // these as "thinsnap: warning: <line>" on stderr.
  std::function<void(const std::string&)> warning;
  // Layer imports: called about 4 times a second once an import has run for
  // `import_progress_after_ms`, then once with done = true (only if it was called before).
  std::function<void(const ImportProgress&)> import_progress;
  int import_progress_after_ms = 1000;
  // Send and receive: called about 4 times a second, then once with done = true.
  std::function<void(const TransferProgress&)> transfer_progress;
  // Long steps: called when one starts and once with done = true when it ends (or throws).
  // Steps do not nest. The caller times them (the CLI shows a line once one runs past a second).
  std::function<void(const StepProgress&)> step_progress;
};

struct PoolCreateOptions {
  PoolMode mode = PoolMode::kLoopback;
  uint64_t data_size = 100ull << 30;    // loopback
  uint64_t metadata_size = 2ull << 30;  // loopback
  std::string data_device;              // direct
  std::string metadata_device;          // direct
  std::string metadata_spare;           // direct, optional: where pool repair rebuilds metadata
  std::string thinpool;                 // adopted: dm name or /dev/mapper path
  bool force = false;  // direct: ignore signatures; adopted: accept unknown devices/txn
  uint64_t block_size = 64 << 10;
  FsType fs = FsType::kExt4;
  uint64_t base_size = 10ull << 30;
  std::vector<std::string> mkfs_args;
  std::string mount_opts;
  NoSpacePolicy no_space = NoSpacePolicy::kError;
  DiscardMode discard = DiscardMode::kPassdown;
  bool skip_block_zeroing = true;
  int min_free_percent = 10;
  std::string reserve = "5%";  // --reserve: "N%" or a number of data blocks; see ParseReserve
};

// Settings changed by `pool set`; unset fields stay as they are.
struct PoolSetOptions {
  std::optional<int> min_free_percent;
  std::optional<int> autoextend_threshold;
  std::optional<int> autoextend_percent;
  std::optional<uint64_t> autoextend_max_size;
  std::optional<std::string> autoextend_hook;
  std::optional<NoSpacePolicy> no_space;  // --on-full (and its old name --no-space)
  std::optional<std::string> reserve;     // --reserve "N%" or blocks
  std::optional<uint64_t> base_size;
  std::optional<uint64_t> data_size;          // grow the data device to this size
  std::optional<uint64_t> metadata_size;      // grow the metadata device to this size
  std::optional<std::string> metadata_spare;  // direct: the device pool repair rebuilds into
};

// A filesystem that thinsnap stopped because the pool reached its space reserve.
struct StoppedDevice {
  std::string name;
  // "shutdown" (allocating, --on-full error), "frozen" (idle, or --on-full queue), or "stuck"
  // (frozen, then shut down by its own writeback: only an emergency thaw reaches it).
  std::string how;
  std::string reason;  // "data" or "metadata": the space that reached the reserve
  int64_t since_ns = 0;
  std::string mountpoint;
  std::string next;  // what brings it back, for the user
};

struct PoolReport {
  PoolSettings settings;
  std::string pool_name;  // dm name
  std::string root;
  bool active = false;
  kernel::PoolStatus status;       // valid when active
  uint64_t data_bytes = 0;         // size of the data device
  uint64_t metadata_bytes = 0;     // size of the metadata device
  uint64_t provisioned_bytes = 0;  // sum of device sizes (for the over-commit ratio)
  size_t devices = 0, layers = 0, containers = 0, volumes = 0;
  uint64_t transaction_id = 0;
  std::string dm_driver_version, thin_target_version, library_version;
  bool udev_sync = false;
  std::vector<std::string> warnings;  // needs_check, read-only, low space... with the next step
  uint64_t data_reserve_blocks = 0, metadata_reserve_blocks = 0;  // valid when active
  std::vector<StoppedDevice> stopped;
};

struct DeviceView {
  DeviceRecord record;
  std::string dm_name;
  std::string device_path;  // when active
  bool active = false;
  std::vector<std::string> parent_chain;  // names, nearest first
  uint64_t mapped_bytes = 0;              // when active
};

struct DfRow {
  std::string name;
  DeviceKind kind = DeviceKind::kVolume;
  uint32_t id = 0;
  uint64_t size = 0;
  uint64_t mapped = 0, exclusive = 0, shared = 0;
};

// One thing `pool check` found or `pool repair` did, like thin-provisioning-tools' damage
// visitor: a problem makes the pool unclean, a note is for information.
struct Finding {
  enum class Severity { kNote, kProblem };
  Severity severity = Severity::kNote;
  std::string code;     // stable, for programs: "orphan_device", "missing_device", ...
  std::string device;   // the device it concerns: its name, "id N" for a thin id unknown to
                        // the journal, or empty for the pool as a whole
  std::string message;  // the sentence the text output prints
};
const char* SeverityName(Finding::Severity severity);  // "note", "problem"

struct CheckReport {
  std::vector<Finding> findings;  // in the order they were found

  bool clean() const;                         // no problem
  std::vector<std::string> problems() const;  // the problems' sentences, in order
  std::vector<std::string> notes() const;     // the notes' sentences, in order
  void Problem(std::string code, std::string device, std::string message);
  void Note(std::string code, std::string device, std::string message);
};

enum class RemoveOutcome { kRemoved, kDeferred };

// What a service records with a new device, in the same journal transaction as the device
// itself (so a crash never leaves a device without them).
struct NewDeviceOptions {
  std::map<std::string, std::string> labels;
  bool read_only = false;  // containers only: activated read-only (containerd's views)
};

// The user's `pool set --autoextend-hook` command with its environment, to run once the root's
// lock is released (the hook may itself call thinsnap).
struct AutoextendHook {
  std::string command;
  std::vector<std::string> env;  // "THINSNAP_POOL=...", usage figures; see README
};

// What Engine::EnforceReserve found and did.
struct ReserveReport {
  bool under = false;  // free data or metadata space is at or below the reserve
  bool near = false;   // past the low-water mark (no further kernel event will come) or stopped
  uint64_t data_reserve_blocks = 0, metadata_reserve_blocks = 0;
  // Pool usage when it was looked at: the monitor looks again as soon as usage grows under
  // the reserve (a container that starts allocating there is stopped in turn).
  uint64_t data_used_blocks = 0, metadata_used_blocks = 0;
  // Past the low-water mark: sectors mapped by each mounted writable filesystem's thin device
  // (by device id) when it was looked at; the next look compares against them (ReserveOptions).
  std::map<uint32_t, uint64_t> mapped;
  std::vector<std::string> did;  // one line per filesystem stopped or resumed, or failure
  // defer_freeze: mountpoints to freeze (FIFREEZE) once the root's lock is released; a freeze
  // writes back dirty data and, on a queueing pool that fills, waits for growth.
  std::vector<std::string> freeze_later;
};

struct ReserveOptions {
  bool autoextend = true;     // grow (loopback) or warn first, as MaybeAutoextend
  bool defer_freeze = false;  // see ReserveReport::freeze_later
  // ReserveReport::mapped of the previous look (the monitor's last turn): who allocated since
  // decides who is shut down. Without it the engine watches the devices for 150 ms.
  const std::map<uint32_t, uint64_t>* previous_mapped = nullptr;
};

// One turn of `pool monitor`, taken under the lock (Engine::MonitorTurn).
struct MonitorTurn {
  bool active = false;                 // the pool is loaded; when not, look again later
  std::string pool;                    // dm name to wait on
  uint32_t event_nr = 0;               // the pool's event counter, read before usage was checked
  std::string did;                     // what autoextend did or warned about; empty when nothing
  std::optional<AutoextendHook> hook;  // due to run (direct and adopted pools)
  ReserveReport reserve;               // freeze_later is the monitor's to do
};

class Engine {
 public:
  // Locks `root` (creating it unless opts.create_root is false), opens its store and, when the
  // pool is active, reconciles.
  static std::unique_ptr<Engine> Open(const std::string& root, kernel::DeviceMapper* dm,
                                      kernel::System* sys, const EngineOptions& opts = {});
  ~Engine();

  // --- the pool ---
  void CreatePool(const PoolCreateOptions& opts);
  PoolReport Status();
  // Idempotent: attaches loop files, thin_check, loads the pool, reconciles, re-activates the
  // devices that were active (and remounts what was mounted when `remount`). Returns notes.
  std::vector<std::string> ActivatePool(bool remount);
  void DeactivatePool(bool force);
  // Removes the pool, its devices and files. Returns the kernel objects that `force` could not
  // remove, each with the command that removes it (empty: all gone).
  std::vector<std::string> DestroyPool(bool force);
  void SetPool(const PoolSetOptions& opts);
  CheckReport Check();
  CheckReport Repair();
  // Finishes deferred deletions; returns the names finished.
  std::vector<std::string> Gc();
  // Grows the pool when autoextend says so; returns what it did (empty when nothing). Direct
  // and adopted pools cannot be grown: the result is then the warning ("autoextend: warning:
  // ..."), and with a hook configured, `hook` (when given) is set to the call to make once the
  // lock is released. Prints nothing; the caller reports the result.
  std::string MaybeAutoextend(std::optional<AutoextendHook>* hook = nullptr);
  // The space reserve (README "Space"), the one entry point for `pool monitor`, a serving
  // daemon and the commands that free space. When free data or metadata space is at or below
  // the reserve, it autoextends first; if the pool is still there, it stops every mounted,
  // writable filesystem before the pool is full, so that the blocks left let each one flush
  // its log. --on-full error shuts down (ext4 EXT4_IOC_SHUTDOWN, xfs XFS_IOC_GOINGDOWN, with log
  // flush: writers get EIO at once, fsync'd data stays) the ones that are allocating pool
  // blocks: those whose thin device's mapped count grew since the previous look (or over 150
  // ms) by at least an eighth of the largest growth; it freezes the others, whose reads go on
  // (their writers wait). On a pool already full, or when none was seen allocating, it shuts
  // down every one; a freeze that fails becomes a shutdown, and xfs is always shut down. --on-full
  // queue freezes all of them (writers wait; reads go on). Each stopped device is recorded and
  // listed by Status().
  // When space is above the reserve again it thaws the frozen ones and remounts the shut-down
  // ones that nothing holds open (the others wait for `thinsnap mount NAME`). Failures are
  // lines in `did`, never thrown for one device.
  ReserveReport EnforceReserve(const ReserveOptions& opts = {});
  // Reads the pool's event counter, autoextends if due, enforces the reserve. See
  // RunPoolMonitor.
  // `previous`: the last turn's reserve.mapped (or nullptr).
  MonitorTurn TakeMonitorTurn(const std::map<uint32_t, uint64_t>* previous = nullptr);

  // --- devices ---
  DeviceRecord CreateLayer(const std::string& name, const std::string& parent);
  DeviceRecord ImportLayer(const std::string& name, const std::string& parent, int tar_fd);
  void SealLayer(const std::string& name);
  DeviceRecord CreateContainer(const std::string& name, const std::string& from,
                               std::optional<uint64_t> size, const NewDeviceOptions& extra = {});
  // CreateContainer + Activate with one journal sync (the record is marked written with the
  // intent; the active flag follows unsynced, as Activate writes it) and no more ioctls than the
  // kernel needs: the pool's status, create_snap, set_transaction_id, the device's
  // create/load/resume. Returns the device's path; a failed activation deletes the container again.
  std::string CreateActiveContainer(const std::string& name, const std::string& from,
                                    std::optional<uint64_t> size,
                                    const NewDeviceOptions& extra = {});
  // A sealed layer from the base whose filesystem is empty: its root directory (mode 0755) holds
  // nothing, not even lost+found. Services start parentless snapshots from it.
  DeviceRecord CreateEmptyLayer(const std::string& name, const NewDeviceOptions& extra = {});
  DeviceRecord Commit(const std::string& container, const std::string& new_layer);
  // CreateContainer + Activate in three phases, for a daemon that runs the kernel work of many
  // requests at once (thinsnap serve; README "Side by side with the CLI, and concurrency"):
  //  1. BeginContainer, with the engine: the checks, the journal intent, create_snap and the
  //     pool transaction, exactly as CreateContainer (the record is durable when it returns, and
  //     already marked written, saving Activate's journal write). Returns the kernel work left.
  //  2. RunActivation, without the engine, on any thread, several at once: dm create/load/resume
  //     of the thin device and, for a size above the parent's, the filesystem's growth on a
  //     temporary mount. It touches only `dm` and `sys`, never the catalog.
  //  3. FinishActivation (records the device active, deferred sync like Activate) or, when step
  //     2 failed, AbandonActivation (deactivates and deletes the device, as CreateContainer rolls
  //     back a failed growth), with the engine again.
  // Between 1 and 3 the caller must keep other requests from removing, committing or mounting
  // the device (EngineHost pins it). A crash in between leaves a recorded container that is
  // inactive (or not grown: GrowFilesystem finishes it), which a Remove takes away as usual.
  struct ActivationWork {
    std::string name;  // the device's name in the catalog
    uint32_t id = 0;   // thin id, with created_ns identifying this very device
    int64_t created_ns = 0;
    std::string dm_name;  // the thin device's dm name, table and options
    kernel::Table table;
    kernel::CreateOptions create;
    FsType fs = FsType::kNone;
    bool grow = false;          // the filesystem is smaller than the device: grow it
    std::string grow_dir;       // its temporary mountpoint
    std::string mount_options;  // for that mount
  };
  ActivationWork BeginContainer(const std::string& name, const std::string& from,
                                std::optional<uint64_t> size, const NewDeviceOptions& extra = {});
  // Group commit: BeginContainer for many requests at once, sharing one journal intent (one
  // fdatasync), one pool transaction (one set_transaction_id) and one read of the pool's status.
  // Each result holds its work or its own error (a bad request fails alone, the others go on).
  // Requests are grouped up to kMaxGroupedCreates at a time; a request whose origin must be
  // suspended for its snapshot (a writable or active one), or any request of a group whose space
  // check or transaction fails, is run alone with BeginContainer, so every error is the one that
  // request would have met by itself. The names must differ (a repeated one fails kExists).
  struct ContainerRequest {
    std::string name, from;
    std::optional<uint64_t> size;
    NewDeviceOptions extra;
  };
  struct BegunContainer {
    std::optional<ActivationWork> work;
    std::optional<Error> error;  // set exactly when work is not
  };
  static constexpr size_t kMaxGroupedCreates = 32;
  std::vector<BegunContainer> BeginContainers(const std::vector<ContainerRequest>& requests);
  // Returns the device's path. Throws thinsnap::Error; a half-made dm device is removed again.
  static std::string RunActivation(const ActivationWork& work, kernel::DeviceMapper* dm,
                                   kernel::System* sys);
  DeviceRecord FinishActivation(const ActivationWork& work);
  // Best effort on a device some other process already removed (then nothing is left to do).
  void AbandonActivation(const ActivationWork& work);
  // Turns a container into a read-only layer named `new_layer` in place: no new thin device, one
  // journal record (name, kind, labels and read-only flag change together), so a crash leaves
  // either the container or the layer. The device is deactivated (deferred while something
  // outside thinsnap still has it open; kBusy when thinsnap itself has it mounted).
  // containerd's Commit, where the active snapshot ceases to exist.
  DeviceRecord CommitInPlace(const std::string& container, const std::string& new_layer,
                             const std::map<std::string, std::string>& labels);
  // Replaces a device's labels (one journal record).
  DeviceRecord SetLabels(const std::string& name, const std::map<std::string, std::string>& labels);
  DeviceRecord CreateVolume(const std::string& name, uint64_t size, FsType fs);
  DeviceRecord CloneVolume(const std::string& source, const std::string& name);
  // Grows a container's or volume's thin device to `size` bytes and its filesystem (if any) to
  // fill it: resize2fs online, xfs_growfs on the mountpoint or a temporary mount. Layers and the
  // base are read-only images and refused, so is shrinking. Crash-safe by order: the new size is
  // recorded first (the pool stores no sizes), then the live table is reloaded, then the
  // filesystem grows; so a device is never larger than its record, and calling Grow again with
  // the same size finishes whatever an interrupted call left undone.
  DeviceRecord Grow(const std::string& name, uint64_t size);
  std::string Activate(const std::string& name);  // returns the device path
  void Deactivate(const std::string& name);
  std::string Mount(const std::string& name, const std::string& dir);  // returns the dir
  // Unmounts and deactivates. The unmount is recorded even when the deactivation then fails, so
  // the record never names a mount that is gone. With `defer_busy` (and the pool's deferred
  // removal on), a device still open elsewhere, e.g. by a copy of the mount in a container's
  // mount namespace that has not been torn down yet, is removed by the kernel at its last close
  // instead of failing EBUSY; the next Activate or Mount takes it back.
  void Unmount(const std::string& name, bool defer_busy = false);
  RemoveOutcome Remove(const std::string& name, bool force, bool discard);
  std::vector<DeviceRecord> List();
  DeviceView Inspect(const std::string& name);
  std::vector<TreeChange> Diff(const std::string& name);
  void Export(const std::string& name, int out_fd);
  std::vector<DfRow> Df();
  // Inodes in use on the device's filesystem (statvfs f_files - f_ffree): read where it is
  // mounted (thinsnap's mountpoint or any mount of its device, e.g. containerd's), else through
  // a short read-only mount (activated for it and deactivated again when it was inactive).
  // nullopt when the device is open but not mounted (a VM's disk): a mount of ours could replay
  // its journal under the writer. kUsage for a device without a filesystem.
  std::optional<uint64_t> UsedInodes(const std::string& name);

  // The name of the device with thin id `id`; empty when there is none (kNoParent: none).
  std::string NameOf(uint32_t id) const;

  // --- send and receive (thinpool/engine_send.cc; the stream is metadata/stream.h) ---
  // Writes NAME as a stream to `out`: with an empty `base` its provisioned ranges; otherwise
  // what differs from BASE (the pool's own metadata through thin_delta: changed ranges as data,
  // ranges BASE has and NAME no longer has as unmaps). BASE must be unchanged since it was made
  // (a read-only layer, or a device never activated or mounted read-write) so that a receiver
  // holding BASE's identity holds BASE's bytes. Gives NAME (and BASE) an identity first if an
  // older thinsnap made it without one.
  TransferStats Send(const std::string& name, const std::string& base, ByteSink* out);
  // Applies a stream from `in` into a new device NAME (a snapshot of the base the stream names,
  // which must be here, hold that identity and be unchanged; or a new thin device). NAME
  // appears only once the whole stream has verified; on any failure nothing is left. A receive
  // killed midway leaves a hidden device that the next Open removes.
  TransferStats Receive(const std::string& name, const std::string& base, ByteSource* in);

  const Store& store() const { return *store_; }
  std::string PoolName() const;

  // A long-lived holder (EngineHost) lets the root's lock go between bursts of work and keeps
  // the engine: Unlock() notes the store's DiskStamp and releases the lock; the engine must not
  // be used until Relock() took it again (waiting up to lock_timeout_ms; throws kBusy then,
  // still unlocked). Relock() returns false when another process wrote the store meanwhile:
  // the catalog in memory is stale, so the holder must destroy this engine and Open() again
  // (which also reconciles). REQUIRES: Unlock() only while locked, Relock() only after it.
  void Unlock();
  [[nodiscard]] bool Relock();
  bool locked() const;

 private:
  Engine(std::string root, kernel::DeviceMapper* dm, kernel::System* sys, EngineOptions opts,
         RootLock lock, std::unique_ptr<Store> store);
  struct Impl;
  friend struct Impl;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Store> store_;
  std::string unlocked_stamp_;  // the store's DiskStamp when Unlock() let the lock go
};

struct MonitorOptions {
  std::function<void(const std::string&)> report;  // one line per thing done or failed
  std::function<bool()> keep_running;              // checked before every turn
  int inactive_poll_ms = 5000;                     // pool not loaded (or gone): look again after
  int near_poll_ms = 200;   // past the low-water mark: how often the reserve is looked at
  int near_turn_ms = 5000;  // ... and how often a whole turn runs again
};

// `pool monitor`: a loop for a systemd service. Each turn opens `root` (taking its lock), takes
// a MonitorTurn, closes it, runs the autoextend hook and the deferred freezes if due, then waits
// without the lock for the pool's next dm event (the low-water mark, set at the autoextend
// threshold or --min-free-space, or the kernel's metadata threshold). The kernel raises the
// low-water event once per table load, so past it the monitor reads the pool's status every
// near_poll_ms instead, until the reserve is crossed either way, usage grows while under the
// reserve, the event counter moves, or near_turn_ms have passed (a due autoextend hook then runs
// again, as dmeventd retries). Errors of one turn are reported and the loop goes on.
void RunPoolMonitor(const std::string& root, kernel::DeviceMapper* dm, kernel::System* sys,
                    const EngineOptions& engine_opts, const MonitorOptions& opts);

// Throws a one-line diagnosis with the next step when this kernel cannot hold a pool: no
// device-mapper (no /dev/mapper/control, dm_mod not loaded), no access (not root), a thin-pool
// target older than thinsnap needs. libdevmapper's own words go to `detail` (for -v).
void CheckKernelForPool(kernel::DeviceMapper* dm, kernel::Files* files,
                        const std::function<void(const std::string&)>& detail);
// Whether the kernel has a device-mapper driver (/sys/class/misc/device-mapper or dm_mod).
bool KernelHasDeviceMapper(kernel::Files* files);

// The name of the pool's formatted origin (kind base), from which every layer descends. Users
// cannot make a name with '@' (see ValidateName), so theirs never collide with it; `--from
// @base` (or `--from base` while no device of theirs is called base) starts from it.
inline constexpr const char* kOriginName = "@base";

// Names: 1..64 characters of [A-Za-z0-9_.-], not starting with '.' or '-'. Throws kUsage.
void ValidateName(const std::string& name);

}  // namespace thinsnap

#endif  // THINSNAP_THINPOOL_ENGINE_H_
