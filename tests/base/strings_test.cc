#include "base/strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace thinsnap {
namespace {

using Words = std::vector<std::string>;

TEST(Strings, SplitWordsOnAnyBlank) {
  EXPECT_EQ(
      SplitWords("0 2097152 thin-pool 7:1 7:0 128 0 1 skip_block_zeroing"),
      (Words{"0", "2097152", "thin-pool", "7:1", "7:0", "128", "0", "1", "skip_block_zeroing"}));
  EXPECT_EQ(SplitWords("  a\t b\n\nc  "), (Words{"a", "b", "c"}));
  EXPECT_EQ(SplitWords(""), Words{});
  EXPECT_EQ(SplitWords(" \t\n"), Words{});
}

TEST(Strings, SplitListLeavesOutEmptyItems) {
  EXPECT_EQ(SplitList("4k,16k,64k", ','), (Words{"4k", "16k", "64k"}));
  EXPECT_EQ(SplitList(",4k,,64k,", ','), (Words{"4k", "64k"}));
  EXPECT_EQ(SplitList("", ','), Words{});
  EXPECT_EQ(SplitList("one", ','), Words{"one"});
}

TEST(Strings, PrintfHasNoLengthLimit) {
  EXPECT_EQ(Printf("%.2fms", 4.5612), "4.56ms");
  EXPECT_EQ(Printf("%s", ""), "");
  std::string long_text(1000, 'x');
  EXPECT_EQ(Printf("<%s>", long_text.c_str()), "<" + long_text + ">");
}

}  // namespace
}  // namespace thinsnap
