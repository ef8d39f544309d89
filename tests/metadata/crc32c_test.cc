#include "metadata/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace thinsnap {
namespace {

// Bit-at-a-time reference, straight from the definition.
uint32_t ReferenceCrc32c(const std::string& s) {
  uint32_t crc = ~0u;
  for (unsigned char c : s) {
    crc ^= c;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
  }
  return ~crc;
}

TEST(Crc32c, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down), 0x113FDB5Cu);
}

TEST(Crc32c, SliceBy8MatchesBitwiseAtEveryLengthAndAlignment) {
  std::mt19937 rng(42);
  std::string buf(300, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= buf.size(); len += 7) {
      const std::string s = buf.substr(start, len);
      ASSERT_EQ(Crc32c(s), ReferenceCrc32c(s)) << "start " << start << " len " << len;
    }
  }
}

TEST(Crc32c, ExtendEqualsWholeMessage) {
  const std::string a = "thin provisioning ", b = "snapshot journal";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
}

}  // namespace
}  // namespace thinsnap
