// The two I/O engines of io_bench.h: io_uring (one ring per job) and psync (iodepth threads per
// job). Each runs one job as described by a JobSpec and fills a JobOutput.
#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "bench/io_bench_internal.h"

namespace thinsnap::bench::bench_internal {
namespace {

constexpr uint64_t kNever = UINT64_MAX;

// The time window of one job, fixed when its I/O starts.
struct Window {
  uint64_t ramp_end;
  uint64_t deadline;  // kNever for size-bounded runs

  static Window Start(const JobSpec& spec) {
    const uint64_t ramp_end = NowNs() + spec.ramp_ns;
    return {ramp_end, spec.runtime_ns ? ramp_end + spec.runtime_ns : kNever};
  }
  uint64_t MeasuredUntil(uint64_t end) const { return end > ramp_end ? end - ramp_end : 0; }
};

[[noreturn]] void ThrowShortIo(const IoBenchOptions& o, bool write, uint64_t offset, int64_t got) {
  throw Error(DescribeIo(o, write, offset) + ": short transfer, " + std::to_string(got) + " of " +
              std::to_string(o.bs) + " bytes");
}

// One io_uring instance. Not movable: liburing's struct is used in place.
class Ring {
 public:
  explicit Ring(unsigned entries) {
    const int ret = io_uring_queue_init(entries, &ring_, 0);
    if (ret < 0) ThrowErrno("io_uring_queue_init", -ret);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { io_uring_queue_exit(&ring_); }

  io_uring* get() { return &ring_; }

 private:
  io_uring ring_;
};

// The io_uring engine for one job: iodepth slots, each owning one registered buffer. The loop
// fills every free slot (or submit_batch of them at a time), submits the batch with one syscall
// (which, once the ring is full, also waits for a completion), then reaps all available
// completions at once.
class UringJob {
 public:
  UringJob(const JobSpec& spec, JobCounters& counters, JobOutput& out);
  void Run();

 private:
  struct Slot {
    uint64_t submit_ns;
    uint64_t offset;
    bool write;
  };

  void Register();
  bool CanIssueMore();
  void FillQueue();
  void Submit();
  void SubmitAndWait();
  void Reap();
  void Complete(const io_uring_cqe& cqe, uint64_t now);

  const JobSpec& spec_;
  const IoBenchOptions& options_;
  JobCounters& counters_;
  JobOutput& out_;
  AlignedBuffer buffers_;  // declared before ring_: outlives it, so in-flight I/O stays valid
  Ring ring_;
  IoSequence sequence_;
  std::vector<Slot> slots_;
  std::vector<unsigned> free_slots_;
  std::vector<io_uring_cqe*> cqes_;
  Window window_{};
  uint64_t issued_ = 0;
  uint64_t completed_ = 0;
  unsigned inflight_ = 0;
  unsigned unsubmitted_ = 0;
  bool stop_issuing_ = false;
};

UringJob::UringJob(const JobSpec& spec, JobCounters& counters, JobOutput& out)
    : spec_(spec),
      options_(*spec.options),
      counters_(counters),
      out_(out),
      buffers_(size_t{spec.options->iodepth} * spec.options->bs, spec.buffer_alignment),
      ring_(spec.options->iodepth),
      sequence_(*spec.options, spec.options->size, spec.index),
      slots_(spec.options->iodepth),
      cqes_(spec.options->iodepth) {
  FillWriteBuffer(options_, spec.index, buffers_.data(), buffers_.size());
  for (unsigned i = options_.iodepth; i > 0; --i) free_slots_.push_back(i - 1);
  Register();
}

void UringJob::Register() {
  std::vector<iovec> iovs(options_.iodepth);
  for (unsigned i = 0; i < iovs.size(); ++i) {
    iovs[i] = {buffers_.data() + size_t{i} * options_.bs, options_.bs};
  }
  int ret = io_uring_register_buffers(ring_.get(), iovs.data(), iovs.size());
  if (ret < 0) ThrowErrno("io_uring_register_buffers", -ret);
  ret = io_uring_register_files(ring_.get(), &spec_.fd, 1);
  if (ret < 0) ThrowErrno("io_uring_register_files " + options_.target, -ret);
}

void UringJob::Run() {
  window_ = Window::Start(spec_);
  while (true) {
    FillQueue();
    if (inflight_ == 0) break;
    if (unsubmitted_ > 0 && CanIssueMore()) {
      Submit();  // a partial batch (submit_batch): submit it and queue the next one
      continue;
    }
    SubmitAndWait();
    Reap();
  }
  out_.measured_ns = window_.MeasuredUntil(NowNs());
}

bool UringJob::CanIssueMore() {
  if (spec_.total_ios && issued_ == spec_.total_ios) stop_issuing_ = true;
  return !stop_issuing_ && inflight_ < options_.iodepth;
}

void UringJob::Submit() {
  int ret;
  while ((ret = io_uring_submit(ring_.get())) == -EINTR) {
  }
  if (ret < 0) ThrowErrno("io_uring_submit", -ret);
  unsubmitted_ -= static_cast<unsigned>(ret);
}

void UringJob::FillQueue() {
  const uint64_t now = NowNs();
  const unsigned batch = options_.submit_batch ? options_.submit_batch : options_.iodepth;
  for (unsigned queued = 0; queued < batch && CanIssueMore(); ++queued) {
    const unsigned slot = free_slots_.back();
    free_slots_.pop_back();
    const IoSequence::Io io = sequence_.At(issued_++);
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());  // never null: inflight < ring size
    uint8_t* buf = buffers_.data() + size_t{slot} * options_.bs;
    if (io.write) {
      io_uring_prep_write_fixed(sqe, 0, buf, options_.bs, io.offset, slot);
    } else {
      io_uring_prep_read_fixed(sqe, 0, buf, options_.bs, io.offset, slot);
    }
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    io_uring_sqe_set_data64(sqe, slot);
    slots_[slot] = {now, io.offset, io.write};
    ++inflight_;
    ++unsubmitted_;
  }
}

// One io_uring_enter per batch: submits what FillQueue queued and waits for >= 1 completion.
void UringJob::SubmitAndWait() {
  while (true) {
    const int ret = unsubmitted_ ? io_uring_submit_and_wait(ring_.get(), 1)
                                 : io_uring_wait_cqe_nr(ring_.get(), &cqes_[0], 1);
    if (ret >= 0) {
      if (unsubmitted_) unsubmitted_ -= static_cast<unsigned>(ret);
      return;
    }
    if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) ThrowErrno("io_uring_enter", -ret);
    if (ret != -EINTR && io_uring_cq_ready(ring_.get()) > 0) return;
  }
}

void UringJob::Reap() {
  const unsigned n = io_uring_peek_batch_cqe(ring_.get(), cqes_.data(), cqes_.size());
  const uint64_t now = NowNs();
  for (unsigned i = 0; i < n; ++i) Complete(*cqes_[i], now);
  io_uring_cq_advance(ring_.get(), n);
  completed_ += n;
  counters_.ios.store(completed_, std::memory_order_relaxed);
  counters_.bytes.store(completed_ * options_.bs, std::memory_order_relaxed);
  if (now >= window_.deadline || spec_.abort->load(std::memory_order_relaxed)) {
    stop_issuing_ = true;
  }
}

void UringJob::Complete(const io_uring_cqe& cqe, uint64_t now) {
  const unsigned slot = static_cast<unsigned>(io_uring_cqe_get_data64(&cqe));
  const Slot& s = slots_[slot];
  if (cqe.res < 0) ThrowErrno(DescribeIo(options_, s.write, s.offset), -cqe.res);
  if (static_cast<uint64_t>(cqe.res) != options_.bs) {
    ThrowShortIo(options_, s.write, s.offset, cqe.res);
  }
  if (now >= window_.ramp_end) (s.write ? out_.write : out_.read).Record(now - s.submit_ns);
  free_slots_.push_back(slot);
  --inflight_;
}

// Collects the first exception of several threads.
class FirstError {
 public:
  void Capture(std::atomic<bool>* abort) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::current_exception();
    abort->store(true);
  }
  void RethrowIfAny() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mu_;
  std::exception_ptr error_;
};

