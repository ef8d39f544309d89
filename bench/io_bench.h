// The I/O benchmark engine behind `thinsnap bench io`: fio-like sequential and random block I/O
// against a block device or file, measured with per-I/O completion latency.
//
// Engines. io_uring (liburing): one ring per job thread, O_DIRECT, registered buffers
// (read_fixed/write_fixed) and a registered file (IOSQE_FIXED_FILE); the ring is filled up to
// iodepth and submitted with one io_uring_submit per batch, completions are reaped in batches.
// psync: `iodepth` threads per job, each doing blocking pread/pwrite. engine=auto uses io_uring
// and falls back to psync when io_uring_queue_init fails with ENOSYS/EPERM/EACCES (kernel without
// io_uring, kernel.io_uring_disabled, seccomp); IoBenchResult says which engine ran and why.
//
// Semantics chosen to match fio's defaults, so results are comparable:
//  - Each job covers the region [offset, offset + size) on its own and all jobs start at `offset`
//    (fio: size is per job, offset_increment=0). A size-bounded run does exactly
//    jobs * (size / bs) I/Os.
//  - Random offsets are bs-aligned and uniform over the region. With random_map (default, as fio's
//    randommap) each pass visits every block exactly once in a pseudo-random order; this is done
//    with a keyed permutation (Feistel network + cycle walking), so it needs no memory. With
//    random_map=false offsets are independent uniform draws (fio --norandommap).
//  - runtime > 0 makes the run time-based (fio --time_based): I/O loops over the region until
//    ramp_time + runtime has elapsed. runtime == 0: the run ends when the region is covered.
//  - I/Os completing during the first ramp_time seconds are not counted in the result.
//  - Latency is submit->complete (fio's clat) on CLOCK_MONOTONIC.
//  - Writes are not fsync'd at the end (fio end_fsync=0).
//
// Errors: RunIoBench throws thinsnap::Error (base/error.h) naming the operation and path, e.g.
// "open /dev/nvme0n1 O_DIRECT: Invalid argument (errno 22)". Invalid options (e.g. bs not a
// multiple of the target's logical block size) are reported with ErrorKind::kUsage before any I/O.
//
// Thread-safety: RunIoBench may be called from any thread; it blocks until the run is over and
// calls the progress callback on the calling thread.
#ifndef THINSNAP_BENCH_IO_BENCH_H_
#define THINSNAP_BENCH_IO_BENCH_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "bench/latency_histogram.h"

