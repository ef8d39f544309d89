// Internals of io_bench.cc shared with io_bench_engines.cc: the RAII handles and the per-job
// contract between the coordinator (RunIoBench) and the engines. Not part of the API.
#ifndef THINSNAP_BENCH_IO_BENCH_INTERNAL_H_
#define THINSNAP_BENCH_IO_BENCH_INTERNAL_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "bench/io_bench.h"
#include "bench/latency_histogram.h"

namespace thinsnap::bench::bench_internal {

// CLOCK_MONOTONIC in nanoseconds.
uint64_t NowNs();

// Owns one file descriptor. Move-only; Close() reports the error, the destructor only backs it up.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  int Release();
  // Throws Error naming `what` when close(2) fails.
  void Close(const std::string& what);

 private:
  int fd_ = -1;
};

// Memory aligned for O_DIRECT, freed on destruction. Move-only.
class AlignedBuffer {
 public:
  // Throws Error on allocation failure. REQUIRES: alignment is a power of two.
  AlignedBuffer(size_t bytes, size_t alignment);
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&&) = delete;
  AlignedBuffer(const AlignedBuffer&) = delete;
  ~AlignedBuffer();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

// Progress of one job, written by its threads and read by the coordinator for the progress line.
struct alignas(64) JobCounters {
  std::atomic<uint64_t> ios{0};
  std::atomic<uint64_t> bytes{0};
};

// What a job is to do. All pointers outlive the job.
struct JobSpec {
  const IoBenchOptions* options;  // resolved: size is the region size, a multiple of bs
  unsigned index;                 // job number, seeds its sequence
  int fd;                         // opened by the coordinator with the right flags
  uint64_t total_ios;             // size-bounded runs: I/Os to do; 0 for time-based runs
  uint64_t ramp_ns;
  uint64_t runtime_ns;  // 0 unless time-based
  size_t buffer_alignment;
  std::atomic<bool>* abort;  // set when any job failed: stop issuing
};

// What a job measured after its ramp.
struct JobOutput {
  LatencyHistogram read;
  LatencyHistogram write;
  uint64_t measured_ns = 0;
};

// Fills a write buffer with options.write_fill or seeded pseudo-random bytes.
void FillWriteBuffer(const IoBenchOptions& options, unsigned job, uint8_t* data, size_t bytes);

// "read /dev/loop0 at offset 4096" — the operation named in error messages.
std::string DescribeIo(const IoBenchOptions& options, bool write, uint64_t offset);

// The engines. Both throw thinsnap::Error on the first failed I/O.
void RunUringJob(const JobSpec& spec, JobCounters& counters, JobOutput& out);
void RunPsyncJob(const JobSpec& spec, JobCounters& counters, JobOutput& out);

}  // namespace thinsnap::bench::bench_internal

#endif  // THINSNAP_BENCH_IO_BENCH_INTERNAL_H_
