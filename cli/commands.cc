#include "cli/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "base/error.h"
#include "base/units.h"
#include "cli/bench.h"
#include "cli/interrupt.h"
#include "cli/output.h"
#include "thinpool/kernel/libdevmapper.h"
#include "thinpool/real_system.h"

namespace thinsnap::cli {

// Storage for every option; CLI11 writes into it while parsing.
struct Commands::Args {
  std::string name, name2, parent, from, file, dir, size, fs = "ext4";
  bool force = false, discard = false, remount = false, activate = false;
  // pool create
  bool loopback = false;
  std::string data, metadata, metadata_spare, thinpool, data_size = "100G", metadata_size = "2G";
  std::string block_size = "64k", base_size = "10G", no_space = "error", discard_mode = "passdown";
  std::string min_free = "10", reserve = "5%", on_full;
  std::vector<std::string> mkfs_args;
  std::string mount_opt;
  bool zero_blocks = false;
  // pool set
  std::string set_min_free, set_threshold, set_percent, set_max_size, set_hook, set_no_space,
      set_on_full, set_reserve, set_base_size, set_data_size, set_metadata_size, set_metadata_spare;
  BenchArgs bench;
};

Commands::Commands(CLI::App* app, GlobalOptions* global)
    : app_(app), global_(global), a_(std::make_unique<Args>()) {
  if (const char* root = std::getenv("THINSNAP_ROOT")) global_->root = root;
  app->add_option("--root", global_->root, "state directory (default /var/lib/thinsnap)");
  app->add_flag("--json", global_->json, "print JSON for programs");
  app->add_flag("-v,--verbose", global_->verbose, "say more");
  app->add_option("--lock-timeout", global_->lock_timeout_s,
                  "seconds to wait for another thinsnap on the same root (default 30)");
  app->fallthrough();
  app->require_subcommand(1);
  AddPool(app);
  AddDevices(app);
  AddQueries(app);
  AddBench(app);
  AddServe(app);
}

Commands::~Commands() = default;

void Commands::On(CLI::App* sub, std::function<int()> run) {
  sub->fallthrough();
  sub->callback([this, run] { run_ = run; });
}

int Commands::Run() {
  if (!run_) throw Error("no command given (see thinsnap --help)", ErrorKind::kUsage);
  return run_();
}

void Commands::MakeKernel() {
  if (!dm_) dm_ = std::make_unique<kernel::LibDevmapper>();
  if (!sys_) sys_ = std::make_unique<kernel::RealSystem>();
}

std::function<void(const std::string&)> Commands::Detail() const {
  if (!global_->verbose) return {};
  return [](const std::string& line) { std::cerr << line << "\n"; };
}

Engine& Commands::engine(bool create_root) {
  if (!engine_) {
    MakeKernel();
    EngineOptions opts;
    opts.lock_timeout_ms = static_cast<int>(global_->lock_timeout_s * 1000);
    opts.create_root = create_root;
    bool tty = isatty(STDERR_FILENO);
    bool verbose = global_->verbose;
    opts.progress = [tty, verbose](const std::string& line) {
      if (tty || verbose) std::cerr << line << "\n";
    };
    opts.detail = Detail();
    opts.interrupted = [] { return Interrupted(); };
    // A live line on a terminal only: rewritten in place, ended when the import ends.
    if (tty) {
      opts.import_progress = [](const ImportProgress& p) {
        std::cerr << "\r" << FormatImportProgress(p.name, p.bytes, p.entries, p.elapsed_ns)
                  << "\033[K" << (p.done ? "\n" : "") << std::flush;
      };
    }
    engine_ = Engine::Open(global_->root, dm_.get(), sys_.get(), opts);
  }
  return *engine_;
}

namespace {

PoolMode CreateMode(bool loopback, const std::string& data, const std::string& thinpool) {
  int modes = (loopback ? 1 : 0) + (!data.empty() ? 1 : 0) + (!thinpool.empty() ? 1 : 0);
  if (modes > 1) {
    throw Error("choose one of --loopback, --data/--metadata, --thinpool", ErrorKind::kUsage);
  }
  if (!data.empty()) return PoolMode::kDirect;
  if (!thinpool.empty()) return PoolMode::kAdopted;
  return PoolMode::kLoopback;
}

NoSpacePolicy ParseNoSpace(const std::string& s) {
  if (s == "error") return NoSpacePolicy::kError;
  if (s == "queue") return NoSpacePolicy::kQueue;
  throw Error("--on-full: '" + s + "' must be error or queue", ErrorKind::kUsage);
}

DiscardMode ParseDiscard(const std::string& s) {
  if (s == "passdown") return DiscardMode::kPassdown;
  if (s == "nopassdown" || s == "no_passdown") return DiscardMode::kNoPassdown;
  if (s == "ignore") return DiscardMode::kIgnore;
  throw Error("--discard: '" + s + "' must be passdown, nopassdown or ignore", ErrorKind::kUsage);
}

void PrintNotes(const std::vector<std::string>& notes) {
  for (const auto& n : notes) std::cout << n << "\n";
}

int PrintCheck(const CheckReport& r, bool json) {
  if (json) {
    PrintJson({{"Clean", r.problems.empty()}, {"Problems", r.problems}, {"Notes", r.notes}});
  } else {
    for (const auto& n : r.notes) std::cout << n << "\n";
    for (const auto& p : r.problems) std::cout << "PROBLEM: " << p << "\n";
    std::cout << (r.problems.empty() ? "pool is consistent\n"
                                     : std::to_string(r.problems.size()) + " problem(s) found\n");
  }
  return r.problems.empty() ? 0 : 1;
}

}  // namespace

void Commands::AddPool(CLI::App* app) {
  Args& a = *a_;
  CLI::App* pool = app->add_subcommand("pool", "create and look after the thin pool");
  pool->require_subcommand(1);
  pool->fallthrough();

  CLI::App* create = pool->add_subcommand("create", "create a pool");
  create->add_flag("--loopback", a.loopback, "sparse data and metadata files under the root");
  create->add_option("--data-size", a.data_size, "loopback data file size (default 100G)");
  create->add_option("--metadata-size", a.metadata_size, "loopback metadata size (default 2G)");
  create->add_option("--data", a.data, "direct mode: data block device");
  create->add_option("--metadata", a.metadata, "direct mode: metadata block device");
  create->add_option("--metadata-spare", a.metadata_spare,
                     "direct mode: spare device for pool repair (at least the metadata size)");
  create->add_option("--thinpool", a.thinpool, "adopt an existing thin-pool dm device");
  create->add_flag("--force", a.force, "use devices that carry signatures / adopt a used pool");
  create->add_option("--block-size", a.block_size, "pool block size, 64k..1G (default 64k)");
  create->add_option("--fs", a.fs, "base filesystem: ext4 (default) or xfs");
  create->add_option("--base-size", a.base_size, "base device size (default 10G)");
  create->add_option("--mkfs-arg", a.mkfs_args, "extra argument for mkfs (repeatable)");
  create->add_option("--mount-opt", a.mount_opt, "extra mount options for every mount");
  create->add_option("--on-full", a.on_full,
                     "at the reserve: error (default; shut filesystems down) or queue (freeze)");
  create->add_option("--no-space", a.no_space, "the old name of --on-full");
  create->add_option("--reserve", a.reserve,
                     "space never given to writers: N% or data blocks (default 5%, 0 = off)");
  create->add_option("--discard", a.discard_mode, "passdown (default), nopassdown, ignore");
  create->add_option("--min-free-space", a.min_free, "refuse new devices below this % free");
  create->add_flag("--zero-blocks", a.zero_blocks, "zero new pool blocks (slower)");
  On(create, [this, &a] {
    PoolCreateOptions o;
    o.mode = CreateMode(a.loopback, a.data, a.thinpool);
    if (o.mode == PoolMode::kDirect && a.metadata.empty()) {
      throw Error("--data needs --metadata", ErrorKind::kUsage);
    }
    o.data_size = ParseSize(a.data_size, "--data-size");
    o.metadata_size = ParseSize(a.metadata_size, "--metadata-size");
    o.data_device = a.data;
    o.metadata_device = a.metadata;
    o.metadata_spare = a.metadata_spare;
    o.thinpool = a.thinpool;
    o.force = a.force;
    o.block_size = ParseSize(a.block_size, "--block-size");
    o.fs = ParseFsType(a.fs, false);
    o.base_size = ParseSize(a.base_size, "--base-size");
    o.mkfs_args = a.mkfs_args;
    o.mount_opts = a.mount_opt;
    o.no_space = ParseNoSpace(a.on_full.empty() ? a.no_space : a.on_full);
    o.reserve = a.reserve;
    o.discard = ParseDiscard(a.discard_mode);
    o.min_free_percent = ParsePercent(a.min_free, "--min-free-space");
    o.skip_block_zeroing = !a.zero_blocks;
    // Before the root is touched: a kernel that cannot hold a pool leaves no trace.
    MakeKernel();
    CheckKernelForPool(dm_.get(), sys_.get(), Detail());
    ScopedInterruptFlag interrupt;  // Ctrl-C stops the create between steps and undoes it
    engine(/*create_root=*/true).CreatePool(o);
    std::cout << "created pool " << engine().PoolName() << " in " << global_->root << "\n";
    return 0;
  });

  On(pool->add_subcommand("status", "show the pool"), [this] {
    PoolReport r = engine().Status();
    global_->json ? PrintJson(PoolReportToJson(r)) : PrintPoolReport(r);
    return 0;
  });
  CLI::App* activate = pool->add_subcommand("activate", "bring the pool back (after a reboot)");
  activate->add_flag("--remount", a.remount, "also remount what was mounted");
  On(activate, [this, &a] {
    PrintNotes(engine().ActivatePool(a.remount));
    return 0;
  });
  CLI::App* deactivate = pool->add_subcommand("deactivate", "take the pool down");
  deactivate->add_flag("--force", a.force, "unmount mounted devices first");
  On(deactivate, [this, &a] {
    engine().DeactivatePool(a.force);
    return 0;
  });
  CLI::App* destroy = pool->add_subcommand("destroy", "delete the pool and all its devices");
  destroy->add_flag("--force", a.force, "also when devices exist");
  On(destroy, [this, &a] {
    std::vector<std::string> left = engine().DestroyPool(a.force);
    std::cout << "pool destroyed\n";
    for (const std::string& l : left) std::cerr << "thinsnap: left behind: " << l << "\n";
    return left.empty() ? 0 : 1;
  });
  On(pool->add_subcommand("check", "compare journal, catalog and kernel"),
     [this] { return PrintCheck(engine().Check(), global_->json); });
  On(pool->add_subcommand("repair", "fix what check finds, where it safely can"),
     [this] { return PrintCheck(engine().Repair(), global_->json); });
  On(pool->add_subcommand("gc", "finish deferred removals"), [this] {
    PrintNotes(engine().Gc());
    return 0;
  });
  On(pool->add_subcommand("monitor", "wait for pool events and autoextend (for systemd)"), [this] {
    // Without the lock while waiting: the monitor takes it only to handle an event.
    MakeKernel();
    EngineOptions opts;
    opts.lock_timeout_ms = static_cast<int>(global_->lock_timeout_s * 1000);
    MonitorOptions mon;
    mon.report = [](const std::string& line) { std::cout << line << std::endl; };
    RunPoolMonitor(global_->root, dm_.get(), sys_.get(), opts, mon);
    return 0;
  });
  CLI::App* set = pool->add_subcommand("set", "change pool settings, grow the pool");
  set->add_option("--min-free-space", a.set_min_free, "percent");
  set->add_option("--autoextend-threshold", a.set_threshold, "grow at this % used (0 = off)");
  set->add_option("--autoextend-percent", a.set_percent, "grow by this %");
  set->add_option("--max-size", a.set_max_size, "autoextend limit for the data size");
  set->add_option("--autoextend-hook", a.set_hook, "direct mode: command run at the threshold");
  set->add_option("--on-full", a.set_on_full, "at the reserve: error or queue");
  set->add_option("--no-space", a.set_no_space, "the old name of --on-full");
  set->add_option("--reserve", a.set_reserve, "space never given to writers: N% or blocks");
  set->add_option("--base-size", a.set_base_size, "size of new layers (never shrinks)");
  set->add_option("--data-size", a.set_data_size, "grow the data device to this size");
  set->add_option("--metadata-size", a.set_metadata_size, "grow the metadata device");
  set->add_option("--metadata-spare", a.set_metadata_spare,
                  "direct mode: the spare device pool repair rebuilds metadata into");
  On(set, [this, &a] {
    PoolSetOptions o;
    if (!a.set_min_free.empty())
      o.min_free_percent = ParsePercent(a.set_min_free, "--min-free-space");
    if (!a.set_threshold.empty())
      o.autoextend_threshold = ParsePercent(a.set_threshold, "--autoextend-threshold");
    if (!a.set_percent.empty())
      o.autoextend_percent = ParsePercent(a.set_percent, "--autoextend-percent");
    if (!a.set_max_size.empty()) o.autoextend_max_size = ParseSize(a.set_max_size, "--max-size");
    if (!a.set_hook.empty()) o.autoextend_hook = a.set_hook;
    if (!a.set_no_space.empty()) o.no_space = ParseNoSpace(a.set_no_space);
    if (!a.set_on_full.empty()) o.no_space = ParseNoSpace(a.set_on_full);
    if (!a.set_reserve.empty()) o.reserve = a.set_reserve;
    if (!a.set_base_size.empty()) o.base_size = ParseSize(a.set_base_size, "--base-size");
    if (!a.set_data_size.empty()) o.data_size = ParseSize(a.set_data_size, "--data-size");
    if (!a.set_metadata_size.empty())
      o.metadata_size = ParseSize(a.set_metadata_size, "--metadata-size");
    if (!a.set_metadata_spare.empty()) o.metadata_spare = a.set_metadata_spare;
    engine().SetPool(o);
    return 0;
  });
}

void Commands::AddDevices(CLI::App* app) {
  Args& a = *a_;
  CLI::App* layer = app->add_subcommand("layer", "image layers");
  layer->require_subcommand(1);
  layer->fallthrough();
  CLI::App* import = layer->add_subcommand("import", "apply a layer tarball (- for stdin)");
  import->add_option("NAME", a.name)->required();
  import->add_option("FILE", a.file)->required();
  import->add_option("--parent", a.parent, "the layer below");
  On(import, [this, &a] {
    int fd = STDIN_FILENO;
    if (a.file != "-") {
      fd = ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) ThrowErrno("open " + a.file, errno);
    }
    DeviceRecord rec = engine().ImportLayer(a.name, a.parent, fd);
    if (fd != STDIN_FILENO) ::close(fd);
    std::cout << rec.name << " " << rec.digest << "\n";
    return 0;
  });
  CLI::App* lcreate = layer->add_subcommand("create", "an empty writable layer");
  lcreate->add_option("NAME", a.name)->required();
  lcreate->add_option("--parent", a.parent, "the layer below");
  On(lcreate, [this, &a] {
    std::cout << engine().CreateLayer(a.name, a.parent).name << "\n";
    return 0;
  });
  CLI::App* seal = layer->add_subcommand("seal", "make a created layer read-only");
  seal->add_option("NAME", a.name)->required();
  On(seal, [this, &a] {
    engine().SealLayer(a.name);
    return 0;
  });

