// ToolResult: what a tool run for the user (thin_check, thin_repair, a hook) says.
#ifndef THINSNAP_THINPOOL_KERNEL_SYSTEM_TOOL_RESULT_H_
#define THINSNAP_THINPOOL_KERNEL_SYSTEM_TOOL_RESULT_H_

#include <string>

namespace thinsnap::kernel {

struct ToolResult {
  bool ok = false;
  std::string output;  // stdout and stderr, for the user
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_SYSTEM_TOOL_RESULT_H_