namespace thinsnap::bench {

enum class IoPattern { kRead, kWrite, kRandRead, kRandWrite, kRandRw };
enum class IoEngine { kAuto, kIoUring, kPsync };

// Names as fio spells them: "read", "write", "randread", "randwrite", "randrw".
std::string_view IoPatternName(IoPattern rw);
// Throws Error(kUsage) for an unknown name.
IoPattern ParseIoPattern(std::string_view name);
// "auto", "io_uring", "psync".
std::string_view IoEngineName(IoEngine engine);
IoEngine ParseIoEngine(std::string_view name);

struct IoBenchProgress {
  double elapsed_seconds = 0;  // since the run started, ramp included
  uint64_t ios = 0;            // completed so far, all jobs, ramp included
  uint64_t bytes = 0;
};

struct IoBenchOptions {
  std::string target;  // block device or existing regular file
  IoPattern rw = IoPattern::kRead;
  unsigned rwmix_read = 50;  // percent of reads for randrw
  uint64_t bs = 4096;        // bytes per I/O
  // Distance between the starts of the blocks the region is cut into; 0 = bs. With stride > bs
  // each I/O touches the first bs bytes of its block and skips the rest (fio: rw=write:<gap>),
  // e.g. one 4 KiB write per 1 MiB pool block. REQUIRES: 0 or >= bs, a multiple of the target's
  // logical block size.
  uint64_t stride = 0;
  unsigned iodepth = 32;  // I/Os in flight per job
  // io_uring: I/Os queued per io_uring_enter; 0 = all free slots at once (the default). fio's
  // default (iodepth_batch_submit=1) submits each I/O as soon as a slot frees: 1 here.
  unsigned submit_batch = 0;
  unsigned jobs = 1;           // job threads
  double runtime_seconds = 0;  // > 0: time-based; 0: until the region is covered once
  uint64_t size = 0;           // bytes of the target per job; 0: from offset to the end
  uint64_t offset = 0;         // first byte of the region
  bool direct = true;          // O_DIRECT
  double ramp_time_seconds = 0;
  IoEngine engine = IoEngine::kAuto;
  uint64_t seed = 0x7468696e736e6170;  // random offsets, randrw mix, random write data
  bool random_map = true;              // see above; false = fio --norandommap
  // Contents of write buffers: this byte everywhere, or (unset) seeded pseudo-random bytes.
  std::optional<uint8_t> write_fill;
  // Called about once a second on the thread running RunIoBench. May be empty.
  std::function<void(const IoBenchProgress&)> progress;
};

struct IoDirectionResult {
  uint64_t ios = 0;
  uint64_t bytes = 0;
  double iops = 0;
  double bytes_per_second = 0;
  LatencyHistogram latency;  // completion latency, ns
};

struct IoBenchResult {
  IoBenchOptions options;                // as run: size resolved, progress callback cleared
  IoEngine engine = IoEngine::kIoUring;  // the engine that ran: kIoUring or kPsync
  std::string fallback_reason;           // why psync ran; empty for io_uring
  uint64_t target_bytes = 0;             // size of the target
  uint32_t logical_block_size = 0;
  double elapsed_seconds = 0;  // measured part (after ramp), longest job
  // CPU time of this process over the whole run (ramp included; getrusage RUSAGE_SELF), and the
  // wall time it is measured against: what the benchmark itself costs per I/O.
  double cpu_user_seconds = 0, cpu_system_seconds = 0, wall_seconds = 0;
  uint64_t total_ios = 0;  // ramp included
  IoDirectionResult read;
  IoDirectionResult write;
};

// Runs the benchmark described by options. Throws thinsnap::Error.
// REQUIRES: options.target exists; writes destroy its contents in the region.
IoBenchResult RunIoBench(const IoBenchOptions& options);

// A human-readable table: one line per direction with IOPS, MiB/s (2^20), mean/p50/p99/p99.9/max.
std::string FormatIoBenchText(const IoBenchResult& result);

// fio-shaped JSON: {"engine", "fallback_reason", "options": {...}, "elapsed_ns", "read": {
// "total_ios", "io_bytes", "iops", "bw_bytes", "bw" (KiB/s), "runtime" (ms), "lat_ns": {"min",
// "max", "mean", "N", "percentile": {"50.000000": ..., "99.000000", "99.900000"}}}, "write": ...}.
nlohmann::json IoBenchResultToJson(const IoBenchResult& result);

// Writes a benchmark's report (table, CSV, SVG) to `path`, replacing it: written to path.tmp,
// fsync'd and renamed, so a reader never sees half a file. Throws Error naming the path.
void WriteReportFile(const std::string& path, std::string_view text);
// Reads a report back (e.g. a CSV to render again). Throws Error naming the path.
std::string ReadReportFile(const std::string& path);

// The offset and direction of every I/O of one job, deterministic given (options, job): the n-th
// I/O is At(n). Exposed so tests can check bounds and coverage without running I/O.
// Thread-safety: At() is const for sequential and random-map patterns; with random_map=false and
// for randrw it draws from an internal generator, so each thread uses its own copy (Fork()).
class IoSequence {
 public:
  struct Io {
    uint64_t offset;
    bool write;
  };
  // REQUIRES: region_bytes is a nonzero multiple of the stride (options.stride, or bs).
  IoSequence(const IoBenchOptions& options, uint64_t region_bytes, unsigned job);
  Io At(uint64_t n);
  // A copy with its own random stream, for worker `worker` of the same job.
  IoSequence Fork(unsigned worker) const;

 private:
  uint64_t BlockAt(uint64_t n);
  uint64_t Permute(uint64_t index, uint64_t pass) const;
  uint64_t NextRandom();

  IoPattern rw_;
  unsigned rwmix_read_;
  bool random_map_;
  uint64_t stride_;
  uint64_t offset_;
  uint64_t blocks_;
  uint64_t key_;
  uint64_t rng_state_;
  unsigned half_bits_;  // the permutation works on 2 * half_bits_ >= log2(blocks_) bits
};

}  // namespace thinsnap::bench

#endif  // THINSNAP_BENCH_IO_BENCH_H_
