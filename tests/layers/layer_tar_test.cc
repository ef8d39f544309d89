#include "thinpool/layers/layer_tar.h"

#include <openssl/evp.h>

#include <thread>

#include "base/error.h"
#include "tests/layers/tree_test_util.h"

namespace thinsnap::layers {
namespace {

using testing::Exists;
using testing::Fingerprint;
using testing::GetXattr;
using testing::Lstat;
using testing::MemFdWith;
using testing::PaxRecord;
using testing::RawUstarEnd;
using testing::RawUstarEntry;
using testing::ReadFileAt;
using testing::TarBuilder;
using testing::TempDir;
using testing::TestFd;
using testing::WriteFileAt;

// A layer root with a sentinel directory beside it. Outside() captures everything in the
// sandbox that is not under the root; hostile layers must leave it unchanged.
struct Sandbox {
  TempDir base;
  std::string root = base.path() + "/root";
  std::string sentinel = base.path() + "/sentinel";
  std::string before;

  Sandbox() {
    mkdir(root.c_str(), 0755);
    mkdir(sentinel.c_str(), 0755);
    mkdir((sentinel + "/dir").c_str(), 0755);
    WriteFileAt(sentinel + "/file", "secret");
    testing::SetTimes(sentinel + "/file", 1000);
    testing::SetTimes(sentinel + "/dir", 1000);
    testing::SetTimes(sentinel, 1000);
    before = Outside();
  }

