// vm_enospc_writer [--buffered] FILE [MAX_MIB]: writes FILE with 1 MiB writes until one fails (or
// MAX_MIB are written) and times every write() itself, so that the out-of-space latency is
// measured inside one process instead of by a polling shell. For the pool space VM scenarios.
//   default     O_DIRECT writes; prints one line:
//     wrote=<MiB> failed_write_ms=<ms> errno=<n> (<text>) slowest_ok_ms=<ms> total_ms=<ms>
//   --buffered  ordinary page-cache writes, then fsync (as most programs write); prints:
//     wrote=<MiB> error_at_ms=<wall-clock ms of the first failed write or fsync, 0 = none>
//     errno=<n> (<text>) fsync_errno=<n> slowest_ok_ms=<ms> total_ms=<ms>
// Exit status: 1 when a write or the fsync failed, 0 when MAX_MIB were written, 2 on bad usage.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr size_t kChunk = 1 << 20;

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

long long WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Direct(const char* path, long max_mib) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "vm_enospc_writer: open %s: %s\n", path, std::strerror(errno));
    return 2;
  }
  void* buf = nullptr;
  if (::posix_memalign(&buf, 4096, kChunk) != 0) return 2;
  std::memset(buf, 0x5a, kChunk);
  auto start = std::chrono::steady_clock::now();
  double slowest_ok = 0;
  for (long i = 0; i < max_mib; ++i) {
    auto t = std::chrono::steady_clock::now();
    ssize_t n = ::pwrite(fd, buf, kChunk, static_cast<off_t>(i) * kChunk);
    double ms = MsSince(t);
    if (n != static_cast<ssize_t>(kChunk)) {
      int err = n < 0 ? errno : ENOSPC;  // a short write means the space ran out
      std::printf("wrote=%ld failed_write_ms=%.1f errno=%d (%s) slowest_ok_ms=%.1f total_ms=%.0f\n",
                  i, ms, err, std::strerror(err), slowest_ok, MsSince(start));
      ::close(fd);
      return 1;
    }
    if (ms > slowest_ok) slowest_ok = ms;
  }
  std::printf("wrote=%ld failed_write_ms=0 errno=0 (none) slowest_ok_ms=%.1f total_ms=%.0f\n",
              max_mib, slowest_ok, MsSince(start));
  return ::close(fd) == 0 ? 0 : 1;
}

int Buffered(const char* path, long max_mib) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "vm_enospc_writer: open %s: %s\n", path, std::strerror(errno));
    return 2;
  }
  std::string buf(kChunk, '\x5a');
  auto start = std::chrono::steady_clock::now();
  double slowest_ok = 0;
  long long error_at = 0;
  int err = 0;
  long i = 0;
  for (; i < max_mib; ++i) {
    auto t = std::chrono::steady_clock::now();
    ssize_t n = ::write(fd, buf.data(), kChunk);
    double ms = MsSince(t);
    if (n != static_cast<ssize_t>(kChunk)) {
      error_at = WallMs();
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    if (ms > slowest_ok) slowest_ok = ms;
  }
  int fsync_err = ::fsync(fd) == 0 ? 0 : errno;
  if (fsync_err != 0 && error_at == 0) {
    error_at = WallMs();
    err = fsync_err;
  }
  ::close(fd);
  std::printf(
      "wrote=%ld error_at_ms=%lld errno=%d (%s) fsync_errno=%d slowest_ok_ms=%.1f "
      "total_ms=%.0f\n",
      i, error_at, err, err ? std::strerror(err) : "none", fsync_err, slowest_ok, MsSince(start));
  return error_at != 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool buffered = argc > 1 && std::strcmp(argv[1], "--buffered") == 0;
  int first = buffered ? 2 : 1;
  if (argc - first < 1 || argc - first > 2) {
    std::fprintf(stderr, "usage: vm_enospc_writer [--buffered] FILE [MAX_MIB]\n");
    return 2;
  }
  long max_mib = argc - first == 2 ? std::strtol(argv[first + 1], nullptr, 10) : 1L << 20;
  return buffered ? Buffered(argv[first], max_mib) : Direct(argv[first], max_mib);
}
