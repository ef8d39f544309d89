// bench cow's outputs (table, CSV, SVG) on synthetic rows, and its refusal of bad options before
// it touches the kernel. The measurements themselves run against dm-thin in
// vm-tests/scenarios/bench_cow.sh.
#include "bench/cow_bench.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"

namespace thinsnap {
namespace {

CowRow Row(const std::string& experiment, uint64_t block, uint64_t io, int depth, double p50) {
  CowRow r;
  r.experiment = experiment;
  r.pool_block = block;
  r.io_size = io;
  r.stride = std::max(block, io);
  r.depth = depth;
  r.ios = 64;
  r.iops = 1e6 / p50;
  r.mib_per_s = r.iops * static_cast<double>(io) / (1 << 20);
  r.min_us = p50 / 2;
  r.mean_us = p50 * 1.1;
  r.p50_us = p50;
  r.p99_us = p50 * 3;
  r.max_us = p50 * 10;
  return r;
}

CowBenchResult Sample() {
  CowBenchResult r;
  r.raw_device = "/dev/nvme0n1 & <friends>";
  for (uint64_t block : {64u << 10, 1u << 20}) {
    for (uint64_t io : {4u << 10, 1u << 20}) {
      r.rows.push_back(Row("first_write", block, io, -1, 200));
      r.rows.push_back(Row("owned_write", block, io, -1, 100));
      r.rows.push_back(Row("cow_write", block, io, -1, 400));
      r.rows.push_back(Row("raw_write", block, io, -1, 90));
    }
  }
  for (int d : {0, 1, 64}) r.rows.push_back(Row("chain_read", 64 << 10, 4096, d, 50 + d));
  r.rows.push_back(Row("raw_read", 64 << 10, 4096, -1, 45));
  return r;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, sep)) out.push_back(item);
  if (!text.empty() && text.back() == sep) out.push_back("");
  return out;
}

TEST(CowBenchFormat, CsvHasOneLinePerRowWithEveryColumn) {
  const CowBenchResult r = Sample();
  const std::vector<std::string> lines = Split(FormatCowCsv(r), '\n');
  ASSERT_EQ(lines.size(), r.rows.size() + 2);  // header, rows, the empty piece after the last \n
  EXPECT_EQ(lines.back(), "");
  const size_t columns = Split(lines[0], ',').size();
  EXPECT_EQ(columns, 13u);
  for (size_t i = 1; i <= r.rows.size(); ++i) {
    const std::vector<std::string> f = Split(lines[i], ',');
    ASSERT_EQ(f.size(), columns) << lines[i];
    EXPECT_EQ(f[0], r.rows[i - 1].experiment);
    EXPECT_EQ(f[4], r.rows[i - 1].depth >= 0 ? std::to_string(r.rows[i - 1].depth) : "");
    EXPECT_DOUBLE_EQ(std::stod(f[10]), r.rows[i - 1].p50_us);
  }
}

TEST(CowBenchFormat, TableShowsRatiosAndChain) {
  const std::string t = FormatCowTable(Sample());
  EXPECT_NE(t.find("writes, pool block 64K"), std::string::npos) << t;
  EXPECT_NE(t.find("writes, pool block 1M"), std::string::npos) << t;
  EXPECT_NE(t.find("4.00x"), std::string::npos) << t;  // cow/owned = 400/100
  EXPECT_NE(t.find("random 4K reads against snapshot chain depth"), std::string::npos) << t;
  EXPECT_NE(t.find("\n64 "), std::string::npos) << t;
}

// One tag at the start of `s`: `<` `/`? name (attr="value")* `/`? `>`, with blanks between
// attributes and values free of `"<>`. Returns false when `s` does not start with such a tag.
// (Hand-written: GCC 12's <regex> trips -Wmaybe-uninitialized in the sanitizer build.)
struct Tag {
  bool close = false, self_closing = false;
  std::string name;
  size_t length = 0;
};
bool ParseTag(const std::string& s, Tag* t) {
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto is_attr = [&](char c) {
    return is_alpha(c) || (c >= '0' && c <= '9') || c == ':' || c == '-';
  };
  auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t i = 0;
  if (i >= s.size() || s[i++] != '<') return false;
  if (i < s.size() && s[i] == '/') t->close = true, ++i;
  while (i < s.size() && is_alpha(s[i])) t->name += s[i++];
  if (t->name.empty()) return false;
  for (;;) {
    size_t blanks = i;
    while (i < s.size() && is_blank(s[i])) ++i;
    if (i < s.size() && (s[i] == '/' || s[i] == '>')) break;
    if (i == blanks) return false;  // an attribute needs a blank before it
    size_t name = i;
    while (i < s.size() && is_attr(s[i])) ++i;
    if (i == name || i + 1 >= s.size() || s[i] != '=' || s[i + 1] != '"') return false;
    i += 2;
    while (i < s.size() && s[i] != '"' && s[i] != '<' && s[i] != '>') ++i;
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
  }
  if (s[i] == '/') t->self_closing = true, ++i;
  if (i >= s.size() || s[i] != '>') return false;
  t->length = i + 1;
  return true;
}