  std::string Outside() const {
    std::string out = Fingerprint(sentinel);
    for (const auto& entry : std::filesystem::directory_iterator(base.path())) {
      out += "top:" + entry.path().filename().string() + "\n";
    }
    struct stat st = Lstat(sentinel);
    out += "sentinel mtime " + std::to_string(st.st_mtim.tv_sec) + "\n";
    return out;
  }
  std::string At(const std::string& rel) const { return root + "/" + rel; }
};

ApplyStats Apply(const std::string& tar, const std::string& root,
                 const ApplyOptions& options = {}) {
  TestFd fd(MemFdWith(tar));
  return ApplyLayer(fd.get(), root, options);
}

std::string Sha256(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out = "sha256:";
  char hex[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    out += hex;
  }
  return out;
}

// Applies a hostile tar: it must be refused with an Error mentioning `needle` (the entry) and
// leave everything outside the root untouched.
void ExpectRefused(const Sandbox& sb, const std::string& tar, const std::string& needle) {
  try {
    Apply(tar, sb.root);
    ADD_FAILURE() << "layer was not refused (expected error naming " << needle << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_EQ(sb.Outside(), sb.before);
}

// ---- Ordinary layers ----

TEST(LayerTar, AppliesFilesDirectoriesSymlinksWithMetadata) {
  Sandbox sb;
  std::string tar = TarBuilder()
                        .Add("etc/", AE_IFDIR, 0750, "",
                             [](archive_entry* e) { archive_entry_set_mtime(e, 1234, 5678); })
                        .Add("etc/passwd", AE_IFREG, 0644, "root:x:0:0\n",
                             [](archive_entry* e) {
                               archive_entry_set_uid(e, 1234);
                               archive_entry_set_gid(e, 5678);
                               archive_entry_set_mtime(e, 1500000000, 123456789);
                             })
                        .Add("bin/su", AE_IFREG, 04755, "ELF")
                        .Add("tmp", AE_IFDIR, 01777)
                        .Add("bin/sh", AE_IFLNK, 0777, "",
                             [](archive_entry* e) {
                               archive_entry_set_symlink(e, "/bin/busybox");
                               archive_entry_set_uid(e, 42);
                               archive_entry_set_mtime(e, 1400000000, 7);
                             })
                        .Finish();
  ApplyStats stats = Apply(tar, sb.root);
  EXPECT_EQ(stats.entries, 5u);
  EXPECT_EQ(ReadFileAt(sb.At("etc/passwd")), "root:x:0:0\n");
  struct stat st = Lstat(sb.At("etc/passwd"));
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  st = Lstat(sb.At("etc"));  // mtime set after its contents were written
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234);
  EXPECT_EQ(st.st_mtim.tv_nsec, 5678);
  EXPECT_EQ(Lstat(sb.At("bin/su")).st_mode & 07777, 04755u);
  EXPECT_EQ(Lstat(sb.At("tmp")).st_mode & 07777, 01777u);
  EXPECT_EQ(Lstat(sb.At("bin")).st_mode & 07777, 0755u);  // implicit parent
  st = Lstat(sb.At("bin/sh"));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_uid, 42u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1400000000);
  EXPECT_EQ(std::filesystem::read_symlink(sb.At("bin/sh")), "/bin/busybox");
}

TEST(LayerTar, AppliesDeviceNodesAndFifos) {
  Sandbox sb;
  auto dev = [](int maj, int min) {
    return [=](archive_entry* e) {
      archive_entry_set_rdevmajor(e, maj);
      archive_entry_set_rdevminor(e, min);
    };
  };
  std::string tar = TarBuilder()
                        .Add("dev/null", AE_IFCHR, 0666, "", dev(1, 3))
                        .Add("dev/sda", AE_IFBLK, 0660, "", dev(8, 0))
                        .Add("run/fifo", AE_IFIFO, 0600)
                        .Finish();
  Apply(tar, sb.root);
  struct stat st = Lstat(sb.At("dev/null"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  st = Lstat(sb.At("dev/sda"));
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(8, 0));
  EXPECT_TRUE(S_ISFIFO(Lstat(sb.At("run/fifo")).st_mode));
  EXPECT_EQ(sb.Outside(), sb.before);
}

TEST(LayerTar, HardlinksShareTheInode) {
  Sandbox sb;
  std::string tar = TarBuilder()
                        .File("a/one", "data")
                        .Hardlink("b/two", "a/one")
                        .Hardlink("three", "/a/one")
                        .Finish();
  Apply(tar, sb.root);
  EXPECT_EQ(Lstat(sb.At("a/one")).st_ino, Lstat(sb.At("b/two")).st_ino);
  EXPECT_EQ(Lstat(sb.At("a/one")).st_ino, Lstat(sb.At("three")).st_ino);
  EXPECT_EQ(Lstat(sb.At("a/one")).st_nlink, 3u);
}

TEST(LayerTar, AppliesXattrsIncludingCapabilityAfterChown) {
  Sandbox sb;
  // vfs_cap_data revision 2: magic, then permitted/inheritable for two 32-bit words.
  std::string cap(20, '\0');
  cap[3] = 0x02;
  cap[5] = 0x04;  // permitted bit 10: CAP_NET_BIND_SERVICE
  std::string tar =
      TarBuilder()
          .Add("bin/ping", AE_IFREG, 0755, "x",
               [&](archive_entry* e) {
                 archive_entry_set_uid(e, 1000);
                 archive_entry_xattr_add_entry(e, "security.capability", cap.data(), cap.size());
                 archive_entry_xattr_add_entry(e, "user.color", "blue", 4);
               })
          .Add("etc", AE_IFDIR, 0755, "",
               [](archive_entry* e) { archive_entry_xattr_add_entry(e, "trusted.t", "1", 1); })
          .Finish();
  Apply(tar, sb.root);
  EXPECT_EQ(GetXattr(sb.At("bin/ping"), "security.capability"), cap);
  EXPECT_EQ(GetXattr(sb.At("bin/ping"), "user.color"), "blue");
  EXPECT_EQ(Lstat(sb.At("bin/ping")).st_uid, 1000u);
  EXPECT_EQ(GetXattr(sb.At("etc"), "trusted.t"), "1");
}

TEST(LayerTar, DiffIdIsSha256OfTheUncompressedStream) {
  std::string plain = TarBuilder().File("a", std::string(100000, 'x')).Dir("d").Finish();
  for (int filter :
       {ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_XZ}) {
    std::string tar = TarBuilder(filter).File("a", std::string(100000, 'x')).Dir("d").Finish();
    if (filter != ARCHIVE_FILTER_NONE) {
      EXPECT_LT(tar.size(), plain.size());
    }
    Sandbox sb;
    ApplyStats stats = Apply(tar, sb.root);
    EXPECT_EQ(stats.diff_id, Sha256(plain)) << "filter " << filter;
    EXPECT_EQ(stats.bytes, plain.size());
    EXPECT_EQ(stats.entries, 2u);
    EXPECT_EQ(ReadFileAt(sb.At("a")), std::string(100000, 'x'));
  }
}

TEST(LayerTar, ReadsFromAPipe) {
  Sandbox sb;
  std::string tar = TarBuilder(ARCHIVE_FILTER_GZIP).File("big", std::string(3 << 20, 'q')).Finish();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    size_t done = 0;
    while (done < tar.size()) {
      ssize_t n = write(fds[1], tar.data() + done, tar.size() - done);
      if (n <= 0) break;
      done += n;
    }
    close(fds[1]);
  });
  ApplyStats stats = ApplyLayer(fds[0], sb.root);
  writer.join();
  close(fds[0]);
  EXPECT_EQ(Lstat(sb.At("big")).st_size, 3 << 20);
  EXPECT_EQ(stats.entries, 1u);
}

