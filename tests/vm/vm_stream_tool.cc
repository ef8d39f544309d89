// vm_stream_tool: makes hostile send streams for vm-tests/scenarios/send_receive.sh out of a
// good one, with correct checksums where the damage is meant to be found by another check.
//   vm_stream_tool past-end IN OUT        IN's header, then a data record at the device's end
//   vm_stream_tool absurd-length IN OUT   IN's header, then a frame claiming a 2 GiB payload
//   vm_stream_tool newer-version IN OUT   IN with format version 2
//   vm_stream_tool flip IN OUT OFFSET     IN with the byte at OFFSET inverted
// Not a test itself; run inside the guest.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "metadata/codec.h"
#include "metadata/crc32c.h"
#include "metadata/stream.h"

namespace {

using namespace thinsnap;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(1);
  }
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::cerr << "cannot write " << path << "\n";
    std::exit(1);
  }
}

const uint8_t* U8(const std::string& s, size_t at) {
  return reinterpret_cast<const uint8_t*>(s.data()) + at;
}

// The prefix and header record of `in`.
std::string HeaderOf(const std::string& in) {
  const size_t frame = kStreamPrefixSize;
  if (in.size() < frame + kStreamFrameSize) std::exit(1);
  return in.substr(0, frame + kStreamFrameSize + LoadLe32(U8(in, frame + 12)));
}

uint64_t DeviceSizeOf(const std::string& header) {
  return LoadLe64(U8(header, kStreamPrefixSize + kStreamFrameSize + 4));
}

std::string Frame(uint8_t type, uint32_t number, const std::string& payload, uint32_t length) {
  uint8_t f[kStreamFrameSize] = {};
  f[4] = type;
  StoreLe32(f + 8, number);
  StoreLe32(f + 12, length);
  uint32_t crc = Crc32cExtend(Crc32cExtend(0, f + 4, 12), payload.data(), payload.size());
  StoreLe32(f, crc);
  return std::string(reinterpret_cast<char*>(f), sizeof f) + payload;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr
        << "usage: vm_stream_tool past-end|absurd-length|newer-version|flip IN OUT [OFFSET]\n";
    return 2;
  }
  const std::string op = argv[1], in = ReadFile(argv[2]);
  std::string out;
  if (op == "past-end") {
    std::string h = HeaderOf(in);
    uint8_t off[8];
    StoreLe64(off, DeviceSizeOf(h));
    std::string payload = std::string(reinterpret_cast<char*>(off), 8) + std::string(512, 'X');
    out = h + Frame(2, 1, payload, static_cast<uint32_t>(payload.size()));
  } else if (op == "absurd-length") {
    std::string h = HeaderOf(in);
    out = h + Frame(2, 1, "", 0x7FFFFFF0u) + std::string(4096, 'Y');
  } else if (op == "newer-version") {
    out = in;
    out[4] = 2;
  } else if (op == "flip" && argc == 5) {
    out = in;
    size_t at = std::strtoull(argv[4], nullptr, 10);
    if (at >= out.size()) return 1;
    out[at] = static_cast<char>(~out[at]);
  } else {
    std::cerr << "vm_stream_tool: unknown operation " << op << "\n";
    return 2;
  }
  WriteFile(argv[3], out);
  return 0;
}
