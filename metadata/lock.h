// RootLock: the one-process-at-a-time guard over a thinsnap root: an exclusive flock(2) on
// `<root>/lock`, which holds the owner's pid for the error message of whoever waits. The lock
// goes away with its descriptor, so a crashed owner never leaves it stuck (and the file is never
// unlinked: that would let two processes lock two different files).
//
// Move-only; owns the descriptor (a UniqueFd). Release() reports errors, the destructor releases
// quietly.
// Thread-safety: none (a process takes it once, at start-up).
#ifndef THINSNAP_METADATA_LOCK_H_
#define THINSNAP_METADATA_LOCK_H_

#include <string>

#include "base/fd.h"

namespace thinsnap {

class RootLock {
 public:
  // Takes the lock on `<root>/lock` (creating the file; `root` must exist), retrying every few
  // milliseconds for up to timeout_ms (0: one attempt). Then throws
  // Error("pool busy (held by pid N)", kBusy), N read from the file.
  static RootLock Acquire(const std::string& root, int timeout_ms);

  RootLock() = default;  // holds nothing

  bool held() const { return fd_.valid(); }
  // Unlocks and closes. No-op when nothing is held.
  void Release();

 private:
  explicit RootLock(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;  // closing it drops the flock; its what() is the lock file's path
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_LOCK_H_
