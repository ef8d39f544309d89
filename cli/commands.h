// The thinsnap command tree (CLI11). Each command group registers its subcommands, each with its
// own options struct, on the app: pool (cli/pool_commands.cc), devices (layer, container, commit,
// volume, grow, activate, mount, rm: cli/device_commands.cc), queries (ls, inspect, diff,
// export, df: cli/query_commands.cc), bench (cli/bench.cc, cli/bench_cow.cc), serve
// (cli/serve.cc, which execs the daemon of services/) and send/receive
// (cli/send_receive_commands.cc).
#ifndef THINSNAP_CLI_COMMANDS_H_
#define THINSNAP_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/program.h"

namespace thinsnap::cli {

// A command that only holds subcommands (`pool`, `layer`, `bench`...): one of them is required,
// and the parent's options (--root, --json) may follow it.
CLI::App* AddCommandGroup(CLI::App* parent, const std::string& name,
                          const std::string& description);

void AddPoolCommands(CLI::App* app, Program* program);
void AddDeviceCommands(CLI::App* app, Program* program);
void AddQueryCommands(CLI::App* app, Program* program);
void AddBenchCommands(CLI::App* app, Program* program);
void AddServeCommand(CLI::App* app, Program* program);  // cli/serve.cc
void AddSendReceiveCommands(CLI::App* app, Program* program);

// The whole program after the process starts: parses `args` (args[0] is the program name),
// runs the chosen command and returns the exit status: 0 success, 1 failure, 2 usage error.
// Errors are printed as one line "thinsnap: <message>" on stderr. `program` holds the kernel
// (real or fake); the global options (--root, --json, -v, --lock-timeout, THINSNAP_ROOT) are
// parsed into its global().
int RunCommandLine(const std::vector<std::string>& args, Program* program);

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_COMMANDS_H_
