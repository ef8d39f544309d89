#include "cli/bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "base/units.h"
#include "bench/io_bench.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "thinpool/real_system.h"

namespace thinsnap::cli {
namespace {

struct IoArgs {
  std::string target, rw = "read", bs = "4k", size, offset = "0", engine = "auto";
  unsigned iodepth = 32, jobs = 1, rwmix = 50, submit_batch = 0;
  double runtime = 0, ramp = 0;  // runtime 0: 10 s, or one pass when --size is given
  bool norandommap = false, buffered = false;
};

struct OpsArgs {
  std::string from;
  unsigned count = 100;
  unsigned scale = 0;
  unsigned window = 100;  // --scale: creates timed at each end
  unsigned every = 0;     // --scale: a progress line every this many creates (0: none)
  unsigned opens = 0;
  bool activate = false;
};

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Summary {
  double p50 = 0, p95 = 0, max = 0, mean = 0;
};

Summary Summarize(std::vector<double> ms) {
  Summary s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  s.p50 = at(0.5);
  s.p95 = at(0.95);
  s.max = ms.back();
  for (double v : ms) s.mean += v;
  s.mean /= static_cast<double>(ms.size());
  return s;
}

nlohmann::json SummaryJson(const Summary& s) {
  return {{"p50_ms", s.p50}, {"p95_ms", s.p95}, {"max_ms", s.max}, {"mean_ms", s.mean}};
}

int RunIo(const IoArgs& a, bool json, Engine* engine) {
  bench::IoBenchOptions o;
  o.target = a.target;
  if (a.target.empty()) throw Error("bench io needs --target DEVICE|NAME", ErrorKind::kUsage);
  if (a.target[0] != '/' && engine) o.target = engine->Activate(a.target);
  o.rw = bench::ParseIoPattern(a.rw);
  o.rwmix_read = a.rwmix;
  o.bs = ParseSize(a.bs, "--bs");
  o.iodepth = a.iodepth;
  o.jobs = a.jobs;
  // --size alone: one pass over the region; --runtime (or neither): time-based over the region.
  o.runtime_seconds = a.runtime > 0 ? a.runtime : (a.size.empty() ? 10 : 0);
  if (!a.size.empty()) o.size = ParseSize(a.size, "--size");
  o.offset = ParseSize(a.offset, "--offset");
  o.ramp_time_seconds = a.ramp;
  o.engine = bench::ParseIoEngine(a.engine);
  o.submit_batch = a.submit_batch;
  o.random_map = !a.norandommap;
  o.direct = !a.buffered;
  if (isatty(STDERR_FILENO) && !json) {
    o.progress = [](const bench::IoBenchProgress& p) {
      std::fprintf(stderr, "\r%6.1fs  %12llu IOs  %10.1f MiB", p.elapsed_seconds,
                   static_cast<unsigned long long>(p.ios), static_cast<double>(p.bytes) / 1048576);
    };
  }
  bench::IoBenchResult r = bench::RunIoBench(o);
  if (o.progress) std::fprintf(stderr, "\n");
  if (json) {
    PrintJson(bench::IoBenchResultToJson(r));
  } else {
    std::cout << bench::FormatIoBenchText(r);
  }
  return 0;
}

// Creates `count` containers from `from` (activating each when asked), then removes them,
// timing every call through the engine API.
int RunOps(const OpsArgs& a, bool json, Engine& engine) {
  if (a.from.empty()) throw Error("bench ops needs --from LAYER", ErrorKind::kUsage);
  std::vector<double> create_ms, remove_ms;
  std::string prefix = "bench-" + std::to_string(getpid()) + "-";
  for (unsigned i = 0; i < a.count; ++i) {
    double t0 = NowMs();
    if (a.activate) {
      engine.CreateActiveContainer(prefix + std::to_string(i), a.from, std::nullopt);
    } else {
      engine.CreateContainer(prefix + std::to_string(i), a.from, std::nullopt);
    }
    create_ms.push_back(NowMs() - t0);
  }
  for (unsigned i = 0; i < a.count; ++i) {
    double t0 = NowMs();
    engine.Remove(prefix + std::to_string(i), /*force=*/true, /*discard=*/false);
    remove_ms.push_back(NowMs() - t0);
  }
  Summary c = Summarize(create_ms), r = Summarize(remove_ms);
  if (json) {
    PrintJson({{"count", a.count},
               {"activate", a.activate},
               {"create", SummaryJson(c)},
               {"remove", SummaryJson(r)}});
    return 0;
  }
  char line[200];
  std::printf("in-process, %u containers%s\n", a.count, a.activate ? " (+activate)" : "");
  std::snprintf(line, sizeof line, "create: p50 %.2f ms  p95 %.2f ms  max %.2f ms", c.p50, c.p95,
                c.max);
  std::printf("%s\n", line);
  std::snprintf(line, sizeof line, "remove: p50 %.2f ms  p95 %.2f ms  max %.2f ms", r.p50, r.p95,
                r.max);
  std::printf("%s\n", line);
  return 0;
}

// One "scale-progress" line: the creates since the previous line (their p50 and p95), the
// wall time since the start and the RSS, so a run cut short still leaves its figures.
void PrintScaleProgress(unsigned devices, double elapsed_ms, const std::vector<double>& since) {
  Summary s = Summarize(since);
  std::printf("scale-progress devices=%u elapsed_ms=%.0f p50_ms=%.2f p95_ms=%.2f rss_kib=%llu\n",
              devices, elapsed_ms, s.p50, s.p95,
              static_cast<unsigned long long>(kernel::ResidentSetBytes() / 1024));
  std::fflush(stdout);
}

// Grows the pool to `scale` containers, timing creates at the start and at the end (`window`
// each), then measures RSS; removes nothing (the caller destroys the pool).
int RunScale(const OpsArgs& a, bool json, Engine& engine) {
  if (a.from.empty()) throw Error("bench ops --scale needs --from LAYER", ErrorKind::kUsage);
  std::vector<double> first, last, since;
  unsigned window = std::max(1u, std::min(a.window, a.scale / 2));
  double start = NowMs();
  for (unsigned i = 0; i < a.scale; ++i) {
    double t0 = NowMs();
    engine.CreateContainer("scale-" + std::to_string(i), a.from, std::nullopt);
    double ms = NowMs() - t0;
    if (i < window) first.push_back(ms);
    if (i >= a.scale - window) last.push_back(ms);
    since.push_back(ms);
    if (a.every > 0 && (i + 1) % a.every == 0) {
      PrintScaleProgress(i + 1, NowMs() - start, since);
      since.clear();
    }
    if (isatty(STDERR_FILENO) && i % 500 == 0) std::fprintf(stderr, "\r%u devices", i);
  }
  uint64_t rss = kernel::ResidentSetBytes();
  Summary f = Summarize(first), l = Summarize(last);
  double ratio = f.p50 > 0 ? l.p50 / f.p50 : 0;
  if (json) {
    PrintJson({{"devices", a.scale},
               {"window", window},
               {"first", SummaryJson(f)},
               {"last", SummaryJson(l)},
               {"ratio_p50", ratio},
               {"rss_bytes", rss}});
    return 0;
  }
  std::printf("scale run to %u devices\n", a.scale);
  std::printf("create p50, first %u: %.2f ms; last %u: %.2f ms; ratio %.2f\n", window, f.p50,
              window, l.p50, ratio);
  std::printf("create p95, first %u: %.2f ms; last %u: %.2f ms\n", window, f.p95, window, l.p95);
  std::printf("RSS at %u devices: %s\n", a.scale, FormatSize(rss).c_str());
  return 0;
}

// Opens the engine on the root `opens` times in this process, timing Engine::Open (the root's
// lock, loading the checkpoint, replaying the journal, reconciling with the pool), and reports
// the catalog's size and the RSS after the last open. Runs without the CLI's own engine.
int RunOpen(const OpsArgs& a, Program* p) {
  EngineOptions opts = p->BaseEngineOptions();
  std::vector<double> open_ms;
  size_t devices = 0;
  uint64_t journal = 0;
  for (unsigned i = 0; i < a.opens; ++i) {
    double t0 = NowMs();
    std::unique_ptr<Engine> engine = Engine::Open(p->global().root, p->dm(), p->sys(), opts);
    open_ms.push_back(NowMs() - t0);
    devices = engine->List().size();
    journal = engine->store().journal_bytes();
  }
  uint64_t rss = kernel::ResidentSetBytes();
  Summary o = Summarize(open_ms);
  if (p->json()) {
    PrintJson({{"opens", a.opens},
               {"devices", devices},
               {"journal_bytes", journal},
               {"open", SummaryJson(o)},
               {"rss_bytes", rss}});
    return 0;
  }
  std::printf("open + recovery, %zu devices in the catalog, journal %s, %u opens\n", devices,
              FormatSize(journal).c_str(), a.opens);
  std::printf("open: p50 %.2f ms  p95 %.2f ms  max %.2f ms\n", o.p50, o.p95, o.max);
  std::printf("RSS after open: %s\n", FormatSize(rss).c_str());
  return 0;
}

void AddIo(CLI::App* bench, Program* p) {
  auto a = std::make_shared<IoArgs>();
  CLI::App* io = bench->add_subcommand("io", "io_uring block benchmark (like fio)");
  io->add_option("--target", a->target, "block device, file, or a thinsnap device name");
  io->add_option("--rw", a->rw, "read|write|randread|randwrite|randrw");
  io->add_option("--rwmixread", a->rwmix, "randrw: percent reads (default 50)");
  io->add_option("--bs", a->bs, "I/O size (default 4k)");
  io->add_option("--iodepth", a->iodepth, "I/Os in flight per job (default 32)");
  io->add_option("--jobs", a->jobs, "threads (default 1)");
  io->add_option("--runtime", a->runtime, "seconds, time-based (default 10 unless --size)");
  io->add_option("--size", a->size, "bytes per job: the region; alone, one pass over it");
  io->add_option("--offset", a->offset, "start offset");
  io->add_option("--ramp-time", a->ramp, "seconds not measured at the start");
  io->add_option("--engine", a->engine, "auto|io_uring|psync");
  io->add_option("--submit-batch", a->submit_batch,
                 "I/Os per submit (default 0: all free slots; fio's default is 1)");
  io->add_flag("--norandommap", a->norandommap, "allow repeated random offsets (fio's flag)");
  io->add_flag("--buffered", a->buffered, "page cache I/O instead of O_DIRECT");
  p->On(io, [p, a] {
    bool named = !a->target.empty() && a->target[0] != '/';
    return RunIo(*a, p->json(), named ? &p->engine() : nullptr);
  });
}

void AddOps(CLI::App* bench, Program* p) {
  auto a = std::make_shared<OpsArgs>();
  CLI::App* ops = bench->add_subcommand("ops", "container create/remove latency");
  ops->add_option("--from", a->from, "the layer containers start from");
  ops->add_option("--count", a->count, "containers (default 100)");
  ops->add_option("--scale", a->scale, "instead: create this many and time first vs last");
  ops->add_option("--window", a->window, "--scale: creates timed at each end (default 100)");
  ops->add_option("--every", a->every, "--scale: a progress line every N creates (default none)");
  ops->add_flag("--activate", a->activate, "activate each container after creating it");
  ops->add_option("--open", a->opens,
                  "instead: time opening the root (lock, load, recovery) N times");
  p->On(ops, [p, a] {
    if (a->opens > 0) return RunOpen(*a, p);
    return a->scale > 0 ? RunScale(*a, p->json(), p->engine()) : RunOps(*a, p->json(), p->engine());
  });
}

}  // namespace

void AddBenchCommands(CLI::App* app, Program* p) {
  CLI::App* bench = AddCommandGroup(app, "bench", "benchmarks");
  AddIo(bench, p);
  AddCowCommand(bench, p);
  AddDriversCommand(bench, p);
  AddOps(bench, p);
}

}  // namespace thinsnap::cli
