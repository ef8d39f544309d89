// LatencyHistogram: a fixed-size log-linear histogram of nanosecond latencies, in the manner of
// HdrHistogram. Values below 256 ns are counted exactly; above, every power-of-two range is split
// into 128 equal buckets, so a bucket is at most 1/128 (0.78%) of its values wide and a reported
// percentile (the bucket's midpoint, clamped to the recorded min/max) is within ~0.4% of the true
// sample. Memory is fixed (~58 KiB) whatever the range, up to 2^63 ns.
//
// Thread-safety: none. The intended use is one histogram per thread, recorded without locks or
// atomics, and merged with Merge() after the threads have been joined.
#ifndef THINSNAP_BENCH_LATENCY_HISTOGRAM_H_
#define THINSNAP_BENCH_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace thinsnap::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Counts one sample. O(1), no allocation.
  void Record(uint64_t ns) {
    ++buckets_[BucketFor(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }

  // Adds every sample of other into this one.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // 0 when empty.
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

  // The value below or at which `percent` % of the samples lie (nearest rank), e.g. 99.9.
  // REQUIRES: 0 <= percent <= 100. Returns 0 when empty.
  uint64_t Percentile(double percent) const;

  // Bucket layout, exposed for tests: the index a value falls in and a bucket's [low, high] range.
  static uint32_t BucketFor(uint64_t ns);
  static uint64_t BucketLow(uint32_t bucket);
  static uint64_t BucketHigh(uint32_t bucket);

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace thinsnap::bench

#endif  // THINSNAP_BENCH_LATENCY_HISTOGRAM_H_
