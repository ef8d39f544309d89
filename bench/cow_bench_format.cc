// Output of cow_bench.h: the text tables, the CSV and the SVG chart.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/strings.h"
#include "bench/cow_bench.h"
#include "bench/svg.h"

namespace thinsnap {
namespace {

// 4K, 64K, 1M
std::string SizeLabel(uint64_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + "K";
  return std::to_string(bytes);
}

const CowRow* Find(const CowBenchResult& r, const std::string& experiment, uint64_t block,
                   uint64_t io_size, int depth = -1) {
  for (const CowRow& row : r.rows) {
    if (row.experiment == experiment && row.pool_block == block &&
        (io_size == 0 || row.io_size == io_size) && row.depth == depth) {
      return &row;
    }
  }
  return nullptr;
}

std::vector<uint64_t> Distinct(const CowBenchResult& r, const std::string& experiment,
                               uint64_t CowRow::*field) {
  std::vector<uint64_t> v;
  for (const CowRow& row : r.rows) {
    if (row.experiment == experiment && std::find(v.begin(), v.end(), row.*field) == v.end()) {
      v.push_back(row.*field);
    }
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<int> ChainDepths(const CowBenchResult& r) {
  std::vector<int> v;
  for (const CowRow& row : r.rows) {
    if (row.experiment == "chain_read") v.push_back(row.depth);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// The latency statistic the table and the chart show (CowBenchResult::stat).
double StatOf(const CowRow& row, const std::string& stat) {
  if (stat == "min") return row.min_us;
  if (stat == "mean") return row.mean_us;
  if (stat == "p99") return row.p99_us;
  return row.p50_us;
}

std::string Cell(const CowRow* row, const std::string& stat) {
  return row ? Printf("%.1f", StatOf(*row, stat)) : "-";
}

std::string Ratio(const CowRow* a, const CowRow* b, const std::string& stat) {
  return a && b && StatOf(*b, stat) > 0 ? Printf("%.2fx", StatOf(*a, stat) / StatOf(*b, stat))
                                        : "-";
}

const char* const kWriteKinds[] = {"raw_write", "first_write", "owned_write", "cow_write"};
const char* const kWriteLabels[] = {"raw device", "first write (provisions)", "owned block",
                                    "CoW (breaks sharing)"};
const char* const kWriteColors[] = {"#7f7f7f", "#1f77b4", "#2ca02c", "#d62728"};

}  // namespace

std::string FormatCowTable(const CowBenchResult& r) {
  std::string out;
  out += Printf(
      "bench cow: %s latency in microseconds, iodepth %u, median of %u runs; one I/O per "
      "pool block (stride max(I/O size, block)), random order\n",
      r.stat.c_str(), r.iodepth, r.reps);
  if (!r.raw_device.empty()) out += "raw baseline: " + r.raw_device + "\n";
  for (const std::string& n : r.notes) out += "note: " + n + "\n";
  const std::vector<uint64_t> io_sizes = Distinct(r, "first_write", &CowRow::io_size);
  for (uint64_t block : Distinct(r, "first_write", &CowRow::pool_block)) {
    out += "\nwrites, pool block " + SizeLabel(block) + "\n";
    out += Printf("%-8s %10s %10s %10s %10s %10s %12s\n", "I/O", "raw", "first", "owned", "cow",
                  "cow/owned", "first/owned");
    for (uint64_t s : io_sizes) {
      const CowRow* raw = Find(r, "raw_write", block, s);
      const CowRow* first = Find(r, "first_write", block, s);
      const CowRow* owned = Find(r, "owned_write", block, s);
      const CowRow* cow = Find(r, "cow_write", block, s);
      out += Printf("%-8s %10s %10s %10s %10s %10s %12s\n", SizeLabel(s).c_str(),
                    Cell(raw, r.stat).c_str(), Cell(first, r.stat).c_str(),
                    Cell(owned, r.stat).c_str(), Cell(cow, r.stat).c_str(),
                    Ratio(cow, owned, r.stat).c_str(), Ratio(first, owned, r.stat).c_str());
    }
  }
  const std::vector<int> depths = ChainDepths(r);
  if (!depths.empty()) {
    const CowRow* d0 = nullptr;
    uint64_t block = 0;
    for (const CowRow& row : r.rows) {
      if (row.experiment == "chain_read" && row.depth == 0) d0 = &row;
      if (row.experiment == "chain_read") block = row.pool_block;
    }
    out += "\nrandom 4K reads against snapshot chain depth, pool block " + SizeLabel(block) + "\n";
    out += Printf("%-8s %10s %10s %10s %10s %12s\n", "depth", "IOPS", "min", "p50", "p99",
                  (r.stat + "/depth0").c_str());
    if (const CowRow* raw = Find(r, "raw_read", block, 0)) {
      out += Printf("%-8s %10.0f %10.1f %10.1f %10.1f %12s\n", "raw", raw->iops, raw->min_us,
                    raw->p50_us, raw->p99_us, Ratio(raw, d0, r.stat).c_str());
    }
    for (int d : depths) {
      const CowRow* row = Find(r, "chain_read", block, 0, d);
      out += Printf("%-8d %10.0f %10.1f %10.1f %10.1f %12s\n", d, row->iops, row->min_us,
                    row->p50_us, row->p99_us, Ratio(row, d0, r.stat).c_str());
    }
  }
  return out;
}

std::string FormatCowCsv(const CowBenchResult& r) {
  std::string out =
      "experiment,pool_block_bytes,io_bytes,stride_bytes,depth,ios,iops,mib_per_s,lat_min_us,"
      "lat_mean_us,lat_p50_us,lat_p99_us,lat_max_us\n";
  for (const CowRow& row : r.rows) {
    out += Printf("%s,%llu,%llu,%llu,%s,%llu,%.1f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f\n",
                  row.experiment.c_str(), static_cast<unsigned long long>(row.pool_block),
                  static_cast<unsigned long long>(row.io_size),
                  static_cast<unsigned long long>(row.stride),
                  row.depth >= 0 ? std::to_string(row.depth).c_str() : "",
                  static_cast<unsigned long long>(row.ios), row.iops, row.mib_per_s, row.min_us,
                  row.mean_us, row.p50_us, row.p99_us, row.max_us);
  }
  return out;
}

std::vector<CowRow> ParseCowCsv(const std::string& csv) {
  std::vector<CowRow> rows;
  std::stringstream in(csv);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 || line.empty()) continue;  // the header
    std::vector<std::string> f;
    std::stringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ',')) f.push_back(field);
    if (!line.empty() && line.back() == ',') f.push_back("");
    auto fail = [&] {
      return Error("CSV line " + std::to_string(number) + " is not a bench cow row: " + line,
                   ErrorKind::kUsage);
    };
    if (f.size() != 13) throw fail();
    try {
      CowRow r;
      r.experiment = f[0];
      r.pool_block = std::stoull(f[1]);
      r.io_size = std::stoull(f[2]);
      r.stride = std::stoull(f[3]);
      r.depth = f[4].empty() ? -1 : std::stoi(f[4]);
      r.ios = std::stoull(f[5]);
      r.iops = std::stod(f[6]);
      r.mib_per_s = std::stod(f[7]);
      r.min_us = std::stod(f[8]);
      r.mean_us = std::stod(f[9]);
      r.p50_us = std::stod(f[10]);
      r.p99_us = std::stod(f[11]);
      r.max_us = std::stod(f[12]);
      rows.push_back(r);
    } catch (const std::logic_error&) {
      throw fail();
    }
  }
  return rows;
}

namespace {

// A log10 y axis over [lo, hi] (microseconds), widened to whole decades' 1-2-5 steps.
struct LogAxis {
  double lo, hi;
  LogAxis(double min_v, double max_v) {
    lo = std::pow(10.0, std::floor(std::log10(std::max(min_v, 0.1))));
    hi = std::pow(10.0, std::ceil(std::log10(std::max(max_v, lo * 10))));
    if (hi <= lo) hi = lo * 10;
  }
  // 0 at the bottom, 1 at the top
  double Frac(double v) const {
    v = std::clamp(v, lo, hi);
    return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  }
  std::vector<double> Ticks() const {
    std::vector<double> t;
    for (double d = lo; d <= hi * 1.0001; d *= 10) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (d * m <= hi * 1.0001) t.push_back(d * m);
      }
    }
    return t;
  }
};