TEST(LayerTar, ReportsProgressAndFinalTotals) {
  Sandbox sb;
  TarBuilder builder;
  for (int i = 0; i < 50; ++i) builder.File("f" + std::to_string(i), std::string(1000, 'a'));
  std::string tar = builder.Finish();
  ApplyOptions options;
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  options.progress = [&](uint64_t bytes, uint64_t entries) { calls.emplace_back(bytes, entries); };
  options.progress_interval = std::chrono::milliseconds(0);
  ApplyStats stats = Apply(tar, sb.root, options);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.back(), std::make_pair(stats.bytes, stats.entries));
  EXPECT_EQ(stats.bytes, tar.size());
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_GE(calls[i].first, calls[i - 1].first);
  calls.clear();
  options.progress_interval = std::chrono::hours(1);
  Sandbox sb2;
  Apply(tar, sb2.root, options);
  EXPECT_EQ(calls.size(), 1u);  // only the final call within the interval
}

TEST(LayerTar, WhiteoutRemovesFileAndWholeTree) {
  Sandbox sb;
  Apply(
      TarBuilder().File("etc/keep", "k").File("etc/old", "o").File("var/cache/a/b/c", "c").Finish(),
      sb.root);
  ApplyStats stats = Apply(TarBuilder()
                               .File("etc/.wh.old", "")
                               .File("var/.wh.cache", "")
                               .File(".wh.missing", "")
                               .Finish(),
                           sb.root);
  EXPECT_EQ(stats.entries, 3u);
  EXPECT_TRUE(Exists(sb.At("etc/keep")));
  EXPECT_FALSE(Exists(sb.At("etc/old")));
  EXPECT_FALSE(Exists(sb.At("var/cache")));
  EXPECT_FALSE(Exists(sb.At("etc/.wh.old")));
  EXPECT_FALSE(Exists(sb.At("var/.wh.cache")));
  EXPECT_TRUE(Exists(sb.At("var")));
}

TEST(LayerTar, OpaqueMarkerBeforeSiblingsKeepsThisLayersEntries) {
  Sandbox sb;
  Apply(TarBuilder().File("d/lower1", "1").File("d/sub/lower2", "2").File("other", "o").Finish(),
        sb.root);
  Apply(TarBuilder()
            .Dir("d")
            .File("d/.wh..wh..opq", "")
            .File("d/new", "n")
            .File("d/sub/new2", "n2")
            .Finish(),
        sb.root);
  EXPECT_FALSE(Exists(sb.At("d/lower1")));
  EXPECT_FALSE(Exists(sb.At("d/sub/lower2")));
  EXPECT_TRUE(Exists(sb.At("d/new")));
  EXPECT_TRUE(Exists(sb.At("d/sub/new2")));
  EXPECT_FALSE(Exists(sb.At("d/.wh..wh..opq")));
  EXPECT_TRUE(Exists(sb.At("other")));
}

TEST(LayerTar, OpaqueMarkerAfterSiblingsKeepsThisLayersEntries) {
  Sandbox sb;
  Apply(TarBuilder().File("d/lower1", "1").File("d/sub/lower2", "2").File("d/new", "old").Finish(),
        sb.root);
  Apply(
      TarBuilder().File("d/new", "n").File("d/sub/new2", "n2").File("d/.wh..wh..opq", "").Finish(),
      sb.root);
  EXPECT_FALSE(Exists(sb.At("d/lower1")));
  EXPECT_FALSE(Exists(sb.At("d/sub/lower2")));  // sub came only implicitly from this layer
  EXPECT_EQ(ReadFileAt(sb.At("d/new")), "n");
  EXPECT_EQ(ReadFileAt(sb.At("d/sub/new2")), "n2");
}

