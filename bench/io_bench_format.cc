// Output of io_bench.h: the text table and the fio-shaped JSON.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "base/error.h"
#include "base/strings.h"
#include "bench/io_bench.h"
#include "bench/io_bench_internal.h"

namespace thinsnap::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kPercentiles[] = {50.0, 90.0, 99.0, 99.9, 99.99};

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
      {"stride", o.stride ? o.stride : o.bs},
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
  if (r.wall_seconds > 0 && r.total_ios > 0) {
    const double cpu = r.cpu_user_seconds + r.cpu_system_seconds;
    text += Printf("cpu: usr %.1f%% sys %.1f%%, %.1fus per I/O\n",
                   100 * r.cpu_user_seconds / r.wall_seconds,
                   100 * r.cpu_system_seconds / r.wall_seconds, cpu * 1e6 / r.total_ios);
  }
  return text;
}

nlohmann::json IoBenchResultToJson(const IoBenchResult& r) {
  return {
      {"engine", IoEngineName(r.engine)},
      {"fallback_reason", r.fallback_reason},
      {"target_bytes", r.target_bytes},
      {"logical_block_size", r.logical_block_size},
      {"elapsed_ns", static_cast<uint64_t>(r.elapsed_seconds * 1e9)},
      // fio's names: percent of the wall time of the run
      {"usr_cpu", r.wall_seconds > 0 ? 100 * r.cpu_user_seconds / r.wall_seconds : 0.0},
      {"sys_cpu", r.wall_seconds > 0 ? 100 * r.cpu_system_seconds / r.wall_seconds : 0.0},
      {"cpu_us_per_io", r.total_ios ? (r.cpu_user_seconds + r.cpu_system_seconds) * 1e6 /
                                          static_cast<double>(r.total_ios)
                                    : 0.0},
      {"options", OptionsJson(r.options)},
      {"read", DirectionJson(r.read, r.elapsed_seconds)},
      {"write", DirectionJson(r.write, r.elapsed_seconds)},
  };
}

void WriteReportFile(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  bench_internal::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) ThrowErrno("open " + tmp, errno);
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("write " + tmp, errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) ThrowErrno("fsync " + tmp, errno);
  fd.Close(tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) ThrowErrno("rename " + tmp + " to " + path, errno);
}

std::string ReadReportFile(const std::string& path) {
  bench_internal::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) ThrowErrno("open " + path, errno);
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("read " + path, errno);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  fd.Close(path);
  return text;
}

}  // namespace thinsnap::bench
