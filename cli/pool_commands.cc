// `thinsnap pool ...`: create, status, activate, deactivate, destroy, check, repair, gc, monitor,
// set. Each subcommand parses into its own options struct.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/enum_names.h"
#include "base/error.h"
#include "base/units.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/output.h"

namespace thinsnap::cli {
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

constexpr EnumName<NoSpacePolicy> kNoSpaceWords[] = {{NoSpacePolicy::kError, "error"},
                                                     {NoSpacePolicy::kQueue, "queue"}};
constexpr EnumName<DiscardMode> kDiscardWords[] = {{DiscardMode::kPassdown, "passdown"},
                                                   {DiscardMode::kNoPassdown, "nopassdown"},
                                                   {DiscardMode::kNoPassdown, "no_passdown"},
                                                   {DiscardMode::kIgnore, "ignore"}};

NoSpacePolicy ParseNoSpace(const std::string& s) {
  if (std::optional<NoSpacePolicy> p = ValueOf(kNoSpaceWords, s)) return *p;
  throw Error("--on-full: '" + s + "' must be error or queue", ErrorKind::kUsage);
}

DiscardMode ParseDiscard(const std::string& s) {
  if (std::optional<DiscardMode> d = ValueOf(kDiscardWords, s)) return *d;
  throw Error("--discard: '" + s + "' must be passdown, nopassdown or ignore", ErrorKind::kUsage);
}

void PrintNotes(const std::vector<std::string>& notes) {
  for (const auto& n : notes) std::cout << n << "\n";
}

int PrintCheck(const CheckReport& r, bool json) {
  std::vector<std::string> problems = r.problems();
  if (json) {
    PrintJson(CheckReportToJson(r));
  } else {
    for (const auto& n : r.notes()) std::cout << n << "\n";
    for (const auto& p : problems) std::cout << "PROBLEM: " << p << "\n";
    std::cout << (problems.empty() ? "pool is consistent\n"
                                   : std::to_string(problems.size()) + " problem(s) found\n");
  }
  return r.clean() ? 0 : 1;
}

struct CreateArgs {
  bool loopback = false, force = false, zero_blocks = false;
  std::string data, metadata, metadata_spare, thinpool, data_size = "100G", metadata_size = "2G";
  std::string block_size = "64k", fs = "ext4", base_size = "10G", no_space = "error",
              discard = "passdown", min_free = "10", reserve = "5%", on_full, mount_opt;
  std::vector<std::string> mkfs_args;

