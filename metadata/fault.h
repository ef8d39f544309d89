// Fault points: named places where a crash test can make the process die as if the power were
// cut. FaultPoint(name) does nothing unless the environment variable THINSNAP_FAULT, read once
// per process, equals `name` or is a comma-separated list containing it; then it writes
// "thinsnap: fault point NAME reached" to stderr and calls _exit(137) (no destructors, no
// buffered output flushed, no atexit handlers).
//
// Points: after-intent, after-kernel-op, after-set-transaction-id, after-commit (the engine's
// transaction), mid-checkpoint (metadata/store.cc, between the catalog rename and the journal
// reset). Thread-safe.
#ifndef THINSNAP_METADATA_FAULT_H_
#define THINSNAP_METADATA_FAULT_H_

#include <string_view>

namespace thinsnap {

inline constexpr int kFaultExitCode = 137;

void FaultPoint(std::string_view name);

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_FAULT_H_
