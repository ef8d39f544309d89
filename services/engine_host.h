// EngineHost: the one Engine of a daemon (`thinsnap serve`), shared by every protocol it serves
// (containerd's snapshots gRPC, Docker's graph driver plugin).
//
// Side by side with the CLI: the Engine holds the root's flock only while requests run. The host
// takes it for a burst of requests and lets it go (Engine::Unlock) as soon as no request is
// waiting. A CLI command on the same root waits for the lock (it retries every 10 ms for
// --lock-timeout) and runs between two bursts. The next burst takes the lock again and checks
// the store's files (Engine::Relock: inode, size, mtime, ctime of the checkpoint and the journal,
// two stat(2) calls): when no other process wrote them, the engine and its catalog are kept;
// when the CLI wrote something, the engine is opened again, which re-reads the journal and
// reconciles the catalog with the pool. The daemon never works on a stale catalog. A burst
// that holds the lock longer than `max_hold_ms` lets the lock go between two requests, so a
// steady stream of requests cannot starve the CLI.
//
// Concurrency (README "Side by side with the CLI, and concurrency"): Run() may be called from
// any number of threads; the calls are serialized, each runs alone with the engine. That is safe
// under any interleaving (every request sees the catalog the one before it left) but not
// concurrent: a request's kernel work (dm create/load/resume, the wait for the device node,
// resize2fs for a size label, Usage's short mounts) happens under the host's turn. What running
// it outside the turn needs, and why it is not done yet:
//  - the Engine is single-threaded (Catalog, Store, Transactor): an unlocked phase may only
//    touch the kernel, with a copy of the record, never the engine;
//  - libdevmapper keeps process-wide lists (the stacked /dev/mapper node operations that
//    update_devs()/dm_udev_wait() apply, the udev cookie state), so LibDevmapper calls from two
//    threads must still be serialized by a lock of their own: only the udev wait could overlap;
//  - a concurrent Remove (or containerd's GC) must not delete a device another request is still
//    activating: the record needs a reference count (an "in use" pin) taken in the locked phase,
//    which Remove waits on or refuses with FailedPrecondition;
//  - Prepare's phases would be: locked (name check, journal intent, create_snap, commit, pin),
//    unlocked (activation, filesystem growth), locked (record `active`, unpin, or roll back).
// Pool messages and journal commits are serial in any design (the kernel serializes the
// former; the journal's transaction ids the latter).
#ifndef THINSNAP_SERVICES_ENGINE_HOST_H_
#define THINSNAP_SERVICES_ENGINE_HOST_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "thinpool/engine.h"
#include "thinpool/kernel/device_mapper.h"
#include "thinpool/kernel/system.h"

namespace thinsnap {

struct EngineHostOptions {
  std::string root;
  EngineOptions engine;   // lock_timeout_ms: how long a request waits for a CLI command
  int max_hold_ms = 500;  // then the lock is let go between two requests
  int yield_ms = 30;      // ... for this long (the CLI polls the lock every 10 ms)
};

class EngineHost {
 public:
  // `dm` and `sys` must outlive the host.
  EngineHost(kernel::DeviceMapper* dm, kernel::System* sys, EngineHostOptions opts);
  ~EngineHost();
  EngineHost(const EngineHost&) = delete;
  EngineHost& operator=(const EngineHost&) = delete;

  // Runs `fn` with the open engine, alone. Throws what Engine::Open or `fn` throws
  // (thinsnap::Error); the engine is closed after an error, so the next call starts afresh.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<Engine&>())) {
    Session s(this);
    return fn(s.engine());
  }

  // Opens the engine once, which reconciles the journal with the pool (recovery after a crash),
  // and closes it again. Throws when the root cannot be opened.
  void Recover();

  // How many times the engine was opened (the first burst, after an error, after another process
  // wrote the store) and how many bursts kept it (nothing changed on disk). For tests and -v.
  uint64_t opens() const { return opens_.load(); }
  uint64_t reuses() const { return reuses_.load(); }

  const std::string& root() const { return opts_.root; }
  kernel::DeviceMapper* dm() const { return dm_; }
  kernel::System* sys() const { return sys_; }

 private:
  // One call of Run(): waits for its turn, opens the engine when it is closed, and on the way
  // out closes it when no other call is waiting (or the hold has lasted too long).
  class Session {
   public:
    explicit Session(EngineHost* host);
    ~Session();
    Engine& engine() { return *host_->engine_; }

   private:
    EngineHost* host_;
    std::unique_lock<std::mutex> turn_;
  };

  // At the start of a turn: takes the root's lock again for a kept engine (dropping it when the
  // store changed on disk), or opens one.
  void Acquire();
  void Open();
  // At the end of a burst: lets the lock go and keeps the engine.
  void Release();
  void Close();

  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
  EngineHostOptions opts_;
  std::mutex mu_;                // held for a whole turn; guards engine_, opened_at_, yield_next_
  std::atomic<int> waiting_{0};  // calls of Run() waiting for their turn
  std::atomic<uint64_t> opens_{0}, reuses_{0};
  std::unique_ptr<Engine> engine_;  // open between bursts too, without the root's lock
  std::chrono::steady_clock::time_point opened_at_;  // when the lock was taken
  bool yield_next_ = false;  // the lock was let go for fairness: pause before taking it again
};

}  // namespace thinsnap

#endif  // THINSNAP_SERVICES_ENGINE_HOST_H_