TEST(LayerTar, DirectoryEntryMergesIntoExistingDirectory) {
  Sandbox sb;
  Apply(TarBuilder()
            .Add("d", AE_IFDIR, 0755, "",
                 [](archive_entry* e) { archive_entry_xattr_add_entry(e, "user.old", "1", 1); })
            .File("d/lower", "l")
            .Finish(),
        sb.root);
  Apply(TarBuilder()
            .Add("d", AE_IFDIR, 0700, "",
                 [](archive_entry* e) { archive_entry_xattr_add_entry(e, "user.new", "2", 1); })
            .Finish(),
        sb.root);
  EXPECT_TRUE(Exists(sb.At("d/lower")));
  EXPECT_EQ(Lstat(sb.At("d")).st_mode & 07777, 0700u);
  EXPECT_EQ(GetXattr(sb.At("d"), "user.old"), "<none>");
  EXPECT_EQ(GetXattr(sb.At("d"), "user.new"), "2");
}

TEST(LayerTar, ReplacingAFileNeverWritesThroughALowerHardlink) {
  Sandbox sb;
  Apply(TarBuilder().File("a", "lower").Hardlink("b", "a").Finish(), sb.root);
  Apply(TarBuilder().File("a", "upper").Finish(), sb.root);
  EXPECT_EQ(ReadFileAt(sb.At("a")), "upper");
  EXPECT_EQ(ReadFileAt(sb.At("b")), "lower");
}

TEST(LayerTar, RootEntryAppliesMetadataToTheRoot) {
  Sandbox sb;
  Apply(TarBuilder()
            .Add("./", AE_IFDIR, 0711, "",
                 [](archive_entry* e) { archive_entry_set_mtime(e, 777, 0); })
            .File("./x", "x")
            .Finish(),
        sb.root);
  struct stat st = Lstat(sb.root);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_EQ(st.st_mtim.tv_sec, 777);
  EXPECT_EQ(ReadFileAt(sb.At("x")), "x");
}

// ---- Hostile layers ----

TEST(LayerTarHostile, DotDotTraversalIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().File("../sentinel/evil", "x").Finish(), "../sentinel/evil");
}

TEST(LayerTarHostile, NestedDotDotTraversalIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().File("a/b/../../../sentinel/file", "pwned").Finish(),
                "a/b/../../../sentinel/file");
  EXPECT_EQ(ReadFileAt(sb.sentinel + "/file"), "secret");
}

TEST(LayerTarHostile, DotDotStayingInsideIsCleanedLikeDocker) {
  Sandbox sb;
  Apply(TarBuilder().File("a/../b", "b").Finish(), sb.root);
  EXPECT_EQ(ReadFileAt(sb.At("b")), "b");
  EXPECT_EQ(sb.Outside(), sb.before);
}

TEST(LayerTarHostile, AbsolutePathsAreRelativeToTheRoot) {
  Sandbox sb;
  std::string target = sb.sentinel + "/file";
  Apply(TarBuilder().File("/abs/file", "a").File(target, "pwned").Finish(), sb.root);
  EXPECT_EQ(ReadFileAt(sb.At("abs/file")), "a");
  EXPECT_EQ(ReadFileAt(sb.root + target), "pwned");
  EXPECT_EQ(sb.Outside(), sb.before);
}

TEST(LayerTarHostile, WriteThroughSymlinkFromTheSameLayerIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().Symlink("escape", "../sentinel").File("escape/evil", "x").Finish(),
                "escape/evil");
}

TEST(LayerTarHostile, WriteThroughSymlinkToSlashIsRefused) {
  Sandbox sb;
  std::string unique = "thinsnap-evil-" + std::to_string(getpid());
  ExpectRefused(sb, TarBuilder().Symlink("rootfs", "/").File("rootfs/tmp/" + unique, "x").Finish(),
                "rootfs/tmp/" + unique);
  EXPECT_FALSE(Exists("/tmp/" + unique));
}

TEST(LayerTarHostile, WriteThroughSymlinkFromTheLowerLayerIsRefused) {
  Sandbox sb;
  ASSERT_EQ(symlink(sb.sentinel.c_str(), sb.At("lowlink").c_str()), 0);
  ExpectRefused(sb, TarBuilder().File("lowlink/evil", "x").Finish(), "lowlink/evil");
  ExpectRefused(sb, TarBuilder().Dir("lowlink/dir/sub").Finish(), "lowlink/dir/sub");
}

TEST(LayerTarHostile, WriteThroughSymlinkPointingInsideIsRefusedToo) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().Dir("real").Symlink("alias", "real").File("alias/f", "x").Finish(),
                "alias/f");
  EXPECT_FALSE(Exists(sb.At("real/f")));
}

