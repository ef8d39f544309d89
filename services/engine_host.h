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
// any number of threads; the calls take turns, each runs alone with the engine, so every
// request sees the catalog the one before it left (safe under any interleaving). The kernel
// work that needs no engine runs outside the turns, several requests at once: a Prepare makes
// its record and thin snapshot in a turn (Engine::BeginContainer) and pins the device, then
// activates it and grows its filesystem in Outside() while other requests take their turns,
// then records it active in a last turn and unpins it. Pool messages and journal commits stay
// serial (the kernel serializes the former, the journal's transaction ids the latter);
// LibDevmapper serializes its own calls, so dm ioctls interleave but never overlap.
// A request on a pinned device (Mounts, Commit, Remove, Update, Usage of a snapshot still being
// activated) waits for the pin to go: RunUnpinned. While any device is pinned the root's lock is
// kept (a CLI command cannot remove a device in the middle of its activation), except when a
// burst has held it longer than max_hold_ms; then the last turn notices, as for any CLI change,
// that the device is gone, and the request fails instead of recording a device that is not there.
// With `serial` (thinsnap serve --serial) Outside() runs in a turn like everything else, as
// before: for comparison and as a fallback.
#ifndef THINSNAP_SERVICES_ENGINE_HOST_H_
#define THINSNAP_SERVICES_ENGINE_HOST_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
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
  bool serial = false;    // device work inside the turns too (thinsnap serve --serial)
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

  // Run(), after waiting until no Pin holds `device`.
  template <typename Fn>
  auto RunUnpinned(const std::string& device, Fn&& fn) -> decltype(fn(std::declval<Engine&>())) {
    for (;;) {
      WaitUnpinned(device);
      Session s(this);
      if (!Pinned(device)) return fn(s.engine());
    }
  }

  // Marks a device as being worked on outside the turns (made in a turn, to be finished in a
  // later one). Movable; the destructor unpins and wakes RunUnpinned.
  class Pin {
   public:
    Pin(EngineHost* host, std::string device);
    ~Pin();
    Pin(Pin&& other) noexcept;
    Pin& operator=(Pin&&) = delete;
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    EngineHost* host_;
    std::string device_;
  };

  // Runs `fn` (kernel work through dm() and sys(), never the engine) outside the turns, or in
  // one with `serial`.
  template <typename Fn>
  auto Outside(Fn&& fn) -> decltype(fn()) {
    if (!opts_.serial) return fn();
    Session s(this);
    return fn();
  }
  bool serial() const { return opts_.serial; }
  // One line to the engine's progress callback (thinsnap serve -v), from any thread.
  void Trace(const std::string& line) const {
    if (opts_.engine.progress) opts_.engine.progress(line);
  }
  // How many devices are pinned now (for tests).
  size_t pinned() const;

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

  void WaitUnpinned(const std::string& device);
  bool Pinned(const std::string& device) const;

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
  bool stale_ = false;       // a request failed while devices were pinned: reopen when none is

  mutable std::mutex pin_mu_;  // guards pins_; taken inside a turn, never held waiting for one
  std::condition_variable pin_cv_;
  std::map<std::string, int> pins_;  // device name -> pins
};

}  // namespace thinsnap

#endif  // THINSNAP_SERVICES_ENGINE_HOST_H_
