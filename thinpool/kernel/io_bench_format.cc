// Output of io_bench.h: the text table and the fio-shaped JSON.
#include <cstdio>
#include <string>

#include "thinpool/kernel/io_bench.h"

namespace thinsnap::kernel {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kPercentiles[] = {50.0, 90.0, 99.0, 99.9, 99.99};

std::string Printf(const char* format, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

// 850ns, 12.3us, 4.56ms, 1.23s
std::string FormatNs(double ns) {
  if (ns < 1e3) return Printf("%.0fns", ns);
  if (ns < 1e6) return Printf("%.1fus", ns / 1e3);
  if (ns < 1e9) return Printf("%.2fms", ns / 1e6);
  return Printf("%.2fs", ns / 1e9);
}

// fio's percentile keys: "99.900000".
std::string PercentileKey(double p) { return Printf("%f", p); }

std::string FormatDirection(const char* name, const IoDirectionResult& d) {
  const LatencyHistogram& h = d.latency;
  return Printf("%-6s %12llu %12.1f %10.2f %9s %9s %9s %9s %9s\n", name,
                static_cast<unsigned long long>(d.ios), d.iops, d.bytes_per_second / kMiB,
                FormatNs(h.mean()).c_str(), FormatNs(h.Percentile(50)).c_str(),
                FormatNs(h.Percentile(99)).c_str(), FormatNs(h.Percentile(99.9)).c_str(),
                FormatNs(static_cast<double>(h.max())).c_str());
}

nlohmann::json LatencyJson(const LatencyHistogram& h) {
  nlohmann::json percentiles = nlohmann::json::object();
  for (double p : kPercentiles) percentiles[PercentileKey(p)] = h.Percentile(p);
  return {{"min", h.min()},
          {"max", h.max()},
          {"mean", h.mean()},
          {"N", h.count()},
          {"percentile", percentiles}};
}

nlohmann::json DirectionJson(const IoDirectionResult& d, double elapsed_seconds) {
  return {
      {"total_ios", d.ios},
      {"io_bytes", d.bytes},
      {"iops", d.iops},
      {"bw_bytes", static_cast<uint64_t>(d.bytes_per_second)},
      {"bw", static_cast<uint64_t>(d.bytes_per_second / 1024)},   // KiB/s, as fio
      {"runtime", static_cast<uint64_t>(elapsed_seconds * 1e3)},  // ms, as fio
      {"lat_ns", LatencyJson(d.latency)},
  };
}

nlohmann::json OptionsJson(const IoBenchOptions& o) {
  nlohmann::json j = {
      {"filename", o.target},
      {"rw", IoPatternName(o.rw)},
      {"bs", o.bs},
      {"iodepth", o.iodepth},
      {"iodepth_batch_submit", o.submit_batch ? o.submit_batch : o.iodepth},
      {"numjobs", o.jobs},
      {"runtime", o.runtime_seconds},
      {"ramp_time", o.ramp_time_seconds},
      {"size", o.size},
      {"offset", o.offset},
      {"direct", o.direct},
      {"ioengine", IoEngineName(o.engine)},
      {"randseed", o.seed},
      {"norandommap", !o.random_map},
  };
  if (o.rw == IoPattern::kRandRw) j["rwmixread"] = o.rwmix_read;
  return j;
}

}  // namespace

std::string FormatIoBenchText(const IoBenchResult& r) {
  const IoBenchOptions& o = r.options;
  std::string text =
      Printf("%s bs=%llu iodepth=%u jobs=%u engine=%s target=%s\n",
             std::string(IoPatternName(o.rw)).c_str(), static_cast<unsigned long long>(o.bs),
             o.iodepth, o.jobs, std::string(IoEngineName(r.engine)).c_str(), o.target.c_str());
  if (!r.fallback_reason.empty()) text += "fell back to psync: " + r.fallback_reason + "\n";
  text += Printf("%-6s %12s %12s %10s %9s %9s %9s %9s %9s\n", "", "ios", "IOPS", "MiB/s",
                 "lat mean", "p50", "p99", "p99.9", "max");
  if (r.read.ios) text += FormatDirection("read", r.read);
  if (r.write.ios) text += FormatDirection("write", r.write);
  text += Printf("elapsed %.2fs\n", r.elapsed_seconds);
  return text;
}

nlohmann::json IoBenchResultToJson(const IoBenchResult& r) {
  return {
      {"engine", IoEngineName(r.engine)},
      {"fallback_reason", r.fallback_reason},
      {"target_bytes", r.target_bytes},
      {"logical_block_size", r.logical_block_size},
      {"elapsed_ns", static_cast<uint64_t>(r.elapsed_seconds * 1e9)},
      {"options", OptionsJson(r.options)},
      {"read", DirectionJson(r.read, r.elapsed_seconds)},
      {"write", DirectionJson(r.write, r.elapsed_seconds)},
  };
}

}  // namespace thinsnap::kernel
