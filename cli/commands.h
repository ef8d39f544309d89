// The thinsnap command tree (CLI11): each subcommand's options and the code that runs it.
#ifndef THINSNAP_CLI_COMMANDS_H_
#define THINSNAP_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "thinpool/engine.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"

namespace thinsnap::cli {

struct GlobalOptions {
  std::string root = "/var/lib/thinsnap";
  bool json = false;
  bool verbose = false;
  double lock_timeout_s = 30;
};

class Commands {
 public:
  // Registers every subcommand on `app`.
  Commands(CLI::App* app, GlobalOptions* global);
  ~Commands();
  // Runs the parsed subcommand; returns the exit status.
  int Run();

 private:
  // Opens the engine on --root; only `pool create` may create the root (see EngineOptions).
  Engine& engine(bool create_root = false);
  void MakeKernel();  // dm_ and sys_
  // Where the engine's raw detail lines go: stderr with -v, nowhere without.
  std::function<void(const std::string&)> Detail() const;
  void AddPool(CLI::App* app);
  void AddDevices(CLI::App* app);
  void AddQueries(CLI::App* app);
  void AddBench(CLI::App* app);
  void AddServe(CLI::App* app);  // cli/serve.cc
  void On(CLI::App* sub, std::function<int()> run);

  CLI::App* app_;
  GlobalOptions* global_;
  std::function<int()> run_;
  std::unique_ptr<kernel::DeviceMapper> dm_;
  std::unique_ptr<kernel::System> sys_;
  std::unique_ptr<Engine> engine_;
  struct Args;
  std::unique_ptr<Args> a_;
};

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_COMMANDS_H_
