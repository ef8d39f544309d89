#include "base/tree_change.h"

#include "base/enum_names.h"

namespace thinsnap {
namespace {

constexpr EnumName<ChangeKind> kChangeLetters[] = {
    {ChangeKind::kAdded, "A"}, {ChangeKind::kChanged, "C"}, {ChangeKind::kDeleted, "D"}};

}  // namespace

char ChangeLetter(ChangeKind kind) { return NameOf(kChangeLetters, kind)[0]; }

}  // namespace thinsnap
