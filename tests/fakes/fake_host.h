// FakeHost: kernel::Host for unit tests: hooks are recorded and answer `hook_result`, random
// bytes are a counter (deterministic identities), udev never runs.
#ifndef THINSNAP_TESTS_FAKES_FAKE_HOST_H_
#define THINSNAP_TESTS_FAKES_FAKE_HOST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "thinpool/kernel/system/host.h"

namespace thinsnap::kernel {

class FakeHost : public virtual Host {
 public:
  ToolResult RunHook(const std::string& command, const std::vector<std::string>& env) override {
    hooks.push_back({command, env});
    return hook_result;
  }
  void RandomBytes(void* out, size_t n) override {
    auto* p = static_cast<uint8_t*>(out);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>((++random_counter) * 37);
  }
  bool UdevRunning() override { return false; }

  struct HookCall {
    std::string command;
    std::vector<std::string> env;
  };
  std::vector<HookCall> hooks;
  ToolResult hook_result{true, ""};
  uint64_t random_counter = 0;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_HOST_H_
