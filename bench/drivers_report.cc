#include "bench/drivers_report.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "base/error.h"
#include "base/strings.h"
#include "bench/svg.h"

namespace thinsnap::bench {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
constexpr double kPi = 3.14159265358979323846;

const char* ColorOf(size_t i) { return kColors[i % (sizeof(kColors) / sizeof(kColors[0]))]; }

// 3 significant figures, no exponent below a million.
std::string Figure(double v) {
  const double a = std::fabs(v);
  if (a >= 1000) return Printf("%.0f", v);
  if (a >= 100) return Printf("%.1f", v);
  if (a >= 10) return Printf("%.2f", v);
  return Printf("%.3f", v);
}

std::string AxisTitle(const std::string& axis) {
  if (axis == "copyup") return "copy-up";
  return axis;
}

std::vector<const MetricInfo*> MetricsOf(const std::string& axis) {
  std::vector<const MetricInfo*> out;
  for (const MetricInfo& m : Metrics()) {
    if (m.axis == axis) out.push_back(&m);
  }
  return out;
}

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) f.push_back(field);
  if (!line.empty() && line.back() == ',') f.push_back("");
  return f;
}

void AddUnique(std::vector<std::string>* to, const std::string& line) {
  if (std::find(to->begin(), to->end(), line) == to->end()) to->push_back(line);
}

}  // namespace

const std::vector<std::string>& KnownDrivers() {
  static const std::vector<std::string> kDrivers = {"thinsnap-ext4", "thinsnap-xfs", "overlay",
                                                    "btrfs", "plain"};
  return kDrivers;
}

std::vector<std::string> ParseDriverList(std::string_view text) {
  std::vector<std::string> out;
  std::string known;
  for (const std::string& d : KnownDrivers()) known += (known.empty() ? "" : ", ") + d;
  const std::string whole(text);
  if (!whole.empty() &&
      (whole.front() == ',' || whole.back() == ',' || whole.find(",,") != std::string::npos)) {
    throw Error("--drivers: an empty name in '" + whole + "'", ErrorKind::kUsage);
  }
  for (const std::string& name : SplitList(text, ',')) {
    const auto& k = KnownDrivers();
    if (std::find(k.begin(), k.end(), name) == k.end()) {
      throw Error("--drivers: unknown driver '" + name + "' (known: " + known + ")",
                  ErrorKind::kUsage);
    }
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      throw Error("--drivers: '" + name + "' is named twice", ErrorKind::kUsage);
    }
    out.push_back(name);
  }
  if (out.empty())
    throw Error("--drivers: no driver named (known: " + known + ")", ErrorKind::kUsage);
  return out;
}

const std::vector<std::string>& Axes() {
  static const std::vector<std::string> kAxes = {"create", "read", "write",    "copyup",
                                                 "memory", "disk", "stability"};
  return kAxes;
}

const std::vector<MetricInfo>& Metrics() {
  static const std::vector<MetricInfo> kMetrics = {
      {"create_p50_ms", "create", "ms", false, true, 0.1, "container ready (mounted), median"},
      {"create_p95_ms", "create", "ms", false, false, 0.1, "container ready, p95"},
      {"read_seq_mib_s", "read", "MiB/s", true, true, 0, "sequential read, lower file, cold"},
      {"read_rand_iops", "read", "IOPS", true, true, 0, "random 4K read, lower file, cold"},
      {"write_seq_mib_s", "write", "MiB/s", true, true, 0, "sequential write + fsync"},
      {"write_rand_iops", "write", "IOPS", true, true, 0, "random 4K write, each fdatasync'd"},
      {"copyup_ms", "copyup", "ms", false, true, 0.1, "1 byte into the big lower file + fsync"},
      {"copyup_written_kib", "copyup", "KiB", false, true, 4, "device bytes written for it"},
      {"memory_cache_mib", "memory", "MiB", false, false, 1, "page cache, N readers of one file"},
      {"memory_copies", "memory", "copies", false, true, 0.05, "page cache / file size"},
      {"disk_image_mib", "disk", "MiB", false, false, 1, "device space used by the image"},
      {"disk_containers_mib", "disk", "MiB", false, true, 1, "added by N changed containers"},
      {"disk_commit_mib", "disk", "MiB", false, true, 1, "added by one commit"},
      {"stability_clean_pct", "stability", "%", true, true, 0, "power cuts: fs check clean"},
      {"stability_lost_files", "stability", "files", false, false, 1,
       "fsync'd files lost or wrong (all cuts)"},
  };
  return kMetrics;
}

