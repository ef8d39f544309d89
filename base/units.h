// Sizes as people write them ("10G", "64k", "512M", "1T", "4096") and as we print them.
// Suffixes are binary (k = 1024), case-insensitive, an optional trailing "iB"/"B" is accepted.
#ifndef THINSNAP_BASE_UNITS_H_
#define THINSNAP_BASE_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace thinsnap {

// Parses a size in bytes. Throws Error(kUsage) naming `what` on anything else: "--size: '12Q'
// is not a size (use e.g. 512M, 10G)". Overflow is refused.
uint64_t ParseSize(std::string_view text, std::string_view what);
// Parses a whole percentage 0..100.
int ParsePercent(std::string_view text, std::string_view what);
// "1.5 GiB", "64 KiB", "512 B".
std::string FormatSize(uint64_t bytes);
// The progress line of a layer import, e.g. "import app: 12.5 MiB, 1234 entries, 3.1 MiB/s, 4.0 s".
// The rate is left out while less than 0.1 s has passed.
std::string FormatImportProgress(std::string_view name, uint64_t bytes, uint64_t entries,
                                 int64_t elapsed_ns);

}  // namespace thinsnap

#endif  // THINSNAP_BASE_UNITS_H_