  CLI::App* container = app->add_subcommand("container", "containers");
  container->require_subcommand(1);
  container->fallthrough();
  CLI::App* ccreate = container->add_subcommand("create", "a writable snapshot of a layer");
  ccreate->add_option("NAME", a.name)->required();
  ccreate->add_option("--from", a.from, "the layer")->required();
  ccreate->add_option("--size", a.size, "grow the filesystem to this size");
  ccreate->add_flag("--activate", a.activate, "also activate it and print the device path");
  On(ccreate, [this, &a] {
    std::optional<uint64_t> size;
    if (!a.size.empty()) size = ParseSize(a.size, "--size");
    DeviceRecord rec = engine().CreateContainer(a.name, a.from, size);
    std::cout << (a.activate ? engine().Activate(rec.name) : rec.name) << "\n";
    return 0;
  });
  CLI::App* commit = app->add_subcommand("commit", "container -> new read-only layer");
  commit->add_option("CONTAINER", a.name)->required();
  commit->add_option("NEW_LAYER", a.name2)->required();
  On(commit, [this, &a] {
    std::cout << engine().Commit(a.name, a.name2).name << "\n";
    return 0;
  });

  CLI::App* volume = app->add_subcommand("volume", "named thin volumes");
  volume->require_subcommand(1);
  volume->fallthrough();
  CLI::App* vcreate = volume->add_subcommand("create", "a new volume");
  vcreate->add_option("NAME", a.name)->required();
  vcreate->add_option("--size", a.size, "size, e.g. 20G")->required();
  vcreate->add_option("--fs", a.fs, "ext4 (default), xfs or none");
  On(vcreate, [this, &a] {
    engine().CreateVolume(a.name, ParseSize(a.size, "--size"), ParseFsType(a.fs, true));
    std::cout << a.name << "\n";
    return 0;
  });
  CLI::App* clone = volume->add_subcommand("clone", "an instant copy of a volume");
  clone->add_option("SRC", a.name)->required();
  clone->add_option("NEW", a.name2)->required();
  On(clone, [this, &a] {
    std::cout << engine().CloneVolume(a.name, a.name2).name << "\n";
    return 0;
  });