std::string TickLabel(double us) {
  if (us >= 1e6) return Printf("%gs", us / 1e6);
  if (us >= 1e3) return Printf("%gms", us / 1e3);
  return Printf("%gus", us);
}

struct Panel {
  double x, y, w, h;  // the plot area
  double Px(size_t i, size_t n) const { return n <= 1 ? x + w / 2 : x + w * i / (n - 1); }
  double Py(const LogAxis& a, double v) const { return y + h - h * a.Frac(v); }
};

void Frame(std::string& svg, const Panel& p, const LogAxis& a, const std::string& title,
           const std::vector<std::string>& xlabels, const std::string& xname) {
  svg += Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"title\">%s</text>\n", p.x, p.y - 10,
                bench::SvgEscape(title).c_str());
  for (double t : a.Ticks()) {
    const double y = p.Py(a, t);
    svg += Printf("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", p.x,
                  y, p.x + p.w, y);
    svg += Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"ylab\">%s</text>\n", p.x - 4, y + 3,
                  TickLabel(t).c_str());
  }
  svg += Printf("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n",
                p.x, p.y, p.w, p.h);
  for (size_t i = 0; i < xlabels.size(); ++i) {
    svg += Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"xlab\">%s</text>\n", p.Px(i, xlabels.size()),
                  p.y + p.h + 14, bench::SvgEscape(xlabels[i]).c_str());
  }
  svg += Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"xlab\">%s</text>\n", p.x + p.w / 2,
                p.y + p.h + 30, bench::SvgEscape(xname).c_str());
}

