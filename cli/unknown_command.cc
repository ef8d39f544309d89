#include "cli/unknown_command.h"

#include <algorithm>

namespace thinsnap::cli {
namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// An option of `app` or of a parent (options fall through to subcommands).
const CLI::Option* FindOption(const CLI::App* app, const std::string& flag) {
  for (; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* opt = app->get_option_no_throw(flag)) return opt;
  }
  return nullptr;
}

std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;  // an option group
    names.push_back(sub->get_name());
    for (const std::string& alias : sub->get_aliases()) names.push_back(alias);
  }
  return names;
}

}  // namespace

std::string ClosestName(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& name : names) {
    size_t d = EditDistance(word, name);
    if (d < best_distance && d < std::max<size_t>(name.size(), 2)) {
      best = name;
      best_distance = d;
    }
  }
  if (best.empty() && word.size() >= 2) {
    for (const std::string& name : names) {
      if (name.rfind(word, 0) == 0) return name;
    }
  }
  return best;
}

std::optional<std::string> FindUnknownCommand(const CLI::App& app,
                                              const std::vector<std::string>& args) {
  const CLI::App* at = &app;
  std::string path = app.get_name();  // the command so far, for "see ... --help"
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return std::nullopt;
    if (arg.size() > 1 && arg[0] == '-') {
      // `--opt=value` and `-oVALUE` carry their value; `--opt value` and `-o value` skip it.
      bool separate = arg.find('=') == std::string::npos && (arg[1] == '-' || arg.size() == 2);
      const CLI::Option* opt = separate ? FindOption(at, arg) : nullptr;
      if (opt != nullptr && opt->get_expected_max() > 0 && opt->get_type_size_max() > 0) ++i;
      continue;
    }
    std::vector<std::string> names = CommandNames(*at);
    if (names.empty()) return std::nullopt;  // a leaf: the rest are its positionals
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : at->get_subcommands([](const CLI::App*) { return true; })) {
      if (!s->get_name().empty() && s->check_name(arg)) sub = s;
    }
    if (sub == nullptr) {
      std::string close = ClosestName(arg, names);
      return "unknown command '" + arg + "'" +
             (close.empty() ? " (see " + path + " --help)" : " (did you mean '" + close + "'?)");
    }
    at = sub;
    path += " " + sub->get_name();
  }
  return std::nullopt;
}

}  // namespace thinsnap::cli
