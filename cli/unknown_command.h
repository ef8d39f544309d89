// Names an unknown command word before CLI11 parses: CLI11 would say "A subcommand is required"
// for `thinsnap pool crate`, and print the top-level help with exit 0 for `thinsnap nosuchcmd
// --help`, so a script could not tell a missing command from a present one.
#ifndef THINSNAP_CLI_UNKNOWN_COMMAND_H_
#define THINSNAP_CLI_UNKNOWN_COMMAND_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace thinsnap::cli {

// Walks `args` (without the program name) down `app`'s subcommand tree, skipping options and
// their values. Returns the message for the first word that stands where a subcommand is due
// and names none, e.g. "unknown command 'crate' (did you mean 'create'?)"; nullopt when every
// command word is known (positionals after a leaf command are not looked at).
std::optional<std::string> FindUnknownCommand(const CLI::App& app,
                                              const std::vector<std::string>& args);

// The closest of `names` to `word` (edit distance at most 2, or a prefix), or "".
std::string ClosestName(const std::string& word, const std::vector<std::string>& names);

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_UNKNOWN_COMMAND_H_
