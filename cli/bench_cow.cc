// `thinsnap bench cow`: the snapshot experiment (bench/cow_bench.h) on the command line.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/strings.h"
#include "base/units.h"
#include "bench/cow_bench.h"
#include "cli/bench.h"
#include "cli/output.h"

namespace thinsnap::cli {
namespace {

struct CowArgs {
  std::string scratch, data, metadata, raw, csv, out, render, stat = "p50";
  std::string block_sizes = "64k,128k,256k,512k,1m";
  std::string io_sizes = "4k,16k,64k,256k,1m";
  std::string depths = "1,2,4,8,16,32,64";
  std::string max_region = "64M";
  unsigned ios = 256, iodepth = 1, reps = 3;
  bool force = false, small = false;
};

std::vector<uint64_t> ParseSizes(const std::string& text, const std::string& what) {
  std::vector<uint64_t> v;
  for (const std::string& s : SplitList(text, ',')) v.push_back(ParseSize(s, what));
  return v;
}

std::vector<unsigned> ParseDepths(const std::string& text) {
  std::vector<unsigned> v;
  for (const std::string& s : SplitList(text, ',')) {
    size_t used = 0;
    unsigned long d = 0;
    try {
      d = std::stoul(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || d == 0 || d > 1000) {
      throw Error("--depths: '" + s + "' is not a depth in [1, 1000]", ErrorKind::kUsage);
    }
    v.push_back(static_cast<unsigned>(d));
  }
  return v;
}

nlohmann::json RowsJson(const CowBenchResult& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CowRow& row : r.rows) {
    nlohmann::json j = {{"experiment", row.experiment},
                        {"pool_block_bytes", row.pool_block},
                        {"io_bytes", row.io_size},
                        {"stride_bytes", row.stride},
                        {"ios", row.ios},
                        {"iops", row.iops},
                        {"mib_per_s", row.mib_per_s},
                        {"lat_min_us", row.min_us},
                        {"lat_mean_us", row.mean_us},
                        {"lat_p50_us", row.p50_us},
                        {"lat_p99_us", row.p99_us},
                        {"lat_max_us", row.max_us}};
    if (row.depth >= 0) j["depth"] = row.depth;
    rows.push_back(j);
  }
  return {{"raw_device", r.raw_device},
          {"iodepth", r.iodepth},
          {"reps", r.reps},
          {"notes", r.notes},
          {"rows", rows}};
}

void WriteOutputs(const CowArgs& a, const CowBenchResult& r, bool json, kernel::Files& files) {
  const std::string table = FormatCowTable(r);
  if (!a.csv.empty()) bench::WriteReportFile(a.csv, FormatCowCsv(r));
  if (!a.out.empty()) {
    files.MakeDirs(a.out);
    bench::WriteReportFile(a.out + "/cow.txt", table);
    bench::WriteReportFile(a.out + "/cow.csv", FormatCowCsv(r));
    bench::WriteReportFile(a.out + "/cow.svg", FormatCowSvg(r));
  }
  if (json) {
    PrintJson(RowsJson(r));
  } else {
    std::cout << table;
    if (!a.out.empty()) std::cout << "\nwrote " << a.out << "/cow.{txt,csv,svg}\n";
  }
}

int RunCow(const CowArgs& a, Program* p) {
  if (a.stat != "p50" && a.stat != "min" && a.stat != "mean" && a.stat != "p99") {
    throw Error("--stat: '" + a.stat + "' must be p50, min, mean or p99", ErrorKind::kUsage);
  }
  if (!a.render.empty()) {
    CowBenchResult r;
    r.rows = ParseCowCsv(bench::ReadReportFile(a.render));
    r.reps = a.reps;
    r.iodepth = a.iodepth;
    r.stat = a.stat;
    WriteOutputs(a, r, p->json(), *p->sys());
    return 0;
  }
  CowBenchOptions o;
  if (!a.data.empty() || !a.metadata.empty()) {
    o.pools = CowPools::kScratchDirect;
    if (a.scratch.empty()) {
      throw Error("bench cow --data/--metadata also needs --scratch DIR (the scratch pools' state)",
                  ErrorKind::kUsage);
    }
  } else if (!a.scratch.empty()) {
    o.pools = CowPools::kScratchLoop;
  } else {
    o.pools = CowPools::kCurrent;
  }
  o.scratch = a.scratch;
  o.data_device = a.data;
  o.metadata_device = a.metadata;
  o.force = a.force;
  o.raw_device = a.raw;
  o.iodepth = a.iodepth;
  o.reps = a.reps;
  if (a.small) {
    o.block_sizes = {64 << 10, 256 << 10};
    o.io_sizes = {4 << 10, 64 << 10, 256 << 10};
    o.depths = {1, 4, 16};
    o.ios = 64;
    o.max_region = 8 << 20;
    o.reps = 1;
  } else {
    o.block_sizes = ParseSizes(a.block_sizes, "--block-sizes");
    o.io_sizes = ParseSizes(a.io_sizes, "--io-sizes");
    o.depths = ParseDepths(a.depths);
    o.ios = a.ios;
    o.max_region = ParseSize(a.max_region, "--max-region");
  }
  o.progress = [](const std::string& line) { std::cerr << "bench cow: " << line << "\n"; };
  o.warning = PrintWarning;

  Engine* current = o.pools == CowPools::kCurrent ? &p->engine() : nullptr;
  CowBenchResult r = RunCowBench(o, p->dm(), p->sys(), current);
  r.stat = a.stat;
  WriteOutputs(a, r, p->json(), *p->sys());
  return 0;
}

}  // namespace

void AddCowCommand(CLI::App* bench, Program* p) {
  auto a = std::make_shared<CowArgs>();
  CLI::App* cow = bench->add_subcommand(
      "cow", "snapshot experiment: first, owned and CoW writes; reads vs snapshot chain depth");
  cow->add_option("--scratch", a->scratch,
                  "directory for scratch loopback pools (or the state of --data pools)");
  cow->add_option("--data", a->data, "scratch pools on this data device (contents destroyed)");
  cow->add_option("--metadata", a->metadata, "... and this metadata device");
  cow->add_flag("--force", a->force, "--data/--metadata: overwrite devices carrying signatures");
  cow->add_option("--raw", a->raw, "baseline device (contents destroyed; default: see README)");
  cow->add_option("--block-sizes", a->block_sizes, "pool block sizes (default 64k..1m)");
  cow->add_option("--io-sizes", a->io_sizes, "I/O sizes (default 4k,16k,64k,256k,1m)");
  cow->add_option("--depths", a->depths, "snapshot chain depths read (default 1,2,4,...,64)");
  cow->add_option("--ios", a->ios, "I/Os per measurement (default 256)");
  cow->add_option("--max-region", a->max_region, "bytes one measurement may span (default 64M)");
  cow->add_option("--iodepth", a->iodepth, "I/Os in flight (default 1: pure latency)");
  cow->add_option("--reps", a->reps, "repetitions of each measurement, medians kept (default 3)");
  cow->add_option("--csv", a->csv, "write the rows as CSV to this file");
  cow->add_option("--out", a->out, "write cow.txt, cow.csv and cow.svg into this directory");
  cow->add_option("--stat", a->stat,
                  "latency shown in the table and chart: p50 (default), min, mean, p99");
  cow->add_option("--render", a->render,
                  "no run: render the table/chart again from a CSV this command wrote");
  cow->add_flag("--small", a->small,
                "a quick run: blocks 64k,256k; I/O 4k,64k,256k; depths 1,4,16; 64 I/Os; 1 rep");
  p->On(cow, [a, p] { return RunCow(*a, p); });
}

}  // namespace thinsnap::cli
