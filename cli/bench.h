// `thinsnap bench io` (the io_uring block benchmark), `thinsnap bench cow` (the snapshot
// experiment, cli/bench_cow.cc) and `thinsnap bench ops` (create/remove
// latency of containers through the engine, and the scale run to many devices).
#ifndef THINSNAP_CLI_BENCH_H_
#define THINSNAP_CLI_BENCH_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "thinpool/engine.h"

namespace thinsnap::cli {

struct GlobalOptions;

struct BenchArgs {
  // io
  std::string target, rw = "read", bs = "4k", size, offset = "0", engine = "auto";
  unsigned iodepth = 32, jobs = 1, rwmix = 50, submit_batch = 0;
  double runtime = 0, ramp = 0;  // runtime 0: 10 s, or one pass when --size is given
  bool norandommap = false, buffered = false;
  // ops
  std::string from;
  unsigned count = 100;
  unsigned scale = 0;
  unsigned opens = 0;
  bool activate = false;
};

using Register = std::function<void(CLI::App*, std::function<int()>)>;
void AddBenchCommands(CLI::App* bench, BenchArgs* args, GlobalOptions* global, Register on,
                      std::function<Engine&()> engine);
// `bench cow` (cli/bench_cow.cc); called by AddBenchCommands.
void AddCowCommand(CLI::App* bench, GlobalOptions* global, Register on,
                   std::function<Engine&()> engine);

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_BENCH_H_
