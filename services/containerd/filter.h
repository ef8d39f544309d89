// containerd's filter language (github.com/containerd/containerd/filters), as List/Walk gets it:
//
//   filter   := selector ("," selector)*        every selector must match (AND)
//   selector := fieldpath [("==" | "!=" | "~=") value]
//   fieldpath:= field ("." field)*              field: [A-Za-z_][A-Za-z0-9_]* or a quoted string
//   value    := a quoted string ("..." with \-escapes, or /regex/) or bare characters up to ","
//
// A bare fieldpath matches when the field is present; "==" when present and equal; "!=" when the
// value differs (an absent field has the value ""); "~=" when the value matches the ECMAScript
// regex. A request's several filters are OR'ed (FilterSet). An empty filter matches everything.
//
// Thread-safety: a parsed Filter is immutable and may be shared.
#ifndef THINSNAP_SERVICES_CONTAINERD_FILTER_H_
#define THINSNAP_SERVICES_CONTAINERD_FILTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace thinsnap::containerd {

// Gives a field's value by path ({"labels", "containerd.io/gc.root"}); nullopt when absent.
using FieldLookup = std::function<std::optional<std::string>(const std::vector<std::string>&)>;

class Filter {
 public:
  // Throws thinsnap::Error(kUsage) "filter <text>: <what> at offset N" on a syntax error.
  static Filter Parse(const std::string& text);
  bool Match(const FieldLookup& field) const;

  struct Selector {
    enum class Op { kPresent, kEqual, kNotEqual, kMatches };
    std::vector<std::string> path;
    Op op = Op::kPresent;
    std::string value;
    std::shared_ptr<const std::regex> re;  // kMatches
  };
  const std::vector<Selector>& selectors() const { return selectors_; }

 private:
  std::vector<Selector> selectors_;
};

// The filters of one request: any may match (OR); none means everything.
class FilterSet {
 public:
  static FilterSet Parse(const std::vector<std::string>& texts);
  bool Match(const FieldLookup& field) const;

 private:
  std::vector<Filter> any_;
};

}  // namespace thinsnap::containerd

#endif  // THINSNAP_SERVICES_CONTAINERD_FILTER_H_
