#include "bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace thinsnap::bench {
namespace {

// Values below 2^kExactBits are their own bucket; above, each power of two is split into
// 2^(kExactBits - 1) buckets.
constexpr int kExactBits = 8;
constexpr uint64_t kExactLimit = uint64_t{1} << kExactBits;        // 256
constexpr uint64_t kSubBuckets = uint64_t{1} << (kExactBits - 1);  // 128
constexpr uint32_t kBucketCount = (64 - kExactBits + 1) * kSubBuckets + kSubBuckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

uint32_t LatencyHistogram::BucketFor(uint64_t ns) {
  if (ns < kExactLimit) return static_cast<uint32_t>(ns);
  // shift >= 1 keeps the top kExactBits bits, whose value m lies in [128, 256).
  const int shift = std::bit_width(ns) - kExactBits;
  const uint64_t m = ns >> shift;
  return static_cast<uint32_t>(shift * kSubBuckets + m);
}

uint64_t LatencyHistogram::BucketLow(uint32_t bucket) {
  if (bucket < kExactLimit) return bucket;
  const uint32_t shift = bucket / kSubBuckets - 1;
  const uint64_t m = bucket - shift * kSubBuckets;
  return m << shift;
}

uint64_t LatencyHistogram::BucketHigh(uint32_t bucket) {
  if (bucket < kExactLimit) return bucket;
  const uint32_t shift = bucket / kSubBuckets - 1;
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  const double wanted = std::ceil(percent / 100.0 * static_cast<double>(count_));
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(wanted), 1, count_);
  uint64_t seen = 0;
  for (uint32_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen < rank) continue;
    const uint64_t low = BucketLow(b);
    const uint64_t mid = low + (BucketHigh(b) - low) / 2;
    return std::clamp(mid, min(), max_);
  }
  return max_;
}

}  // namespace thinsnap::bench
