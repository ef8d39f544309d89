#include "cli/commands.h"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>

#include "base/error.h"
#include "cli/unknown_command.h"

namespace thinsnap::cli {
namespace {

void AddGlobalOptions(CLI::App* app, GlobalOptions* global) {
  if (const char* root = std::getenv("THINSNAP_ROOT")) global->root = root;
  app->add_option("--root", global->root, "state directory (default /var/lib/thinsnap)");
  app->add_flag("--json", global->json, "print JSON for programs");
  app->add_flag("-v,--verbose", global->verbose, "say more");
  app->add_option("--lock-timeout", global->lock_timeout_s,
                  "seconds to wait for another thinsnap on the same root (default 30)");
}

}  // namespace

CLI::App* AddCommandGroup(CLI::App* parent, const std::string& name,
                          const std::string& description) {
  CLI::App* group = parent->add_subcommand(name, description);
  group->require_subcommand(1);
  group->fallthrough();
  return group;
}

int RunCommandLine(const std::vector<std::string>& args, Program* program) {
  CLI::App app{"thinsnap: copy-on-write block snapshots on a device-mapper thin pool"};
  app.name("thinsnap");
  app.set_version_flag("--version", "thinsnap 0.1.0");
  AddGlobalOptions(&app, &program->global());
  app.fallthrough();
  app.require_subcommand(1);
  AddPoolCommands(&app, program);
  AddDeviceCommands(&app, program);
  AddQueryCommands(&app, program);
  AddBenchCommands(&app, program);
  AddServeCommand(&app, program);
  AddSendReceiveCommands(&app, program);
  // Before CLI11: it would answer an unknown word with "A subcommand is required", or with the
  // top-level help and exit 0 when --help follows it.
  std::vector<std::string> words(args.empty() ? args.end() : args.begin() + 1, args.end());
  if (std::optional<std::string> unknown = FindUnknownCommand(app, words)) {
    std::cerr << "thinsnap: " << *unknown << "\n";
    return 2;
  }
  try {
    // CLI11 takes the arguments without the program name, last first.
    app.parse(std::vector<std::string>(words.rbegin(), words.rend()));
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "thinsnap: " << e.what() << " (see thinsnap --help)\n";
    return 2;
  }
  try {
    return program->Run();
  } catch (const Error& e) {
    std::cerr << "thinsnap: " << e.what() << "\n";
    return e.kind() == ErrorKind::kUsage ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "thinsnap: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace thinsnap::cli
