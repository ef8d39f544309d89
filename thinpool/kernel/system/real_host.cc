#include "thinpool/kernel/system/real_host.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/error.h"
#include "thinpool/kernel/process.h"

namespace thinsnap::kernel {

ToolResult RealHost::RunHook(const std::string& command, const std::vector<std::string>& env) {
  RunOptions opts;
  opts.check = false;
  opts.extra_env = env;
  RunResult r = RunCommand({"/bin/sh", "-c", command}, opts);
  std::string output = r.stdout_text + r.stderr_text;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (r.exit_code == 0) return {true, output};
  return {false,
          "exit status " + std::to_string(r.exit_code) + (output.empty() ? "" : ": " + output)};
}

void RealHost::RandomBytes(void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    ssize_t r = ::getrandom(p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) ThrowErrno("getrandom", errno);
    p += r;
    n -= static_cast<size_t>(r);
  }
}

bool RealHost::UdevRunning() {
  struct stat st;
  return ::stat("/run/udev/control", &st) == 0;
}

}  // namespace thinsnap::kernel
