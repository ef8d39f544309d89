#include "metadata/stream.h"

#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "metadata/codec.h"
#include "metadata/crc32c.h"

namespace thinsnap {
namespace {

constexpr size_t kUuidBytes = 16;
// block size, device size, kind, fs, uuid, has_base, base uuid, name length.
constexpr size_t kHeaderFixedBytes = 4 + 8 + 1 + 1 + kUuidBytes + 1 + kUuidBytes + 4;
constexpr size_t kMaxHeaderPayload = kHeaderFixedBytes + kMaxNameBytes;
constexpr size_t kDataFixedBytes = 8;
constexpr size_t kUnmapBytes = 16;
constexpr size_t kTrailerBytes = 8 + 8 + 4;
constexpr size_t kBufferAlign = 4096;

// Frame layout (FORMAT.md "Send stream"): crc[4] type flags reserved[2] number[4] length[4].
struct FrameDisk {
  uint8_t crc[4];
  uint8_t type;
  uint8_t flags;
  uint8_t reserved[2];
  uint8_t number[4];
  uint8_t length[4];
};
static_assert(sizeof(FrameDisk) == kStreamFrameSize);

struct PrefixDisk {
  uint8_t magic[4];
  uint8_t version[2];
  uint8_t flags[2];
};
static_assert(sizeof(PrefixDisk) == kStreamPrefixSize);

bool Aligned(uint64_t v) { return v % kStreamSectorBytes == 0; }

std::string EncodeHeader(const StreamHeader& h) {
  Encoder e;
  e.U32(h.block_size);
  e.U64(h.device_size);
  e.U8(static_cast<uint8_t>(h.kind));
  e.U8(static_cast<uint8_t>(h.fs));
  e.bytes().append(reinterpret_cast<const char*>(h.uuid.data()), kUuidBytes);
  e.Bool(h.base_uuid.has_value());
  DeviceUuid base = h.base_uuid.value_or(DeviceUuid{});
  e.bytes().append(reinterpret_cast<const char*>(base.data()), kUuidBytes);
  e.String(h.name, kMaxNameBytes, "device name");
  return std::move(e.bytes());
}

void CheckHeaderValues(const StreamHeader& h) {
  auto usage = [](const std::string& what) {
    throw Error("send stream: " + what, ErrorKind::kUsage);
  };
  if (h.block_size == 0 || !Aligned(h.block_size)) usage("bad block size");
  if (h.device_size == 0 || !Aligned(h.device_size)) usage("bad device size");
  if (h.kind < DeviceKind::kBase || h.kind > DeviceKind::kVolume) usage("bad device kind");
  if (h.fs > FsType::kXfs) usage("bad fs type");
}

DeviceUuid TakeUuid(Decoder& d) {
  DeviceUuid u;
  for (uint8_t& b : u) b = d.U8();
  return u;
}

}  // namespace

const char* StreamRecordTypeName(StreamRecordType t) {
  switch (t) {
    case StreamRecordType::kHeader:
      return "header";
    case StreamRecordType::kData:
      return "data";
    case StreamRecordType::kUnmap:
      return "unmap";
    case StreamRecordType::kTrailer:
      return "trailer";
  }
  return "unknown";
}

// ---- UUIDs ----

std::string FormatUuid(const DeviceUuid& u) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[u[i] >> 4];
    s += kHex[u[i] & 15];
  }
  return s;
}

bool ParseUuid(std::string_view text, DeviceUuid* out) {
  if (text.size() != 36) return false;
  DeviceUuid u{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
      continue;
    }
    char c = text[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    u[byte / 2] = static_cast<uint8_t>(u[byte / 2] | (byte % 2 == 0 ? v << 4 : v));
    ++byte;
  }
  *out = u;
  return true;
}

DeviceUuid MakeUuidV4(DeviceUuid r) {
  r[6] = static_cast<uint8_t>((r[6] & 0x0F) | 0x40);
  r[8] = static_cast<uint8_t>((r[8] & 0x3F) | 0x80);
  return r;
}

// ---- Writer ----

