#include "base/fs_type.h"

namespace thinsnap {

const char* FsTypeName(FsType fs) {
  switch (fs) {
    case FsType::kExt4:
      return "ext4";
    case FsType::kXfs:
      return "xfs";
    case FsType::kNone:
      return "none";
  }
  return "?";
}

}  // namespace thinsnap
