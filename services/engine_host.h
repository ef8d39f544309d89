// EngineHost: the one Engine of a daemon (`thinsnap serve`), shared by every protocol it serves
// (containerd's snapshots gRPC, Docker's graph driver plugin).
//
// Side by side with the CLI: the Engine holds the root's flock for as long as it is open, so the
// host opens it for a burst of requests and closes it (dropping the lock) as soon as no request
// is waiting. A CLI command on the same root waits for the lock (it retries every 10 ms for
// --lock-timeout) and runs between two bursts; the next request opens the engine again and so
// reads the journal the CLI left, which reconciles the catalog with the pool. The daemon never
// works on a stale catalog. A burst that holds the lock longer than `max_hold_ms` lets the lock
// go between two requests, so a steady stream of requests cannot starve the CLI.
//
// Thread-safety: Run() may be called from any number of threads; calls are serialized (the
// Engine itself is single-threaded, and the kernel serializes pool messages anyway).
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

  void Open();
  void Close();

  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
  EngineHostOptions opts_;
  std::mutex mu_;                // held for a whole turn; guards engine_, opened_at_, yield_next_
  std::atomic<int> waiting_{0};  // calls of Run() waiting for their turn
  std::unique_ptr<Engine> engine_;
  std::chrono::steady_clock::time_point opened_at_;
  bool yield_next_ = false;  // the lock was let go for fairness: pause before taking it again
};

}  // namespace thinsnap

#endif  // THINSNAP_SERVICES_ENGINE_HOST_H_