const MetricInfo* FindMetric(std::string_view id) {
  for (const MetricInfo& m : Metrics()) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

std::optional<double> DriversReport::Value(const std::string& driver,
                                           const std::string& metric) const {
  for (const DriverFigure& f : figures) {
    if (f.driver == driver && f.metric == metric) return f.value;
  }
  return std::nullopt;
}

void DriversReport::Set(const std::string& driver, const std::string& metric, double value) {
  for (DriverFigure& f : figures) {
    if (f.driver == driver && f.metric == metric) {
      f.value = value;
      return;
    }
  }
  figures.push_back({driver, metric, value});
}

std::optional<double> BestOf(const DriversReport& r, const MetricInfo& m) {
  std::optional<double> best;
  for (const std::string& d : r.drivers) {
    const std::optional<double> v = r.Value(d, m.id);
    if (!v) continue;
    if (!best || (m.higher_is_better ? *v > *best : *v < *best)) best = v;
  }
  return best;
}

std::optional<double> RatioToBest(const DriversReport& r, const MetricInfo& m,
                                  const std::string& driver) {
  const std::optional<double> v = r.Value(driver, m.id), best = BestOf(r, m);
  if (!v || !best) return std::nullopt;
  if (*best == 0) return *v == 0 ? std::optional<double>(1.0) : std::nullopt;
  return *v / *best;
}

std::optional<double> MetricScore(const DriversReport& r, const MetricInfo& m,
                                  const std::string& driver) {
  const std::optional<double> v = r.Value(driver, m.id), best = BestOf(r, m);
  if (!v || !best) return std::nullopt;
  if (m.higher_is_better) return *best > 0 ? std::max(0.0, *v) / *best : 1.0;
  const double denom = std::max(0.0, *v) + m.floor;
  return denom > 0 ? std::min(1.0, (std::max(0.0, *best) + m.floor) / denom) : 1.0;
}

std::optional<double> AxisScore(const DriversReport& r, const std::string& axis,
                                const std::string& driver) {
  double log_sum = 0;
  int n = 0;
  for (const MetricInfo* m : MetricsOf(axis)) {
    if (!m->scored) continue;
    const std::optional<double> s = MetricScore(r, *m, driver);
    if (!s) continue;
    log_sum += std::log(std::max(*s, 1e-6));
    ++n;
  }
  if (n == 0) return std::nullopt;
  return std::exp(log_sum / n);
}

std::vector<std::string> AxesMeasured(const DriversReport& r) {
  std::vector<std::string> out;
  for (const std::string& axis : Axes()) {
    for (const std::string& d : r.drivers) {
      if (AxisScore(r, axis, d)) {
        out.push_back(axis);
        break;
      }
    }
  }
  return out;
}

std::string FormatDriversTable(const DriversReport& r) {
  std::string out =
      "thinsnap bench drivers: each figure, and in brackets its ratio to the best "
      "driver's (value / best)\n";
  for (const std::string& l : r.ran_on) out += "ran on: " + l + "\n";
  for (const std::string& l : r.limits) out += "limit: " + l + "\n";
  std::string head = Printf("\n%-22s %-7s", "metric", "unit");
  for (const std::string& d : r.drivers) head += Printf(" %20s", d.c_str());
  out += head + "\n";
  for (const std::string& axis : Axes()) {
    bool any = false;
    for (const MetricInfo* m : MetricsOf(axis)) {
      if (!BestOf(r, *m)) continue;
      if (!any) out += "[" + AxisTitle(axis) + "]\n";
      any = true;
      std::string line = Printf("%-22s %-7s", m->id.c_str(), m->unit.c_str());
      for (const std::string& d : r.drivers) {
        const std::optional<double> v = r.Value(d, m->id), ratio = RatioToBest(r, *m, d);
        std::string cell = v ? Figure(*v) : "-";
        if (v) cell += ratio ? Printf(" (%.2fx)", *ratio) : " (-)";
        line += Printf(" %20s", cell.c_str());
      }
      out += line + "   " + (m->higher_is_better ? "higher" : "lower") + " is better: " + m->what +
             "\n";
    }
  }
  out += "\naxis scores (1 = best on every scored metric of the axis; geometric mean)\n";
  std::string score_head = Printf("%-22s", "axis");
  for (const std::string& d : r.drivers) score_head += Printf(" %14s", d.c_str());
  out += score_head + "\n";
  for (const std::string& axis : AxesMeasured(r)) {
    std::string line = Printf("%-22s", AxisTitle(axis).c_str());
    for (const std::string& d : r.drivers) {
      const std::optional<double> s = AxisScore(r, axis, d);
      line += Printf(" %14s", s ? Printf("%.2f", *s).c_str() : "-");
    }
    out += line + "\n";
  }
  return out;
}

std::string FormatDriversCsv(const DriversReport& r) {
  std::string out;
  for (const std::string& l : r.ran_on) out += "# ran-on: " + l + "\n";
  for (const std::string& l : r.limits) out += "# limit: " + l + "\n";
  out += "driver,axis,metric,value,unit,better\n";
  for (const std::string& d : r.drivers) {
    for (const MetricInfo& m : Metrics()) {
      const std::optional<double> v = r.Value(d, m.id);
      if (!v) continue;
      out += Printf("%s,%s,%s,%.6g,%s,%s\n", d.c_str(), m.axis.c_str(), m.id.c_str(), *v,
                    m.unit.c_str(), m.higher_is_better ? "higher" : "lower");
    }
  }
  return out;
}

DriversReport ParseDriversCsv(const std::string& csv) {
  DriversReport r;
  std::stringstream in(csv);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line.rfind("driver,axis,", 0) == 0) continue;
    if (line.rfind("# ran-on: ", 0) == 0) {
      AddUnique(&r.ran_on, line.substr(10));
      continue;
    }
    if (line.rfind("# limit: ", 0) == 0) {
      AddUnique(&r.limits, line.substr(9));
      continue;
    }
    if (line[0] == '#') continue;
    const std::vector<std::string> f = SplitCsvLine(line);
    auto fail = [&](const std::string& why) {
      return Error("CSV line " + std::to_string(number) + ": " + why + ": " + line,
                   ErrorKind::kUsage);
    };
    if (f.size() != 6) throw fail("expected 6 fields");
    const auto& k = KnownDrivers();
    if (std::find(k.begin(), k.end(), f[0]) == k.end()) throw fail("unknown driver");
    if (!FindMetric(f[2])) throw fail("unknown metric");
    double value = 0;
    try {
      size_t used = 0;
      value = std::stod(f[3], &used);
      if (used != f[3].size() || !std::isfinite(value)) throw std::invalid_argument(f[3]);
    } catch (const std::logic_error&) {
      throw fail("not a number");
    }
    AddUnique(&r.drivers, f[0]);
    r.Set(f[0], f[2], value);
  }
  // Canonical order, whatever order the files came in.
  std::vector<std::string> ordered;
  for (const std::string& d : KnownDrivers()) {
    if (std::find(r.drivers.begin(), r.drivers.end(), d) != r.drivers.end()) ordered.push_back(d);
  }
  r.drivers = ordered;
  return r;
}

