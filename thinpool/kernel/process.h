// RunCommand: runs an external tool (mkfs, resize2fs, thin_check, ...) without a shell, through
// posix_spawnp, and captures its stdout and stderr through pipes.
//
// Thread-safety: safe to call from several threads (no shared state; descriptors are CLOEXEC).
#ifndef THINSNAP_THINPOOL_KERNEL_PROCESS_H_
#define THINSNAP_THINPOOL_KERNEL_PROCESS_H_

#include <string>
#include <vector>

namespace thinsnap::kernel {

struct RunOptions {
  // Throw when the command exits non-zero or dies from a signal. When false the caller reads
  // exit_code itself (thin_check reports damage through its exit status).
  bool check = true;
  // Lines of stderr quoted in the error message.
  int stderr_lines_in_error = 5;
  // Extra environment entries "NAME=value", added to this process's environment.
  std::vector<std::string> extra_env;
};

struct RunResult {
  int exit_code = 0;  // 128 + signal number when the command died from a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs argv[0] (looked up on PATH) with argv. REQUIRES: !argv.empty().
// Throws Error when the command cannot be started (kNotFound for ENOENT: "mkfs.xfs: not found on
// PATH"), and, with opts.check, when it fails:
//   "mkfs.ext4 -q -F /dev/x: exit status 1: <last stderr lines>".
RunResult RunCommand(const std::vector<std::string>& argv, const RunOptions& opts = {});

// argv joined with spaces, for messages.
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_PROCESS_H_