StreamWriter::StreamWriter(ByteSink* sink, const StreamHeader& header)
    : sink_(sink), device_size_(header.device_size) {
  CheckHeaderValues(header);
  PrefixDisk p{};
  StoreLe32(p.magic, kStreamMagic);
  StoreLe16(p.version, kStreamVersion);
  sink_->Write(&p, sizeof p);
  bytes_ += sizeof p;
  stream_crc_ = Crc32c(&p, sizeof p);
  const std::string payload = EncodeHeader(header);
  Record(StreamRecordType::kHeader, payload, nullptr, 0);
}

void StreamWriter::CheckRange(uint64_t offset, uint64_t length, const char* what) {
  if (finished_) throw Error("send stream: record after the trailer", ErrorKind::kUsage);
  if (length == 0 || !Aligned(offset) || !Aligned(length) || offset < next_offset_ ||
      length > device_size_ || offset > device_size_ - length) {
    throw Error(std::string("send stream: bad ") + what + " range " + std::to_string(offset) + "+" +
                    std::to_string(length),
                ErrorKind::kUsage);
  }
  next_offset_ = offset + length;
}

void StreamWriter::Data(uint64_t offset, const void* data, size_t n) {
  if (n > kMaxStreamData) throw Error("send stream: data record too long", ErrorKind::kUsage);
  CheckRange(offset, n, "data");
  uint8_t fixed[8];
  StoreLe64(fixed, offset);
  Record(StreamRecordType::kData, std::string_view(reinterpret_cast<char*>(fixed), 8), data, n);
  data_bytes_ += n;
}

void StreamWriter::Unmap(uint64_t offset, uint64_t length) {
  CheckRange(offset, length, "unmap");
  uint8_t fixed[16];
  StoreLe64(fixed, offset);
  StoreLe64(fixed + 8, length);
  Record(StreamRecordType::kUnmap, std::string_view(reinterpret_cast<char*>(fixed), 16), nullptr,
         0);
}

void StreamWriter::Finish() {
  if (finished_) throw Error("send stream: finished twice", ErrorKind::kUsage);
  uint8_t t[kTrailerBytes];
  StoreLe64(t, records_);
  StoreLe64(t + 8, data_bytes_);
  StoreLe32(t + 16, stream_crc_);
  Record(StreamRecordType::kTrailer, std::string_view(reinterpret_cast<char*>(t), sizeof t),
         nullptr, 0);
  finished_ = true;
}

void StreamWriter::Record(StreamRecordType type, std::string_view fixed, const void* data,
                          size_t n) {
  FrameDisk f{};
  f.type = static_cast<uint8_t>(type);
  StoreLe32(f.number, static_cast<uint32_t>(records_));
  StoreLe32(f.length, static_cast<uint32_t>(fixed.size() + n));
  const auto* fb = reinterpret_cast<const uint8_t*>(&f);
  uint32_t crc = Crc32cExtend(0, fb + 4, kStreamFrameSize - 4);
  crc = Crc32cExtend(crc, fixed.data(), fixed.size());
  if (n > 0) crc = Crc32cExtend(crc, data, n);
  StoreLe32(f.crc, crc);
  sink_->Write(&f, sizeof f);
  sink_->Write(fixed.data(), fixed.size());
  if (n > 0) sink_->Write(data, n);
  stream_crc_ = Crc32cExtend(stream_crc_, &f, sizeof f);
  bytes_ += sizeof f + fixed.size() + n;
  ++records_;
}

// ---- Reader ----

void StreamReader::FreeAligned::operator()(uint8_t* p) const { std::free(p); }

StreamReader::StreamReader(ByteSource* source) : source_(source) {}
StreamReader::~StreamReader() = default;

void StreamReader::Fail(const std::string& what) const {
  std::string where =
      header_read_ || number_ > 0 || record_start_ > 0
          ? "stream record " + std::to_string(number_) + " (" + record_type_ + ") at byte " +
                std::to_string(record_start_)
          : std::string("stream ") + record_type_ + " at byte " + std::to_string(record_start_);
  throw Error(where + ": " + what, ErrorKind::kCorrupt);
}