namespace {

// The ran-on and limit lines, prefixed and wrapped at spaces to fit a 760 px chart.
std::vector<std::string> FootnoteLines(const DriversReport& r) {
  constexpr size_t kWidth = 120;
  std::vector<std::string> out;
  auto add = [&](const std::string& text) {
    std::string line;
    std::stringstream words(text);
    std::string w;
    while (words >> w) {
      if (!line.empty() && line.size() + 1 + w.size() > kWidth) {
        out.push_back(line);
        line = "    ";
      }
      line += (line.empty() || line == "    " ? "" : " ") + w;
    }
    if (!line.empty()) out.push_back(line);
  };
  for (const std::string& l : r.ran_on) add("ran on: " + l);
  for (const std::string& l : r.limits) add("limit: " + l);
  return out;
}

// The footnote lines at (x, y), one per 14 px.
void Footnotes(std::string& svg, const DriversReport& r, double x, double y) {
  for (const std::string& l : FootnoteLines(r)) {
    svg += Printf("<text x=\"%.0f\" y=\"%.0f\" class=\"legend\" xml:space=\"preserve\">%s</text>\n",
                  x, y, SvgEscape(l).c_str());
    y += 14;
  }
}

double FootnoteHeight(const DriversReport& r) {
  return 14.0 * static_cast<double>(FootnoteLines(r).size()) + 10;
}

}  // namespace