  // `grow` and its alias under `volume`: same options, same code.
  for (CLI::App* parent : {app, volume}) {
    CLI::App* grow = parent->add_subcommand("grow", "grow a container or volume (and its fs)");
    grow->add_option("NAME", a.name)->required();
    grow->add_option("--size", a.size, "the new size, e.g. 40G (never smaller)")->required();
    On(grow, [this, &a] {
      DeviceRecord rec = engine().Grow(a.name, ParseSize(a.size, "--size"));
      std::cout << rec.name << ": " << FormatSize(rec.size_bytes) << "\n";
      return 0;
    });
  }

  CLI::App* act = app->add_subcommand("activate", "device node without a mount");
  act->add_option("NAME", a.name)->required();
  On(act, [this, &a] {
    std::cout << engine().Activate(a.name) << "\n";
    return 0;
  });
  CLI::App* deact = app->add_subcommand("deactivate", "remove the device node");
  deact->add_option("NAME", a.name)->required();
  On(deact, [this, &a] {
    engine().Deactivate(a.name);
    return 0;
  });
  CLI::App* mount = app->add_subcommand("mount", "mount a device");
  mount->add_option("NAME", a.name)->required();
  mount->add_option("DIR", a.dir);
  On(mount, [this, &a] {
    std::cout << engine().Mount(a.name, a.dir) << "\n";
    return 0;
  });
  CLI::App* umount = app->add_subcommand("unmount", "unmount a device");
  umount->alias("umount");
  umount->add_option("NAME", a.name)->required();
  On(umount, [this, &a] {
    engine().Unmount(a.name);
    return 0;
  });
  CLI::App* rm = app->add_subcommand("rm", "remove a device");
  rm->add_option("NAME", a.name)->required();
  rm->add_flag("--force", a.force, "unmount, deactivate, and remove even with children");
  rm->add_flag("--discard", a.discard, "discard the device's blocks first");
  On(rm, [this, &a] {
    if (engine().Remove(a.name, a.force, a.discard) == RemoveOutcome::kDeferred) {
      std::cout << a.name
                << ": device still open; removal deferred until it is closed "
                   "(finished by the next command or thinsnap pool gc)\n";
    }
    return 0;
  });
}

