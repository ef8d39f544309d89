#include "base/units.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

#include "base/error.h"

namespace thinsnap {
namespace {

[[noreturn]] void BadSize(std::string_view text, std::string_view what) {
  throw Error(std::string(what) + ": '" + std::string(text) +
                  "' is not a size (use e.g. 4096, 64k, 512M, 10G, 1T)",
              ErrorKind::kUsage);
}

int ShiftFor(std::string_view suffix) {
  std::string s;
  for (char c : suffix) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.ends_with("ib"))
    s.resize(s.size() - 2);
  else if (s.size() > 1 && s.ends_with("b"))
    s.resize(s.size() - 1);
  if (s.empty() || s == "b") return 0;
  if (s == "k") return 10;
  if (s == "m") return 20;
  if (s == "g") return 30;
  if (s == "t") return 40;
  if (s == "p") return 50;
  return -1;
}

}  // namespace

uint64_t ParseSize(std::string_view text, std::string_view what) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = text[i] - '0';
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) BadSize(text, what);
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) BadSize(text, what);
  int shift = ShiftFor(text.substr(i));
  if (shift < 0) BadSize(text, what);
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) BadSize(text, what);
  return value << shift;
}

int ParsePercent(std::string_view text, std::string_view what) {
  std::string_view digits = text.ends_with('%') ? text.substr(0, text.size() - 1) : text;
  int value = 0;
  bool ok = !digits.empty() && digits.size() <= 3;
  for (char c : digits) {
    ok = ok && std::isdigit(static_cast<unsigned char>(c));
    if (ok) value = value * 10 + (c - '0');
  }
  if (!ok || value > 100) {
    throw Error(std::string(what) + ": '" + std::string(text) + "' is not a percentage 0..100",
                ErrorKind::kUsage);
  }
  return value;
}

std::string FormatSize(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || value >= 100 || value == static_cast<uint64_t>(value)) {
    std::snprintf(buf, sizeof buf, "%.0f %s", value, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  }
  return buf;
}

std::string FormatImportProgress(std::string_view name, uint64_t bytes, uint64_t entries,
                                 int64_t elapsed_ns) {
  std::string line = "import " + std::string(name) + ": " + FormatSize(bytes) + ", " +
                     std::to_string(entries) + (entries == 1 ? " entry" : " entries");
  double seconds = static_cast<double>(std::max<int64_t>(elapsed_ns, 0)) / 1e9;
  if (seconds >= 0.1) {
    line += ", " + FormatSize(static_cast<uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
  }
  char took[32];
  std::snprintf(took, sizeof took, ", %.1f s", seconds);
  return line + took;
}

}  // namespace thinsnap
