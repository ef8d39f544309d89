#include "thinpool/layers/tar_export.h"

#include "base/error.h"
#include "tests/layers/tree_test_util.h"
#include "thinpool/layers/layer_tar.h"
#include "thinpool/layers/tree_diff.h"

namespace thinsnap::layers {
namespace {

using testing::Exists;
using testing::GetXattr;
using testing::Lstat;
using testing::MemFdWith;
using testing::ReadAllFd;
using testing::ReadFileAt;
using testing::SetTimes;
using testing::TempDir;
using testing::TestFd;
using testing::WriteFileAt;

// The parent layer: every kind of entry, fixed metadata, so building it twice gives equal trees.
void BuildLower(const std::string& r) {
  for (const char* d : {"/etc", "/bin", "/usr/lib", "/var/empty", "/var/tree/a/b", "/data",
                        "/tobefile/sub", "/dev"}) {
    std::filesystem::create_directories(r + d);
  }
  WriteFileAt(r + "/etc/passwd", "root:x:0:0\n");
  WriteFileAt(r + "/etc/hosts", "127.0.0.1 localhost\n");
  WriteFileAt(r + "/etc/old", "old");
  WriteFileAt(r + "/bin/sh", "#!ELF sh", 0755);
  WriteFileAt(r + "/bin/su", "#!ELF su", 04755);
  WriteFileAt(r + "/usr/lib/libfoo.so", "lib");
  symlink("libfoo.so", (r + "/usr/lib/libfoo.so.1").c_str());
  WriteFileAt(r + "/var/tree/a/b/c", "c");
  WriteFileAt(r + "/data/link1", "shared");
  link((r + "/data/link1").c_str(), (r + "/data/link2").c_str());
  WriteFileAt(r + "/tobedir", "file");
  WriteFileAt(r + "/tobefile/sub/x", "x");
  WriteFileAt(r + "/etc/xattr", "x");
  setxattr((r + "/etc/xattr").c_str(), "user.keep", "1", 1, 0);
  mknod((r + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
  std::vector<std::string> all;
  for (auto it = std::filesystem::recursive_directory_iterator(r);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    all.push_back(it->path().string());
  }
  std::sort(all.rbegin(), all.rend());  // children before parents
  for (const std::string& p : all) SetTimes(p, 1500000000, 1);
}

// The child layer: the parent changed in every way a diff can see.
void MutateToUpper(const std::string& r) {
  WriteFileAt(r + "/etc/passwd", "ROOT:x:0:0\n");  // same size; mtime reset below
  SetTimes(r + "/etc/passwd", 1500000000, 1);
  chmod((r + "/etc/hosts").c_str(), 0600);
  std::filesystem::remove(r + "/etc/old");
  std::filesystem::remove_all(r + "/var/tree");
  std::filesystem::create_directories(r + "/new/dir/deep");
  WriteFileAt(r + "/new/dir/deep/file", "new");
  SetTimes(r + "/new/dir/deep/file", 1600000000, 999999999);
  std::string long_name(240, 'L');
  WriteFileAt(r + "/new/dir/" + long_name, "long");
  WriteFileAt(r + "/new/h\xc3\xa9llo", "unicode");
  unlink((r + "/usr/lib/libfoo.so.1").c_str());
  symlink("/usr/lib/libfoo.so", (r + "/usr/lib/libfoo.so.1").c_str());
  lchown((r + "/usr/lib/libfoo.so.1").c_str(), 5, 6);
  chown((r + "/bin/sh").c_str(), 1000, 1000);
  std::string cap(20, '\0');
  cap[3] = 0x02;
  cap[5] = 0x04;
  setxattr((r + "/bin/sh").c_str(), "security.capability", cap.data(), cap.size(), 0);
  removexattr((r + "/etc/xattr").c_str(), "user.keep");
  setxattr((r + "/etc/xattr").c_str(), "user.new", "2", 1, 0);
  setxattr((r + "/etc").c_str(), "trusted.dir", "d", 1, 0);
  std::filesystem::remove(r + "/tobedir");
  std::filesystem::create_directories(r + "/tobedir/child");
  WriteFileAt(r + "/tobedir/child/f", "f");
  std::filesystem::remove_all(r + "/tobefile");
  WriteFileAt(r + "/tobefile", "now a file");
  link((r + "/data/link1").c_str(), (r + "/data/link3").c_str());
  WriteFileAt(r + "/new/a1", "pair");
  link((r + "/new/a1").c_str(), (r + "/new/a2").c_str());
  mkfifo((r + "/new/fifo").c_str(), 0640);
  mknod((r + "/dev/sda").c_str(), S_IFBLK | 0660, makedev(8, 0));
  TestFd sparse(open((r + "/new/sparse").c_str(), O_WRONLY | O_CREAT, 0644));
  pwrite(sparse.get(), "head", 4, 0);
  pwrite(sparse.get(), "mid", 3, 32 << 20);
  ftruncate(sparse.get(), 64 << 20);
  SetTimes(r + "/var/empty", 1700000000, 5);
  for (const char* d : {"/etc", "/var", "/usr/lib", "/data", "/dev", "/new/dir/deep", "/new/dir",
                        "/new", "/tobedir/child", "/tobedir"}) {
    SetTimes(r + d, 1650000000, 42);
  }
}

std::string Export(const std::string& lower, const std::string& upper) {
  TestFd out(memfd_create("export", MFD_CLOEXEC));
  ExportChanges(upper, DiffTrees(lower, upper), out.get());
  return ReadAllFd(out.get());
}

// Names, hardlink targets and sizes of the entries in a tar.
std::vector<std::string> ListTar(const std::string& tar) {
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  archive_entry* e;
  std::vector<std::string> out;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    std::string line = archive_entry_pathname(e);
    if (archive_entry_hardlink(e) != nullptr)
      line += " => " + std::string(archive_entry_hardlink(e));
    out.push_back(line);
  }
  archive_read_free(a);
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(TarExport, RoundTripReproducesTheUpperTree) {
  TempDir dir;
  std::string lower = dir.path() + "/lower", upper = dir.path() + "/upper";
  std::string copy = dir.path() + "/copy";
  BuildLower(lower);
  BuildLower(upper);
  MutateToUpper(upper);
  std::string tar = Export(lower, upper);
  BuildLower(copy);
  ASSERT_TRUE(DiffTrees(lower, copy).empty());
  TestFd in(MemFdWith(tar));
  ApplyLayer(in.get(), copy);
  std::vector<TreeChange> left = DiffTrees(upper, copy);
  for (const TreeChange& c : left) ADD_FAILURE() << ChangeLetter(c.kind) << " " << c.path;
  EXPECT_EQ(Lstat(copy + "/data/link1").st_ino, Lstat(copy + "/data/link2").st_ino);
  EXPECT_EQ(Lstat(copy + "/data/link1").st_ino, Lstat(copy + "/data/link3").st_ino);
  EXPECT_EQ(Lstat(copy + "/new/a1").st_ino, Lstat(copy + "/new/a2").st_ino);
  EXPECT_EQ(Lstat(copy + "/new/dir/deep/file").st_mtim.tv_nsec, 999999999);
  EXPECT_EQ(GetXattr(copy + "/bin/sh", "security.capability").size(), 20u);
  EXPECT_LT(Lstat(copy + "/new/sparse").st_blocks * 512, 1 << 20);
  EXPECT_EQ(ReadFileAt(copy + "/etc/passwd"), "ROOT:x:0:0\n");
}

TEST(TarExport, RoundTripFromNoParent) {
  TempDir dir;
  std::string upper = dir.path() + "/upper", copy = dir.path() + "/copy";
  BuildLower(upper);
  MutateToUpper(upper);
  std::filesystem::create_directories(copy);
  TestFd out(memfd_create("export", MFD_CLOEXEC));
  ExportChanges(upper, DiffTrees("", upper), out.get());
  lseek(out.get(), 0, SEEK_SET);
  ApplyLayer(out.get(), copy);
  for (const TreeChange& c : DiffTrees(upper, copy)) {
    ADD_FAILURE() << ChangeLetter(c.kind) << " " << c.path;
  }
}

TEST(TarExport, DeletionsBecomeWhiteoutsAndLinksStayLinks) {
  TempDir dir;
  std::string lower = dir.path() + "/lower", upper = dir.path() + "/upper";
  BuildLower(lower);
  BuildLower(upper);
  MutateToUpper(upper);
  std::vector<std::string> names = ListTar(Export(lower, upper));
  EXPECT_TRUE(Contains(names, "etc/.wh.old"));
  EXPECT_TRUE(Contains(names, "var/.wh.tree"));
  EXPECT_FALSE(Contains(names, "var/tree/a/b/c"));
  EXPECT_TRUE(Contains(names, "data/link1"));
  EXPECT_TRUE(Contains(names, "data/link2 => data/link1"));
  EXPECT_TRUE(Contains(names, "data/link3 => data/link1"));
  EXPECT_TRUE(Contains(names, "new/a2 => new/a1"));
  EXPECT_FALSE(Contains(names, "usr/lib/libfoo.so"));  // unchanged
}

TEST(TarExport, SparseFilesStaySmallInTheTar) {
  TempDir dir;
  std::string upper = dir.path() + "/upper";
  std::filesystem::create_directories(upper);
  TestFd f(open((upper + "/huge").c_str(), O_WRONLY | O_CREAT, 0644));
  pwrite(f.get(), "end", 3, (int64_t{256} << 20) - 3);
  TestFd g(open((upper + "/holes").c_str(), O_WRONLY | O_CREAT, 0644));
  ftruncate(g.get(), 128 << 20);  // nothing but a hole
  std::string tar = Export("", upper);
  EXPECT_LT(tar.size(), 64u * 1024);
  std::string copy = dir.path() + "/copy";
  std::filesystem::create_directories(copy);
  TestFd in(MemFdWith(tar));
  ApplyLayer(in.get(), copy);
  EXPECT_EQ(Lstat(copy + "/huge").st_size, int64_t{256} << 20);
  EXPECT_EQ(Lstat(copy + "/holes").st_size, 128 << 20);
  EXPECT_TRUE(DiffTrees(upper, copy).empty());
}

TEST(TarExport, NamesThatLookLikeWhiteoutsAreRefused) {
  TempDir dir;
  WriteFileAt(dir.path() + "/.wh.sneaky", "x");
  TestFd out(memfd_create("export", MFD_CLOEXEC));
  EXPECT_THROW(ExportChanges(dir.path(), DiffTrees("", dir.path()), out.get()), Error);
}

TEST(TarExport, MissingPathIsAnError) {
  TempDir dir;
  TestFd out(memfd_create("export", MFD_CLOEXEC));
  EXPECT_THROW(ExportChanges(dir.path(), {{"/nope", ChangeKind::kAdded}}, out.get()), Error);
}

}  // namespace
}  // namespace thinsnap::layers