TEST(LayerTarHostile, HardlinkToEtcPasswdNeverLinksTheHostFile) {
  Sandbox sb;
  struct stat host = Lstat("/etc/passwd");
  ExpectRefused(sb, TarBuilder().Hardlink("pw", "/etc/passwd").Finish(), "pw");
  EXPECT_EQ(Lstat("/etc/passwd").st_nlink, host.st_nlink);
  // With an etc/passwd inside the root, the absolute link target means that one.
  Apply(TarBuilder().File("etc/passwd", "inside").Hardlink("pw", "/etc/passwd").Finish(), sb.root);
  EXPECT_EQ(Lstat(sb.At("pw")).st_ino, Lstat(sb.At("etc/passwd")).st_ino);
  EXPECT_NE(Lstat(sb.At("pw")).st_ino, host.st_ino);
  EXPECT_EQ(Lstat("/etc/passwd").st_nlink, host.st_nlink);
}

TEST(LayerTarHostile, HardlinkTraversalIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().Hardlink("x", "../sentinel/file").Finish(), "\"x\"");
  EXPECT_EQ(Lstat(sb.sentinel + "/file").st_nlink, 1u);
}

TEST(LayerTarHostile, HardlinkThroughSymlinkIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().Symlink("l", "../sentinel").Hardlink("x", "l/file").Finish(),
                "\"x\"");
  EXPECT_EQ(Lstat(sb.sentinel + "/file").st_nlink, 1u);
}

TEST(LayerTarHostile, HardlinkToASymlinkLinksTheSymlinkItself) {
  Sandbox sb;
  Apply(TarBuilder().Symlink("s", "../sentinel/file").Hardlink("h", "s").Finish(), sb.root);
  EXPECT_TRUE(S_ISLNK(Lstat(sb.At("h")).st_mode));
  EXPECT_EQ(Lstat(sb.sentinel + "/file").st_nlink, 1u);
  EXPECT_EQ(sb.Outside(), sb.before);
}

TEST(LayerTarHostile, WhiteoutOfDotDotIsRefused) {
  Sandbox sb;
  mkdir(sb.At("d").c_str(), 0755);
  ExpectRefused(sb, TarBuilder().File("d/.wh...", "").Finish(), "d/.wh...");
  ExpectRefused(sb, TarBuilder().File(".wh..", "").Finish(), ".wh..");
  EXPECT_TRUE(Exists(sb.At("d")));
}

TEST(LayerTarHostile, WhiteoutOutsideTheRootIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, TarBuilder().File("../sentinel/.wh.file", "").Finish(), "../sentinel/.wh.file");
  ExpectRefused(sb, TarBuilder().File("/../../sentinel/.wh.dir", "").Finish(), ".wh.dir");
}

TEST(LayerTarHostile, WhiteoutThroughSymlinkIsRefused) {
  Sandbox sb;
  ASSERT_EQ(symlink("../sentinel", sb.At("l").c_str()), 0);
  ExpectRefused(sb, TarBuilder().File("l/.wh.file", "").Finish(), "l/.wh.file");
  EXPECT_TRUE(Exists(sb.sentinel + "/file"));
}

TEST(LayerTarHostile, OpaqueMarkerInEscapingDirectoryIsRefused) {
  Sandbox sb;
  ASSERT_EQ(symlink(sb.sentinel.c_str(), sb.At("l").c_str()), 0);
  ExpectRefused(sb, TarBuilder().File("../sentinel/.wh..wh..opq", "").Finish(), ".wh..wh..opq");
  ExpectRefused(sb, TarBuilder().File("l/.wh..wh..opq", "").Finish(), "l/.wh..wh..opq");
  EXPECT_TRUE(Exists(sb.sentinel + "/file"));
}

TEST(LayerTarHostile, DeviceNodesAreCreatedOnlyInsideTheRoot) {
  Sandbox sb;
  std::string tar = TarBuilder()
                        .Add("dev/sda", AE_IFBLK, 0600, "",
                             [](archive_entry* e) { archive_entry_set_rdev(e, makedev(8, 0)); })
                        .Add("../sentinel/kmem", AE_IFCHR, 0600, "",
                             [](archive_entry* e) { archive_entry_set_rdev(e, makedev(1, 2)); })
                        .Finish();
  ExpectRefused(sb, tar, "../sentinel/kmem");
  EXPECT_EQ(Lstat(sb.At("dev/sda")).st_rdev, makedev(8, 0));
}

