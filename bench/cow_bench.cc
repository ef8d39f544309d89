#include "bench/cow_bench.h"

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <utility>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/kernel/dm_tables.h"

namespace thinsnap {
namespace {

constexpr unsigned kMinIos = 8;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kChainReadSize = 4096;
constexpr const char* kPrefix = "bench-cow-";

// 4k, 64k, 1m: for device names and paths.
std::string Short(uint64_t bytes) {
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "m";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + "k";
  return std::to_string(bytes);
}

// Runs body(); if it throws, runs cleanup() too and, if that also fails, names both failures.
// On success runs cleanup() and lets its error through.
template <typename Body, typename Cleanup>
void WithCleanup(Body&& body, Cleanup&& cleanup) {
  try {
    body();
  } catch (const Error& e) {
    try {
      cleanup();
    } catch (const std::exception& c) {
      throw Error(std::string(e.what()) + "; cleaning up also failed: " + c.what(), e.kind(),
                  e.error_number());
    }
    throw;
  }
  cleanup();
}

CowRow RowFrom(const std::string& experiment, uint64_t pool_block, const bench::IoBenchResult& r,
               int depth) {
  const bench::IoDirectionResult& d = r.write.ios ? r.write : r.read;
  CowRow row;
  row.experiment = experiment;
  row.pool_block = pool_block;
  row.io_size = r.options.bs;
  row.stride = r.options.stride ? r.options.stride : r.options.bs;
  row.depth = depth;
  row.ios = d.ios;
  row.iops = d.iops;
  row.mib_per_s = d.bytes_per_second / static_cast<double>(kMiB);
  row.min_us = static_cast<double>(d.latency.min()) / 1e3;
  row.mean_us = d.latency.mean() / 1e3;
  row.p50_us = static_cast<double>(d.latency.Percentile(50)) / 1e3;
  row.p99_us = static_cast<double>(d.latency.Percentile(99)) / 1e3;
  row.max_us = static_cast<double>(d.latency.max()) / 1e3;
  return row;
}

// The write pattern for one (block size, I/O size) pair.
struct Pattern {
  uint64_t bs, stride, region;
};

Pattern PatternFor(const CowBenchOptions& o, uint64_t block, uint64_t io_size) {
  const uint64_t stride = std::max(block, io_size);
  const uint64_t fit = o.max_region / stride;
  const uint64_t n = std::max<uint64_t>(kMinIos, std::min<uint64_t>(o.ios, fit));
  return {io_size, stride, n * stride};
}

// The median of each statistic over repetitions (min and max: the extremes; ios: the sum).
CowRow Combine(const std::vector<CowRow>& reps) {
  CowRow row = reps.front();
  auto median = [&](double CowRow::*field) {
    std::vector<double> v;
    for (const CowRow& r : reps) v.push_back(r.*field);
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  for (double CowRow::*f :
       {&CowRow::iops, &CowRow::mib_per_s, &CowRow::mean_us, &CowRow::p50_us, &CowRow::p99_us}) {
    row.*f = median(f);
  }
  row.ios = 0;
  for (const CowRow& r : reps) {
    row.ios += r.ios;
    row.min_us = std::min(row.min_us, r.min_us);
    row.max_us = std::max(row.max_us, r.max_us);
  }
  return row;
}

class Experiment {
 public:
  Experiment(const CowBenchOptions& o, kernel::DeviceMapper* dm, kernel::System* sys)
      : o_(o), dm_(dm), sys_(sys) {}

  CowBenchResult Run(Engine* current);

 private:
  bench::IoBenchResult Io(const std::string& target, bench::IoPattern rw, uint64_t bs,
                          uint64_t stride, uint64_t region, uint64_t offset = 0) {
    bench::IoBenchOptions io;
    io.target = target;
    io.rw = rw;
    io.bs = bs;
    io.stride = stride;
    io.size = region;
    io.offset = offset;
    io.iodepth = o_.iodepth;
    io.engine = bench::IoEngine::kAuto;
    io.seed += seed_++;  // a new order every pass
    bench::IoBenchResult r = bench::RunIoBench(io);
    if (r.engine != bench::IoEngine::kIoUring && fallback_.empty()) {
      fallback_ = "psync engine: " + r.fallback_reason;
    }
    return r;
  }
  void Say(const std::string& line) {
    if (o_.progress) o_.progress(line);
  }
  std::string Name(const std::string& what) const { return kPrefix + what; }

  void RunPool(Engine& engine, uint64_t block, bool chain);
  void RunWrites(Engine& engine, uint64_t block, uint64_t io_size);
  void RunChain(Engine& engine, uint64_t block);
  CowRow RawWrite(uint64_t block, uint64_t io_size);
  CowRow RawRead(uint64_t block, uint64_t region);
  void RawAfterPools();
  void FillRaw(const std::vector<uint64_t>& blocks);
  void RemoveOurs(Engine& engine);
  uint64_t RawBytesNeeded(const std::vector<uint64_t>& blocks) const;
  void ScratchPool(uint64_t block, bool chain, bool first);

  const CowBenchOptions& o_;
  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
  CowBenchResult result_;
  std::string fallback_;
  uint64_t seed_ = 0;
  // The baseline device: measured next to each thin measurement (interleaved) when it is free
  // during the pools' runs, else after them (raw_after_).
  std::string raw_;
  bool raw_after_ = false;
  std::vector<uint64_t> blocks_run_;  // the pool block sizes measured
  uint64_t chain_block_ = 0;
  uint64_t chain_region_ = 0;
};

CowRow Experiment::RawWrite(uint64_t block, uint64_t io_size) {
  const Pattern p = PatternFor(o_, block, io_size);
  return RowFrom("raw_write", block,
                 Io(raw_, bench::IoPattern::kRandWrite, p.bs, p.stride, p.region), -1);
}

CowRow Experiment::RawRead(uint64_t block, uint64_t region) {
  return RowFrom("raw_read", block,
                 Io(raw_, bench::IoPattern::kRandRead, kChainReadSize, block, region), -1);
}

// Each repetition writes a fresh volume: first writes, the same offsets again (owned), a snapshot,
// the same offsets again (CoW); the raw device's pass follows when it is interleaved.
void Experiment::RunWrites(Engine& engine, uint64_t block, uint64_t io_size) {
  const Pattern p = PatternFor(o_, block, io_size);
  const std::string tag = Short(block) + "-" + Short(io_size);
  const std::string vol = Name("v-" + tag), snap = Name("s-" + tag);
  Say("pool block " + FormatSize(block) + ", I/O " + FormatSize(io_size) + ": " +
      std::to_string(p.region / p.stride) + " writes per pass, " + std::to_string(o_.reps) +
      " repetitions");
  std::map<std::string, std::vector<CowRow>> reps;
  for (unsigned rep = 0; rep < o_.reps; ++rep) {
    engine.CreateVolume(vol, std::max(p.region, kMiB), FsType::kNone);
    const std::string dev = engine.Activate(vol);
    auto pass = [&](const char* name) {
      reps[name].push_back(RowFrom(
          name, block, Io(dev, bench::IoPattern::kRandWrite, p.bs, p.stride, p.region), -1));
    };
    pass("first_write");
    pass("owned_write");
    engine.CloneVolume(vol, snap);
    pass("cow_write");
    engine.Remove(snap, /*force=*/true, /*discard=*/false);
    engine.Remove(vol, /*force=*/true, /*discard=*/false);
    if (!raw_.empty() && !raw_after_) reps["raw_write"].push_back(RawWrite(block, io_size));
  }
  for (const char* kind : {"first_write", "owned_write", "cow_write", "raw_write"}) {
    if (reps.count(kind)) result_.rows.push_back(Combine(reps[kind]));
  }
}

// Builds c0 <- c1 <- ... <- cN, then reads them round-robin (depth 0, the depths asked for, the
// raw device when interleaved), `reps` rounds, so that a slow spell of the host hits every depth.
void Experiment::RunChain(Engine& engine, uint64_t block) {
  const Pattern p = PatternFor(o_, block, block);
  const unsigned max_depth = o_.depths.back();
  const uint64_t blocks = p.region / block;
  chain_block_ = block;
  chain_region_ = p.region;
  Say("chain of " + std::to_string(max_depth) + " snapshots on pool block " + FormatSize(block) +
      ", " + FormatSize(p.region));
  auto name = [&](unsigned d) { return Name("c" + std::to_string(d)); };
  engine.CreateVolume(name(0), std::max(p.region, kMiB), FsType::kNone);
  std::string dev = engine.Activate(name(0));
  Io(dev, bench::IoPattern::kWrite, std::min<uint64_t>(block, kMiB), 0, p.region);
  engine.Deactivate(name(0));
  for (unsigned d = 1; d <= max_depth; ++d) {
    engine.CloneVolume(name(d - 1), name(d));
    dev = engine.Activate(name(d));
    // One block of its own per level, so a read at depth d meets data of d + 1 generations.
    Io(dev, bench::IoPattern::kWrite, kChainReadSize, 0, kChainReadSize,
       ((d - 1) % blocks) * block);
    engine.Deactivate(name(d));
  }
  std::vector<unsigned> depths = {0};
  depths.insert(depths.end(), o_.depths.begin(), o_.depths.end());
  std::map<unsigned, std::vector<CowRow>> reps;
  std::vector<CowRow> raw_reps;
  for (unsigned rep = 0; rep < o_.reps; ++rep) {
    for (unsigned d : depths) {
      dev = engine.Activate(name(d));
      reps[d].push_back(
          RowFrom("chain_read", block,
                  Io(dev, bench::IoPattern::kRandRead, kChainReadSize, block, p.region), int(d)));
      engine.Deactivate(name(d));
    }
    if (!raw_.empty() && !raw_after_) raw_reps.push_back(RawRead(block, p.region));
  }
  for (unsigned d : depths) result_.rows.push_back(Combine(reps[d]));
  if (!raw_reps.empty()) result_.rows.push_back(Combine(raw_reps));
  for (unsigned d = max_depth + 1; d-- > 0;) {
    engine.Remove(name(d), /*force=*/true, /*discard=*/false);
  }
}

void Experiment::RunPool(Engine& engine, uint64_t block, bool chain) {
  blocks_run_.push_back(block);
  for (uint64_t io_size : o_.io_sizes) RunWrites(engine, block, io_size);
  if (chain) RunChain(engine, block);
}

// Removes bench-cow-* devices left by an interrupted run on the current pool (newest first, so
// snapshots go before their origins).
void Experiment::RemoveOurs(Engine& engine) {
  std::vector<DeviceRecord> ours;
  for (const DeviceRecord& r : engine.List()) {
    if (r.name.rfind(kPrefix, 0) == 0) ours.push_back(r);
  }
  std::sort(ours.begin(), ours.end(),
            [](const DeviceRecord& a, const DeviceRecord& b) { return a.id > b.id; });
  for (const DeviceRecord& r : ours) engine.Remove(r.name, /*force=*/true, /*discard=*/false);
}

uint64_t Experiment::RawBytesNeeded(const std::vector<uint64_t>& blocks) const {
  uint64_t need = 0;
  for (uint64_t b : blocks) {
    for (uint64_t s : o_.io_sizes) need = std::max(need, PatternFor(o_, b, s).region);
    need = std::max(need, PatternFor(o_, b, b).region);  // the chain's
  }
  return need;
}

// One untimed pass of 1 MiB writes over what the raw patterns touch, so that no layer below (a
// sparse image, tmpfs) pays for its first touch in a measured pass.
void Experiment::FillRaw(const std::vector<uint64_t>& blocks) {
  result_.raw_device = raw_;
  Say("raw baseline on " + raw_ + ": filling " + FormatSize(RawBytesNeeded(blocks)));
  Io(raw_, bench::IoPattern::kWrite, kMiB, 0, RawBytesNeeded(blocks));
}

void Experiment::RawAfterPools() {
  FillRaw(blocks_run_);
  Say("raw baseline on " + raw_);
  for (uint64_t block : blocks_run_) {
    for (uint64_t io_size : o_.io_sizes) {
      std::vector<CowRow> reps;
      for (unsigned rep = 0; rep < o_.reps; ++rep) reps.push_back(RawWrite(block, io_size));
      result_.rows.push_back(Combine(reps));
    }
  }
  if (chain_block_) {
    std::vector<CowRow> reps;
    for (unsigned rep = 0; rep < o_.reps; ++rep)
      reps.push_back(RawRead(chain_block_, chain_region_));
    result_.rows.push_back(Combine(reps));
  }
}

// One scratch pool: open its root, create the pool, run, destroy it whatever happened.
void Experiment::ScratchPool(uint64_t block, bool chain, bool first) {
  PoolCreateOptions create;
  create.block_size = block;
  create.base_size = 16 * kMiB;
  create.fs = FsType::kExt4;
  create.min_free_percent = 0;
  const std::string root = o_.scratch + "/pool-" + Short(block);
  if (o_.pools == CowPools::kScratchLoop) {
    create.mode = PoolMode::kLoopback;
    create.data_size = 8 * o_.max_region + 256 * kMiB;
    create.metadata_size = 64 * kMiB;
  } else {
    create.mode = PoolMode::kDirect;
    create.data_device = o_.data_device;
    create.metadata_device = o_.metadata_device;
    create.force = first ? o_.force : true;  // later pools overwrite our own earlier pool
  }
  Say("pool block " + FormatSize(block) + ": creating a scratch pool in " + root);
  EngineOptions engine_opts;
  engine_opts.warning = o_.warning;
  std::unique_ptr<Engine> engine = Engine::Open(root, dm_, sys_, engine_opts);
  engine->CreatePool(create);
  WithCleanup([&] { RunPool(*engine, block, chain); },
              [&] {
                engine->DestroyPool(/*force=*/true);
                engine.reset();
              });
}

CowBenchResult Experiment::Run(Engine* current) {
  result_.iodepth = o_.iodepth;
  result_.reps = o_.reps;
  std::vector<uint64_t> blocks = o_.block_sizes;
  if (o_.pools == CowPools::kCurrent) {
    if (!current) throw Error("bench cow: no current pool", ErrorKind::kUsage);
    blocks = {current->Status().settings.block_size};
  }
  std::unique_ptr<kernel::LoopHandle> loop;
  std::string loop_file;
  raw_ = o_.raw_device;
  if (raw_.empty() && o_.pools == CowPools::kScratchLoop) {
    loop_file = o_.scratch + "/raw.img";
    sys_->MakeDirs(o_.scratch);
    sys_->CreateSparseFile(loop_file, RawBytesNeeded(blocks));
    loop = sys_->AttachLoop(loop_file);
    raw_ = loop->path();
  } else if (raw_.empty() && o_.pools == CowPools::kScratchDirect) {
    raw_ = o_.data_device;
    raw_after_ = true;
  }
  WithCleanup(
      [&] {
        if (!raw_.empty() && !raw_after_) FillRaw(blocks);
        if (o_.pools == CowPools::kCurrent) {
          RemoveOurs(*current);
          WithCleanup([&] { RunPool(*current, blocks[0], true); }, [&] { RemoveOurs(*current); });
        } else {
          for (size_t i = 0; i < blocks.size(); ++i) ScratchPool(blocks[i], i == 0, i == 0);
        }
        if (raw_after_) RawAfterPools();
      },
      [&] {
        if (!loop) return;
        loop.reset();
        sys_->RemoveFile(loop_file);
      });
  if (!loop_file.empty()) result_.raw_device = loop_file + " (loop device)";
  if (raw_.empty()) {
    result_.notes.push_back("no raw baseline: pass --raw DEV (its contents are overwritten)");
  }
  if (!fallback_.empty()) result_.notes.push_back(fallback_);
  return std::move(result_);
}

}  // namespace

CowBenchResult RunCowBench(const CowBenchOptions& options, kernel::DeviceMapper* dm,
                           kernel::System* sys, Engine* current) {
  if (options.block_sizes.empty() || options.io_sizes.empty() || options.depths.empty()) {
    throw Error("bench cow: block sizes, I/O sizes and depths must not be empty",
                ErrorKind::kUsage);
  }
  for (uint64_t s : options.io_sizes) {
    if (s == 0 || s % 4096 != 0) {
      throw Error("bench cow: I/O size " + std::to_string(s) + " is not a multiple of 4 KiB",
                  ErrorKind::kUsage);
    }
  }
  for (unsigned d : options.depths) {
    if (d == 0 || d > 1000) {
      throw Error("bench cow: depth " + std::to_string(d) + " is out of range [1, 1000]",
                  ErrorKind::kUsage);
    }
  }
  if (options.iodepth == 0 || options.ios == 0 || options.reps == 0) {
    throw Error("bench cow: --iodepth, --ios and --reps must be positive", ErrorKind::kUsage);
  }
  if (options.pools != CowPools::kCurrent && options.scratch.empty()) {
    throw Error("bench cow: no scratch directory for the scratch pools", ErrorKind::kUsage);
  }
  if (options.pools == CowPools::kScratchDirect &&
      (options.data_device.empty() || options.metadata_device.empty())) {
    throw Error("bench cow: scratch pools on devices need --data and --metadata",
                ErrorKind::kUsage);
  }
  CowBenchOptions o = options;
  if (o.pools != CowPools::kCurrent) {
    for (uint64_t b : o.block_sizes) kernel::ValidateBlockSize(b);
  }
  std::sort(o.block_sizes.begin(), o.block_sizes.end());
  std::sort(o.io_sizes.begin(), o.io_sizes.end());
  std::sort(o.depths.begin(), o.depths.end());
  Experiment e(o, dm, sys);
  return e.Run(current);
}

}  // namespace thinsnap