void StreamReader::ReadExact(void* p, size_t n, const char* what) {
  auto* out = static_cast<uint8_t*>(p);
  size_t got = 0;
  while (got < n) {
    size_t r = source_->Read(out + got, n - got);
    if (r == 0) {
      pos_ += got;
      Fail(std::string("truncated: the stream ends inside the ") + what + " at byte " +
           std::to_string(pos_));
    }
    got += r;
  }
  pos_ += n;
}

const StreamHeader& StreamReader::ReadHeader() {
  PrefixDisk p;
  ReadExact(&p, sizeof p, "prefix");
  if (LoadLe32(p.magic) != kStreamMagic) Fail("not a thinsnap send stream (bad magic)");
  const uint16_t version = LoadLe16(p.version);
  if (version > kStreamVersion) {
    Fail("stream format version " + std::to_string(version) +
         " is newer than this thinsnap reads (" + std::to_string(kStreamVersion) +
         "); upgrade thinsnap on the receiving side");
  }
  if (version == 0) Fail("bad stream format version 0");
  if (LoadLe16(p.flags) != 0) Fail("reserved prefix flags set");
  stream_crc_ = Crc32c(&p, sizeof p);

  Frame f = ReadFrame();
  if (f.type != StreamRecordType::kHeader) Fail("the first record is not a header");
  ReadPayload(f, f.length);
  Decoder d(fixed_, "stream header", record_start_ + kStreamFrameSize);
  StreamHeader& h = header_;
  h.block_size = d.U32();
  h.device_size = d.U64();
  const uint8_t kind = d.U8(), fs = d.U8();
  h.uuid = TakeUuid(d);
  const uint8_t has_base = d.U8();
  DeviceUuid base = TakeUuid(d);
  h.name = d.String(kMaxNameBytes, "device name");
  d.ExpectEnd();
  if (h.block_size == 0 || !Aligned(h.block_size))
    Fail("bad block size " + std::to_string(h.block_size));
  if (h.device_size == 0 || !Aligned(h.device_size)) {
    Fail("bad device size " + std::to_string(h.device_size));
  }
  if (kind < 1 || kind > 4) Fail("bad device kind " + std::to_string(kind));
  if (fs > 2) Fail("bad fs type " + std::to_string(fs));
  if (has_base > 1) Fail("bad has-base byte " + std::to_string(has_base));
  h.kind = static_cast<DeviceKind>(kind);
  h.fs = static_cast<FsType>(fs);
  if (has_base) h.base_uuid = base;
  header_read_ = true;
  ++number_;
  return header_;
}

StreamReader::Frame StreamReader::ReadFrame() {
  record_start_ = pos_;
  record_type_ = "frame";
  FrameDisk f;
  ReadExact(&f, sizeof f, "record frame");
  std::memcpy(frame_, &f, sizeof f);  // kept for the whole-stream checksum
  Frame out{static_cast<StreamRecordType>(f.type), LoadLe32(f.length), LoadLe32(f.crc), 0};
  if (f.type < 1 || f.type > 4) Fail("bad record type " + std::to_string(f.type));
  record_type_ = StreamRecordTypeName(out.type);
  if (f.flags != 0 || f.reserved[0] != 0 || f.reserved[1] != 0) Fail("reserved frame bytes set");
  const uint32_t number = LoadLe32(f.number);
  if (number != number_) {
    Fail("record number " + std::to_string(number) + " where " + std::to_string(number_) +
         " was expected (records lost or reordered)");
  }
  size_t lo = 0, hi = 0;
  switch (out.type) {
    case StreamRecordType::kHeader:
      lo = kHeaderFixedBytes, hi = kMaxHeaderPayload;
      break;
    case StreamRecordType::kData:
      lo = kDataFixedBytes + kStreamSectorBytes, hi = kDataFixedBytes + kMaxStreamData;
      break;
    case StreamRecordType::kUnmap:
      lo = hi = kUnmapBytes;
      break;
    case StreamRecordType::kTrailer:
      lo = hi = kTrailerBytes;
      break;
  }
  if (out.length < lo || out.length > hi) {
    Fail("record length " + std::to_string(out.length) + " is out of range (" + std::to_string(lo) +
         ".." + std::to_string(hi) + ")");
  }
  out.partial_crc = Crc32cExtend(0, frame_ + 4, kStreamFrameSize - 4);
  return out;
}

