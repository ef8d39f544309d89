#include "thinpool/kernel/fs_tools.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/kernel/kernel_test_util.h"
#include "thinpool/kernel/blockdev.h"

namespace thinsnap::kernel {
namespace {

using testing::HaveProgram;
using testing::TempDir;

TEST(FsTools, MkfsArgvIsEagerAndDiscardFree) {
  EXPECT_EQ(MakeFilesystemArgv("/dev/x", FsType::kExt4, {"-L", "base"}),
            (std::vector<std::string>{"mkfs.ext4", "-q", "-F", "-E",
                                      "nodiscard,lazy_itable_init=0,lazy_journal_init=0", "-L",
                                      "base", "/dev/x"}));
  EXPECT_EQ(MakeFilesystemArgv("/dev/x", FsType::kXfs, {}),
            (std::vector<std::string>{"mkfs.xfs", "-q", "-f", "-K", "/dev/x"}));
  EXPECT_THROW(MakeFilesystemArgv("/dev/x", FsType::kNone, {}), Error);
}

TEST(FsTools, ParsesThinLs) {
  EXPECT_EQ(ParseThinLs("1 100 20 80\n  2   80 0 80  \n\n"),
            (std::vector<ThinLsRow>{{1, 100, 20, 80}, {2, 80, 0, 80}}));
  EXPECT_THROW(ParseThinLs("1 2 3\n"), Error);
  EXPECT_THROW(ParseThinLs("DEV MAPPED EXCL SHARED\n"), Error);
}

TEST(FsTools, MkfsCheckAndGrowExt4OnAFile) {
  TempDir dir;
  std::string img = dir.File("img");
  CreateSparseFile(img, 32 << 20);
  MakeFilesystem(img, FsType::kExt4);
  EXPECT_TRUE(CheckFilesystem(img, FsType::kExt4).ok);
  GrowFile(img, 64 << 20);
  GrowFilesystem(img, "", FsType::kExt4);
  EXPECT_TRUE(CheckFilesystem(img, FsType::kExt4).ok);
}

TEST(FsTools, ThinCheckReportsGarbageAsNotOk) {
  if (!HaveProgram("thin_check")) GTEST_SKIP() << "no thin_check";
  TempDir dir;
  CreateSparseFile(dir.File("meta"), 4 << 20);
  ToolReport r = ThinCheck(dir.File("meta"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.output.empty());
}

TEST(FsTools, ThinLsOnGarbageThrowsWithTheToolsMessage) {
  if (!HaveProgram("thin_ls")) GTEST_SKIP() << "no thin_ls";
  TempDir dir;
  CreateSparseFile(dir.File("meta"), 4 << 20);
  try {
    ThinLs(dir.File("meta"), false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("thin_ls --no-headers"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace thinsnap::kernel
