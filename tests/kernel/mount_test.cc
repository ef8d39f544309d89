#include "thinpool/kernel/mount.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "base/error.h"
#include "tests/kernel/kernel_test_util.h"
#include "thinpool/kernel/blockdev.h"
#include "thinpool/kernel/fs_tools.h"
#include "thinpool/kernel/loop.h"

namespace thinsnap::kernel {
namespace {

using testing::TempDir;

TEST(Mount, ParsesFlagsAndData) {
  MountOptions o = ParseMountOptions("ro,noatime,nouuid,norecovery");
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOATIME));
  EXPECT_EQ(o.data, "nouuid,norecovery");
  o = ParseMountOptions("ro,rw,nodev,,defaults");
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NODEV));
  EXPECT_EQ(o.data, "");
  EXPECT_EQ(ParseMountOptions("").flags, 0ul);
}

// Mounts an ext4 loop device for the test; skips where mounting is not allowed.
class MountedExt4 {
 public:
  explicit MountedExt4(const TempDir& dir) {
    CreateSparseFile(dir.File("img"), 32 << 20);
    loop_ = LoopDevice::Attach(dir.File("img"));
    MakeFilesystem(loop_.path(), FsType::kExt4);
    mnt_ = dir.File("mnt");
    std::filesystem::create_directory(mnt_);
  }
  LoopDevice& loop() { return loop_; }
  const std::string& mnt() const { return mnt_; }

 private:
  LoopDevice loop_;
  std::string mnt_;
};

TEST(Mount, MountFindUnmount) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  MountedExt4 fs(dir);
  EXPECT_FALSE(IsMountPoint(fs.mnt()));
  EXPECT_TRUE(FindMounts(fs.loop().path()).empty());
  Mount(fs.loop().path(), fs.mnt(), "ext4", "noatime");
  EXPECT_TRUE(IsMountPoint(fs.mnt()));
  EXPECT_EQ(FindMounts(fs.loop().path()), std::vector<std::string>{fs.mnt()});
  struct stat st;
  ASSERT_EQ(::stat(fs.loop().path().c_str(), &st), 0);
  std::string majmin = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  EXPECT_EQ(FindMounts(majmin).size(), 1u);
  Unmount(fs.mnt());
  EXPECT_FALSE(IsMountPoint(fs.mnt()));
}

TEST(Mount, ReadOnlyMountRefusesWrites) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  MountedExt4 fs(dir);
  Mount(fs.loop().path(), fs.mnt(), "ext4", "ro,noload");
  int fd = ::open((fs.mnt() + "/x").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  Unmount(fs.mnt());
}

TEST(Mount, BusyUnmountIsAClearError) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  MountedExt4 fs(dir);
  Mount(fs.loop().path(), fs.mnt(), "ext4", "");
  int fd = ::open((fs.mnt() + "/held").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  try {
    Unmount(fs.mnt());
    ADD_FAILURE() << "unmounted a busy filesystem";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBusy);
    EXPECT_NE(std::string(e.what()).find("busy"), std::string::npos) << e.what();
  }
  ::close(fd);
  Unmount(fs.mnt());
}

TEST(Mount, LazyUnmountDetachesABusyMount) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  MountedExt4 fs(dir);
  Mount(fs.loop().path(), fs.mnt(), "ext4", "");
  int fd = ::open((fs.mnt() + "/held").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  Unmount(fs.mnt(), /*lazy=*/true);
  EXPECT_FALSE(IsMountPoint(fs.mnt()));
  ::close(fd);
}

TEST(Mount, BadMountNamesSourceTargetAndType) {
  THINSNAP_REQUIRE_LOOP();
  TempDir dir;
  CreateSparseFile(dir.File("img"), 8 << 20);
  LoopDevice loop = LoopDevice::Attach(dir.File("img"));
  std::filesystem::create_directory(dir.File("mnt"));
  try {
    Mount(loop.path(), dir.File("mnt"), "ext4", "ro");
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("mount " + loop.path() + " on " + dir.File("mnt") + " (ext4, ro)"),
              std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace thinsnap::kernel
