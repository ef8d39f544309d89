// `thinsnap bench drivers`: the storage-driver comparison (bench/drivers_bench.h) on the command
// line, and --render, which draws the table and charts again from CSVs it (or
// vm-tests/bench/drivers.sh, with its stability rows) wrote.
#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/units.h"
#include "bench/drivers_bench.h"
#include "bench/io_bench.h"
#include "cli/bench.h"
#include "cli/output.h"

namespace thinsnap::cli {
namespace {

constexpr const char* kDefaultDir = "/tmp/thinsnap-bench-drivers";

struct DriversArgs {
  std::string dir, device, metadata, out, drivers;
  std::vector<std::string> render, notes;
  std::string device_size, big_file_size, copyup_size, shared_size, write_size, pool_block;
  std::optional<unsigned> small_files, big_files, creates, containers, read_ios, write_ios,
      copyup_reps;
  bool small = false;
};

void ApplySizes(const DriversArgs& a, bench::DriversBenchOptions* o) {
  auto size = [](const std::string& text, const char* what, uint64_t* to) {
    if (!text.empty()) *to = ParseSize(text, what);
  };
  size(a.device_size, "--device-size", &o->device_size);
  size(a.big_file_size, "--big-file-size", &o->big_file_size);
  size(a.copyup_size, "--copyup-size", &o->copyup_file_size);
  size(a.shared_size, "--shared-size", &o->shared_file_size);
  size(a.write_size, "--write-size", &o->write_size);
  size(a.pool_block, "--pool-block", &o->pool_block);
  auto count = [](const std::optional<unsigned>& v, unsigned* to) {
    if (v) *to = *v;
  };
  count(a.small_files, &o->small_files);
  count(a.big_files, &o->big_files);
  count(a.creates, &o->creates);
  count(a.containers, &o->containers);
  count(a.read_ios, &o->read_ios);
  count(a.write_ios, &o->write_ios);
  count(a.copyup_reps, &o->copyup_reps);
}

void WriteOutputs(const DriversArgs& a, const bench::DriversReport& r, kernel::System& sys,
                  bool json) {
  const std::string table = bench::FormatDriversTable(r);
  if (!a.out.empty()) {
    sys.MakeDirs(a.out);
    bench::WriteReportFile(a.out + "/drivers.txt", table);
    bench::WriteReportFile(a.out + "/drivers.csv", bench::FormatDriversCsv(r));
    bench::WriteReportFile(a.out + "/drivers-radar.svg", bench::FormatDriversRadarSvg(r));
    for (const std::string& axis : bench::Axes()) {
      const std::string path = a.out + "/drivers-" + axis + ".svg";
      bool any = false;
      for (const bench::MetricInfo& m : bench::Metrics()) {
        if (m.axis == axis && bench::BestOf(r, m)) any = true;
      }
      if (any) bench::WriteReportFile(path, bench::FormatDriversBarSvg(r, axis));
    }
  }
  if (json) {
    nlohmann::json figures = nlohmann::json::array();
    for (const bench::DriverFigure& f : r.figures) {
      figures.push_back({{"driver", f.driver}, {"metric", f.metric}, {"value", f.value}});
    }
    nlohmann::json scores = nlohmann::json::object();
    for (const std::string& d : r.drivers) {
      for (const std::string& axis : bench::AxesMeasured(r)) {
        if (auto s = bench::AxisScore(r, axis, d)) scores[d][axis] = *s;
      }
    }
    PrintJson({{"drivers", r.drivers},
               {"ran_on", r.ran_on},
               {"limits", r.limits},
               {"figures", figures},
               {"scores", scores}});
  } else {
    std::cout << table;
    if (!a.out.empty()) {
      std::cout << "\nwrote " << a.out
                << "/drivers.{txt,csv}, drivers-radar.svg, drivers-<axis>.svg\n";
    }
  }
}

int RunDrivers(const DriversArgs& a, Program* p) {
  if (!a.render.empty()) {
    std::string csv;
    for (const std::string& f : a.render) csv += bench::ReadReportFile(f) + "\n";
    bench::DriversReport r = bench::ParseDriversCsv(csv);
    if (!a.drivers.empty()) {
      const std::vector<std::string> keep = bench::ParseDriverList(a.drivers);
      std::vector<std::string> drivers;
      for (const std::string& d : r.drivers) {
        if (std::find(keep.begin(), keep.end(), d) != keep.end()) drivers.push_back(d);
      }
      r.drivers = drivers;
    }
    for (const std::string& n : a.notes) r.limits.push_back(n);
    WriteOutputs(a, r, *p->sys(), p->json());
    return 0;
  }
  bench::DriversBenchOptions o =
      a.small ? bench::DriversBenchOptions::Small() : bench::DriversBenchOptions{};
  if (!a.drivers.empty()) o.drivers = bench::ParseDriverList(a.drivers);
  if (a.dir.empty() && a.device.empty()) {
    throw Error("bench drivers: give --dir SCRATCH (loop devices there) or --device DEV",
                ErrorKind::kUsage);
  }
  o.dir = a.dir.empty() ? kDefaultDir : a.dir;
  o.device = a.device;
  o.metadata_device = a.metadata;
  ApplySizes(a, &o);
  o.Validate();
  o.progress = [](const std::string& line) { std::cerr << "bench drivers: " << line << "\n"; };
  o.warning = PrintWarning;
  bench::DriversReport r = bench::RunDriversBench(o, p->dm(), p->sys());
  for (const std::string& n : a.notes) r.limits.push_back(n);
  WriteOutputs(a, r, *p->sys(), p->json());
  return 0;
}

}  // namespace

void AddDriversCommand(CLI::App* bench, Program* p) {
  auto a = std::make_shared<DriversArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "drivers",
      "storage-driver comparison: thinsnap (ext4, xfs) vs overlay, btrfs and plain copies: "
      "create, read, write, copy-up, page cache, disk space (power cuts: "
      "vm-tests/bench/drivers.sh)");
  cmd->add_option("--dir", a->dir,
                  "scratch directory: a loop device per driver over a sparse file there, and the "
                  "mount points (default with --device: " +
                      std::string(kDefaultDir) + ")");
  cmd->add_option("--device", a->device,
                  "run every driver on this device in turn (its contents are destroyed)");
  cmd->add_option("--metadata-device", a->metadata,
                  "with --device: thinsnap's pools are direct, metadata here (else loopback "
                  "files in an ext4 on --device)");
  cmd->add_option("--drivers", a->drivers,
                  "comma-separated: thinsnap-ext4,thinsnap-xfs,overlay,btrfs,plain (default all)");
  cmd->add_option("--out", a->out,
                  "write drivers.txt, drivers.csv, drivers-radar.svg and drivers-<axis>.svg here");
  cmd->add_flag("--small", a->small,
                "a quick run: 200 small files, 8M big files, 64M copy-up file, 3 containers");
  cmd->add_option("--render", a->render,
                  "no run: draw the table and charts from these CSVs (repeatable; later rows "
                  "win, e.g. the stability rows drivers.sh adds)");
  cmd->add_option("--note", a->notes, "add a limit line to the output (repeatable)");
  cmd->add_option("--device-size", a->device_size, "--dir: each driver's loop file (default 16G)");
  cmd->add_option("--small-files", a->small_files, "small files in the base layer (default 2000)");
  cmd->add_option("--big-files", a->big_files, "big files in the base layer (default 2)");
  cmd->add_option("--big-file-size", a->big_file_size, "size of each big file (default 64M)");
  cmd->add_option("--copyup-size", a->copyup_size, "the copy-up test's lower file (default 1G)");
  cmd->add_option("--shared-size", a->shared_size,
                  "the file every container reads in the memory test (default 256M)");
  cmd->add_option("--creates", a->creates, "containers created one by one (default 5)");
  cmd->add_option("--containers", a->containers, "containers of the memory/disk tests (default 8)");
  cmd->add_option("--read-ios", a->read_ios, "random 4K reads (default 2000)");
  cmd->add_option("--write-ios", a->write_ios, "random 4K fdatasync'd writes (default 300)");
  cmd->add_option("--write-size", a->write_size, "the sequential write (default 128M)");
  cmd->add_option("--copyup-reps", a->copyup_reps, "copy-ups measured (default 3)");
  cmd->add_option("--pool-block", a->pool_block, "thinsnap pool block size (default 64k)");
  p->On(cmd, [a, p] { return RunDrivers(*a, p); });
}

}  // namespace thinsnap::cli
