#include "services/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/error.h"

namespace thinsnap {
namespace {

// Blocks the stop signals in this thread and every thread it starts afterwards (the servers'),
// so that only WaitForStop() receives them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) ThrowErrno("pthread_sigmask", rc);
  return set;
}

int WaitForStop(const sigset_t& set) {
  for (;;) {
    int sig = 0;
    int rc = sigwait(&set, &sig);
    if (rc == 0) return sig;
    if (rc != EINTR) ThrowErrno("sigwait", rc);
  }
}

void StopAll(std::vector<std::unique_ptr<Service>>& running, std::chrono::milliseconds drain) {
  auto deadline = std::chrono::system_clock::now() + drain;
  for (auto it = running.rbegin(); it != running.rend(); ++it) (*it)->Shutdown(deadline);
  running.clear();
}

}  // namespace

int RunDaemon(const ServeOptions& opts, EngineHost* host,
              const std::vector<ServiceFactory>& factories,
              const std::function<void(const std::string&)>& log) {
  sigset_t stop = BlockStopSignals();
  // Sockets are born 0660 (no window in which another user could connect).
  ::umask(0117);
  host->Recover();
  std::vector<std::unique_ptr<Service>> running;
  try {
    for (const ServiceFactory& make : factories) {
      std::unique_ptr<Service> s = make(opts, host);
      if (!s) continue;
      s->Start();
      log("serving " + s->Describe());
      running.push_back(std::move(s));
    }
  } catch (...) {
    StopAll(running, opts.drain_timeout);
    throw;
  }
  if (running.empty()) {
    throw Error("nothing to serve: give --address PATH or --docker-plugin", ErrorKind::kUsage);
  }
  int sig = WaitForStop(stop);
  log(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
      ": finishing requests in flight");
  StopAll(running, opts.drain_timeout);
  log("stopped");
  return 0;
}

}  // namespace thinsnap
