// The snapshot experiment behind `thinsnap bench cow`: what copy-on-write costs on a thin device.
//
// For every pool block size B and I/O size S it measures, with bench::RunIoBench (O_DIRECT,
// io_uring), writes of S bytes at a stride of max(S, B) bytes, so that every write lands in a pool
// block of its own, each block once, in a random order:
//   first_write  into a fresh thin volume: every write provisions its block(s);
//   owned_write  the same offsets again: the blocks belong to the volume;
//   cow_write    the same offsets after a snapshot of the volume: every write breaks sharing (for
//                S < B the kernel copies the whole block first);
//   raw_write    the same offsets on the raw device (after one untimed pass that writes them).
// Then, on the smallest block size, a chain of snapshots c0 <- c1 <- ... <- cN (c0 fully written,
// each ci overwriting one block of its own) and random 4 KiB reads, one per pool block, on ci for
// each depth i asked for (chain_read, depth 0 = c0), and the same reads on the raw device
// (raw_read).
//
// Where the pools come from (CowBenchOptions::pools):
//   kScratchLoop: one loopback pool per block size under <scratch>/pool-<B>, destroyed after its
//                 run; the raw baseline is a loop device over <scratch>/raw.img, measured right
//                 after each thin measurement.
//   kScratchDirect: one direct-mode pool per block size on data_device/metadata_device, one after
//                 the other (the first create refuses devices carrying signatures unless force);
//                 the raw baseline runs on data_device after the last pool is destroyed.
//   kCurrent:     the engine's existing pool and its block size; devices named bench-cow-*,
//                 removed afterwards; a raw baseline only when raw_device is given.
// raw_device, when given, is used for the baseline in every mode, interleaved with the thin
// measurements. Its contents are overwritten. Each measurement is repeated `reps` times; a row
// holds the medians.
//
// Errors: thinsnap::Error; scratch pools and bench-cow-* devices are cleaned up on the way out
// (best effort; a failed cleanup is reported after the original error's message).
#ifndef THINSNAP_BENCH_COW_BENCH_H_
#define THINSNAP_BENCH_COW_BENCH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/io_bench.h"
#include "thinpool/engine.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"

namespace thinsnap {

enum class CowPools { kScratchLoop, kScratchDirect, kCurrent };

struct CowBenchOptions {
  CowPools pools = CowPools::kScratchLoop;
  std::string scratch;                       // kScratchLoop: a directory
  std::string data_device, metadata_device;  // kScratchDirect
  bool force = false;                        // kScratchDirect: overwrite signatures
  std::string raw_device;                    // optional baseline device
  std::vector<uint64_t> block_sizes = {64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20};
  std::vector<uint64_t> io_sizes = {4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20};
  std::vector<unsigned> depths = {1, 2, 4, 8, 16, 32, 64};
  unsigned ios = 256;                 // I/Os per measurement (fewer when max_region is reached)
  uint64_t max_region = 64ull << 20;  // bytes one measurement may span
  unsigned iodepth = 1;
  // Every measurement is repeated; rows carry the median of the repetitions' statistics. The raw
  // device, when it is free during the pools' runs, is measured right after each thin measurement.
  unsigned reps = 3;
  // Called with one line per step (which pool, which measurement); may be empty.
  std::function<void(const std::string&)> progress;
  // The scratch pools' engines' warnings (EngineOptions::warning); may be empty.
  std::function<void(const std::string&)> warning;
};

struct CowRow {
  std::string experiment;   // first_write, owned_write, cow_write, raw_write, chain_read, raw_read
  uint64_t pool_block = 0;  // bytes; the block size of the pool (raw rows: of the pattern)
  uint64_t io_size = 0;     // bytes per I/O
  uint64_t stride = 0;      // bytes between I/O starts
  int depth = -1;           // chain_read: snapshot depth; -1 otherwise
  uint64_t ios = 0;
  double iops = 0, mib_per_s = 0;
  double min_us = 0, mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0;
};

struct CowBenchResult {
  std::vector<CowRow> rows;
  std::string raw_device;  // the baseline device, empty when there was none
  unsigned iodepth = 1;
  unsigned reps = 1;
  // The latency statistic the table and the chart show: "p50" (default), "min", "mean" or "p99".
  // On a busy or emulated host, where a descheduled I/O thread adds milliseconds to a share of
  // the I/Os, "min" shows the cost of the kernel path itself. The CSV always has all of them.
  std::string stat = "p50";
  std::vector<std::string> notes;  // e.g. "no raw baseline: pass --raw DEV"
};

// Runs the experiment. `current` is the engine of the current pool (kCurrent), else unused.
// REQUIRES: dm and sys outlive the call.
CowBenchResult RunCowBench(const CowBenchOptions& options, kernel::DeviceMapper* dm,
                           kernel::System* sys, Engine* current);

// Parses what FormatCowCsv wrote back into rows (to render a table or chart again with another
// statistic). Throws Error(kUsage) naming the line that does not parse.
std::vector<CowRow> ParseCowCsv(const std::string& csv);

// Human-readable tables: per pool block size, write latency (result.stat) by I/O size for raw,
// first, owned and cow writes with the cow/owned ratio; then read latency by chain depth.
std::string FormatCowTable(const CowBenchResult& result);
// One header line and one line per row; columns named in the header. Parses with any CSV reader.
std::string FormatCowCsv(const CowBenchResult& result);
// A self-contained SVG: one panel per pool block size (p50 write latency against I/O size, log
// scale, one line per kind of write) and one panel for read latency against chain depth.
std::string FormatCowSvg(const CowBenchResult& result);

}  // namespace thinsnap

#endif  // THINSNAP_BENCH_COW_BENCH_H_
