#include "tests/fakes/fake_layer_trees.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

std::string PathOf(const std::string& key) {  // "/etc/" -> "/etc"
  return key.size() > 1 && key.back() == '/' ? key.substr(0, key.size() - 1) : key;
}

std::string DirOf(const std::string& path) {  // "/etc/passwd" -> "/etc/"
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

}  // namespace

std::vector<TreeChange> FakeLayerTrees::DiffTrees(const std::string& lower,
                                                  const std::string& upper) {
  auto tree_at = [&](const std::string& dir) {
    auto m = filesystems_->mounts.find(dir);
    if (m == filesystems_->mounts.end())
      throw Error("diff: nothing mounted at " + dir, ErrorKind::kFailure);
    return trees[m->second];
  };
  Tree l = lower.empty() ? Tree{} : tree_at(lower);
  Tree u = tree_at(upper);
  std::map<std::string, ChangeKind> changes;  // by tree key
  for (const auto& [key, content] : u) {
    auto it = l.find(key);
    if (it == l.end()) {
      changes[key] = ChangeKind::kAdded;
    } else if (it->second != content) {
      changes[key] = ChangeKind::kChanged;
    }
  }
  for (const auto& [key, content] : l) {
    if (u.count(key)) continue;
    std::string dir = DirOf(PathOf(key));
    if (!dir.empty() && l.count(dir) && !u.count(dir)) continue;  // inside a deleted directory
    changes[key] = ChangeKind::kDeleted;
  }
  // A directory in both trees with a change inside it is changed too.
  for (auto c = changes; const auto& [key, kind] : c) {
    for (std::string dir = DirOf(PathOf(key)); !dir.empty(); dir = DirOf(PathOf(dir))) {
      if (l.count(dir) && u.count(dir) && !changes.count(dir)) changes[dir] = ChangeKind::kChanged;
    }
  }
  std::vector<TreeChange> out;
  for (const auto& [key, kind] : changes) out.push_back({PathOf(key), kind});
  std::sort(out.begin(), out.end(),
            [](const TreeChange& a, const TreeChange& b) { return a.path < b.path; });
  return out;
}

void FakeLayerTrees::ExportChanges(const std::string& upper, const std::vector<TreeChange>& changes,
                                   int out_fd) {
  auto m = filesystems_->mounts.find(upper);
  if (m == filesystems_->mounts.end())
    throw Error("export: nothing mounted at " + upper, ErrorKind::kFailure);
  const Tree& u = trees[m->second];
  std::string text;
  for (const TreeChange& c : changes) {
    text += std::string(1, ChangeLetter(c.kind)) + " " + c.path;
    if (c.kind != ChangeKind::kDeleted) {
      auto it = u.find(c.path);
      if (it == u.end()) it = u.find(c.path + "/");
      if (it == u.end()) throw Error("export: " + c.path + " is not in " + upper);
      text += " " + it->second;
    }
    text += "\n";
  }
  if (::write(out_fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    ThrowErrno("export: write", errno);
  }
}

LayerApplyStats FakeLayerTrees::ApplyLayer(int tar_fd, const std::string&,
                                           const LayerProgress& progress) {
  std::string data;
  char buf[4096];
  for (ssize_t n; (n = ::read(tar_fd, buf, sizeof buf)) > 0;) data.append(buf, n);
  if (data.find("EVIL") != std::string::npos) {
    throw Error("tar entry '../EVIL' escapes the layer root", ErrorKind::kUsage);
  }
  if (progress) progress(data.size(), 1);
  return {1, data.size(), "sha256:fake-" + std::to_string(data.size())};
}

}  // namespace thinsnap::kernel
