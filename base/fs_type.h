// The filesystem a thin device carries. The numeric values are part of the on-disk format
// (metadata/FORMAT.md: a device record's fs byte), so they never change.
#ifndef THINSNAP_BASE_FS_TYPE_H_
#define THINSNAP_BASE_FS_TYPE_H_

#include <cstdint>

namespace thinsnap {

enum class FsType : uint8_t { kNone = 0, kExt4 = 1, kXfs = 2 };

const char* FsTypeName(FsType fs);  // "ext4", "xfs", "none"

}  // namespace thinsnap

#endif  // THINSNAP_BASE_FS_TYPE_H_
