// One difference between two directory trees, as `docker diff` lists it: the layer code finds
// them (thinpool/layers/tree_diff.h), the engine reports them (Engine::Diff), the CLI prints them.
#ifndef THINSNAP_BASE_TREE_CHANGE_H_
#define THINSNAP_BASE_TREE_CHANGE_H_

#include <string>

namespace thinsnap {

enum class ChangeKind { kAdded, kChanged, kDeleted };

// 'A', 'C' or 'D', as docker diff prints them.
char ChangeLetter(ChangeKind kind);

struct TreeChange {
  std::string path;  // "/etc/passwd": relative to the roots, leading "/"
  ChangeKind kind = ChangeKind::kAdded;
  bool operator==(const TreeChange&) const = default;
};

}  // namespace thinsnap

#endif  // THINSNAP_BASE_TREE_CHANGE_H_
