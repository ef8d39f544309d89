#include "thinpool/kernel/fs_tools.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/error.h"
#include "tests/kernel/kernel_test_util.h"
#include "thinpool/kernel/blockdev.h"
#include "thinpool/kernel/process.h"

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

// thin_delta 0.9.0's output for two thins of a pool made with thin_restore (copied verbatim).
TEST(FsTools, ParsesThinDelta) {
  const char* out =
      "<superblock uuid=\"\" time=\"1\" transaction=\"2\" data_block_size=\"128\" "
      "nr_data_blocks=\"1000\">\n"
      "  <diff left=\"1\" right=\"2\">\n"
      "    <same begin=\"0\" length=\"2\"/>\n"
      "    <different begin=\"2\" length=\"1\"/>\n"
      "    <left_only begin=\"3\" length=\"1\"/>\n"
      "    <right_only begin=\"15\" length=\"1\"/>\n"
      "  </diff>\n"
      "</superblock>\n";
  using K = DeltaRange::Kind;
  EXPECT_EQ(
      ParseThinDelta(out),
      (std::vector<DeltaRange>{
          {K::kSame, 0, 2}, {K::kDifferent, 2, 1}, {K::kLeftOnly, 3, 1}, {K::kRightOnly, 15, 1}}));
  EXPECT_THROW(ParseThinDelta("<different begin=\"2\"/>\n"), Error);
  EXPECT_THROW(ParseThinDelta("<different begin=\"x\" length=\"1\"/>\n"), Error);
  EXPECT_THROW(ParseThinDelta("<range begin=\"2\" length=\"1\"/>\n"), Error);
}

// The real tool on metadata made by thin_restore: the same ranges as above, and a thin
// compared with itself lists its mapped ranges (what a full send reads).
TEST(FsTools, ThinDeltaOnRestoredMetadata) {
  if (!HaveProgram("thin_restore") || !HaveProgram("thin_delta")) GTEST_SKIP();
  TempDir dir;
  std::string xml = dir.File("m.xml"), meta = dir.File("meta");
  {
    std::ofstream f(xml);
    f << "<superblock uuid=\"\" time=\"1\" transaction=\"2\" flags=\"0\" version=\"2\" "
         "data_block_size=\"128\" nr_data_blocks=\"1000\">\n"
         "<device dev_id=\"1\" mapped_blocks=\"5\" transaction=\"0\" creation_time=\"0\" "
         "snap_time=\"1\">\n"
         "<range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"4\" time=\"0\"/>\n"
         "<single_mapping origin_block=\"10\" data_block=\"20\" time=\"0\"/>\n"
         "</device>\n"
         "<device dev_id=\"2\" mapped_blocks=\"4\" transaction=\"0\" creation_time=\"1\" "
         "snap_time=\"1\">\n"
         "<range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"2\" time=\"0\"/>\n"
         "<single_mapping origin_block=\"2\" data_block=\"30\" time=\"1\"/>\n"
         "<single_mapping origin_block=\"15\" data_block=\"31\" time=\"1\"/>\n"
         "</device>\n</superblock>\n";
  }
  CreateSparseFile(meta, 8 << 20);
  RunCommand({"thin_restore", "-i", xml, "-o", meta});
  using K = DeltaRange::Kind;
  EXPECT_EQ(ThinDelta(meta, 1, 2, false), (std::vector<DeltaRange>{{K::kSame, 0, 2},
                                                                   {K::kDifferent, 2, 1},
                                                                   {K::kLeftOnly, 3, 1},
                                                                   {K::kLeftOnly, 10, 1},
                                                                   {K::kRightOnly, 15, 1}}));
  EXPECT_EQ(ThinDelta(meta, 1, 1, false),
            (std::vector<DeltaRange>{{K::kSame, 0, 4}, {K::kSame, 10, 1}}));
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
