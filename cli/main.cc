// thinsnap: the command line. It parses, opens the engine, calls it and prints; nothing else.
// Exit status: 0 success, 1 failure, 2 usage error (documented in README.md).
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/program.h"

int main(int argc, char** argv) {
  thinsnap::cli::Program program;  // the real kernel, made when a command needs it
  return thinsnap::cli::RunCommandLine(std::vector<std::string>(argv, argv + argc), &program);
}
