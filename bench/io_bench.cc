#include "bench/io_bench.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "bench/io_bench_internal.h"

namespace thinsnap::bench {
namespace bench_internal {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Close(const std::string& what) {
  const int fd = Release();
  if (fd >= 0 && ::close(fd) != 0) ThrowErrno("close " + what, errno);
}

AlignedBuffer::AlignedBuffer(size_t bytes, size_t alignment) : size_(bytes) {
  void* p = nullptr;
  const int err = posix_memalign(&p, alignment, bytes);
  if (err != 0) ThrowErrno("allocate " + std::to_string(bytes) + " bytes of I/O buffers", err);
  data_ = static_cast<uint8_t*>(p);
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

std::string DescribeIo(const IoBenchOptions& options, bool write, uint64_t offset) {
  return std::string(write ? "write " : "read ") + options.target + " at offset " +
         std::to_string(offset);
}

}  // namespace bench_internal

namespace {

using bench_internal::AlignedBuffer;
using bench_internal::JobCounters;
using bench_internal::JobOutput;
using bench_internal::JobSpec;
using bench_internal::NowNs;
using bench_internal::UniqueFd;

constexpr std::array<std::string_view, 5> kPatternNames = {"read", "write", "randread", "randwrite",
                                                           "randrw"};
constexpr std::array<std::string_view, 3> kEngineNames = {"auto", "io_uring", "psync"};
constexpr unsigned kMaxIoDepth = 32768;  // io_uring's limit on ring entries
constexpr unsigned kMaxJobs = 4096;

// splitmix64's finalizer: a fast, well-mixing bijection on 64 bits.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// floor(r * n / 2^64): maps a uniform 64-bit r to [0, n) (Lemire's method, without the
// rejection step; the bias is below n / 2^64).
uint64_t ScaleTo(uint64_t r, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * n) >> 64);
}

bool IsRandom(IoPattern rw) {
  return rw == IoPattern::kRandRead || rw == IoPattern::kRandWrite || rw == IoPattern::kRandRw;
}

bool Writes(IoPattern rw) { return rw != IoPattern::kRead && rw != IoPattern::kRandRead; }

[[noreturn]] void ThrowUsage(const std::string& message) {
  throw Error(message, ErrorKind::kUsage);
}

}  // namespace

std::string_view IoPatternName(IoPattern rw) { return kPatternNames[static_cast<size_t>(rw)]; }

IoPattern ParseIoPattern(std::string_view name) {
  for (size_t i = 0; i < kPatternNames.size(); ++i) {
    if (kPatternNames[i] == name) return static_cast<IoPattern>(i);
  }
  ThrowUsage("unknown rw '" + std::string(name) +
             "': expected read, write, randread, randwrite or randrw");
}

std::string_view IoEngineName(IoEngine engine) { return kEngineNames[static_cast<size_t>(engine)]; }

IoEngine ParseIoEngine(std::string_view name) {
  for (size_t i = 0; i < kEngineNames.size(); ++i) {
    if (kEngineNames[i] == name) return static_cast<IoEngine>(i);
  }
  ThrowUsage("unknown engine '" + std::string(name) + "': expected auto, io_uring or psync");
}

// ---- IoSequence ----

IoSequence::IoSequence(const IoBenchOptions& options, uint64_t region_bytes, unsigned job)
    : rw_(options.rw),
      rwmix_read_(options.rwmix_read),
      random_map_(options.random_map),
      stride_(options.stride ? options.stride : options.bs),
      offset_(options.offset),
      blocks_(region_bytes / stride_),
      key_(Mix(options.seed ^ Mix(job + 1))),
      rng_state_(Mix(key_)) {
  const unsigned bits = std::max<unsigned>(2, std::bit_width(blocks_ - 1));
  half_bits_ = (bits + 1) / 2;
}

IoSequence IoSequence::Fork(unsigned worker) const {
  IoSequence copy = *this;
  copy.rng_state_ = Mix(key_ ^ Mix(0x1000 + worker));
  return copy;
}

uint64_t IoSequence::NextRandom() {
  rng_state_ += 0x9e3779b97f4a7c15;  // splitmix64
  return Mix(rng_state_);
}

// A pseudo-random permutation of [0, blocks_), one per pass: a 4-round balanced Feistel network
// on 2 * half_bits_ bits (a bijection whatever the round function), restricted to [0, blocks_)
// by cycle walking. Since 2^(2 * half_bits_) < 4 * blocks_, a walk takes < 4 steps on average.
uint64_t IoSequence::Permute(uint64_t index, uint64_t pass) const {
  const uint64_t mask = (uint64_t{1} << half_bits_) - 1;
  const uint64_t pass_key = Mix(key_ + pass);
  uint64_t x = index;
  do {
    uint64_t left = x >> half_bits_;
    uint64_t right = x & mask;
    for (uint64_t round = 0; round < 4; ++round) {
      const uint64_t f = Mix(right ^ (pass_key + round * 0x9e3779b97f4a7c15)) & mask;
      const uint64_t next_right = left ^ f;
      left = right;
      right = next_right;
    }
    x = (left << half_bits_) | right;
  } while (x >= blocks_);
  return x;
}

