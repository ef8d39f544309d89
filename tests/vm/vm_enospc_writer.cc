// vm_enospc_writer FILE [MAX_MIB]: writes FILE with 1 MiB O_DIRECT writes until one fails (or
// MAX_MIB are written) and times every write() itself, so that the out-of-space latency is
// measured inside one process instead of by a polling shell. For the pool_space VM scenario.
// Prints one line:
//   wrote=<MiB> failed_write_ms=<ms> errno=<n> (<text>) slowest_ok_ms=<ms> total_ms=<ms>
// Exit status: 1 when a write failed, 0 when MAX_MIB were written, 2 on bad usage.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: vm_enospc_writer FILE [MAX_MIB]\n");
    return 2;
  }
  long max_mib = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 1L << 20;
  constexpr size_t kChunk = 1 << 20;
  int fd = ::open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "vm_enospc_writer: open %s: %s\n", argv[1], std::strerror(errno));
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
