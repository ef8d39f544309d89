#include "thinpool/kernel/loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "base/error.h"
#include "tests/kernel/kernel_test_util.h"
#include "thinpool/kernel/blockdev.h"

namespace thinsnap::kernel {
namespace {

using testing::TempDir;

TEST(Loop, AttachFindAndDetach) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 64 << 20);
  LoopDevice loop = LoopDevice::Attach(file);
  ASSERT_EQ(loop.path().rfind("/dev/loop", 0), 0u) << loop.path();
  EXPECT_EQ(BlockDeviceSize(loop.path()), 64u << 20);
  EXPECT_EQ(FindLoopForFile(file), loop.path());
  EXPECT_EQ(LoopBackingFile(loop.path()), file);
  std::string path = loop.path();
  loop.Detach();
  EXPECT_EQ(FindLoopForFile(file), std::nullopt);
  EXPECT_EQ(LoopBackingFile(path), std::nullopt);
}

TEST(Loop, UsesDirectIoOnADiskFilesystem) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  LoopDevice loop = LoopDevice::Attach(file);
  std::string name = loop.path().substr(5);
  int fd = ::open(("/sys/block/" + name + "/loop/dio").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(::read(fd, &c, 1), 1);
  ::close(fd);
  EXPECT_EQ(c == '1', loop.direct_io());
  LoopDevice buffered = LoopDevice::Attach(
      file, LoopOptions{.read_only = false, .direct_io_if_possible = false, .autoclear = true});
  EXPECT_FALSE(buffered.direct_io());
}

TEST(Loop, AutoclearDetachesWhenTheLastOpenerCloses) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  LoopDevice loop = LoopDevice::Attach(file);
  std::string path = loop.path();
  int holder = ::open(path.c_str(), O_RDONLY);  // stands in for a dm table
  ASSERT_GE(holder, 0);
  EXPECT_EQ(loop.Release(), path);
  EXPECT_TRUE(loop.path().empty());
  EXPECT_EQ(FindLoopForFile(file), path) << "still held: stays attached";
  ::close(holder);
  EXPECT_EQ(FindLoopForFile(file), std::nullopt) << "autoclear after the last close";
}

TEST(Loop, ReleaseWithoutAutoclearStaysAttached) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  std::string path;
  {
    LoopDevice loop = LoopDevice::Attach(
        file, LoopOptions{.read_only = false, .direct_io_if_possible = true, .autoclear = false});
    path = loop.Release();
  }
  EXPECT_EQ(FindLoopForFile(file), path);
  DetachLoopDevice(path);
  EXPECT_EQ(FindLoopForFile(file), std::nullopt);
}

TEST(Loop, DestructorDetaches) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  { LoopDevice loop = LoopDevice::Attach(file); }
  EXPECT_EQ(FindLoopForFile(file), std::nullopt);
}

TEST(Loop, MoveTransfersOwnership) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  LoopDevice a = LoopDevice::Attach(file);
  std::string path = a.path();
  LoopDevice b = std::move(a);
  EXPECT_TRUE(a.path().empty());
  EXPECT_EQ(b.path(), path);
  EXPECT_EQ(FindLoopForFile(file), path);
}

TEST(Loop, RefreshCapacityAfterTheFileGrew) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  LoopDevice loop = LoopDevice::Attach(file);
  GrowFile(file, 48 << 20);
  EXPECT_EQ(BlockDeviceSize(loop.path()), 16u << 20);
  RefreshCapacity(loop.path());
  EXPECT_EQ(BlockDeviceSize(loop.path()), 48u << 20);
}

TEST(Loop, ReadOnlyRefusesWrites) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::string file = dir.File("data.img");
  CreateSparseFile(file, 16 << 20);
  LoopDevice loop = LoopDevice::Attach(
      file, LoopOptions{.read_only = true, .direct_io_if_possible = true, .autoclear = true});
  UniqueFd fd = UniqueFd::Open(loop.path(), O_RDONLY);
  int read_only = 0;
  ASSERT_EQ(::ioctl(fd.get(), BLKROGET, &read_only), 0);
  EXPECT_EQ(read_only, 1);
  int w = ::open(loop.path().c_str(), O_WRONLY | O_CLOEXEC);
  if (w >= 0) {  // some kernels allow the open and refuse the write
    char c = 0;
    EXPECT_EQ(::pwrite(w, &c, 1, 0), -1);
    ::close(w);
  }
}

TEST(Loop, ManyConcurrentAttachesGetDistinctDevices) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  std::vector<LoopDevice> loops;
  for (int i = 0; i < 12; ++i) {
    std::string file = dir.File("f" + std::to_string(i));
    CreateSparseFile(file, 1 << 20);
    loops.push_back(LoopDevice::Attach(file));
  }
  std::set<std::string> paths;
  for (const LoopDevice& l : loops) paths.insert(l.path());
  EXPECT_EQ(paths.size(), loops.size());
}

TEST(Loop, MissingFileNamesIt) {
  THINSNAP_REQUIRE_LOOP();
  try {
    LoopDevice::Attach("/nonexistent/thinsnap.img");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/thinsnap.img"), std::string::npos);
  }
}

}  // namespace
}  // namespace thinsnap::kernel
