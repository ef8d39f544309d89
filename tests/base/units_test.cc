#include "base/units.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace thinsnap {
namespace {

TEST(Units, ParsesSizesWithBinarySuffixes) {
  EXPECT_EQ(ParseSize("64k", "--x"), 64u << 10);
  EXPECT_EQ(ParseSize("10G", "--x"), 10ull << 30);
  EXPECT_EQ(ParseSize("512MiB", "--x"), 512u << 20);
  EXPECT_THROW(ParseSize("12Q", "--x"), Error);
}

TEST(Units, FormatsSizes) {
  EXPECT_EQ(FormatSize(512), "512 B");
  EXPECT_EQ(FormatSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatSize(10ull << 30), "10 GiB");
}

TEST(ImportProgressLine, ShowsBytesEntriesRateAndTime) {
  EXPECT_EQ(FormatImportProgress("app", 30ull << 20, 1234, 3'000'000'000),
            "import app: 30 MiB, 1234 entries, 10 MiB/s, 3.0 s");
  EXPECT_EQ(FormatImportProgress("big", 3ull << 30, 70000, 1'500'000'000),
            "import big: 3 GiB, 70000 entries, 2 GiB/s, 1.5 s");
}

TEST(ImportProgressLine, NoRateBeforeATenthOfASecondAndOneEntry) {
  EXPECT_EQ(FormatImportProgress("x", 512, 1, 40'000'000), "import x: 512 B, 1 entry, 0.0 s");
  EXPECT_EQ(FormatImportProgress("x", 0, 0, 0), "import x: 0 B, 0 entries, 0.0 s");
  EXPECT_EQ(FormatImportProgress("x", 0, 0, -5), "import x: 0 B, 0 entries, 0.0 s");
}

}  // namespace
}  // namespace thinsnap
