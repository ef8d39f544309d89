#include "thinpool/kernel/thin_status.h"

#include <charconv>
#include <sstream>
#include <vector>

#include "base/enum_names.h"
#include "base/error.h"
#include "base/strings.h"

namespace thinsnap::kernel {
namespace {

[[noreturn]] void Malformed(const char* what, const std::string& line, const std::string& why) {
  throw Error(std::string("malformed ") + what + " status \"" + line + "\": " + why,
              ErrorKind::kCorrupt);
}

// Parses one unsigned number, or fails naming the field.
class FieldParser {
 public:
  FieldParser(const char* target, const std::string& line) : target_(target), line_(line) {}

  uint64_t Number(const std::string& word, const char* field) const {
    uint64_t value = 0;
    const char* end = word.data() + word.size();
    auto [ptr, ec] = std::from_chars(word.data(), end, value);
    if (word.empty() || ec != std::errc() || ptr != end) {
      Malformed(target_, line_, std::string("bad ") + field + " '" + word + "'");
    }
    return value;
  }

  std::optional<uint64_t> NumberOrDash(const std::string& word, const char* field) const {
    if (word == "-") return std::nullopt;
    return Number(word, field);
  }

  // "<used>/<total>"
  void Fraction(const std::string& word, const char* field, uint64_t& used, uint64_t& total) const {
    size_t slash = word.find('/');
    if (slash == std::string::npos) {
      Malformed(target_, line_, std::string("bad ") + field + " '" + word + "'");
    }
    used = Number(word.substr(0, slash), field);
    total = Number(word.substr(slash + 1), field);
  }

  [[noreturn]] void Fail(const std::string& why) const { Malformed(target_, line_, why); }

 private:
  const char* target_;
  const std::string& line_;
};

// The status line's words.
constexpr EnumName<PoolIoMode> kIoModeWords[] = {
    {PoolIoMode::kReadWrite, "rw"},
    {PoolIoMode::kReadOnly, "ro"},
    {PoolIoMode::kOutOfDataSpace, "out_of_data_space"}};
constexpr EnumName<DiscardMode> kDiscardWords[] = {
    {DiscardMode::kPassdown, "discard_passdown"},
    {DiscardMode::kNoPassdown, "no_discard_passdown"},
    {DiscardMode::kIgnore, "ignore_discard"}};

PoolIoMode ParseMode(const std::string& w, const FieldParser& p) {
  if (std::optional<PoolIoMode> mode = ValueOf(kIoModeWords, w)) return *mode;
  p.Fail("bad mode '" + w + "'");
}

DiscardMode ParseDiscard(const std::string& w, const FieldParser& p) {
  if (std::optional<DiscardMode> mode = ValueOf(kDiscardWords, w)) return *mode;
  p.Fail("bad discard mode '" + w + "'");
}

bool ParseNoSpace(const std::string& w, const FieldParser& p) {
  if (w == "error_if_no_space") return true;
  if (w == "queue_if_no_space") return false;
  p.Fail("bad no-space policy '" + w + "'");
}

bool ParseNeedsCheck(const std::string& w, const FieldParser& p) {
  if (w == "needs_check") return true;
  if (w == "-") return false;
  p.Fail("bad needs_check field '" + w + "'");
}

bool IsFailWord(const std::vector<std::string>& w) {
  return w.size() == 1 && (w[0] == "Fail" || w[0] == "Error");
}

}  // namespace

const char* PoolIoModeName(PoolIoMode mode) { return NameOf(kIoModeWords, mode); }

PoolStatus ParsePoolStatus(const std::string& line) {
  std::vector<std::string> w = SplitWords(line);
  PoolStatus s;
  if (IsFailWord(w)) {
    s.failed = true;
    return s;
  }
  FieldParser p("thin-pool", line);
  if (w.size() != 8 && w.size() != 9)
    p.Fail("expected 8 or 9 fields, got " + std::to_string(w.size()));
  s.transaction_id = p.Number(w[0], "transaction id");
  p.Fraction(w[1], "metadata usage", s.metadata_used_blocks, s.metadata_total_blocks);
  p.Fraction(w[2], "data usage", s.data_used_blocks, s.data_total_blocks);
  s.held_metadata_root = p.NumberOrDash(w[3], "held metadata root");
  s.mode = ParseMode(w[4], p);
  s.discard = ParseDiscard(w[5], p);
  s.error_if_no_space = ParseNoSpace(w[6], p);
  s.needs_check = ParseNeedsCheck(w[7], p);
  if (w.size() == 9) s.metadata_low_watermark = p.Number(w[8], "metadata low watermark");
  return s;
}

ThinStatus ParseThinStatus(const std::string& line) {
  std::vector<std::string> w = SplitWords(line);
  ThinStatus s;
  if (IsFailWord(w)) {
    s.failed = true;
    return s;
  }
  FieldParser p("thin", line);
  if (w.size() == 1 && w[0] == "-") return s;  // device is being deleted: nothing mapped
  if (w.size() != 2) p.Fail("expected 2 fields, got " + std::to_string(w.size()));
  s.mapped_sectors = p.Number(w[0], "mapped sectors");
  s.highest_mapped_sector = p.NumberOrDash(w[1], "highest mapped sector");
  return s;
}

std::string FormatPoolStatus(const PoolStatus& s) {
  if (s.failed) return "Fail";
  std::ostringstream out;
  out << s.transaction_id << ' ' << s.metadata_used_blocks << '/' << s.metadata_total_blocks << ' '
      << s.data_used_blocks << '/' << s.data_total_blocks << ' ';
  if (s.held_metadata_root) {
    out << *s.held_metadata_root << ' ';
  } else {
    out << "- ";
  }
  out << PoolIoModeName(s.mode) << ' ' << NameOf(kDiscardWords, s.discard) << ' '
      << (s.error_if_no_space ? "error_if_no_space " : "queue_if_no_space ")
      << (s.needs_check ? "needs_check " : "- ");
  if (s.metadata_low_watermark) out << *s.metadata_low_watermark << ' ';
  return out.str();
}

std::string FormatThinStatus(const ThinStatus& s) {
  if (s.failed) return "Fail";
  std::string out = std::to_string(s.mapped_sectors) + " ";
  out += s.highest_mapped_sector ? std::to_string(*s.highest_mapped_sector) : "-";
  return out;
}

}  // namespace thinsnap::kernel
