#include "thinpool/kernel/blockdev.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "tests/kernel/kernel_test_util.h"
#include "thinpool/kernel/fs_tools.h"
#include "thinpool/kernel/loop.h"
#include "thinpool/kernel/process.h"

namespace thinsnap::kernel {
namespace {

using testing::HaveProgram;
using testing::TempDir;

bool Contains(const std::vector<std::string>& v, const std::string& needle) {
  for (const std::string& s : v) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Blockdev, EmptyDeviceHasNoSignatures) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  CreateSparseFile(dir.File("d"), 32 << 20);
  LoopDevice loop = LoopDevice::Attach(dir.File("d"));
  EXPECT_TRUE(ProbeSignatures(loop.path()).empty());
}

TEST(Blockdev, Ext4IsNamedWithItsUuid) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  CreateSparseFile(dir.File("d"), 32 << 20);
  LoopDevice loop = LoopDevice::Attach(dir.File("d"));
  MakeFilesystem(loop.path(), FsType::kExt4, {"-L", "thinsnaptest"});
  std::vector<std::string> sigs = ProbeSignatures(loop.path());
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].rfind("ext4 filesystem (UUID ", 0), 0u) << sigs[0];
  EXPECT_NE(sigs[0].find("LABEL thinsnaptest"), std::string::npos) << sigs[0];
}

TEST(Blockdev, XfsOnAFile) {
  if (!HaveProgram("mkfs.xfs")) GTEST_SKIP() << "no mkfs.xfs";
  TempDir dir;
  CreateSparseFile(dir.File("d"), 320 << 20);
  MakeFilesystem(dir.File("d"), FsType::kXfs);
  EXPECT_TRUE(Contains(ProbeSignatures(dir.File("d")), "xfs filesystem"));
}

TEST(Blockdev, SwapSignature) {
  if (!HaveProgram("mkswap")) GTEST_SKIP() << "no mkswap";
  TempDir dir;
  CreateSparseFile(dir.File("d"), 8 << 20);
  RunCommand({"mkswap", dir.File("d")});
  EXPECT_TRUE(Contains(ProbeSignatures(dir.File("d")), "swap space"));
}

TEST(Blockdev, GptPartitionTable) {
  if (!HaveProgram("sfdisk")) GTEST_SKIP() << "no sfdisk";
  TempDir dir;
  CreateSparseFile(dir.File("d"), 32 << 20);
  RunCommand({"sh", "-c", "echo 'label: gpt' | sfdisk -q " + dir.File("d")});
  std::vector<std::string> sigs = ProbeSignatures(dir.File("d"));
  EXPECT_TRUE(Contains(sigs, "gpt partition table")) << sigs.size();
}

TEST(Blockdev, SizesOfFilesAndDevices) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  CreateSparseFile(dir.File("d"), 5 << 20);
  EXPECT_EQ(BlockDeviceSize(dir.File("d")), 5u << 20);
  EXPECT_FALSE(IsBlockDevice(dir.File("d")));
  EXPECT_EQ(LogicalBlockSize(dir.File("d")), 512u);
  LoopDevice loop = LoopDevice::Attach(dir.File("d"));
  EXPECT_TRUE(IsBlockDevice(loop.path()));
  EXPECT_EQ(BlockDeviceSize(loop.path()), 5u << 20);
  EXPECT_GE(LogicalBlockSize(loop.path()), 512u);
}

TEST(Blockdev, OpenExclusiveFailsWhileHeldExclusively) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  CreateSparseFile(dir.File("d"), 8 << 20);
  LoopDevice loop = LoopDevice::Attach(dir.File("d"));
  UniqueFd first = OpenExclusive(loop.path());
  try {
    OpenExclusive(loop.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBusy);
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos);
  }
  first.Close();
  EXPECT_NO_THROW(OpenExclusive(loop.path()));
  EXPECT_THROW(OpenExclusive(dir.File("d")), Error);  // not a block device
}

TEST(Blockdev, ZeroRangeClearsASignature) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  CreateSparseFile(dir.File("d"), 32 << 20);
  LoopDevice loop = LoopDevice::Attach(dir.File("d"));
  MakeFilesystem(loop.path(), FsType::kExt4);
  UniqueFd fd = UniqueFd::Open(loop.path(), O_RDWR);
  ZeroRange(fd.get(), 0, 64 * 1024);  // ext4's superblock sits at 1 KiB
  fd.Close();
  EXPECT_TRUE(ProbeSignatures(loop.path()).empty());
}

TEST(Blockdev, DiscardOnALoopDevicePunchesTheFile) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("d");
  CreateSparseFile(file, 8 << 20);
  {
    UniqueFd fd = UniqueFd::Open(file, O_WRONLY);
    std::string ones(1 << 20, '\x01');
    ASSERT_EQ(::pwrite(fd.get(), ones.data(), ones.size(), 0), static_cast<ssize_t>(ones.size()));
    ::fsync(fd.get());
  }
  LoopDevice loop = LoopDevice::Attach(file);
  Discard(loop.path(), 0, 0);
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
}

TEST(Blockdev, SparseFilesGrowButNeverShrink) {
  TempDir dir;
  std::string file = dir.File("d");
  CreateSparseFile(file, 1 << 20);
  EXPECT_THROW(CreateSparseFile(file, 1 << 20), Error);
  GrowFile(file, 2 << 20);
  EXPECT_EQ(BlockDeviceSize(file), 2u << 20);
  GrowFile(file, 2 << 20);
  try {
    GrowFile(file, 1 << 20);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("cannot shrink"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace thinsnap::kernel