// Reads `fixed` bytes into fixed_ and the rest (data) into the aligned buffer, then checks the
// record's CRC.
void StreamReader::ReadPayload(const Frame& f, size_t fixed) {
  fixed_.resize(fixed);
  ReadExact(fixed_.data(), fixed, "record payload");
  uint32_t crc = Crc32cExtend(f.partial_crc, fixed_.data(), fixed);
  const size_t rest = f.length - fixed;
  if (rest > 0) {
    if (!buffer_) {
      void* p = std::aligned_alloc(kBufferAlign, kMaxStreamData);
      if (!p) Fail("out of memory for a data buffer");
      buffer_.reset(static_cast<uint8_t*>(p));
    }
    ReadExact(buffer_.get(), rest, "record data");
    crc = Crc32cExtend(crc, buffer_.get(), rest);
  }
  if (crc != f.stored_crc) Fail("checksum mismatch (the record is damaged)");
  stream_crc_ = Crc32cExtend(stream_crc_, frame_, sizeof frame_);
}

void StreamReader::CheckRange(uint64_t offset, uint64_t length) {
  const uint64_t size = header_.device_size;
  if (!Aligned(offset) || !Aligned(length) || length == 0) {
    Fail("range " + std::to_string(offset) + "+" + std::to_string(length) +
         " is not a multiple of 512 bytes");
  }
  if (length > size || offset > size - length) {
    Fail("range " + std::to_string(offset) + "+" + std::to_string(length) +
         " is past the device's end (" + std::to_string(size) + " bytes)");
  }
  if (offset < next_offset_) {
    Fail("range at " + std::to_string(offset) +
         " overlaps or precedes the previous one (ending at " + std::to_string(next_offset_) + ")");
  }
  next_offset_ = offset + length;
}

bool StreamReader::Next(StreamRecord* r) {
  if (!header_read_) throw Error("StreamReader::Next before ReadHeader", ErrorKind::kUsage);
  if (done_) return false;
  const uint32_t before_crc = stream_crc_;
  Frame f = ReadFrame();
  r->number = number_;
  r->byte_offset = record_start_;
  r->type = f.type;
  switch (f.type) {
    case StreamRecordType::kHeader:
      Fail("a second header");
    case StreamRecordType::kData:
      ReadPayload(f, kDataFixedBytes);
      r->offset = LoadLe64(reinterpret_cast<const uint8_t*>(fixed_.data()));
      r->length = f.length - kDataFixedBytes;
      r->data = buffer_.get();
      CheckRange(r->offset, r->length);
      data_bytes_ += r->length;
      ++number_;
      return true;
    case StreamRecordType::kUnmap:
      ReadPayload(f, kUnmapBytes);
      r->offset = LoadLe64(reinterpret_cast<const uint8_t*>(fixed_.data()));
      r->length = LoadLe64(reinterpret_cast<const uint8_t*>(fixed_.data()) + 8);
      r->data = nullptr;
      CheckRange(r->offset, r->length);
      ++number_;
      return true;
    case StreamRecordType::kTrailer:
      ReadPayload(f, kTrailerBytes);
      CheckTrailer(before_crc);
      done_ = true;
      return false;
  }
  Fail("unreachable record type");
}

void StreamReader::CheckTrailer(uint32_t before_crc) {
  const auto* t = reinterpret_cast<const uint8_t*>(fixed_.data());
  const uint64_t records = LoadLe64(t), data_bytes = LoadLe64(t + 8);
  const uint32_t crc = LoadLe32(t + 16);
  if (records != number_) {
    Fail("the trailer counts " + std::to_string(records) + " records, the stream held " +
         std::to_string(number_));
  }
  if (data_bytes != data_bytes_) {
    Fail("the trailer counts " + std::to_string(data_bytes) + " data bytes, the stream held " +
         std::to_string(data_bytes_));
  }
  if (crc != before_crc) Fail("whole-stream checksum mismatch");
  uint8_t extra;
  if (source_->Read(&extra, 1) != 0) Fail("unexpected bytes after the trailer");
}

}  // namespace thinsnap
