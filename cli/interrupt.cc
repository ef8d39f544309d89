#include "cli/interrupt.h"

#include <atomic>

namespace thinsnap::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

}  // namespace

ScopedInterruptFlag::ScopedInterruptFlag() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESTART;  // system calls go on; the engine looks at the flag between steps
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
  sigaction(SIGHUP, &sa, &old_hup_);
}

ScopedInterruptFlag::~ScopedInterruptFlag() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  sigaction(SIGHUP, &old_hup_, nullptr);
}

bool Interrupted() { return g_interrupted.load(); }

}  // namespace thinsnap::cli
