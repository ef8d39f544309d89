// Ctrl-C during work that can be undone: while a ScopedInterruptFlag lives, SIGINT, SIGTERM and
// SIGHUP only set a flag (Interrupted()); the engine polls it between steps, stops and undoes
// (EngineOptions::interrupted). Child processes (mkfs) get the terminal's SIGINT themselves
// and fail, which the engine undoes the same way. The previous handlers come back after.
#ifndef THINSNAP_CLI_INTERRUPT_H_
#define THINSNAP_CLI_INTERRUPT_H_

#include <csignal>

namespace thinsnap::cli {

class ScopedInterruptFlag {
 public:
  ScopedInterruptFlag();
  ~ScopedInterruptFlag();
  ScopedInterruptFlag(const ScopedInterruptFlag&) = delete;
  ScopedInterruptFlag& operator=(const ScopedInterruptFlag&) = delete;

 private:
  struct sigaction old_int_, old_term_, old_hup_;
};

// True once a signal arrived while a ScopedInterruptFlag was alive.
bool Interrupted();

}  // namespace thinsnap::cli

#endif  // THINSNAP_CLI_INTERRUPT_H_
