// `thinsnap bench io` (the io_uring block benchmark), `thinsnap bench cow` (the snapshot
// experiment, cli/bench_cow.cc), `thinsnap bench drivers` (cli/bench_drivers.cc) and `thinsnap
// bench ops` (create/remove latency of containers through the engine, and the scale run to many
// devices).
#ifndef THINSNAP_CLI_BENCH_H_
#define THINSNAP_CLI_BENCH_H_

#include <CLI/CLI.hpp>

#include "cli/program.h"

namespace thinsnap::cli {

// `bench cow` (cli/bench_cow.cc); called by AddBenchCommands (cli/commands.h).
void AddCowCommand(CLI::App* bench, Program* program);
// `bench drivers` (cli/bench_drivers.cc).
void AddDriversCommand(CLI::App* bench, Program* program);

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_BENCH_H_