TEST(LayerTarHostile, HugeSparseFileUsesLittleDisk) {
  Sandbox sb;
  const int64_t size = int64_t{8} << 30;
  std::string tar =
      TarBuilder()
          .Sparse("huge", size, {{0, "head"}, {int64_t{4} << 30, "middle"}, {size - 4, "tail"}})
          .Finish();
  EXPECT_LT(tar.size(), 64u * 1024);
  Apply(tar, sb.root);
  struct stat st = Lstat(sb.At("huge"));
  EXPECT_EQ(st.st_size, size);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  TestFd fd(open(sb.At("huge").c_str(), O_RDONLY));
  char buf[6];
  ASSERT_EQ(pread(fd.get(), buf, 6, int64_t{4} << 30), 6);
  EXPECT_EQ(std::string(buf, 6), "middle");
  ASSERT_EQ(pread(fd.get(), buf, 4, size - 4), 4);
  EXPECT_EQ(std::string(buf, 4), "tail");
  ASSERT_EQ(pread(fd.get(), buf, 4, 1 << 20), 4);
  EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
}

TEST(LayerTarHostile, ZeroFilledFileBecomesSparse) {
  Sandbox sb;
  std::string data(16 << 20, '\0');
  data.replace(5 << 20, 3, "abc");
  Apply(TarBuilder().File("zeros", data).Finish(), sb.root);
  EXPECT_EQ(ReadFileAt(sb.At("zeros")), data);
  EXPECT_LT(Lstat(sb.At("zeros")).st_blocks * 512, 1 << 20);
}

TEST(LayerTarHostile, TenThousandSmallFiles) {
  Sandbox sb;
  TarBuilder builder(ARCHIVE_FILTER_GZIP);
  for (int i = 0; i < 10000; ++i) {
    builder.File("d" + std::to_string(i % 10) + "/f" + std::to_string(i), std::to_string(i));
  }
  ApplyStats stats = Apply(builder.Finish(), sb.root);
  EXPECT_EQ(stats.entries, 10000u);
  EXPECT_EQ(ReadFileAt(sb.At("d7/f9997")), "9997");
  size_t count = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(sb.root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    ++count;
  }
  EXPECT_EQ(count, 10010u);
}

TEST(LayerTarHostile, TwoHundredDeepDirectories) {
  Sandbox sb;
  std::string path;
  TarBuilder builder;
  for (int i = 0; i < 200; ++i) {
    path += (i ? "/d" : "d") + std::to_string(i);
    builder.Dir(path, 0755);
  }
  builder.File(path + "/leaf", "deep");
  Apply(builder.Finish(), sb.root);
  EXPECT_EQ(ReadFileAt(sb.root + "/" + path + "/leaf"), "deep");
  EXPECT_EQ(Lstat(sb.root + "/" + path).st_mtim.tv_sec, 1600000000);
}

TEST(LayerTarHostile, UnicodeNamesAreKeptByteForByte) {
  Sandbox sb;
  const std::string name = "h\xc3\xa9llo-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x90\xb3";
  // Written in the C locale, libarchive marks the name hdrcharset=BINARY; Docker writes plain
  // UTF-8 pax "path" records, made by hand here.
  std::string tar = TarBuilder().File(name, "binary-header").Finish();
  tar.resize(tar.size() - 1024);  // drop the end-of-archive blocks
  tar += RawUstarEntry("PaxHeader/x", 'x', PaxRecord("path", "u/" + name)) +
         RawUstarEntry("placeholder", '0', "utf8") + RawUstarEnd();
  Apply(tar, sb.root);
  EXPECT_EQ(ReadFileAt(sb.At(name)), "binary-header");
  EXPECT_EQ(ReadFileAt(sb.At("u/" + name)), "utf8");
  EXPECT_FALSE(Exists(sb.At("placeholder")));
}

TEST(LayerTarHostile, VeryLongNames) {
  Sandbox sb;
  std::string component(255, 'n');
  std::string deep;
  for (int i = 0; i < 12; ++i) deep += component + std::to_string(i % 10).substr(0, 0) + "/";
  deep.resize(deep.size() - 1);
  std::string long_ok = std::string(200, 'a') + "/" + component;
  Apply(TarBuilder().File(long_ok, "ok").Finish(), sb.root);
  EXPECT_EQ(ReadFileAt(sb.At(long_ok)), "ok");
  ExpectRefused(sb, TarBuilder().File(std::string(256, 'x'), "x").Finish(), "xxxx");
  ExpectRefused(sb, TarBuilder().File(std::string(5000, 'y'), "x").Finish(), "PATH_MAX");
}

