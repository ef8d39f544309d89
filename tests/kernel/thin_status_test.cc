#include "thinpool/kernel/thin_status.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

struct PoolCase {
  const char* line;
  PoolStatus want;
};

PoolStatus Pool(uint64_t txn, uint64_t mu, uint64_t mt, uint64_t du, uint64_t dt) {
  PoolStatus s;
  s.transaction_id = txn;
  s.metadata_used_blocks = mu;
  s.metadata_total_blocks = mt;
  s.data_used_blocks = du;
  s.data_total_blocks = dt;
  return s;
}

void ExpectSame(const PoolStatus& got, const PoolStatus& want, const char* line) {
  SCOPED_TRACE(line);
  EXPECT_EQ(got.failed, want.failed);
  EXPECT_EQ(got.transaction_id, want.transaction_id);
  EXPECT_EQ(got.metadata_used_blocks, want.metadata_used_blocks);
  EXPECT_EQ(got.metadata_total_blocks, want.metadata_total_blocks);
  EXPECT_EQ(got.data_used_blocks, want.data_used_blocks);
  EXPECT_EQ(got.data_total_blocks, want.data_total_blocks);
  EXPECT_EQ(got.held_metadata_root, want.held_metadata_root);
  EXPECT_EQ(got.mode, want.mode);
  EXPECT_EQ(got.discard, want.discard);
  EXPECT_EQ(got.error_if_no_space, want.error_if_no_space);
  EXPECT_EQ(got.needs_check, want.needs_check);
  EXPECT_EQ(got.metadata_low_watermark, want.metadata_low_watermark);
}

std::vector<PoolCase> PoolCases() {
  std::vector<PoolCase> cases;
  PoolStatus fresh = Pool(0, 10, 4096, 0, 1024);
  fresh.metadata_low_watermark = 1024;
  cases.push_back({"0 10/4096 0/1024 - rw discard_passdown queue_if_no_space - 1024 ", fresh});
  PoolStatus held = Pool(7, 33, 4096, 100, 1024);
  held.held_metadata_root = 4101;
  held.discard = DiscardMode::kNoPassdown;
  held.error_if_no_space = true;
  held.metadata_low_watermark = 1024;
  cases.push_back(
      {"7 33/4096 100/1024 4101 rw no_discard_passdown error_if_no_space - 1024", held});
  PoolStatus full = Pool(12, 40, 512, 1024, 1024);
  full.mode = PoolIoMode::kOutOfDataSpace;
  full.discard = DiscardMode::kIgnore;
  full.metadata_low_watermark = 128;
  cases.push_back(
      {"12 40/512 1024/1024 - out_of_data_space ignore_discard queue_if_no_space - 128 ", full});
  PoolStatus old_kernel = Pool(1, 11, 4096, 3, 1024);  // before the low watermark field (<4.19)
  old_kernel.mode = PoolIoMode::kReadOnly;
  old_kernel.needs_check = true;
  cases.push_back(
      {"1 11/4096 3/1024 - ro discard_passdown queue_if_no_space needs_check", old_kernel});
  PoolStatus failed;
  failed.failed = true;
  cases.push_back({"Fail", failed});
  cases.push_back({"Error", failed});
  return cases;
}