  PoolCreateOptions ToOptions() const {
    PoolCreateOptions o;
    o.mode = CreateMode(loopback, data, thinpool);
    if (o.mode == PoolMode::kDirect && metadata.empty()) {
      throw Error("--data needs --metadata", ErrorKind::kUsage);
    }
    o.data_size = ParseSize(data_size, "--data-size");
    o.metadata_size = ParseSize(metadata_size, "--metadata-size");
    o.data_device = data;
    o.metadata_device = metadata;
    o.metadata_spare = metadata_spare;
    o.thinpool = thinpool;
    o.force = force;
    o.block_size = ParseSize(block_size, "--block-size");
    o.fs = ParseFsType(fs, false);
    o.base_size = ParseSize(base_size, "--base-size");
    o.mkfs_args = mkfs_args;
    o.mount_opts = mount_opt;
    o.no_space = ParseNoSpace(on_full.empty() ? no_space : on_full);
    o.reserve = reserve;
    o.discard = ParseDiscard(discard);
    o.min_free_percent = ParsePercent(min_free, "--min-free-space");
    o.skip_block_zeroing = !zero_blocks;
    return o;
  }
};

void AddCreate(CLI::App* pool, Program* p) {
  auto a = std::make_shared<CreateArgs>();
  CLI::App* create = pool->add_subcommand("create", "create a pool");
  create->add_flag("--loopback", a->loopback, "sparse data and metadata files under the root");
  create->add_option("--data-size", a->data_size, "loopback data file size (default 100G)");
  create->add_option("--metadata-size", a->metadata_size, "loopback metadata size (default 2G)");
  create->add_option("--data", a->data, "direct mode: data block device");
  create->add_option("--metadata", a->metadata, "direct mode: metadata block device");
  create->add_option("--metadata-spare", a->metadata_spare,
                     "direct mode: spare device for pool repair (at least the metadata size)");
  create->add_option("--thinpool", a->thinpool, "adopt an existing thin-pool dm device");
  create->add_flag("--force", a->force, "use devices that carry signatures / adopt a used pool");
  create->add_option("--block-size", a->block_size, "pool block size, 64k..1G (default 64k)");
  create->add_option("--fs", a->fs, "base filesystem: ext4 (default) or xfs");
  create->add_option("--base-size", a->base_size, "base device size (default 10G)");
  create->add_option("--mkfs-arg", a->mkfs_args, "extra argument for mkfs (repeatable)");
  create->add_option("--mount-opt", a->mount_opt, "extra mount options for every mount");
  create->add_option("--on-full", a->on_full,
                     "at the reserve: error (default; shut filesystems down) or queue (freeze)");
  create->add_option("--no-space", a->no_space, "the old name of --on-full");
  create->add_option("--reserve", a->reserve,
                     "space never given to writers: N% or data blocks (default 5%, 0 = off)");
  create->add_option("--discard", a->discard, "passdown (default), nopassdown, ignore");
  create->add_option("--min-free-space", a->min_free, "refuse new devices below this % free");
  create->add_flag("--zero-blocks", a->zero_blocks, "zero new pool blocks (slower)");
  p->On(create, [p, a] {
    PoolCreateOptions o = a->ToOptions();
    // Before the root is touched: a kernel that cannot hold a pool leaves no trace.
    CheckKernelForPool(p->dm(), p->sys(), p->Detail());
    ScopedInterruptFlag interrupt;  // Ctrl-C stops the create between steps and undoes it
    p->engine(/*create_root=*/true).CreatePool(o);
    std::cout << "created pool " << p->engine().PoolName() << " in " << p->global().root << "\n";
    return 0;
  });
}

struct SetArgs {
  std::string min_free, threshold, percent, max_size, hook, no_space, on_full, reserve, base_size,
      data_size, metadata_size, metadata_spare;