TEST(LayerTarHostile, HugeNamesAreShortenedInTheError) {
  Sandbox sb;
  std::string name = "start-" + std::string(5000, 'y') + "-end";
  try {
    Apply(TarBuilder().File(name, "x").Finish(), sb.root);
    ADD_FAILURE() << "accepted a 5 KiB name";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_LT(what.size(), 600u) << what;
    EXPECT_NE(what.find("\"start-yyy"), std::string::npos) << what;
    EXPECT_NE(what.find("yyy-end\""), std::string::npos) << what;
    EXPECT_NE(what.find("(4750 bytes)"), std::string::npos) << what;
  }
}

TEST(LayerTarHostile, EmptyNameIsRefused) {
  Sandbox sb;
  std::string tar = RawUstarEntry("", '0', "data") + RawUstarEnd();
  try {
    Apply(tar, sb.root);
    ADD_FAILURE() << "empty name accepted";
  } catch (const Error& e) {
    SUCCEED() << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(sb.root));
  EXPECT_EQ(sb.Outside(), sb.before);
}

TEST(LayerTarHostile, NonDirectoryEntryForTheRootIsRefused) {
  Sandbox sb;
  ExpectRefused(sb, RawUstarEntry("./", '0', "x") + RawUstarEnd(), "entry");
  ExpectRefused(sb, TarBuilder().Symlink("/", "/etc").Finish(), "root itself");
}

TEST(LayerTarHostile, DuplicateEntriesLaterWins) {
  Sandbox sb;
  Apply(TarBuilder()
            .File("f", "first")
            .File("f", "second")
            .Symlink("s", "a")
            .Symlink("s", "b")
            .Finish(),
        sb.root);
  EXPECT_EQ(ReadFileAt(sb.At("f")), "second");
  EXPECT_EQ(std::filesystem::read_symlink(sb.At("s")), "b");
}

TEST(LayerTarHostile, FileReplacedByDirectoryAndViceVersa) {
  Sandbox sb;
  Apply(TarBuilder()
            .File("was-file", "f")
            .File("was-dir/child/x", "x")
            .Symlink("was-link", "../sentinel")
            .Finish(),
        sb.root);
  Apply(TarBuilder()
            .Dir("was-file")
            .File("was-file/inside", "i")
            .File("was-dir", "now a file")
            .Dir("was-link")
            .Finish(),
        sb.root);
  EXPECT_EQ(ReadFileAt(sb.At("was-file/inside")), "i");
  EXPECT_EQ(ReadFileAt(sb.At("was-dir")), "now a file");
  EXPECT_TRUE(S_ISDIR(Lstat(sb.At("was-link")).st_mode));
  EXPECT_EQ(sb.Outside(), sb.before);
}

TEST(LayerTarHostile, TruncatedTarFailsClearly) {
  Sandbox sb;
  std::string tar = TarBuilder().File("a", std::string(10000, 'a')).File("b", "b").Finish();
  tar.resize(3000);
  ExpectRefused(sb, tar, "\"a\"");
}

TEST(LayerTarHostile, CorruptGzipFailsClearly) {
  Sandbox sb;
  std::string tar = TarBuilder(ARCHIVE_FILTER_GZIP).File("a", std::string(100000, 'a')).Finish();
  for (size_t i = 20; i < tar.size() - 20; i += 7) tar[i] ^= 0x5a;
  ExpectRefused(sb, tar, "");
}

TEST(LayerTarHostile, GarbageAndEmptyInputFailClearly) {
  Sandbox sb;
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7919 % 251);
  ExpectRefused(sb, garbage, "apply layer");
  ExpectRefused(sb, "", "apply layer");
}

TEST(LayerTarHostile, TruncatedZstdFailsClearly) {
  Sandbox sb;
  std::string tar =
      TarBuilder(ARCHIVE_FILTER_ZSTD).File("a", std::string(1 << 20, 'z')).File("b", "b").Finish();
  tar.resize(tar.size() / 2);
  ExpectRefused(sb, tar, "");
}

}  // namespace
}  // namespace thinsnap::layers
