#include "base/fs_type.h"

#include "base/enum_names.h"

namespace thinsnap {
namespace {

constexpr EnumName<FsType> kFsTypeNames[] = {
    {FsType::kExt4, "ext4"}, {FsType::kXfs, "xfs"}, {FsType::kNone, "none"}};

}  // namespace

const char* FsTypeName(FsType fs) { return NameOf(kFsTypeNames, fs); }

}  // namespace thinsnap