void Commands::AddQueries(CLI::App* app) {
  Args& a = *a_;
  On(app->add_subcommand("ls", "list devices"), [this] {
    std::vector<DeviceRecord> all = engine().List();
    if (global_->json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& r : all) arr.push_back(RecordToJson(r));
      PrintJson(arr);
      return 0;
    }
    std::vector<std::vector<std::string>> rows = {
        {"NAME", "KIND", "ID", "PARENT", "SIZE", "FS", "STATE", "MOUNTPOINT", "KEY"}};
    for (const auto& r : all) {
      const DeviceRecord* p = engine().store().catalog().FindById(r.parent_id);
      std::string kind = r.kind == DeviceKind::kBase ? "base (internal)" : DeviceKindName(r.kind);
      // The containerd snapshot key of a device `thinsnap serve` made (services/containerd).
      auto key = r.labels.find("thinsnap.ctd.key");
      rows.push_back({r.name, kind, std::to_string(r.id), p ? p->name : "-",
                      FormatSize(r.size_bytes), FsTypeName(r.fs),
                      r.state == DeviceState::kDeletePending   ? "delete-pending"
                      : r.state == DeviceState::kWritableLayer ? "writable"
                      : r.read_only                            ? "ro"
                                                               : "rw",
                      r.mountpoint.empty() ? "-" : r.mountpoint,
                      key == r.labels.end() ? "-" : key->second});
    }
    PrintTable(rows);
    return 0;
  });
  CLI::App* inspect = app->add_subcommand("inspect", "details of a device");
  inspect->add_option("NAME", a.name)->required();
  On(inspect, [this, &a] {
    DeviceView v = engine().Inspect(a.name);
    global_->json ? PrintJson(ViewToJson(v)) : PrintDeviceView(v);
    return 0;
  });
  CLI::App* diff = app->add_subcommand("diff", "changes against the parent (like docker diff)");
  diff->add_option("NAME", a.name)->required();
  On(diff, [this, &a] {
    std::vector<kernel::TreeChange> changes = engine().Diff(a.name);
    if (global_->json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : changes) {
        arr.push_back({{"Kind", std::string(1, static_cast<char>(c.kind))}, {"Path", c.path}});
      }
      PrintJson(arr);
      return 0;
    }
    for (const auto& c : changes) std::cout << static_cast<char>(c.kind) << " " << c.path << "\n";
    return 0;
  });
  CLI::App* exp = app->add_subcommand("export", "the changes as a layer tar on stdout");
  exp->add_option("NAME", a.name)->required();
  On(exp, [this, &a] {
    if (isatty(STDOUT_FILENO)) {
      throw Error("refusing to write a tar to a terminal; redirect stdout", ErrorKind::kUsage);
    }
    engine().Export(a.name, STDOUT_FILENO);
    return 0;
  });
  On(app->add_subcommand("df", "space used per device"), [this] {
    std::vector<DfRow> rows = engine().Df();
    if (global_->json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& r : rows) {
        arr.push_back({{"Name", r.name},
                       {"Kind", DeviceKindName(r.kind)},
                       {"DeviceId", r.id},
                       {"Size", r.size},
                       {"Mapped", r.mapped},
                       {"Exclusive", r.exclusive},
                       {"Shared", r.shared}});
      }
      PrintJson(arr);
      return 0;
    }
    std::vector<std::vector<std::string>> table = {
        {"NAME", "KIND", "ID", "SIZE", "MAPPED", "EXCLUSIVE", "SHARED"}};
    for (const auto& r : rows) {
      table.push_back({r.name, DeviceKindName(r.kind), std::to_string(r.id), FormatSize(r.size),
                       FormatSize(r.mapped), FormatSize(r.exclusive), FormatSize(r.shared)});
    }
    PrintTable(table);
    return 0;
  });
}

void Commands::AddBench(CLI::App* app) {
  CLI::App* bench = app->add_subcommand("bench", "benchmarks");
  bench->require_subcommand(1);
  bench->fallthrough();
  AddBenchCommands(
      bench, &a_->bench, global_, [this](CLI::App* sub, std::function<int()> run) { On(sub, run); },
      [this]() -> Engine& { return engine(); });
}

}  // namespace thinsnap::cli
