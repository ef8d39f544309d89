// ByteSink and ByteSource: where a stream's bytes go and come from (the send/receive stream of
// metadata/stream.h; over file descriptors in thinpool/kernel/stream_fd.h, in memory in tests).
#ifndef THINSNAP_BASE_BYTE_STREAM_H_
#define THINSNAP_BASE_BYTE_STREAM_H_

#include <cstddef>

namespace thinsnap {

// Write throws on failure.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void Write(const void* data, size_t n) = 0;
};

// Read returns 0 only at the end and may return fewer bytes than asked; it throws on failure.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual size_t Read(void* data, size_t n) = 0;
};

}  // namespace thinsnap

#endif  // THINSNAP_BASE_BYTE_STREAM_H_