uint64_t IoSequence::BlockAt(uint64_t n) {
  if (!IsRandom(rw_)) return n % blocks_;
  if (random_map_) return Permute(n % blocks_, n / blocks_);
  return ScaleTo(NextRandom(), blocks_);
}

IoSequence::Io IoSequence::At(uint64_t n) {
  bool write = Writes(rw_);
  if (rw_ == IoPattern::kRandRw) write = ScaleTo(NextRandom(), 100) >= rwmix_read_;
  return {offset_ + BlockAt(n) * stride_, write};
}

namespace bench_internal {

void FillWriteBuffer(const IoBenchOptions& options, unsigned job, uint8_t* data, size_t bytes) {
  if (options.write_fill) {
    std::memset(data, *options.write_fill, bytes);
    return;
  }
  uint64_t state = Mix(options.seed ^ Mix(0x2000 + job));
  for (size_t i = 0; i < bytes; i += sizeof(uint64_t)) {
    state += 0x9e3779b97f4a7c15;
    const uint64_t r = Mix(state);
    std::memcpy(data + i, &r, std::min(sizeof r, bytes - i));
  }
}

}  // namespace bench_internal

// ---- the target ----

namespace {

struct TargetInfo {
  uint64_t bytes = 0;
  uint32_t logical_block_size = 512;
  uint32_t memory_alignment = 512;
  bool regular_file = false;
};

UniqueFd OpenTarget(const IoBenchOptions& o) {
  int flags = (Writes(o.rw) ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  if (o.direct) flags |= O_DIRECT;
  const int fd = ::open(o.target.c_str(), flags);
  if (fd < 0) ThrowErrno("open " + o.target + (o.direct ? " O_DIRECT" : ""), errno);
  return UniqueFd(fd);
}

void ProbeBlockDevice(int fd, const std::string& path, TargetInfo& info) {
  if (ioctl(fd, BLKGETSIZE64, &info.bytes) != 0) ThrowErrno("BLKGETSIZE64 " + path, errno);
  int sector = 0;
  if (ioctl(fd, BLKSSZGET, &sector) != 0) ThrowErrno("BLKSSZGET " + path, errno);
  info.logical_block_size = static_cast<uint32_t>(sector);
  info.memory_alignment = info.logical_block_size;
}

// The file system says what O_DIRECT needs (statx STATX_DIOALIGN, Linux 6.1); 512 otherwise.
void ProbeRegularFile(int fd, const std::string& path, TargetInfo& info) {
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_SIZE | STATX_DIOALIGN, &stx) != 0) {
    ThrowErrno("statx " + path, errno);
  }
  info.regular_file = true;
  info.bytes = stx.stx_size;
  if ((stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align != 0) {
    info.logical_block_size = stx.stx_dio_offset_align;
    info.memory_alignment = stx.stx_dio_mem_align;
  }
}

TargetInfo ProbeTarget(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno("stat " + path, errno);
  TargetInfo info;
  if (S_ISBLK(st.st_mode)) {
    ProbeBlockDevice(fd, path, info);
  } else if (S_ISREG(st.st_mode)) {
    ProbeRegularFile(fd, path, info);
  } else {
    ThrowUsage(path + ": not a block device or regular file");
  }
  return info;
}

void CheckRanges(const IoBenchOptions& o) {
  if (o.target.empty()) ThrowUsage("no target given");
  if (o.bs == 0) ThrowUsage("bs must be positive");
  if (o.iodepth == 0 || o.iodepth > kMaxIoDepth) {
    ThrowUsage("iodepth " + std::to_string(o.iodepth) + " out of range [1, 32768]");
  }
  if (o.jobs == 0 || o.jobs > kMaxJobs) {
    ThrowUsage("jobs " + std::to_string(o.jobs) + " out of range [1, 4096]");
  }
  if (o.rwmix_read > 100) ThrowUsage("rwmix_read must be a percentage");
  if (o.stride != 0 && o.stride < o.bs) {
    ThrowUsage("stride " + std::to_string(o.stride) + " is smaller than bs " +
               std::to_string(o.bs));
  }
  if (!(o.runtime_seconds >= 0) || !(o.ramp_time_seconds >= 0)) {
    ThrowUsage("runtime and ramp_time must not be negative");
  }
}

void CheckAlignment(const IoBenchOptions& o, const TargetInfo& info) {
  if (!o.direct) return;
  const std::string lbs = std::to_string(info.logical_block_size);
  if (o.bs % info.logical_block_size != 0) {
    ThrowUsage("bs " + std::to_string(o.bs) + " is not a multiple of the logical block size (" +
               lbs + ") of " + o.target + ", as O_DIRECT requires");
  }
  if (o.stride % info.logical_block_size != 0) {
    ThrowUsage("stride " + std::to_string(o.stride) + " is not a multiple of the logical " +
               "block size (" + lbs + ") of " + o.target + ", as O_DIRECT requires");
  }
  if (o.offset % info.logical_block_size != 0) {
    ThrowUsage("offset " + std::to_string(o.offset) + " is not a multiple of the logical " +
               "block size (" + lbs + ") of " + o.target + ", as O_DIRECT requires");
  }
}

// Fills in the default size and rounds it down to whole blocks; checks the region fits, except
// that writes may extend a regular file.
uint64_t ResolveSize(const IoBenchOptions& o, const TargetInfo& info) {
  uint64_t size = o.size;
  if (size == 0) {
    if (o.offset >= info.bytes) {
      ThrowUsage("offset " + std::to_string(o.offset) + " is at or past the end of " + o.target +
                 " (" + std::to_string(info.bytes) + " bytes)");
    }
    size = info.bytes - o.offset;
  }
  const uint64_t stride = o.stride ? o.stride : o.bs;
  size -= size % stride;
  if (size == 0) ThrowUsage("the region of " + o.target + " is smaller than one block (stride)");
  const bool may_extend =
      info.regular_file &&
      !(o.rw == IoPattern::kRead || o.rw == IoPattern::kRandRead || o.rw == IoPattern::kRandRw);
  if (o.offset + size > info.bytes && !may_extend) {
    ThrowUsage("offset " + std::to_string(o.offset) + " + size " + std::to_string(size) +
               " is past the end of " + o.target + " (" + std::to_string(info.bytes) + " bytes)");
  }
  return size;
}

// ---- the engine choice ----

struct EngineChoice {
  IoEngine engine;
  std::string fallback_reason;
};

std::string ReadIoUringSysctl() {
  std::ifstream in("/proc/sys/kernel/io_uring_disabled");
  std::string value;
  if (!(in >> value)) return "";
  return "; kernel.io_uring_disabled=" + value;
}

// Returns 0 when a ring of `entries` can be set up, else the errno.
int ProbeIoUring(unsigned entries) {
  io_uring ring;
  const int ret = io_uring_queue_init(entries, &ring, 0);
  if (ret < 0) return -ret;
  io_uring_queue_exit(&ring);
  return 0;
}

EngineChoice ChooseEngine(const IoBenchOptions& o) {
  if (o.engine == IoEngine::kPsync) return {IoEngine::kPsync, "engine=psync requested"};
  const int err = ProbeIoUring(o.iodepth);
  if (err == 0) return {IoEngine::kIoUring, ""};
  const bool unavailable = err == ENOSYS || err == EPERM || err == EACCES;
  if (o.engine == IoEngine::kIoUring || !unavailable) ThrowErrno("io_uring_queue_init", err);
  return {IoEngine::kPsync, std::string("io_uring unavailable: io_uring_queue_init: ") +
                                std::strerror(err) + " (errno " + std::to_string(err) + ")" +
                                ReadIoUringSysctl()};
}

// ---- running the jobs ----

// The coordinator's view of the job threads: completion count, first error, abort flag.
class JobTracker {
 public:
  explicit JobTracker(unsigned jobs) : jobs_(jobs) {}

