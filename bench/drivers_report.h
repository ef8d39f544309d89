// The pure half of `thinsnap bench drivers` (bench/drivers_bench.h runs the measurements): the
// drivers and metrics it knows, the driver list's parsing, each metric's ratio to the best
// driver, per-axis scores, and the writers: a table, a CSV (which parses back, so that the VM
// script can add the stability rows it measured and render everything again), an SVG radar chart
// and one SVG bar chart per axis.
//
// Scores: a metric's score is value/best (higher is better) or (best + floor)/(value + floor)
// (lower is better; the floor keeps a best of 0, e.g. no bytes written, from dividing by zero),
// so the best driver scores 1 and the others lie in (0, 1]. An axis's score is the geometric mean
// of its scored metrics' scores. Raw figures and ratios are in the table; the radar only shows
// scores.
//
// Thread-safety: everything here is a pure function of its arguments.
#ifndef THINSNAP_BENCH_DRIVERS_REPORT_H_
#define THINSNAP_BENCH_DRIVERS_REPORT_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace thinsnap::bench {

// The drivers in their canonical order (the default --drivers list).
const std::vector<std::string>& KnownDrivers();
// Parses "thinsnap-ext4,overlay": every name known, none twice, not empty. Throws
// Error(kUsage) naming the bad entry and the known names.
std::vector<std::string> ParseDriverList(std::string_view text);

// The radar's axes, in order: create, read, write, copy-up, memory, disk, stability.
const std::vector<std::string>& Axes();

struct MetricInfo {
  std::string id;    // "create_p50_ms"
  std::string axis;  // one of Axes()
  std::string unit;  // "ms", "MiB/s", ...
  bool higher_is_better = false;
  bool scored = true;  // counts towards the axis score (else: shown in the table only)
  double floor = 0;    // lower-is-better scores: see above
  std::string what;    // a few words for the table and charts
};
const std::vector<MetricInfo>& Metrics();
const MetricInfo* FindMetric(std::string_view id);  // nullptr when unknown

// One figure: `driver` measured `metric`.
struct DriverFigure {
  std::string driver, metric;
  double value = 0;
};

struct DriversReport {
  std::vector<std::string> drivers;  // in order; figures for other drivers are ignored
  std::vector<DriverFigure> figures;
  // "ran on" lines (kernel, device, sizes) and "limit" lines (TCG, emulated NVMe...), printed
  // in the table, the CSV's comment lines and the charts.
  std::vector<std::string> ran_on, limits;

  std::optional<double> Value(const std::string& driver, const std::string& metric) const;
  // Sets (or replaces) one figure.
  void Set(const std::string& driver, const std::string& metric, double value);
};

// The best value of `metric` over the report's drivers; none when nobody measured it.
std::optional<double> BestOf(const DriversReport& report, const MetricInfo& metric);
// value / best (the table's "x best"); none when either is missing or best is 0 (value 0 too:
// 1).
std::optional<double> RatioToBest(const DriversReport& report, const MetricInfo& metric,
                                  const std::string& driver);
// In (0, 1], 1 = the best; none when the driver has no figure for it.
std::optional<double> MetricScore(const DriversReport& report, const MetricInfo& metric,
                                  const std::string& driver);
// The geometric mean of the axis's scored metrics the driver has; none when it has none.
std::optional<double> AxisScore(const DriversReport& report, const std::string& axis,
                                const std::string& driver);
// The axes any driver has a score on, in Axes() order.
std::vector<std::string> AxesMeasured(const DriversReport& report);

// The table: ran-on and limit lines, then per axis one line per metric: each driver's value and
// its ratio to the best; then the axis scores.
std::string FormatDriversTable(const DriversReport& report);
// "# ran-on: ..." and "# limit: ..." lines, then "driver,axis,metric,value,unit,better" rows.
std::string FormatDriversCsv(const DriversReport& report);
// Parses FormatDriversCsv's output (also several concatenated: later rows replace earlier ones,
// comment lines are merged). Drivers keep their first-seen order. Throws Error(kUsage) naming the
// line that does not parse or the unknown metric.
DriversReport ParseDriversCsv(const std::string& csv);
// The radar: one polygon per driver over the measured axes (axis scores, 1 = best), the rings,
// a legend and the ran-on and limit lines underneath.
std::string FormatDriversRadarSvg(const DriversReport& report);
// One bar chart for `axis`: a panel per metric, a bar per driver with its raw value and ratio.
std::string FormatDriversBarSvg(const DriversReport& report, const std::string& axis);

}  // namespace thinsnap::bench

#endif  // THINSNAP_BENCH_DRIVERS_REPORT_H_
