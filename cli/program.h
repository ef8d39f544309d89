// The program wired in one place: the global options, the kernel behind the engine (the real one
// from MakeRealKernel, or fakes in tests), the options every engine of this process is opened
// with (progress and warnings on stderr), the engine itself (opened on first use), and the one
// command the parsed command line chose. Every command group (cli/*_commands.cc) gets one.
//
// Thread-safety: none; one per process (or per test).
#ifndef THINSNAP_CLI_PROGRAM_H_
#define THINSNAP_CLI_PROGRAM_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cli/live_line.h"
#include "thinpool/engine.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"
#include "thinpool/real_kernel.h"

namespace thinsnap::cli {

struct GlobalOptions {
  std::string root = "/var/lib/thinsnap";
  bool json = false;
  bool verbose = false;
  double lock_timeout_s = 30;
};

class Program {
 public:
  // With dm and sys null, the real kernel is made on first use. REQUIRES: given fakes outlive
  // the Program.
  explicit Program(kernel::DeviceMapper* dm = nullptr, kernel::System* sys = nullptr);
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  GlobalOptions& global() { return global_; }
  bool json() const { return global_.json; }

  kernel::DeviceMapper* dm();
  kernel::System* sys();
  // The lock timeout and warnings on stderr: what every engine this program opens gets.
  EngineOptions BaseEngineOptions() const;
  // The command's engine on --root, opened on first use, with progress lines on a terminal
  // (or with -v), live progress lines on a terminal without --json (layer imports, send and
  // receive, and every long step: see LiveLine), the raw detail lines with -v, and Ctrl-C
  // polled through Interrupted(). Only `pool create` may create the root (see
  // EngineOptions::create_root).
  Engine& engine(bool create_root = false);
  // Tests: behave as if stderr were (or were not) a terminal, drawing a long step's live line
  // once it has run for `live_after` (a second outside tests).
  void SetTerminalForTest(bool terminal, std::chrono::milliseconds live_after);
  // Where the engine's raw detail lines go: stderr with -v, nowhere without.
  std::function<void(const std::string&)> Detail() const;

  // Makes `run` what `sub` does when the command line chooses it.
  void On(CLI::App* sub, std::function<int()> run);
  // Runs the chosen command; returns its exit status. Throws kUsage when none was chosen.
  int Run();

 private:
  void MakeKernel();  // the real DeviceMapper and System, for what the caller did not give

  GlobalOptions global_;
  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
  RealKernel real_;
  bool terminal_;  // stderr is a terminal
  std::chrono::milliseconds live_after_{std::chrono::seconds(1)};
  std::unique_ptr<LiveLine> live_line_;  // declared before engine_: outlives its callbacks
  std::unique_ptr<Engine> engine_;
  std::function<int()> run_;
};

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_PROGRAM_H_
