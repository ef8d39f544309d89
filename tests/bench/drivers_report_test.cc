#include "bench/drivers_report.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.h"
#include "bench/drivers_bench.h"

namespace thinsnap::bench {
namespace {

DriversReport Sample() {
  DriversReport r;
  r.drivers = {"thinsnap-ext4", "overlay", "plain"};
  r.ran_on = {"kernel 6.1, CPU QEMU"};
  r.limits = {"TCG <slow> & \"emulated\""};
  r.Set("thinsnap-ext4", "create_p50_ms", 40);
  r.Set("overlay", "create_p50_ms", 10);
  r.Set("plain", "create_p50_ms", 2000);
  r.Set("thinsnap-ext4", "read_seq_mib_s", 300);
  r.Set("overlay", "read_seq_mib_s", 200);
  r.Set("plain", "read_seq_mib_s", 150);
  r.Set("thinsnap-ext4", "memory_copies", 8);
  r.Set("overlay", "memory_copies", 1);
  r.Set("plain", "memory_copies", 8);
  r.Set("thinsnap-ext4", "disk_commit_mib", 0);
  r.Set("overlay", "disk_commit_mib", 5);
  r.Set("plain", "disk_commit_mib", 1500);
  return r;
}

TEST(DriversReport, ParsesTheDriverList) {
  EXPECT_EQ(ParseDriverList("overlay,thinsnap-xfs"),
            (std::vector<std::string>{"overlay", "thinsnap-xfs"}));
  EXPECT_EQ(ParseDriverList("thinsnap-ext4,thinsnap-xfs,overlay,btrfs,plain"), KnownDrivers());
}

TEST(DriversReport, RefusesBadDriverListsAsUsageErrors) {
  for (const char* bad : {"", "zfs", "overlay,overlay", "overlay,,btrfs", "Overlay"}) {
    try {
      ParseDriverList(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << bad;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
      EXPECT_NE(std::string(e.what()).find("--drivers"), std::string::npos) << e.what();
    }
  }
}

TEST(DriversReport, EveryMetricBelongsToAnAxis) {
  for (const MetricInfo& m : Metrics()) {
    EXPECT_NE(std::find(Axes().begin(), Axes().end(), m.axis), Axes().end()) << m.id;
    EXPECT_EQ(FindMetric(m.id), &m);
  }
  for (const std::string& axis : Axes()) {
    EXPECT_TRUE(std::any_of(Metrics().begin(), Metrics().end(),
                            [&](const MetricInfo& m) { return m.axis == axis && m.scored; }))
        << axis << " has no scored metric";
  }
  EXPECT_EQ(FindMetric("nope"), nullptr);
}

TEST(DriversReport, BestAndRatioFollowTheMetricsDirection) {
  const DriversReport r = Sample();
  const MetricInfo& create = *FindMetric("create_p50_ms");
  const MetricInfo& read = *FindMetric("read_seq_mib_s");
  EXPECT_EQ(BestOf(r, create), 10);
  EXPECT_EQ(BestOf(r, read), 300);
  EXPECT_DOUBLE_EQ(*RatioToBest(r, create, "thinsnap-ext4"), 4.0);
  EXPECT_DOUBLE_EQ(*RatioToBest(r, read, "overlay"), 200.0 / 300);
  EXPECT_FALSE(RatioToBest(r, *FindMetric("write_seq_mib_s"), "overlay"));
}

TEST(DriversReport, ScoresAreOneForTheBestAndBelowForTheOthers) {
  const DriversReport r = Sample();
  const MetricInfo& create = *FindMetric("create_p50_ms");
  EXPECT_DOUBLE_EQ(*MetricScore(r, create, "overlay"), 1.0);
  EXPECT_NEAR(*MetricScore(r, create, "thinsnap-ext4"), 10.1 / 40.1, 1e-9);
  EXPECT_DOUBLE_EQ(*MetricScore(r, *FindMetric("read_seq_mib_s"), "plain"), 0.5);
  // A best of zero: the floor keeps the others finite and the best at 1.
  const MetricInfo& commit = *FindMetric("disk_commit_mib");
  EXPECT_DOUBLE_EQ(*MetricScore(r, commit, "thinsnap-ext4"), 1.0);
  EXPECT_NEAR(*MetricScore(r, commit, "overlay"), 1.0 / 6, 1e-9);
  EXPECT_EQ(*RatioToBest(r, commit, "thinsnap-ext4"), 1.0);
  EXPECT_FALSE(RatioToBest(r, commit, "overlay"));
}

TEST(DriversReport, AxisScoreIsTheGeometricMeanOfScoredMetrics) {
  DriversReport r = Sample();
  r.Set("thinsnap-ext4", "read_rand_iops", 100);
  r.Set("overlay", "read_rand_iops", 400);
  // thinsnap: seq 1.0, random 0.25 -> sqrt(0.25) = 0.5.
  EXPECT_NEAR(*AxisScore(r, "read", "thinsnap-ext4"), 0.5, 1e-9);
  // create_p95 is not scored: it changes nothing.
  const double before = *AxisScore(r, "create", "thinsnap-ext4");
  r.Set("thinsnap-ext4", "create_p95_ms", 1e6);
  EXPECT_DOUBLE_EQ(*AxisScore(r, "create", "thinsnap-ext4"), before);
  EXPECT_FALSE(AxisScore(r, "stability", "overlay"));
  EXPECT_EQ(AxesMeasured(r), (std::vector<std::string>{"create", "read", "memory", "disk"}));
}

TEST(DriversReport, CsvRoundTripsAndMerges) {
  const DriversReport r = Sample();
  const std::string csv = FormatDriversCsv(r);
  EXPECT_EQ(csv.rfind("# ran-on: kernel 6.1", 0), 0u) << csv;
  EXPECT_NE(csv.find("\ndriver,axis,metric,value,unit,better\n"), std::string::npos);
  EXPECT_NE(csv.find("\noverlay,create,create_p50_ms,10,ms,lower\n"), std::string::npos) << csv;
  DriversReport back = ParseDriversCsv(csv);
  EXPECT_EQ(back.drivers, r.drivers);
  EXPECT_EQ(back.ran_on, r.ran_on);
  EXPECT_EQ(back.limits, r.limits);
  EXPECT_EQ(back.figures.size(), r.figures.size());
  EXPECT_EQ(back.Value("plain", "create_p50_ms"), 2000);
  // The VM script appends stability rows (another header, a new driver): merged, canonical order.
  back = ParseDriversCsv(csv +
                         "driver,axis,metric,value,unit,better\n"
                         "btrfs,stability,stability_clean_pct,100,%,higher\n"
                         "overlay,stability,stability_clean_pct,50,%,higher\n"
                         "overlay,create,create_p50_ms,12,ms,lower\n");
  EXPECT_EQ(back.drivers, (std::vector<std::string>{"thinsnap-ext4", "overlay", "btrfs", "plain"}));
  EXPECT_EQ(back.Value("overlay", "stability_clean_pct"), 50);
  EXPECT_EQ(back.Value("overlay", "create_p50_ms"), 12);
  EXPECT_EQ(back.ran_on.size(), 1u) << "comment lines are not repeated";
}

TEST(DriversReport, CsvParseErrorsNameTheLine) {
  for (const char* bad :
       {"overlay,create,create_p50_ms,10,ms\n", "zfs,create,create_p50_ms,10,ms,lower\n",
        "overlay,create,create_p42_ms,10,ms,lower\n", "overlay,create,create_p50_ms,ten,ms,lower\n",
        "overlay,create,create_p50_ms,nan,ms,lower\n"}) {
    try {
      ParseDriversCsv(std::string("driver,axis,metric,value,unit,better\n") + bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find("CSV line 2"), std::string::npos) << e.what();
    }
  }
}

TEST(DriversReport, TableShowsRawFiguresRatiosAndScores) {
  const std::string t = FormatDriversTable(Sample());
  EXPECT_NE(t.find("ran on: kernel 6.1"), std::string::npos) << t;
  EXPECT_NE(t.find("limit: TCG"), std::string::npos);
  EXPECT_NE(t.find("[create]"), std::string::npos);
  EXPECT_NE(t.find("40.00 (4.00x)"), std::string::npos) << t;
  EXPECT_NE(t.find("10.00 (1.00x)"), std::string::npos) << t;
  EXPECT_NE(t.find("0.000 (1.00x)"), std::string::npos) << "a best of 0: " << t;
  EXPECT_NE(t.find("axis scores"), std::string::npos);
  EXPECT_EQ(t.find("[write]"), std::string::npos) << "an axis nobody measured is left out";
}

// Every element closed in order; text escaped.
bool Balanced(const std::string& svg) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    const size_t end = svg.find('>', pos);
    if (end == std::string::npos) return false;
    const std::string tag = svg.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (!tag.empty() && tag.back() == '/') continue;
    const std::string name = tag.substr(0, tag.find(' '));
    if (name[0] == '/') {
      if (stack.empty() || stack.back() != name.substr(1)) return false;
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  return stack.empty();
}

TEST(DriversReport, RadarHasOnePolygonPerDriverOverTheMeasuredAxes) {
  const std::string svg = FormatDriversRadarSvg(Sample());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_TRUE(Balanced(svg)) << svg;
  size_t polygons = 0;
  for (size_t p = 0; (p = svg.find("<polygon", p)) != std::string::npos; ++p) ++polygons;
  EXPECT_EQ(polygons, 4u + 3u) << "4 rings and 3 drivers";
  EXPECT_NE(svg.find("TCG &lt;slow&gt; &amp; &quot;emulated&quot;"), std::string::npos);
  EXPECT_NE(svg.find(">memory<"), std::string::npos);
}

TEST(DriversReport, BarChartHasABarPerDriverAndMetric) {
  const std::string svg = FormatDriversBarSvg(Sample(), "disk");
  EXPECT_TRUE(Balanced(svg)) << svg;
  size_t bars = 0;
  for (size_t p = 0; (p = svg.find("<rect x=", p)) != std::string::npos; ++p) ++bars;
  EXPECT_EQ(bars, 3u) << "one metric measured on the disk axis, three drivers";
  EXPECT_NE(svg.find("disk_commit_mib"), std::string::npos);
  EXPECT_NE(svg.find("(1.00x best)"), std::string::npos);
}

TEST(DriversBenchOptions, SmallIsValidAndBadFiguresAreUsageErrors) {
  DriversBenchOptions o = DriversBenchOptions::Small();
  o.dir = "/tmp/x";
  EXPECT_NO_THROW(o.Validate());
  DriversBenchOptions full;
  full.dir = "/tmp/x";
  EXPECT_NO_THROW(full.Validate());
  auto refused = [&](auto change) {
    DriversBenchOptions b = o;
    change(b);
    try {
      b.Validate();
      return false;
    } catch (const Error& e) {
      return e.kind() == ErrorKind::kUsage;
    }
  };
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.dir.clear(); }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.containers = 1; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.copyup_reps = b.containers; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.creates = 0; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.copyup_file_size = 1000; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.pool_block = 96 << 10; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.device_size = 256 << 20; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.metadata_device = "/dev/x"; }));
  EXPECT_TRUE(refused([](DriversBenchOptions& b) { b.drivers.clear(); }));
}

}  // namespace
}  // namespace thinsnap::bench
