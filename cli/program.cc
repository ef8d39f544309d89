#include "cli/program.h"

#include <unistd.h>

#include <iostream>

#include "base/error.h"
#include "base/units.h"
#include "cli/interrupt.h"
#include "cli/output.h"

namespace thinsnap::cli {

Program::Program(kernel::DeviceMapper* dm, kernel::System* sys)
    : dm_(dm), sys_(sys), terminal_(isatty(STDERR_FILENO) == 1) {}

Program::~Program() = default;

kernel::DeviceMapper* Program::dm() {
  MakeKernel();
  return dm_;
}

kernel::System* Program::sys() {
  MakeKernel();
  return sys_;
}

void Program::MakeKernel() {
  if (dm_ && sys_) return;
  real_ = MakeRealKernel();
  if (!dm_) dm_ = real_.dm.get();
  if (!sys_) sys_ = real_.sys.get();
}

EngineOptions Program::BaseEngineOptions() const {
  EngineOptions opts;
  opts.lock_timeout_ms = static_cast<int>(global_.lock_timeout_s * 1000);
  opts.warning = PrintWarning;
  return opts;
}

std::function<void(const std::string&)> Program::Detail() const {
  if (!global_.verbose) return {};
  return [](const std::string& line) { std::cerr << line << "\n"; };
}

Engine& Program::engine(bool create_root) {
  if (engine_) return *engine_;
  EngineOptions opts = BaseEngineOptions();
  opts.create_root = create_root;
  opts.detail = Detail();
  opts.interrupted = [] { return Interrupted(); };
  bool tty = terminal_;
  bool verbose = global_.verbose;
  opts.progress = [tty, verbose](const std::string& line) {
    if (tty || verbose) std::cerr << line << "\n";
  };
  // Live lines on a terminal only, and not under --json: rewritten in place, ended when the
  // import, transfer or step ends.
  if (tty && !global_.json) {
    live_line_ = std::make_unique<LiveLine>(
        [](const std::string& text) { std::cerr << text << std::flush; }, live_after_);
    opts.step_progress = [line = live_line_.get()](const StepProgress& p) { line->Step(p); };
    opts.import_progress = [](const ImportProgress& p) {
      std::cerr << "\r" << FormatImportProgress(p.name, p.bytes, p.entries, p.elapsed_ns)
                << "\033[K" << (p.done ? "\n" : "") << std::flush;
    };
    opts.transfer_progress = [](const TransferProgress& p) {
      std::cerr << "\r" << FormatTransferProgress(p) << "\033[K" << (p.done ? "\n" : "")
                << std::flush;
    };
  }
  engine_ = Engine::Open(global_.root, dm(), sys(), opts);
  return *engine_;
}

void Program::SetTerminalForTest(bool terminal, std::chrono::milliseconds live_after) {
  terminal_ = terminal;
  live_after_ = live_after;
}

void Program::On(CLI::App* sub, std::function<int()> run) {
  sub->fallthrough();
  sub->callback([this, run] { run_ = run; });
}

int Program::Run() {
  if (!run_) throw Error("no command given (see thinsnap --help)", ErrorKind::kUsage);
  return run_();
}

}  // namespace thinsnap::cli
