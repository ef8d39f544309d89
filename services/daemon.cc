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

void StartAll(const ServeOptions& opts, EngineHost* host,
              const std::vector<ServiceFactory>& factories,
              const std::function<void(const std::string&)>& log,
              std::vector<std::unique_ptr<Service>>* running) {
  for (const ServiceFactory& make : factories) {
    std::unique_ptr<Service> s = make(opts, host);
    if (!s) continue;
    s->Start();
    log("serving " + s->Describe());
    running->push_back(std::move(s));
  }
}

}  // namespace

int RunDaemon(const ServeOptions& opts, EngineHost* host,
              const std::vector<ServiceFactory>& factories,
              const std::function<void(const std::string&)>& log) {
  sigset_t stop = BlockStopSignals();
  std::vector<std::unique_ptr<Service>> running;
  try {
    // Recovery first, then the services, all in one turn of the host: a request that arrives
    // on a socket already served waits until every service has started and the umask (sockets
    // are born 0660, no window for another user to connect) is back to what it was, so no
    // engine work ever runs under it.
    host->Run([&](Engine&) {
      mode_t old = ::umask(0117);
      try {
        StartAll(opts, host, factories, log, &running);
      } catch (...) {
        ::umask(old);
        throw;
      }
      ::umask(old);
    });
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
