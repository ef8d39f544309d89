// `thinsnap serve`: execs the daemon, thinsnap-serve, with the global options and everything
// after `serve`. The daemon is its own executable so that gRPC's shared libraries are loaded by
// it alone, never at the start of every CLI command (see services/CMakeLists.txt).
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"

namespace thinsnap::cli {
namespace {

// Where thinsnap-serve is: $THINSNAP_SERVE, beside this executable, the installed libexec path,
// then the build tree's.
std::string FindServeBinary() {
  if (const char* env = std::getenv("THINSNAP_SERVE")) return env;
  std::vector<std::string> candidates;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((self.parent_path() / "thinsnap-serve").string());
    candidates.push_back((self.parent_path() / "../libexec/thinsnap/thinsnap-serve").string());
  }
  candidates.push_back(THINSNAP_SERVE_INSTALLED);
  candidates.push_back(THINSNAP_SERVE_BUILT);
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  throw Error("thinsnap serve: the daemon thinsnap-serve is not installed (looked beside " +
                  (ec ? std::string("thinsnap") : self.string()) + ", in " +
                  THINSNAP_SERVE_INSTALLED + "; set THINSNAP_SERVE=PATH)",
              ErrorKind::kFailure, ENOENT);
}

}  // namespace

void AddServeCommand(CLI::App* app, Program* p) {
  CLI::App* serve = app->add_subcommand(
      "serve",
      "serve containerd's snapshots gRPC (--address PATH) and Docker's graph driver plugin "
      "(--docker-plugin [NAME]); see thinsnap serve --help");
  serve->prefix_command();  // every argument after `serve` goes to the daemon as it is
  serve->set_help_flag();   // ... --help too
  p->On(serve, [p, serve]() -> int {
    const GlobalOptions& global = p->global();
    std::vector<std::string> args = {"thinsnap serve", "--root", global.root, "--lock-timeout",
                                     std::to_string(global.lock_timeout_s)};
    if (global.verbose) args.push_back("-v");
    for (const std::string& a : serve->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string bin = FindServeBinary();
    ::execv(bin.c_str(), argv.data());
    ThrowErrno("exec " + bin, errno);
  });
  serve->fallthrough(false);  // `serve --help` is the daemon's help
}

}  // namespace thinsnap::cli
