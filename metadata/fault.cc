#include "metadata/fault.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace thinsnap {
namespace {

// THINSNAP_FAULT, wrapped in commas so that ",name," finds a whole entry.
const std::string& ArmedPoints() {
  static const std::string armed = [] {
    const char* v = std::getenv("THINSNAP_FAULT");
    return v && *v ? "," + std::string(v) + "," : std::string();
  }();
  return armed;
}

}  // namespace

void FaultPoint(std::string_view name) {
  const std::string& armed = ArmedPoints();
  if (armed.empty() || name.empty()) return;
  const std::string needle = "," + std::string(name) + ",";
  if (armed.find(needle) == std::string::npos) return;
  const std::string msg = "thinsnap: fault point " + std::string(name) + " reached\n";
  // write(2), not stdio: nothing buffered may be flushed on the way out.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg.data(), msg.size());
  ::_exit(kFaultExitCode);
}

}  // namespace thinsnap
