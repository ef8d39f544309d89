// thinsnap: the command line. It parses, opens the engine, calls it and prints; nothing else.
// Exit status: 0 success, 1 failure, 2 usage error (documented in README.md).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/unknown_command.h"

int main(int argc, char** argv) {
  thinsnap::cli::GlobalOptions global;
  CLI::App app{"thinsnap: copy-on-write block snapshots on a device-mapper thin pool"};
  app.name("thinsnap");
  app.set_version_flag("--version", "thinsnap 0.1.0");
  thinsnap::cli::Commands commands(&app, &global);
  // Before CLI11: it would answer an unknown word with "A subcommand is required", or with the
  // top-level help and exit 0 when --help follows it.
  if (std::optional<std::string> unknown =
          thinsnap::cli::FindUnknownCommand(app, std::vector<std::string>(argv + 1, argv + argc))) {
    std::cerr << "thinsnap: " << *unknown << "\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
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
    return commands.Run();
  } catch (const thinsnap::Error& e) {
    std::cerr << "thinsnap: " << e.what() << "\n";
    return e.kind() == thinsnap::ErrorKind::kUsage ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "thinsnap: internal error: " << e.what() << "\n";
    return 1;
  }
}
