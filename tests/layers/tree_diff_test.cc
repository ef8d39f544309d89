#include "thinpool/layers/tree_diff.h"

#include <sys/mount.h>

#include "tests/layers/tree_test_util.h"

namespace thinsnap::layers {
namespace {

using testing::SetTimes;
using testing::TempDir;
using testing::WriteFileAt;

// Builds the same small tree (fixed mtimes) under `root`, so two builds compare equal.
void BuildBase(const std::string& root) {
  std::filesystem::create_directories(root + "/etc");
  std::filesystem::create_directories(root + "/var/lib/app");
  std::filesystem::create_directories(root + "/lost+found");
  WriteFileAt(root + "/etc/passwd", "root:x:0:0\n");
  WriteFileAt(root + "/etc/hosts", "127.0.0.1 localhost\n");
  WriteFileAt(root + "/var/lib/app/db", "data");
  WriteFileAt(root + "/var/lib/app/log", "log");
  symlink("passwd", (root + "/etc/link").c_str());
  mknod((root + "/etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
  for (const char* p : {"/etc/passwd", "/etc/hosts", "/var/lib/app/db", "/var/lib/app/log",
                        "/etc/link", "/etc/null", "/var/lib/app", "/var/lib", "/var", "/etc"}) {
    SetTimes(root + p, 1000, 500);
  }
}

struct Trees {
  TempDir dir;
  std::string lower = dir.path() + "/lower";
  std::string upper = dir.path() + "/upper";
  Trees() {
    BuildBase(lower);
    BuildBase(upper);
  }
  std::string U(const std::string& p) const { return upper + p; }
};

std::vector<TreeChange> C(std::vector<std::pair<std::string, ChangeKind>> list) {
  std::vector<TreeChange> out;
  for (auto& [path, kind] : list) out.push_back({path, kind});
  return out;
}

constexpr ChangeKind A = ChangeKind::kAdded;
constexpr ChangeKind M = ChangeKind::kChanged;
constexpr ChangeKind D = ChangeKind::kDeleted;

TEST(TreeDiff, IdenticalTreesHaveNoChanges) {
  Trees t;
  EXPECT_TRUE(DiffTrees(t.lower, t.upper).empty());
}

TEST(TreeDiff, WithoutParentEverythingIsAddedExceptLostAndFound) {
  Trees t;
  std::vector<TreeChange> changes = DiffTrees("", t.upper);
  EXPECT_EQ(changes, C({{"/etc", A},
                        {"/etc/hosts", A},
                        {"/etc/link", A},
                        {"/etc/null", A},
                        {"/etc/passwd", A},
                        {"/var", A},
                        {"/var/lib", A},
                        {"/var/lib/app", A},
                        {"/var/lib/app/db", A},
                        {"/var/lib/app/log", A}}));
}

TEST(TreeDiff, ReportsAddedChangedDeletedLikeDockerDiff) {
  Trees t;
  std::filesystem::remove_all(t.U("/var/lib/app"));
  std::filesystem::create_directories(t.U("/opt/new/sub"));
  WriteFileAt(t.U("/opt/new/sub/f"), "f");
  WriteFileAt(t.U("/etc/hosts"), "changed size\n");
  SetTimes(t.U("/etc/hosts"), 1000, 500);
  SetTimes(t.U("/etc"), 1000, 500);
  std::vector<TreeChange> changes = DiffTrees(t.lower, t.upper);
  EXPECT_EQ(changes, C({{"/etc", M},  // contains a change
                        {"/etc/hosts", M},
                        {"/opt", A},
                        {"/opt/new", A},
                        {"/opt/new/sub", A},
                        {"/opt/new/sub/f", A},
                        {"/var", M},
                        {"/var/lib", M},
                        {"/var/lib/app", D}}));  // children of a deleted dir are not listed
}

TEST(TreeDiff, EachKindOfMetadataChangeIsDetected) {
  std::vector<std::pair<std::string, std::function<void(const std::string&)>>> cases = {
      {"/etc/passwd", [](const std::string& r) { chmod((r + "/etc/passwd").c_str(), 0600); }},
      {"/etc/passwd", [](const std::string& r) { lchown((r + "/etc/passwd").c_str(), 7, -1); }},
      {"/etc/passwd", [](const std::string& r) { lchown((r + "/etc/passwd").c_str(), -1, 7); }},
      {"/etc/passwd", [](const std::string& r) { SetTimes(r + "/etc/passwd", 1000, 501); }},
      {"/etc/passwd",
       [](const std::string& r) { setxattr((r + "/etc/passwd").c_str(), "user.k", "v", 1, 0); }},
      {"/etc/link",
       [](const std::string& r) {
         unlink((r + "/etc/link").c_str());
         symlink("hosts", (r + "/etc/link").c_str());
         SetTimes(r + "/etc/link", 1000, 500);
       }},
      {"/etc/null",
       [](const std::string& r) {
         unlink((r + "/etc/null").c_str());
         mknod((r + "/etc/null").c_str(), S_IFCHR | 0666, makedev(1, 5));
         SetTimes(r + "/etc/null", 1000, 500);
       }},
      {"/etc/passwd",
       [](const std::string& r) { link((r + "/etc/passwd").c_str(), (r + "/pw2").c_str()); }},
      {"/var", [](const std::string& r) { chmod((r + "/var").c_str(), 0700); }},
      {"/var", [](const std::string& r) { SetTimes(r + "/var", 2000); }},
      {"/var",
       [](const std::string& r) { setxattr((r + "/var").c_str(), "trusted.x", "1", 1, 0); }},
  };
  for (auto& [path, mutate] : cases) {
    Trees t;
    mutate(t.upper);
    SetTimes(t.U("/etc"), 1000, 500);
    std::vector<TreeChange> changes = DiffTrees(t.lower, t.upper);
    bool found = false;
    for (const TreeChange& c : changes) found |= c.path == path && c.kind == M;
    EXPECT_TRUE(found) << path << " not reported as changed";
  }
}

TEST(TreeDiff, SameSizeSameMtimeContentChangeNeedsContentComparison) {
  Trees t;
  WriteFileAt(t.U("/etc/passwd"), "ROOT:x:0:0\n");
  SetTimes(t.U("/etc/passwd"), 1000, 500);
  EXPECT_EQ(DiffTrees(t.lower, t.upper), C({{"/etc", M}, {"/etc/passwd", M}}));
  EXPECT_TRUE(DiffTrees(t.lower, t.upper, DiffOptions{.compare_content = false}).empty());
}

TEST(TreeDiff, TypeChangeIsChangedAndNewDirectoryContentsAdded) {
  Trees t;
  std::filesystem::remove(t.U("/etc/hosts"));
  std::filesystem::create_directories(t.U("/etc/hosts/d"));
  std::filesystem::remove_all(t.U("/var/lib"));
  WriteFileAt(t.U("/var/lib"), "file now");
  SetTimes(t.U("/etc"), 1000, 500);
  SetTimes(t.U("/var"), 1000, 500);
  EXPECT_EQ(DiffTrees(t.lower, t.upper),
            C({{"/etc", M}, {"/etc/hosts", M}, {"/etc/hosts/d", A}, {"/var", M}, {"/var/lib", M}}));
}

TEST(TreeDiff, LostAndFoundIgnoredOnlyAtTheRoot) {
  Trees t;
  WriteFileAt(t.U("/lost+found/#123"), "x");
  std::filesystem::create_directories(t.U("/var/lost+found"));
  SetTimes(t.U("/var"), 1000, 500);
  EXPECT_EQ(DiffTrees(t.lower, t.upper), C({{"/var", M}, {"/var/lost+found", A}}));
}

TEST(TreeDiff, DoesNotDescendMountPoints) {
  Trees t;
  std::filesystem::create_directories(t.U("/mnt"));
  if (mount("tmpfs", t.U("/mnt").c_str(), "tmpfs", 0, "mode=0755") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs here: " << std::strerror(errno);
  }
  WriteFileAt(t.U("/mnt/inside"), "x");
  std::vector<TreeChange> changes = DiffTrees(t.lower, t.upper);
  umount(t.U("/mnt").c_str());
  EXPECT_EQ(changes, C({{"/mnt", A}}));
}

TEST(TreeDiff, ResultIsSortedByPath) {
  Trees t;
  for (const char* p : {"/b", "/a-b", "/a", "/a/b", "/a/c", "/Z"}) {
    std::filesystem::create_directories(t.U(p));
  }
  std::vector<TreeChange> changes = DiffTrees(t.lower, t.upper);
  EXPECT_TRUE(
      std::is_sorted(changes.begin(), changes.end(),
                     [](const TreeChange& a, const TreeChange& b) { return a.path < b.path; }));
  EXPECT_EQ(changes.size(), 6u);
}

TEST(TreeDiff, ChangeLettersMatchDocker) {
  EXPECT_EQ(ChangeLetter(A), 'A');
  EXPECT_EQ(ChangeLetter(M), 'C');
  EXPECT_EQ(ChangeLetter(D), 'D');
}

}  // namespace
}  // namespace thinsnap::layers