std::string FormatDriversRadarSvg(const DriversReport& r) {
  const std::vector<std::string> axes = AxesMeasured(r);
  constexpr double kW = 760, kCx = 300, kCy = 290, kRadius = 200;
  const double height = 560 + FootnoteHeight(r);
  std::string svg = SvgBegin(kW, height);
  svg +=
      "<text x=\"10\" y=\"20\" class=\"title\">thinsnap bench drivers: measured scores per axis "
      "(1 = the best driver on that axis; raw figures in drivers.txt)</text>\n";
  const size_t n = axes.size();
  auto point = [&](size_t i, double frac) {
    const double angle = -kPi / 2 + 2 * kPi * static_cast<double>(i) / static_cast<double>(n);
    return std::pair<double, double>(kCx + kRadius * frac * std::cos(angle),
                                     kCy + kRadius * frac * std::sin(angle));
  };
  if (n >= 3) {
    for (double ring : {0.25, 0.5, 0.75, 1.0}) {
      std::string pts;
      for (size_t i = 0; i < n; ++i) {
        const auto [x, y] = point(i, ring);
        pts += Printf("%.1f,%.1f ", x, y);
      }
      svg +=
          Printf("<polygon points=\"%s\" class=\"frame\" stroke-opacity=\"0.3\"/>\n", pts.c_str());
      const auto [lx, ly] = point(0, ring);
      svg +=
          Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"ylab\">%.2f</text>\n", lx - 4, ly + 3, ring);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const auto [x, y] = point(i, 1.0);
    const auto [lx, ly] = point(i, 1.12);
    svg += Printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", kCx,
                  kCy, x, y);
    svg += Printf("<text x=\"%.1f\" y=\"%.1f\" class=\"xlab\" font-size=\"12\">%s</text>\n", lx,
                  ly + 4, SvgEscape(AxisTitle(axes[i])).c_str());
  }
  for (size_t d = 0; d < r.drivers.size(); ++d) {
    std::string pts;
    for (size_t i = 0; i < n; ++i) {
      const auto [x, y] = point(i, AxisScore(r, axes[i], r.drivers[d]).value_or(0));
      pts += Printf("%.1f,%.1f ", x, y);
    }
    svg += Printf(
        "<polygon points=\"%s\" fill=\"%s\" fill-opacity=\"0.08\" stroke=\"%s\" "
        "stroke-width=\"2\"/>\n",
        pts.c_str(), ColorOf(d), ColorOf(d));
    const double ly = 70 + 22 * static_cast<double>(d);
    svg += Printf("<rect x=\"580\" y=\"%.0f\" width=\"16\" height=\"6\" fill=\"%s\"/>\n", ly - 6,
                  ColorOf(d));
    svg += Printf("<text x=\"602\" y=\"%.0f\" class=\"legend\">%s</text>\n", ly,
                  SvgEscape(r.drivers[d]).c_str());
  }
  Footnotes(svg, r, 10, 560);
  svg += "</svg>\n";
  return svg;
}

std::string FormatDriversBarSvg(const DriversReport& r, const std::string& axis) {
  std::vector<const MetricInfo*> metrics;
  for (const MetricInfo* m : MetricsOf(axis)) {
    if (BestOf(r, *m)) metrics.push_back(m);
  }
  constexpr double kW = 760, kTop = 40, kBar = 18, kGap = 6, kLabelW = 120, kPlotW = 440;
  const double panel_h = 40 + (kBar + kGap) * static_cast<double>(r.drivers.size());
  const double height = kTop + panel_h * static_cast<double>(metrics.size()) + FootnoteHeight(r);
  std::string svg = SvgBegin(kW, height);
  svg += Printf("<text x=\"10\" y=\"20\" class=\"title\">thinsnap bench drivers: %s</text>\n",
                SvgEscape(AxisTitle(axis)).c_str());
  double y = kTop;
  for (const MetricInfo* m : metrics) {
    double max = 0;
    for (const std::string& d : r.drivers) max = std::max(max, r.Value(d, m->id).value_or(0));
    svg += Printf("<text x=\"10\" y=\"%.0f\" class=\"title\">%s (%s; %s is better): %s</text>\n",
                  y + 14, SvgEscape(m->id).c_str(), SvgEscape(m->unit).c_str(),
                  m->higher_is_better ? "higher" : "lower", SvgEscape(m->what).c_str());
    double by = y + 26;
    for (size_t d = 0; d < r.drivers.size(); ++d) {
      const std::optional<double> v = r.Value(r.drivers[d], m->id);
      const std::optional<double> ratio = RatioToBest(r, *m, r.drivers[d]);
      const double w = v && max > 0 ? kPlotW * std::max(0.0, *v) / max : 0;
      svg += Printf("<text x=\"%.0f\" y=\"%.0f\" class=\"ylab\">%s</text>\n", kLabelW, by + 13,
                    SvgEscape(r.drivers[d]).c_str());
      svg += Printf("<rect x=\"%.0f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"/>\n",
                    kLabelW + 6, by, w, kBar, ColorOf(d));
      const std::string label =
          v ? Figure(*v) + (ratio ? Printf(" (%.2fx best)", *ratio) : "") : "not measured";
      svg += Printf("<text x=\"%.1f\" y=\"%.0f\" class=\"legend\">%s</text>\n", kLabelW + 12 + w,
                    by + 13, SvgEscape(label).c_str());
      by += kBar + kGap;
    }
    y += panel_h;
  }
  Footnotes(svg, r, 10, y + 10);
  svg += "</svg>\n";
  return svg;
}

}  // namespace thinsnap::bench
