#include "thinpool/kernel/dm_tables.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

ErrorKind KindOf(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kFailure;
}

TEST(DmTables, PoolTableWithoutFeatures) {
  TableLine line = ThinPoolTable("/dev/loop1", "/dev/loop0", 2097152, 128, 32);
  EXPECT_EQ(line, (TableLine{0, 2097152, "thin-pool", "/dev/loop1 /dev/loop0 128 32"}));
}

TEST(DmTables, PoolTableWithFeaturesCountsThem) {
  PoolFeatures f;
  f.skip_block_zeroing = true;
  f.no_discard_passdown = true;
  f.error_if_no_space = true;
  TableLine line = ThinPoolTable("m", "d", 4096, 128, 1, f);
  EXPECT_EQ(line.params, "m d 128 1 3 skip_block_zeroing no_discard_passdown error_if_no_space");
}

TEST(DmTables, PoolTableRoundTrips) {
  PoolFeatures f;
  f.ignore_discard = true;
  f.read_only = true;
  ParsedPoolTable p = ParsePoolTableParams(ThinPoolTable("m", "d", 4096, 256, 7, f).params);
  EXPECT_EQ(p.metadata_dev, "m");
  EXPECT_EQ(p.data_dev, "d");
  EXPECT_EQ(p.block_sectors, 256u);
  EXPECT_EQ(p.low_water_blocks, 7u);
  EXPECT_TRUE(p.features.ignore_discard);
  EXPECT_TRUE(p.features.read_only);
  EXPECT_FALSE(p.features.skip_block_zeroing);
}

TEST(DmTables, PoolTableRejectsConflictingDiscardModes) {
  PoolFeatures f;
  f.ignore_discard = true;
  f.no_discard_passdown = true;
  EXPECT_EQ(KindOf([&] { ThinPoolTable("m", "d", 4096, 128, 1, f); }), ErrorKind::kUsage);
}

TEST(DmTables, PoolTableRejectsBadBlockSizeAndTinyData) {
  EXPECT_EQ(KindOf([] { ThinPoolTable("m", "d", 4096, 100, 1); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { ThinPoolTable("m", "d", 64, 128, 1); }), ErrorKind::kUsage);
}

TEST(DmTables, ThinTable) {
  EXPECT_EQ(ThinTable("/dev/mapper/p", 7, 2048), (TableLine{0, 2048, "thin", "/dev/mapper/p 7"}));
  ParsedThinTable t = ParseThinTableParams("253:0 7");
  EXPECT_EQ(t.pool_dev, "253:0");
  EXPECT_EQ(t.thin_id, 7u);
  EXPECT_EQ(KindOf([] { ThinTable("p", 1u << 24, 8); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { ThinTable("p", 1, 0); }), ErrorKind::kUsage);
}

TEST(DmTables, BlockSizeLimits) {
  EXPECT_NO_THROW(ValidateBlockSize(64 * 1024));
  EXPECT_NO_THROW(ValidateBlockSize(1024ull * 1024 * 1024));
  EXPECT_NO_THROW(ValidateBlockSize(192 * 1024));
  for (uint64_t bad : {0ull, 32ull * 1024, 96ull * 1024, 2048ull * 1024 * 1024}) {
    EXPECT_EQ(KindOf([&] { ValidateBlockSize(bad); }), ErrorKind::kUsage) << bad;
  }
}

TEST(DmTables, BlockSizeMessageNamesTheNumbers) {
  try {
    ValidateBlockSize(96 * 1024);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("98304 bytes (96 KiB)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("64 KiB"), std::string::npos);
  }
}

TEST(DmTables, MetadataSizeLimits) {
  EXPECT_EQ(kMaxMetadataBytes, 255ull * 16384 * 8 * 512);
  EXPECT_NO_THROW(ValidateMetadataSize(2 << 20));
  EXPECT_NO_THROW(ValidateMetadataSize(kMaxMetadataBytes));
  EXPECT_EQ(KindOf([] { ValidateMetadataSize((2 << 20) - 1); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { ValidateMetadataSize(16ull << 30); }), ErrorKind::kUsage);
}

TEST(DmTables, ThinIdLimit) {
  EXPECT_NO_THROW(ValidateThinId(0));
  EXPECT_NO_THROW(ValidateThinId((1u << 24) - 1));
  EXPECT_EQ(KindOf([] { ValidateThinId(1u << 24); }), ErrorKind::kUsage);
}

TEST(DmTables, MalformedPoolParamsAreCorrupt) {
  for (const char* bad : {"", "m d x 1", "m d 128 1 2 skip_block_zeroing", "m d 128 1 1 bogus"}) {
    EXPECT_EQ(KindOf([&] { ParsePoolTableParams(bad); }), ErrorKind::kCorrupt) << bad;
  }
}

TEST(DmTables, HumanBytes) {
  EXPECT_EQ(HumanBytes(65536), "64 KiB");
  EXPECT_EQ(HumanBytes(1536ull << 20), "1.50 GiB");
  EXPECT_EQ(HumanBytes(12), "12 B");
}

}  // namespace
}  // namespace thinsnap::kernel
