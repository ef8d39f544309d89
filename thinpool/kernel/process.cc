#include "thinpool/kernel/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

extern char** environ;

namespace thinsnap::kernel {
namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ThrowErrno("pipe2", errno);
  return Pipe{UniqueFd(fds[0], "pipe"), UniqueFd(fds[1], "pipe")};
}

// posix_spawn file actions, freed on every path.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&fa_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  void Dup(int from, int to) { posix_spawn_file_actions_adddup2(&fa_, from, to); }
  void OpenNullStdin() { posix_spawn_file_actions_addopen(&fa_, 0, "/dev/null", O_RDONLY, 0); }
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Reads both pipes until both reach end of file, so neither child stream can fill up and block.
void DrainPipes(UniqueFd& out_fd, UniqueFd& err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd.get(), POLLIN, 0}, {err_fd.get(), POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("poll", errno);
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("read from child pipe", errno);
      if (n == 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
}

int WaitForChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) ThrowErrno("waitpid", errno);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string LastLines(const std::string& text, int max_lines) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  size_t pos = end + 1;
  for (int i = 0; i < max_lines && pos > 0; ++i) {
    size_t nl = text.rfind('\n', pos - 1);
    pos = (nl == std::string::npos) ? 0 : nl;
  }
  std::string tail = text.substr(pos, end + 1 - pos);
  if (!tail.empty() && tail[0] == '\n') tail.erase(0, 1);
  for (char& c : tail) {
    if (c == '\n') c = '|';
  }
  return tail;
}

pid_t Spawn(const std::vector<std::string>& argv, const RunOptions& opts, Pipe& out, Pipe& err) {
  FileActions actions;
  actions.OpenNullStdin();
  actions.Dup(out.write_end.get(), 1);
  actions.Dup(err.write_end.get(), 2);
  std::vector<char*> args = CStrings(argv);
  std::vector<std::string> env_strings = Environment(opts.extra_env);
  std::vector<char*> env = CStrings(env_strings);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), env.data());
  if (rc == ENOENT) throw Error(argv[0] + ": not found on PATH", ErrorKind::kNotFound, rc);
  if (rc != 0) ThrowErrno("spawn " + CommandLine(argv), rc);
  return pid;
}

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

RunResult RunCommand(const std::vector<std::string>& argv, const RunOptions& opts) {
  if (argv.empty()) throw Error("RunCommand: empty argv", ErrorKind::kUsage);
  Pipe out = MakePipe();
  Pipe err = MakePipe();
  pid_t pid = Spawn(argv, opts, out, err);
  out.write_end.Close();
  err.write_end.Close();
  RunResult result;
  DrainPipes(out.read_end, err.read_end, result.stdout_text, result.stderr_text);
  result.exit_code = WaitForChild(pid);
  if (opts.check && result.exit_code != 0) {
    std::string status = result.exit_code > 128
                             ? "killed by signal " + std::to_string(result.exit_code - 128)
                             : "exit status " + std::to_string(result.exit_code);
    std::string tail = LastLines(result.stderr_text, opts.stderr_lines_in_error);
    if (tail.empty()) tail = LastLines(result.stdout_text, opts.stderr_lines_in_error);
    throw Error(CommandLine(argv) + ": " + status + (tail.empty() ? "" : ": " + tail));
  }
  return result;
}

}  // namespace thinsnap::kernel
