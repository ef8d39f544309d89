#include "base/strings.h"

namespace thinsnap {

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    i = text.find_first_not_of(" \t\n\r\f\v", i);
    if (i == std::string_view::npos) break;
    size_t end = text.find_first_of(" \t\n\r\f\v", i);
    if (end == std::string_view::npos) end = text.size();
    words.emplace_back(text.substr(i, end - i));
    i = end;
  }
  return words;
}

std::vector<std::string> SplitList(std::string_view text, char separator) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) items.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

}  // namespace thinsnap