// One blocking pread/pwrite of the whole block, retried on EINTR.
void TransferOnce(const IoBenchOptions& o, int fd, const IoSequence::Io& io, uint8_t* buf) {
  ssize_t ret;
  do {
    ret = io.write ? pwrite(fd, buf, o.bs, io.offset) : pread(fd, buf, o.bs, io.offset);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0) ThrowErrno(DescribeIo(o, io.write, io.offset), errno);
  if (static_cast<uint64_t>(ret) != o.bs) ThrowShortIo(o, io.write, io.offset, ret);
}

// Shared state of the psync workers of one job: they draw I/O numbers from one counter.
struct PsyncShared {
  const JobSpec& spec;
  JobCounters& counters;
  const IoSequence& sequence;
  Window window;
  std::atomic<uint64_t> next_io{0};
};

void PsyncWorker(PsyncShared& shared, unsigned worker, JobOutput& out) {
  const IoBenchOptions& o = *shared.spec.options;
  AlignedBuffer buffer(o.bs, shared.spec.buffer_alignment);
  FillWriteBuffer(o, shared.spec.index, buffer.data(), buffer.size());
  IoSequence sequence = shared.sequence.Fork(worker);
  while (!shared.spec.abort->load(std::memory_order_relaxed)) {
    const uint64_t n = shared.next_io.fetch_add(1, std::memory_order_relaxed);
    if (shared.spec.total_ios && n >= shared.spec.total_ios) break;
    const uint64_t start = NowNs();
    if (start >= shared.window.deadline) break;
    const IoSequence::Io io = sequence.At(n);
    TransferOnce(o, shared.spec.fd, io, buffer.data());
    const uint64_t end = NowNs();
    if (end >= shared.window.ramp_end) (io.write ? out.write : out.read).Record(end - start);
    shared.counters.ios.fetch_add(1, std::memory_order_relaxed);
    shared.counters.bytes.fetch_add(o.bs, std::memory_order_relaxed);
  }
}

}  // namespace

void RunUringJob(const JobSpec& spec, JobCounters& counters, JobOutput& out) {
  UringJob job(spec, counters, out);
  job.Run();
}

void RunPsyncJob(const JobSpec& spec, JobCounters& counters, JobOutput& out) {
  const IoSequence sequence(*spec.options, spec.options->size, spec.index);
  PsyncShared shared{spec, counters, sequence, Window::Start(spec)};
  std::vector<JobOutput> outputs(spec.options->iodepth);
  FirstError first_error;
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < outputs.size(); ++w) {
    workers.emplace_back([&, w] {
      try {
        PsyncWorker(shared, w, outputs[w]);
      } catch (...) {
        first_error.Capture(spec.abort);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  out.measured_ns = shared.window.MeasuredUntil(NowNs());
  first_error.RethrowIfAny();
  for (const JobOutput& o : outputs) {
    out.read.Merge(o.read);
    out.write.Merge(o.write);
  }
}

}  // namespace thinsnap::bench::bench_internal