TEST(CowBenchFormat, TagParserAcceptsTagsAndRefusesBrokenOnes) {
  Tag t;
  ASSERT_TRUE(ParseTag("<rect x=\"1\" fill=\"#fff\"/>rest", &t));
  EXPECT_EQ(t.name, "rect");
  EXPECT_TRUE(t.self_closing);
  EXPECT_EQ(t.length, 25u);  // up to and including the ">"
  Tag c;
  ASSERT_TRUE(ParseTag("</g>", &c));
  EXPECT_TRUE(c.close);
  for (const char* bad : {"<g x=1>", "<g x=\"1>", "<gx=\"1\">", "< g>", "<g", "<g x=\"<\">"}) {
    Tag b;
    EXPECT_FALSE(ParseTag(bad, &b)) << bad;
  }
}

// Every element closed, in order; attribute values quoted; text escaped.
void ExpectWellFormed(const std::string& svg, size_t min_elements) {
  std::vector<std::string> stack;
  size_t pos = 0, elements = 0;
  while (pos < svg.size()) {
    const size_t lt = svg.find('<', pos);
    const std::string text =
        svg.substr(pos, lt == std::string::npos ? std::string::npos : lt - pos);
    EXPECT_EQ(text.find('>'), std::string::npos) << "stray '>' in text: " << text;
    if (lt == std::string::npos) break;
    const std::string rest = svg.substr(lt);
    Tag tag;
    ASSERT_TRUE(ParseTag(rest, &tag)) << "malformed tag at " << rest.substr(0, 80);
    if (tag.close) {
      ASSERT_FALSE(stack.empty()) << "close without open: " << tag.name;
      ASSERT_EQ(stack.back(), tag.name);
      stack.pop_back();
    } else if (!tag.self_closing) {
      stack.push_back(tag.name);
    }
    ++elements;
    pos = lt + tag.length;
  }
  EXPECT_TRUE(stack.empty());
  EXPECT_GE(elements, min_elements);
}

TEST(CowBenchFormat, SvgIsWellFormedWithAPanelPerBlockSize) {
  const std::string svg = FormatCowSvg(Sample());
  ASSERT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  ExpectWellFormed(svg, 100);
  EXPECT_NE(svg.find("pool block 64K"), std::string::npos);
  EXPECT_NE(svg.find("pool block 1M"), std::string::npos);
  size_t lines = 0;
  for (size_t p = 0; (p = svg.find("<polyline", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 2u * 4 + 3);
}

TEST(CowBenchFormat, CsvParsesBackAndRendersAnotherStatistic) {
  const CowBenchResult r = Sample();
  CowBenchResult back;
  back.rows = ParseCowCsv(FormatCowCsv(r));
  ASSERT_EQ(back.rows.size(), r.rows.size());
  EXPECT_EQ(FormatCowCsv(back), FormatCowCsv(r));
  back.stat = "min";  // min is p50 / 2 in the sample: the ratios stay, the cells halve
  const std::string t = FormatCowTable(back);
  EXPECT_NE(t.find("min latency"), std::string::npos) << t;
  EXPECT_NE(t.find("200.0"), std::string::npos) << t;  // cow min = 400 / 2
  EXPECT_NE(t.find("4.00x"), std::string::npos) << t;
  EXPECT_NE(FormatCowSvg(back).find("min write latency"), std::string::npos);
  EXPECT_THROW(ParseCowCsv("header\nfirst_write,1,2\n"), Error);
  EXPECT_THROW(ParseCowCsv("header\nfirst_write,x,2,3,,5,6,7,8,9,10,11,12\n"), Error);
}

TEST(CowBenchFormat, EmptyResultStillWellFormed) {
  const CowBenchResult empty;
  ExpectWellFormed(FormatCowSvg(empty), 5);
  EXPECT_EQ(Split(FormatCowCsv(empty), '\n').size(), 2u);
}

TEST(CowBench, RefusesBadOptionsBeforeTouchingTheKernel) {
  auto refused = [](CowBenchOptions o) {
    try {
      RunCowBench(o, nullptr, nullptr, nullptr);
    } catch (const Error& e) {
      return e.kind() == ErrorKind::kUsage;
    }
    return false;
  };
  CowBenchOptions o;
  o.scratch = "/nonexistent";
  CowBenchOptions bad = o;
  bad.io_sizes = {3072};
  EXPECT_TRUE(refused(bad));
  bad = o;
  bad.block_sizes = {96 << 10};
  EXPECT_TRUE(refused(bad));
  bad = o;
  bad.depths = {0};
  EXPECT_TRUE(refused(bad));
  bad = o;
  bad.scratch.clear();
  EXPECT_TRUE(refused(bad));
  bad = o;
  bad.pools = CowPools::kScratchDirect;
  EXPECT_TRUE(refused(bad));  // no --data/--metadata
  bad = o;
  bad.iodepth = 0;
  EXPECT_TRUE(refused(bad));
}

}  // namespace
}  // namespace thinsnap
