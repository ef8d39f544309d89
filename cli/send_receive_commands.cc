// The send/receive commands: `send NAME [--from BASE] [-o FILE]` and `receive NAME [--from
// BASE] [-i FILE]`, block-level streams (Engine::Send/Receive; the format is metadata/FORMAT.md).
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/units.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/program.h"
#include "thinpool/kernel/stream_fd.h"

namespace thinsnap::cli {
namespace {

struct SendReceiveArgs {
  std::string name, from, file;
};

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

nlohmann::json StatsToJson(const TransferStats& s) {
  return {{"Name", s.name},
          {"Base", s.base},
          {"Uuid", s.uuid},
          {"BaseUuid", s.base_uuid},
          {"Kind", DeviceKindName(s.kind)},
          {"DeviceSize", s.device_size},
          {"WireBytes", s.wire_bytes},
          {"DataBytes", s.data_bytes},
          {"UnmappedBytes", s.unmapped_bytes},
          {"DataRanges", s.data_ranges},
          {"UnmapRanges", s.unmap_ranges},
          {"Seconds", Seconds(s.elapsed_ns)},
          {"BytesPerSecond", BytesPerSecond(s.wire_bytes, s.elapsed_ns)}};
}

std::string Summary(const char* verb, const TransferStats& s) {
  return std::string(verb) + " " + s.name + (s.base.empty() ? "" : " (from " + s.base + ")") +
         ": " + FormatSize(s.data_bytes) + " of data in " + std::to_string(s.data_ranges) +
         " ranges, " + std::to_string(s.unmap_ranges) + " unmaps, " + FormatSize(s.wire_bytes) +
         " on the wire in " + std::to_string(Seconds(s.elapsed_ns)).substr(0, 6) + " s (" +
         FormatSize(BytesPerSecond(s.wire_bytes, s.elapsed_ns)) + "/s)";
}

// The summary: JSON on `json_out` with --json; one line on stderr on a terminal or with -v.
void Report(const char* verb, const TransferStats& s, const GlobalOptions& g,
            std::ostream& json_out) {
  if (g.json) {
    json_out << StatsToJson(s).dump(2) << "\n";
  } else if (isatty(STDERR_FILENO) || g.verbose) {
    std::cerr << Summary(verb, s) << "\n";
  }
}

// The output file of `send -o`: created (or truncated); removed again if the send fails, so a
// failed send leaves no partial stream behind.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) ThrowErrno("open " + path, errno);
  }
  ~OutputFile() {
    if (fd_ < 0) return;
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  void Commit(kernel::FdByteSink* sink) {
    sink->Sync();
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) ThrowErrno("close " + path_, errno);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

int RunSend(const SendReceiveArgs& a, const GlobalOptions& g, Engine& engine) {
  if (a.file.empty() || a.file == "-") {
    if (isatty(STDOUT_FILENO)) {
      throw Error("refusing to write a stream to a terminal; redirect stdout or use -o FILE",
                  ErrorKind::kUsage);
    }
    kernel::FdByteSink sink(STDOUT_FILENO, "stdout");
    TransferStats s = engine.Send(a.name, a.from, &sink);
    Report("sent", s, g, std::cerr);
    return 0;
  }
  OutputFile out(a.file);
  kernel::FdByteSink sink(out.fd(), a.file);
  TransferStats s = engine.Send(a.name, a.from, &sink);
  out.Commit(&sink);
  Report("sent", s, g, std::cout);
  return 0;
}

int RunReceive(const SendReceiveArgs& a, const GlobalOptions& g, Engine& engine) {
  int fd = STDIN_FILENO;
  if (!a.file.empty() && a.file != "-") {
    fd = ::open(a.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ThrowErrno("open " + a.file, errno);
  } else if (isatty(STDIN_FILENO)) {
    throw Error("refusing to read a stream from a terminal; redirect stdin or use -i FILE",
                ErrorKind::kUsage);
  }
  kernel::FdByteSource source(fd, fd == STDIN_FILENO ? "stdin" : a.file);
  TransferStats s;
  try {
    s = engine.Receive(a.name, a.from, &source);
  } catch (...) {
    if (fd != STDIN_FILENO) ::close(fd);
    throw;
  }
  if (fd != STDIN_FILENO) ::close(fd);
  if (!g.json) std::cout << s.name << "\n";
  Report("received", s, g, std::cout);
  return 0;
}

}  // namespace

void AddSendReceiveCommands(CLI::App* app, Program* p) {
  auto send_args = std::make_shared<SendReceiveArgs>();
  CLI::App* send = app->add_subcommand(
      "send", "write a device's blocks as a stream (all of them, or what changed since --from)");
  send->add_option("NAME", send_args->name)->required();
  send->add_option("--from", send_args->from,
                   "an earlier snapshot the receiver has: send only the changes");
  send->add_option("-o,--output", send_args->file, "write the stream to FILE (default stdout)");
  p->On(send, [p, send_args] { return RunSend(*send_args, p->global(), p->engine()); });
  auto receive_args = std::make_shared<SendReceiveArgs>();
  CLI::App* receive = app->add_subcommand(
      "receive", "make a new device NAME from a stream (it appears once the stream verified)");
  receive->add_option("NAME", receive_args->name)->required();
  receive->add_option("--from", receive_args->from,
                      "the base of an incremental stream (default: found by its identity)");
  receive->add_option("-i,--input", receive_args->file,
                      "read the stream from FILE (default stdin)");
  p->On(receive, [p, receive_args] { return RunReceive(*receive_args, p->global(), p->engine()); });
}

}  // namespace thinsnap::cli