// Lines printed by Debian's 6.1.0-56-cloud-amd64 kernel (thin-pool 1.22) during
// vm-tests/scenarios/dm_conformance.sh: 4 MiB metadata, 64 MiB data in 64 KiB blocks.
TEST(ThinStatus, ParsesLinesCapturedFromLinux61) {
  PoolStatus fresh =
      ParsePoolStatus("0 111/1024 0/1024 - rw discard_passdown queue_if_no_space - 256 ");
  EXPECT_EQ(fresh.metadata_used_blocks, 111u);
  EXPECT_EQ(fresh.metadata_total_blocks, 1024u);
  EXPECT_EQ(fresh.data_total_blocks, 1024u);
  EXPECT_EQ(fresh.metadata_low_watermark, 256u);
  PoolStatus features =
      ParsePoolStatus("0 111/1024 0/1024 - rw no_discard_passdown error_if_no_space - 256 ");
  EXPECT_EQ(features.discard, DiscardMode::kNoPassdown);
  EXPECT_TRUE(features.error_if_no_space);
  EXPECT_EQ(ParsePoolStatus("1 112/1024 0/1024 - rw discard_passdown queue_if_no_space - 256 ")
                .transaction_id,
            1u);
  PoolStatus held =
      ParsePoolStatus("0 112/1024 0/1024 13 rw discard_passdown queue_if_no_space - 256 ");
  EXPECT_EQ(held.held_metadata_root, 13u);
  PoolStatus used =
      ParsePoolStatus("0 112/1024 4/1024 - rw discard_passdown queue_if_no_space - 256 ");
  EXPECT_EQ(used.data_used_blocks, 4u);
  EXPECT_EQ(ParsePoolStatus("0 111/1024 0/2048 - rw discard_passdown queue_if_no_space - 256 ")
                .data_total_blocks,
            2048u);
  ThinStatus empty = ParseThinStatus("0 -");
  EXPECT_EQ(empty.mapped_sectors, 0u);
  EXPECT_FALSE(empty.highest_mapped_sector.has_value());
  ThinStatus written = ParseThinStatus("512 511");
  EXPECT_EQ(written.mapped_sectors, 512u);
  EXPECT_EQ(written.highest_mapped_sector, 511u);
}

TEST(ThinStatus, ParsesPoolLines) {
  for (const PoolCase& c : PoolCases()) ExpectSame(ParsePoolStatus(c.line), c.want, c.line);
}

TEST(ThinStatus, PoolFormatRoundTrips) {
  for (const PoolCase& c : PoolCases()) {
    ExpectSame(ParsePoolStatus(FormatPoolStatus(c.want)), c.want, c.line);
  }
  EXPECT_EQ(FormatPoolStatus(PoolCases()[0].want), PoolCases()[0].line);
}

TEST(ThinStatus, RejectsMalformedPoolLines) {
  const char* bad[] = {
      "",
      "0 10/4096 0/1024 - rw discard_passdown queue_if_no_space",
      "x 10/4096 0/1024 - rw discard_passdown queue_if_no_space - 1024",
      "0 10-4096 0/1024 - rw discard_passdown queue_if_no_space - 1024",
      "0 10/4096 0/1024 - rx discard_passdown queue_if_no_space - 1024",
      "0 10/4096 0/1024 - rw discard queue_if_no_space - 1024",
      "0 10/4096 0/1024 - rw discard_passdown maybe - 1024",
      "0 10/4096 0/1024 - rw discard_passdown queue_if_no_space x 1024",
      "0 10/4096 0/1024 q rw discard_passdown queue_if_no_space - 1024",
      "0 10/4096 0/1024 - rw discard_passdown queue_if_no_space - 1024 extra",
  };
  for (const char* line : bad) {
    try {
      ParsePoolStatus(line);
      ADD_FAILURE() << "accepted: " << line;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + line + "\""), std::string::npos)
          << e.what();
    }
  }
}

TEST(ThinStatus, ParsesThinLines) {
  ThinStatus s = ParseThinStatus("2048 4095");
  EXPECT_FALSE(s.failed);
  EXPECT_EQ(s.mapped_sectors, 2048u);
  EXPECT_EQ(s.highest_mapped_sector, 4095u);
  s = ParseThinStatus("0 -");
  EXPECT_EQ(s.mapped_sectors, 0u);
  EXPECT_FALSE(s.highest_mapped_sector.has_value());
  EXPECT_TRUE(ParseThinStatus("Fail").failed);
  EXPECT_EQ(ParseThinStatus("-").mapped_sectors, 0u);
}

TEST(ThinStatus, ThinFormatRoundTrips) {
  ThinStatus s;
  s.mapped_sectors = 128;
  s.highest_mapped_sector = 127;
  EXPECT_EQ(FormatThinStatus(s), "128 127");
  EXPECT_EQ(ParseThinStatus(FormatThinStatus(s)).highest_mapped_sector, 127u);
}

TEST(ThinStatus, RejectsMalformedThinLines) {
  for (const char* line : {"", "12", "12 x", "a 1", "1 2 3"}) {
    EXPECT_THROW(ParseThinStatus(line), Error) << line;
  }
}

}  // namespace
}  // namespace thinsnap::kernel
