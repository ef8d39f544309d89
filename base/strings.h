// Small string helpers shared by the layers: splitting words and lists, printf into a string.
#ifndef THINSNAP_BASE_STRINGS_H_
#define THINSNAP_BASE_STRINGS_H_

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace thinsnap {

// The blank-separated words of `text` (kernel tables and status lines).
std::vector<std::string> SplitWords(std::string_view text);
// The `separator`-separated items of `text`, empty ones left out ("4k,,64k" -> {"4k", "64k"}).
std::vector<std::string> SplitList(std::string_view text, char separator);

// snprintf into a std::string, of whatever length the result has.
template <typename... Args>
std::string Printf(const char* format, Args... args) {
  int n = std::snprintf(nullptr, 0, format, args...);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

}  // namespace thinsnap

#endif  // THINSNAP_BASE_STRINGS_H_