  PoolSetOptions ToOptions() const {
    PoolSetOptions o;
    if (!min_free.empty()) o.min_free_percent = ParsePercent(min_free, "--min-free-space");
    if (!threshold.empty()) {
      o.autoextend_threshold = ParsePercent(threshold, "--autoextend-threshold");
    }
    if (!percent.empty()) o.autoextend_percent = ParsePercent(percent, "--autoextend-percent");
    if (!max_size.empty()) o.autoextend_max_size = ParseSize(max_size, "--max-size");
    if (!hook.empty()) o.autoextend_hook = hook;
    if (!no_space.empty()) o.no_space = ParseNoSpace(no_space);
    if (!on_full.empty()) o.no_space = ParseNoSpace(on_full);
    if (!reserve.empty()) o.reserve = reserve;
    if (!base_size.empty()) o.base_size = ParseSize(base_size, "--base-size");
    if (!data_size.empty()) o.data_size = ParseSize(data_size, "--data-size");
    if (!metadata_size.empty()) o.metadata_size = ParseSize(metadata_size, "--metadata-size");
    if (!metadata_spare.empty()) o.metadata_spare = metadata_spare;
    return o;
  }
};

void AddSet(CLI::App* pool, Program* p) {
  auto a = std::make_shared<SetArgs>();
  CLI::App* set = pool->add_subcommand("set", "change pool settings, grow the pool");
  set->add_option("--min-free-space", a->min_free, "percent");
  set->add_option("--autoextend-threshold", a->threshold, "grow at this % used (0 = off)");
  set->add_option("--autoextend-percent", a->percent, "grow by this %");
  set->add_option("--max-size", a->max_size, "autoextend limit for the data size");
  set->add_option("--autoextend-hook", a->hook, "direct mode: command run at the threshold");
  set->add_option("--on-full", a->on_full, "at the reserve: error or queue");
  set->add_option("--no-space", a->no_space, "the old name of --on-full");
  set->add_option("--reserve", a->reserve, "space never given to writers: N% or blocks");
  set->add_option("--base-size", a->base_size, "size of new layers (never shrinks)");
  set->add_option("--data-size", a->data_size, "grow the data device to this size");
  set->add_option("--metadata-size", a->metadata_size, "grow the metadata device");
  set->add_option("--metadata-spare", a->metadata_spare,
                  "direct mode: the spare device pool repair rebuilds metadata into");
  p->On(set, [p, a] {
    PoolSetOptions o = a->ToOptions();  // usage errors before the root is opened
    p->engine().SetPool(o);
    return 0;
  });
}

// `pool activate`, `deactivate`, `destroy`: the pool's lifecycle after create.
void AddLifecycle(CLI::App* pool, Program* p) {
  auto remount = std::make_shared<bool>(false);
  CLI::App* activate = pool->add_subcommand("activate", "bring the pool back (after a reboot)");
  activate->add_flag("--remount", *remount, "also remount what was mounted");
  p->On(activate, [p, remount] {
    PrintNotes(p->engine().ActivatePool(*remount));
    return 0;
  });
  auto unmount_first = std::make_shared<bool>(false);
  CLI::App* deactivate = pool->add_subcommand("deactivate", "take the pool down");
  deactivate->add_flag("--force", *unmount_first, "unmount mounted devices first");
  p->On(deactivate, [p, unmount_first] {
    p->engine().DeactivatePool(*unmount_first);
    return 0;
  });
  auto with_devices = std::make_shared<bool>(false);
  CLI::App* destroy = pool->add_subcommand("destroy", "delete the pool and all its devices");
  destroy->add_flag("--force", *with_devices, "also when devices exist");
  p->On(destroy, [p, with_devices] {
    std::vector<std::string> left = p->engine().DestroyPool(*with_devices);
    std::cout << "pool destroyed\n";
    for (const std::string& l : left) std::cerr << "thinsnap: left behind: " << l << "\n";
    return left.empty() ? 0 : 1;
  });
}

// `pool monitor`: without the lock while waiting; each turn opens the root to handle an event.
int RunMonitor(Program* p) {
  MonitorOptions mon;
  mon.report = [](const std::string& line) { std::cout << line << std::endl; };
  RunPoolMonitor(p->global().root, p->dm(), p->sys(), p->BaseEngineOptions(), mon);
  return 0;
}

}  // namespace

void AddPoolCommands(CLI::App* app, Program* p) {
  CLI::App* pool = AddCommandGroup(app, "pool", "create and look after the thin pool");
  AddCreate(pool, p);
  p->On(pool->add_subcommand("status", "show the pool"), [p] {
    PoolReport r = p->engine().Status();
    p->json() ? PrintJson(PoolReportToJson(r)) : PrintPoolReport(r);
    return 0;
  });
  AddLifecycle(pool, p);
  p->On(pool->add_subcommand("check", "compare journal, catalog and kernel"),
        [p] { return PrintCheck(p->engine().Check(), p->json()); });
  p->On(pool->add_subcommand("repair", "fix what check finds, where it safely can"),
        [p] { return PrintCheck(p->engine().Repair(), p->json()); });
  p->On(pool->add_subcommand("gc", "finish deferred removals"), [p] {
    PrintNotes(p->engine().Gc());
    return 0;
  });
  p->On(pool->add_subcommand("monitor", "wait for pool events and autoextend (for systemd)"),
        [p] { return RunMonitor(p); });
  AddSet(pool, p);
}

}  // namespace thinsnap::cli
