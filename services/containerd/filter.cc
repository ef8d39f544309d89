#include "services/containerd/filter.h"

#include <cctype>

#include "base/error.h"

namespace thinsnap::containerd {
namespace {

// A one-pass scanner over a filter's text.
class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  std::vector<Filter::Selector> All() {
    std::vector<Filter::Selector> out;
    SkipSpace();
    if (AtEnd()) return out;
    for (;;) {
      out.push_back(OneSelector());
      SkipSpace();
      if (AtEnd()) return out;
      Expect(',');
    }
  }

 private:
  Filter::Selector OneSelector() {
    Filter::Selector sel;
    sel.path.push_back(Field());
    while (Peek() == '.') {
      ++pos_;
      sel.path.push_back(Field());
    }
    SkipSpace();
    if (AtEnd() || Peek() == ',') return sel;
    sel.op = Operator();
    SkipSpace();
    sel.value = Value();
    if (sel.op == Filter::Selector::Op::kMatches) {
      try {
        sel.re = std::make_shared<const std::regex>(sel.value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        Fail(std::string("bad regular expression: ") + e.what());
      }
    }
    return sel;
  }

  std::string Field() {
    SkipSpace();
    if (Peek() == '"') return Quoted('"');
    size_t start = pos_;
    while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(Peek())) || Peek() == '_')) ++pos_;
    if (pos_ == start) Fail("expected a field name");
    if (std::isdigit(static_cast<unsigned char>(s_[start])))
      Fail("a field name starts with a letter");
    return s_.substr(start, pos_ - start);
  }

  Filter::Selector::Op Operator() {
    std::string op = s_.substr(pos_, 2);
    using Op = Filter::Selector::Op;
    Op result;
    if (op == "==") {
      result = Op::kEqual;
    } else if (op == "!=") {
      result = Op::kNotEqual;
    } else if (op == "~=") {
      result = Op::kMatches;
    } else {
      Fail("expected ==, != or ~=");
    }
    pos_ += 2;
    return result;
  }

  std::string Value() {
    if (Peek() == '"' || Peek() == '/' || Peek() == '`') return Quoted(Peek());
    size_t start = pos_;
    while (!AtEnd() && Peek() != ',' && !std::isspace(static_cast<unsigned char>(Peek()))) ++pos_;
    if (pos_ == start) Fail("expected a value");
    return s_.substr(start, pos_ - start);
  }

  // A string between `quote` characters; "..." takes \-escapes, /.../ and `...` only \<quote>.
  std::string Quoted(char quote) {
    ++pos_;
    std::string out;
    while (!AtEnd() && Peek() != quote) {
      char c = s_[pos_++];
      if (c == '\\' && !AtEnd()) {
        char n = s_[pos_++];
        if (quote == '"') {
          out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        } else {
          if (n != quote) out += '\\';
          out += n;
        }
      } else {
        out += c;
      }
    }
    if (AtEnd()) Fail(std::string("unterminated ") + quote);
    ++pos_;
    return out;
  }

  void Expect(char c) {
    if (Peek() != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void SkipSpace() {
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(Peek()))) ++pos_;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  [[noreturn]] void Fail(const std::string& what) const {
    throw Error("filter '" + s_ + "': " + what + " at offset " + std::to_string(pos_),
                ErrorKind::kUsage);
  }

  const std::string& s_;
  size_t pos_ = 0;
};

bool MatchOne(const Filter::Selector& sel, const FieldLookup& field) {
  std::optional<std::string> v = field(sel.path);
  using Op = Filter::Selector::Op;
  switch (sel.op) {
    case Op::kPresent:
      return v.has_value();
    case Op::kEqual:
      return v && *v == sel.value;
    case Op::kNotEqual:
      return v.value_or("") != sel.value;
    case Op::kMatches:
      return v && std::regex_search(*v, *sel.re);
  }
  return false;
}

}  // namespace

Filter Filter::Parse(const std::string& text) {
  Filter f;
  f.selectors_ = Parser(text).All();
  return f;
}

bool Filter::Match(const FieldLookup& field) const {
  for (const Selector& s : selectors_) {
    if (!MatchOne(s, field)) return false;
  }
  return true;
}

FilterSet FilterSet::Parse(const std::vector<std::string>& texts) {
  FilterSet set;
  for (const std::string& t : texts) set.any_.push_back(Filter::Parse(t));
  return set;
}

bool FilterSet::Match(const FieldLookup& field) const {
  if (any_.empty()) return true;
  for (const Filter& f : any_) {
    if (f.Match(field)) return true;
  }
  return false;
}

}  // namespace thinsnap::containerd
