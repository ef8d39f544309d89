#include "services/engine_host.h"

#include <cstdio>
#include <exception>
#include <thread>
#include <utility>

#include "base/error.h"

namespace thinsnap {

EngineHost::EngineHost(kernel::DeviceMapper* dm, kernel::System* sys, EngineHostOptions opts)
    : dm_(dm), sys_(sys), opts_(std::move(opts)) {}

EngineHost::~EngineHost() {
  std::lock_guard<std::mutex> g(mu_);
  Close();
}

void EngineHost::Recover() {
  Run([](Engine&) {});
}

void EngineHost::Acquire() {
  if (yield_next_) {
    // The CLI polls the lock every 10 ms: leave it free long enough to be seen.
    std::this_thread::sleep_for(std::chrono::milliseconds(opts_.yield_ms));
    yield_next_ = false;
  }
  if (engine_ && !engine_->Relock()) engine_.reset();  // another process wrote the store
  if (engine_) {
    ++reuses_;
  } else {
    Open();
  }
  opened_at_ = std::chrono::steady_clock::now();
}

void EngineHost::Open() {
  engine_ = Engine::Open(opts_.root, dm_, sys_, opts_.engine);
  ++opens_;
}

void EngineHost::Release() {
  try {
    engine_->Unlock();
  } catch (const Error& e) {
    // The lock went with its descriptor either way; the next turn opens afresh.
    std::fprintf(stderr, "thinsnap serve: warning: letting the root's lock go: %s\n", e.what());
    engine_.reset();
  }
}

void EngineHost::Close() { engine_.reset(); }

EngineHost::Pin::Pin(EngineHost* host, std::string device) : host_(host), device_(device) {
  std::lock_guard<std::mutex> g(host_->pin_mu_);
  ++host_->pins_[device_];
}

EngineHost::Pin::Pin(Pin&& other) noexcept
    : host_(std::exchange(other.host_, nullptr)), device_(std::move(other.device_)) {}

EngineHost::Pin::~Pin() {
  if (!host_) return;
  {
    std::lock_guard<std::mutex> g(host_->pin_mu_);
    auto it = host_->pins_.find(device_);
    if (it != host_->pins_.end() && --it->second == 0) host_->pins_.erase(it);
  }
  host_->pin_cv_.notify_all();
}

size_t EngineHost::pinned() const {
  std::lock_guard<std::mutex> g(pin_mu_);
  return pins_.size();
}

void EngineHost::WaitUnpinned(const std::string& device) {
  std::unique_lock<std::mutex> l(pin_mu_);
  pin_cv_.wait(l, [&] { return pins_.count(device) == 0; });
}

bool EngineHost::Pinned(const std::string& device) const {
  std::lock_guard<std::mutex> g(pin_mu_);
  return pins_.count(device) > 0;
}

EngineHost::Session::Session(EngineHost* host) : host_(host) {
  ++host_->waiting_;
  turn_ = std::unique_lock<std::mutex>(host_->mu_);
  --host_->waiting_;
  if (host_->stale_ && host_->pinned() == 0) {
    host_->Close();
    host_->stale_ = false;
  }
  if (!host_->engine_ || !host_->engine_->locked()) host_->Acquire();
}

EngineHost::Session::~Session() {
  bool others = host_->waiting_.load() > 0;
  bool pinned = host_->pinned() > 0;
  auto held = std::chrono::steady_clock::now() - host_->opened_at_;
  bool too_long = held > std::chrono::milliseconds(host_->opts_.max_hold_ms);
  if (std::uncaught_exceptions() > 0 && !pinned) {
    // After an error the engine is closed: the next call reopens the root, which reconciles
    // whatever a failed kernel operation left, instead of trusting this engine's state.
    host_->Close();
    host_->yield_next_ = others;
  } else if (std::uncaught_exceptions() > 0) {
    // Devices are being activated: closing would let the root's lock go under them. The first
    // turn after the last pin reopens.
    host_->stale_ = true;
  } else if ((!others && !pinned) || too_long) {
    host_->Release();
    host_->yield_next_ = others;
  }
}

}  // namespace thinsnap
