// In-memory ByteSink/ByteSource (base/byte_stream.h) for the stream and send/receive tests.
#ifndef THINSNAP_TESTS_FAKES_STRING_STREAM_H_
#define THINSNAP_TESTS_FAKES_STRING_STREAM_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "base/byte_stream.h"

namespace thinsnap {

class StringSink : public ByteSink {
 public:
  void Write(const void* data, size_t n) override { out.append(static_cast<const char*>(data), n); }
  std::string out;
};

// Serves `in` at most `chunk` bytes per Read (to exercise short reads). With `die_at` set, throws
// a non-thinsnap exception once that many bytes were read: the process "dies" there, skipping
// every cleanup, like kill -9.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string in, size_t chunk = 64 << 10, size_t die_at = SIZE_MAX)
      : in_(std::move(in)), chunk_(chunk), die_at_(die_at) {}
  size_t Read(void* data, size_t n) override {
    if (pos_ >= die_at_) throw std::runtime_error("killed");
    size_t k = std::min({n, chunk_, in_.size() - pos_});
    std::memcpy(data, in_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string in_;
  size_t chunk_;
  size_t die_at_;
  size_t pos_ = 0;
};

}  // namespace thinsnap

#endif  // THINSNAP_TESTS_FAKES_STRING_STREAM_H_
