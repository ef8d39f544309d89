// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) in portable software, slice-by-8.
// Used for every checksum in metadata/FORMAT.md. Thread-safe (the tables are constant).
#ifndef THINSNAP_METADATA_CRC32C_H_
#define THINSNAP_METADATA_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace thinsnap {

// Returns the CRC32C of `crc`'s message followed by data[0, n). Start a new message with crc = 0.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32cExtend(0, s.data(), s.size()); }

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_CRC32C_H_