  void Run(const JobSpec& spec, IoEngine engine, JobCounters& counters, JobOutput& out) {
    try {
      if (engine == IoEngine::kIoUring) {
        bench_internal::RunUringJob(spec, counters, out);
      } else {
        bench_internal::RunPsyncJob(spec, counters, out);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
      abort_.store(true);
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    cv_.notify_all();
  }

  // Waits until `deadline` for all jobs to finish; true when they have.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return done_ == jobs_; });
  }

  void RethrowIfFailed() {
    if (error_) std::rethrow_exception(error_);
  }
  std::atomic<bool>* abort_flag() { return &abort_; }

 private:
  const unsigned jobs_;
  std::mutex mu_;
  std::condition_variable cv_;
  unsigned done_ = 0;
  std::exception_ptr error_;
  std::atomic<bool> abort_{false};
};

uint64_t SecondsToNs(double seconds) { return static_cast<uint64_t>(seconds * 1e9); }

JobSpec MakeJobSpec(const IoBenchOptions& o, const TargetInfo& info, unsigned index, int fd,
                    std::atomic<bool>* abort) {
  const bool time_based = o.runtime_seconds > 0;
  return JobSpec{
      .options = &o,
      .index = index,
      .fd = fd,
      .total_ios = time_based ? 0 : o.size / (o.stride ? o.stride : o.bs),
      .ramp_ns = SecondsToNs(o.ramp_time_seconds),
      .runtime_ns = SecondsToNs(o.runtime_seconds),
      .buffer_alignment = std::max<size_t>({4096, info.memory_alignment, 1}),
      .abort = abort,
  };
}

void ReportProgress(const IoBenchOptions& o, uint64_t start_ns,
                    const std::vector<JobCounters>& counters) {
  IoBenchProgress p;
  p.elapsed_seconds = static_cast<double>(NowNs() - start_ns) / 1e9;
  for (const JobCounters& c : counters) {
    p.ios += c.ios.load(std::memory_order_relaxed);
    p.bytes += c.bytes.load(std::memory_order_relaxed);
  }
  o.progress(p);
}

void Summarize(const std::vector<JobOutput>& outputs, IoBenchResult& result) {
  uint64_t measured_ns = 0;
  for (const JobOutput& out : outputs) {
    result.read.latency.Merge(out.read);
    result.write.latency.Merge(out.write);
    measured_ns = std::max(measured_ns, out.measured_ns);
  }
  result.elapsed_seconds = static_cast<double>(measured_ns) / 1e9;
  for (IoDirectionResult* d : {&result.read, &result.write}) {
    d->ios = d->latency.count();
    d->bytes = d->ios * result.options.bs;
    if (measured_ns == 0) continue;
    d->iops = static_cast<double>(d->ios) / result.elapsed_seconds;
    d->bytes_per_second = static_cast<double>(d->bytes) / result.elapsed_seconds;
  }
}

void RunJobs(const IoBenchOptions& o, const TargetInfo& info, IoBenchResult& result) {
  std::vector<UniqueFd> fds;
  for (unsigned j = 0; j < o.jobs; ++j) fds.push_back(OpenTarget(o));
  std::vector<JobCounters> counters(o.jobs);
  std::vector<JobOutput> outputs(o.jobs);
  JobTracker tracker(o.jobs);
  std::vector<JobSpec> specs;
  for (unsigned j = 0; j < o.jobs; ++j) {
    specs.push_back(MakeJobSpec(o, info, j, fds[j].get(), tracker.abort_flag()));
  }
  const uint64_t start_ns = NowNs();
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < o.jobs; ++j) {
    threads.emplace_back([&, j] { tracker.Run(specs[j], result.engine, counters[j], outputs[j]); });
  }
  // Progress on whole seconds since the start: a late wake-up does not delay the next one.
  const auto start = std::chrono::steady_clock::now();
  for (int tick = 1; !tracker.WaitUntil(start + std::chrono::seconds(tick)); ++tick) {
    if (o.progress) ReportProgress(o, start_ns, counters);
  }
  for (std::thread& t : threads) t.join();
  tracker.RethrowIfFailed();
  for (UniqueFd& fd : fds) fd.Close(o.target);
  for (const JobCounters& c : counters) result.total_ios += c.ios.load();
  Summarize(outputs, result);
}

struct CpuSample {
  double user = 0, system = 0;
  uint64_t wall_ns = 0;
};

CpuSample SampleCpu() {
  rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) ThrowErrno("getrusage", errno);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return {seconds(ru.ru_utime), seconds(ru.ru_stime), NowNs()};
}

}  // namespace

IoBenchResult RunIoBench(const IoBenchOptions& options) {
  CheckRanges(options);
  UniqueFd probe = OpenTarget(options);
  const TargetInfo info = ProbeTarget(probe.get(), options.target);
  probe.Close(options.target);
  CheckAlignment(options, info);

  IoBenchResult result;
  result.options = options;
  result.options.progress = nullptr;
  result.options.size = ResolveSize(options, info);
  result.target_bytes = info.bytes;
  result.logical_block_size = info.logical_block_size;
  EngineChoice choice = ChooseEngine(options);
  result.engine = choice.engine;
  result.fallback_reason = std::move(choice.fallback_reason);

  IoBenchOptions run_options = result.options;
  run_options.progress = options.progress;
  const CpuSample before = SampleCpu();
  RunJobs(run_options, info, result);
  const CpuSample after = SampleCpu();
  result.cpu_user_seconds = after.user - before.user;
  result.cpu_system_seconds = after.system - before.system;
  result.wall_seconds = static_cast<double>(after.wall_ns - before.wall_ns) / 1e9;
  return result;
}

}  // namespace thinsnap::bench
