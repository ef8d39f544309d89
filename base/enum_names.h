// Names of enum values, written once per enum as a table and looked up both ways, instead of a
// switch per direction and per file:
//
//   constexpr EnumName<FsType> kFsTypeNames[] = {
//       {FsType::kNone, "none"}, {FsType::kExt4, "ext4"}, {FsType::kXfs, "xfs"}};
//   NameOf(kFsTypeNames, FsType::kXfs)  -> "xfs"
//   ValueOf(kFsTypeNames, "ext4")       -> FsType::kExt4 (std::nullopt for an unknown name)
//
// A table may give one value several names (the first is the one NameOf returns).
#ifndef THINSNAP_BASE_ENUM_NAMES_H_
#define THINSNAP_BASE_ENUM_NAMES_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace thinsnap {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

// The first name of `value` in `names`; `unknown` when the table has none (a value read from
// outside that was never checked).
template <typename E, size_t N>
constexpr const char* NameOf(const EnumName<E> (&names)[N], E value, const char* unknown = "?") {
  for (const EnumName<E>& n : names) {
    if (n.value == value) return n.name;
  }
  return unknown;
}

// The value called `name` in `names`, if any.
template <typename E, size_t N>
constexpr std::optional<E> ValueOf(const EnumName<E> (&names)[N], std::string_view name) {
  for (const EnumName<E>& n : names) {
    if (name == n.name) return n.value;
  }
  return std::nullopt;
}

}  // namespace thinsnap

#endif  // THINSNAP_BASE_ENUM_NAMES_H_