void Series(std::string& svg, const Panel& p, const LogAxis& a,
            const std::vector<std::optional<double>>& values, const char* color, bool dashed) {
  std::string points;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    points += Printf("%.1f,%.1f ", p.Px(i, values.size()), p.Py(a, *values[i]));
  }
  if (points.empty()) return;
  svg += Printf("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                points.c_str(), color, dashed ? " stroke-dasharray=\"5,4\"" : "");
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    svg += Printf("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", p.Px(i, values.size()),
                  p.Py(a, *values[i]), color);
  }
}

void Legend(std::string& svg, double x, double y,
            const std::vector<std::pair<std::string, const char*>>& entries) {
  for (const auto& [label, color] : entries) {
    svg += Printf("<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>\n", x, y - 4,
                  color);
    svg += Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s</text>\n", x + 18, y,
                  bench::SvgEscape(label).c_str());
    x += 30 + 6.5 * static_cast<double>(label.size());
  }
}

}  // namespace

std::string FormatCowSvg(const CowBenchResult& r) {
  const std::vector<uint64_t> blocks = Distinct(r, "first_write", &CowRow::pool_block);
  const std::vector<uint64_t> io_sizes = Distinct(r, "first_write", &CowRow::io_size);
  const std::vector<int> depths = ChainDepths(r);
  const size_t panels = blocks.size() + (depths.empty() ? 0 : 1);
  constexpr double kPanelW = 330, kPanelH = 250, kPlotW = 250, kPlotH = 160, kTop = 70;
  const size_t cols = std::min<size_t>(3, std::max<size_t>(panels, 1));
  const size_t rows = (panels + cols - 1) / cols;
  const double width = 20 + kPanelW * static_cast<double>(cols);
  const double height = kTop + kPanelH * static_cast<double>(std::max<size_t>(rows, 1));

  std::string svg = bench::SvgBegin(width, height);
  svg += Printf(
      "<text x=\"10\" y=\"20\" class=\"title\">thinsnap bench cow: %s write latency by I/O size "
      "and pool block size (log scale), iodepth %u, median of %u runs</text>\n",
      r.stat.c_str(), r.iodepth, r.reps);
  std::vector<std::pair<std::string, const char*>> legend;
  for (size_t k = 0; k < 4; ++k) legend.push_back({kWriteLabels[k], kWriteColors[k]});
  Legend(svg, 10, 42, legend);

  double lo = 1e300, hi = 0;
  for (const CowRow& row : r.rows) {
    const double v = StatOf(row, r.stat);
    if (row.depth < 0 && row.experiment != "raw_read" && v > 0) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  const LogAxis write_axis(hi > 0 ? lo : 1, hi > 0 ? hi : 10);
  std::vector<std::string> xlabels;
  for (uint64_t s : io_sizes) xlabels.push_back(SizeLabel(s));

  auto panel_at = [&](size_t i) {
    const double px = 20 + kPanelW * static_cast<double>(i % cols) + 50;
    const double py = kTop + kPanelH * static_cast<double>(i / cols) + 25;
    return Panel{px, py, kPlotW, kPlotH};
  };
  for (size_t b = 0; b < blocks.size(); ++b) {
    const Panel p = panel_at(b);
    Frame(svg, p, write_axis, "pool block " + SizeLabel(blocks[b]), xlabels, "I/O size");
    for (size_t k = 0; k < 4; ++k) {
      std::vector<std::optional<double>> values;
      for (uint64_t s : io_sizes) {
        const CowRow* row = Find(r, kWriteKinds[k], blocks[b], s);
        const double v = row ? StatOf(*row, r.stat) : 0;
        values.push_back(v > 0 ? std::optional<double>(v) : std::nullopt);
      }
      Series(svg, p, write_axis, values, kWriteColors[k], k == 0);
    }
  }
  if (!depths.empty()) {
    uint64_t block = 0;
    double clo = 1e300, chi = 0;
    for (const CowRow& row : r.rows) {
      if (row.experiment != "chain_read" && row.experiment != "raw_read") continue;
      if (row.experiment == "chain_read") block = row.pool_block;
      for (double v : {StatOf(row, r.stat), row.p99_us}) {
        if (v > 0) clo = std::min(clo, v), chi = std::max(chi, v);
      }
    }
    const LogAxis axis(chi > 0 ? clo : 1, chi > 0 ? chi : 10);
    const Panel p = panel_at(blocks.size());
    std::vector<std::string> dl;
    for (int d : depths) dl.push_back(std::to_string(d));
    Frame(svg, p, axis, "4K reads vs chain depth, block " + SizeLabel(block), dl,
          "snapshot depth (0 = origin)");
    std::vector<std::optional<double>> p50, p99, raw;
    const CowRow* rr = Find(r, "raw_read", block, 0);
    for (int d : depths) {
      const CowRow* row = Find(r, "chain_read", block, 0, d);
      p50.push_back(row ? std::optional<double>(StatOf(*row, r.stat)) : std::nullopt);
      p99.push_back(row ? std::optional<double>(row->p99_us) : std::nullopt);
      raw.push_back(rr ? std::optional<double>(StatOf(*rr, r.stat)) : std::nullopt);
    }
    Series(svg, p, axis, raw, "#7f7f7f", true);
    Series(svg, p, axis, p50, "#1f77b4", false);
    Series(svg, p, axis, p99, "#ff7f0e", false);
    Legend(svg, p.x, p.y + p.h + 46,
           {{r.stat, "#1f77b4"}, {"p99", "#ff7f0e"}, {"raw " + r.stat, "#7f7f7f"}});
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace thinsnap
