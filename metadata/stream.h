// The send/receive stream: a device's blocks (in full, or what differs from a base) as typed,
// checksummed records. The byte layout is documented in metadata/FORMAT.md ("Send stream").
//
// StreamWriter encodes onto a ByteSink; StreamReader decodes from a ByteSource and checks
// everything it can before the caller acts on a record: the prefix (magic, version), each
// record's frame (type, flags, number, length limits, CRC32C), each payload (ranges aligned to
// 512 bytes, inside the device, in increasing order, not overlapping), and at the end the
// trailer (record count, data bytes, the whole-stream checksum) and that nothing follows it.
// A violation throws Error(kCorrupt) in one line: "stream record N (type) at byte B: what".
//
// Pure code: no syscalls; the sinks and sources over file descriptors live in thinpool/kernel/.
// Thread-safety: none; one writer or reader per stream.
#ifndef THINSNAP_METADATA_STREAM_H_
#define THINSNAP_METADATA_STREAM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/byte_stream.h"
#include "metadata/records.h"

namespace thinsnap {

inline constexpr uint32_t kStreamMagic = 0x53535354;  // "TSSS" little-endian
inline constexpr uint16_t kStreamVersion = 1;
inline constexpr size_t kStreamPrefixSize = 8;
inline constexpr size_t kStreamFrameSize = 16;
// Data bytes in one data record; a larger length is refused before anything is allocated.
inline constexpr uint32_t kMaxStreamData = 16u << 20;
inline constexpr uint32_t kStreamSectorBytes = 512;  // every offset and length is a multiple

enum class StreamRecordType : uint8_t { kHeader = 1, kData = 2, kUnmap = 3, kTrailer = 4 };
const char* StreamRecordTypeName(StreamRecordType t);

// A device's stable identity: 16 random bytes (a version 4 UUID), chosen at creation and kept by
// send/receive. Printed as the usual 8-4-4-4-12 lowercase hex.
using DeviceUuid = std::array<uint8_t, 16>;
std::string FormatUuid(const DeviceUuid& u);
// Accepts what FormatUuid prints; false otherwise.
bool ParseUuid(std::string_view text, DeviceUuid* out);
// Makes random bytes into a version 4, variant 1 UUID.
DeviceUuid MakeUuidV4(DeviceUuid random);

struct StreamHeader {
  uint32_t block_size = 0;   // the sender pool's block size in bytes (multiple of 512)
  uint64_t device_size = 0;  // bytes, multiple of 512, > 0
  DeviceKind kind = DeviceKind::kVolume;
  FsType fs = FsType::kNone;
  DeviceUuid uuid{};                    // the sent device's identity
  std::optional<DeviceUuid> base_uuid;  // incremental streams: the base's identity
  std::string name;                     // the sender's name for the device (informational)
  bool operator==(const StreamHeader&) const = default;
};

// Encodes one stream. The constructor writes the prefix and the header record; Finish() the
// trailer. Records must come in increasing, non-overlapping order inside the device (the writer
// checks, throwing Error(kUsage), so it never writes what a reader would refuse).
class StreamWriter {
 public:
  StreamWriter(ByteSink* sink, const StreamHeader& header);
  // REQUIRES: n > 0, n <= kMaxStreamData, offset and n multiples of 512.
  void Data(uint64_t offset, const void* data, size_t n);
  void Unmap(uint64_t offset, uint64_t length);
  void Finish();

  uint64_t bytes() const { return bytes_; }      // written so far
  uint64_t records() const { return records_; }  // including the header
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  void Record(StreamRecordType type, std::string_view fixed, const void* data, size_t n);
  void CheckRange(uint64_t offset, uint64_t length, const char* what);

  ByteSink* sink_;
  uint64_t device_size_;
  uint64_t bytes_ = 0;
  uint64_t records_ = 0;
  uint64_t data_bytes_ = 0;
  uint64_t next_offset_ = 0;  // records must start at or after it
  uint32_t stream_crc_ = 0;   // over the prefix and every frame
  bool finished_ = false;
};

// One data or unmap record. For kData `data` points into the reader's buffer (aligned to 4096
// bytes, so it can go straight to an O_DIRECT write) and stays valid until the next Next().
struct StreamRecord {
  StreamRecordType type = StreamRecordType::kData;
  uint64_t offset = 0;
  uint64_t length = 0;
  const uint8_t* data = nullptr;
  uint64_t number = 0;       // record number (the header is 0)
  uint64_t byte_offset = 0;  // where its frame starts in the stream
};

class StreamReader {
 public:
  explicit StreamReader(ByteSource* source);
  ~StreamReader();
  // Reads and checks the prefix and the header record. Call once, first.
  const StreamHeader& ReadHeader();
  // The next data or unmap record; false once the trailer has been read and verified and the
  // source has ended.
  bool Next(StreamRecord* r);

  const StreamHeader& header() const { return header_; }
  uint64_t bytes() const { return pos_; }  // consumed so far
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  struct Frame {
    StreamRecordType type;
    uint32_t length;
    uint32_t stored_crc;   // what the frame says
    uint32_t partial_crc;  // CRC32C of frame bytes 4..15, extended by the payload
  };
  Frame ReadFrame();
  void ReadExact(void* p, size_t n, const char* what);
  void ReadPayload(const Frame& f, size_t fixed);
  void CheckTrailer(uint32_t before_crc);
  void CheckRange(uint64_t offset, uint64_t length);
  [[noreturn]] void Fail(const std::string& what) const;

  ByteSource* source_;
  StreamHeader header_;
  uint64_t pos_ = 0;
  uint64_t number_ = 0;        // of the record being read
  uint64_t record_start_ = 0;  // its byte offset
  const char* record_type_ = "prefix";
  uint64_t data_bytes_ = 0;
  uint64_t next_offset_ = 0;
  uint32_t stream_crc_ = 0;
  bool header_read_ = false;
  bool done_ = false;
  std::string fixed_;                     // the current payload's fixed part
  uint8_t frame_[kStreamFrameSize] = {};  // the current record's frame
  struct FreeAligned {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, FreeAligned> buffer_;  // kMaxStreamData bytes, 4096-aligned
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_STREAM_H_
