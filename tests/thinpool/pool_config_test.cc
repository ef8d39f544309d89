// PoolSettings <-> the store's key/value configuration (keys in metadata/FORMAT.md).
#include "thinpool/pool_config.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace thinsnap {
namespace {

// Every field away from its default.
PoolSettings Unusual() {
  PoolSettings s;
  s.pool_id = "0a1b2c3d";
  s.mode = PoolMode::kDirect;
  s.data_path = "/dev/nvme0n1";
  s.metadata_path = "/dev/nvme1n1";
  s.metadata_spare = "/dev/nvme2n1";
  s.adopted_pool = "vg-pool";
  s.block_size = 1 << 20;
  s.fs = FsType::kXfs;
  s.base_size = 3ull << 30;
  s.base_id = 7;
  s.mkfs_args = {"-m", "reflink=0", "two words", ""};
  s.mount_opts = "noatime";
  s.skip_block_zeroing = false;
  s.no_space = NoSpacePolicy::kQueue;
  s.discard = DiscardMode::kNoPassdown;
  s.min_free_percent = 3;
  s.autoextend_threshold = 80;
  s.autoextend_percent = 50;
  s.autoextend_max_size = 5ull << 40;
  s.autoextend_hook = "grow-lun --pool \"$THINSNAP_POOL\"";
  s.deferred_removal = false;
  s.ready = true;
  return s;
}

TEST(PoolSettings, RoundTripsEveryField) {
  const PoolSettings s = Unusual();
  EXPECT_EQ(PoolSettings::FromConfig(s.ToConfig()), s);
  EXPECT_EQ(PoolSettings::FromConfig(PoolSettings().ToConfig()), PoolSettings());
  for (PoolMode mode : {PoolMode::kLoopback, PoolMode::kDirect, PoolMode::kAdopted}) {
    PoolSettings m = s;
    m.mode = mode;
    EXPECT_EQ(PoolSettings::FromConfig(m.ToConfig()).mode, mode);
  }
  for (DiscardMode d : {DiscardMode::kPassdown, DiscardMode::kNoPassdown, DiscardMode::kIgnore}) {
    PoolSettings m = s;
    m.discard = d;
    EXPECT_EQ(PoolSettings::FromConfig(m.ToConfig()).discard, d);
  }
}

TEST(PoolSettings, WritesTheDocumentedWords) {
  PoolConfig c = Unusual().ToConfig();
  EXPECT_EQ(c.at("pool.mode"), "direct");
  EXPECT_EQ(c.at("fs"), "xfs");
  EXPECT_EQ(c.at("pool.no_space"), "queue");
  EXPECT_EQ(c.at("pool.discard"), "nopassdown");
  EXPECT_EQ(c.at("block.size"), "1048576");
  EXPECT_EQ(c.at("pool.skip_block_zeroing"), "0");
  EXPECT_EQ(c.at("pool.ready"), "1");
  EXPECT_EQ(c.at("fs.mkfs_args"), "-m\x1freflink=0\x1ftwo words\x1f");
}

TEST(PoolSettings, MissingKeysReadAsDefaults) {
  EXPECT_EQ(PoolSettings::FromConfig({}), PoolSettings());
  PoolSettings old = PoolSettings::FromConfig({{"pool.mode", "adopted"}, {"fs", "ext4"}});
  EXPECT_EQ(old.mode, PoolMode::kAdopted);
  EXPECT_TRUE(old.deferred_removal);
  EXPECT_EQ(old.autoextend_percent, 20);
}

TEST(PoolSettings, BadNumbersAreCorruption) {
  try {
    PoolSettings::FromConfig({{"block.size", "sixty-four"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("block.size"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace thinsnap
