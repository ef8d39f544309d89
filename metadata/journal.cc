#include "metadata/journal.h"

#include <cstring>
#include <optional>

#include "base/error.h"
#include "metadata/crc32c.h"
#include "metadata/file.h"

namespace thinsnap {
namespace {

// A record whose magic, length and checksum are right; its contents are not checked yet.
struct Frame {
  RecordHeaderDisk header;
  std::string_view payload;
  uint64_t seq;
  size_t total_size;
};

std::optional<Frame> TryFrame(std::string_view bytes, size_t pos) {
  if (bytes.size() - pos < kRecordHeaderSize) return std::nullopt;
  Frame f;
  std::memcpy(&f.header, bytes.data() + pos, kRecordHeaderSize);
  if (LoadLe32(f.header.magic) != kJournalMagic) return std::nullopt;
  const uint32_t length = LoadLe32(f.header.length);
  if (length > kMaxRecordPayload || length > bytes.size() - pos - kRecordHeaderSize) {
    return std::nullopt;
  }
  const auto* hb = reinterpret_cast<const uint8_t*>(bytes.data() + pos);
  uint32_t crc = Crc32cExtend(0, hb + kRecordCrcFrom, kRecordHeaderSize - kRecordCrcFrom);
  crc = Crc32cExtend(crc, hb + kRecordHeaderSize, length);
  if (crc != LoadLe32(f.header.crc)) return std::nullopt;
  f.payload = bytes.substr(pos + kRecordHeaderSize, length);
  f.seq = LoadLe64(f.header.seq);
  f.total_size = kRecordHeaderSize + length;
  return f;
}

// Is there a valid record after `pos` that a torn tail could not explain? A torn write only
// loses the end of the file, so any intact record with a higher sequence number past a bad one
// means the bad one is damage in the middle. Returns its offset.
std::optional<size_t> FindLaterRecord(std::string_view bytes, size_t pos,
                                      std::optional<uint64_t> last_seq) {
  for (size_t q = pos + 1; q + kRecordHeaderSize <= bytes.size(); ++q) {
    if (LoadLe32(reinterpret_cast<const uint8_t*>(bytes.data() + q)) != kJournalMagic) continue;
    const std::optional<Frame> f = TryFrame(bytes, q);
    if (f && (!last_seq || f->seq > *last_seq)) return q;
  }
  return std::nullopt;
}

[[noreturn]] void Corrupt(const std::string& name, uint64_t offset, const std::string& what) {
  throw Error(name + ": " + what + " at offset " + std::to_string(offset), ErrorKind::kCorrupt);
}

JournalRecord DecodeFrame(const Frame& f, const std::string& name, size_t pos) {
  const uint16_t version = LoadLe16(f.header.version);
  if (version != kJournalVersion) {
    Corrupt(name, pos, "unsupported journal record version " + std::to_string(version));
  }
  if (f.header.flags != 0) Corrupt(name, pos, "reserved flags set in journal record");
  const uint8_t type = f.header.type;
  if (type < 1 || type > 4) Corrupt(name, pos, "bad journal record type " + std::to_string(type));
  Decoder d(f.payload, name, pos + kRecordHeaderSize);
  JournalRecord r = DecodeRecordPayload(static_cast<RecordType>(type), d);
  r.seq = f.seq;
  return r;
}

}  // namespace

JournalContents ParseJournal(std::string_view bytes, const std::string& name) {
  JournalContents out;
  std::optional<uint64_t> last_seq;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const std::optional<Frame> f = TryFrame(bytes, pos);
    if (!f) {
      if (const auto later = FindLaterRecord(bytes, pos, last_seq)) {
        Corrupt(name, pos,
                "damaged journal record (an intact record follows at offset " +
                    std::to_string(*later) + ")");
      }
      out.note = name + ": cut " + std::to_string(bytes.size() - pos) + " torn bytes at offset " +
                 std::to_string(pos);
      break;
    }
    if (last_seq && f->seq != *last_seq + 1) {
      Corrupt(
          name, pos,
          "journal sequence " + std::to_string(f->seq) + " follows " + std::to_string(*last_seq));
    }
    out.records.push_back(DecodeFrame(*f, name, pos));
    out.offsets.push_back(pos);
    last_seq = f->seq;
    pos += f->total_size;
  }
  out.valid_bytes = pos;
  return out;
}

JournalWriter::JournalWriter(std::unique_ptr<WritableFile> file, uint64_t next_seq, uint64_t size)
    : file_(std::move(file)), next_seq_(next_seq), size_(size) {}

JournalWriter::~JournalWriter() = default;

std::string JournalWriter::Encode(JournalRecord r) const {
  r.seq = next_seq_;
  return EncodeJournalRecord(r);
}

uint64_t JournalWriter::Write(std::string_view encoded, bool sync) {
  file_->Append(encoded);
  size_ += encoded.size();
  if (sync) file_->Sync();
  return next_seq_++;
}

void JournalWriter::Sync() { file_->Sync(); }

void JournalWriter::Close() { file_->Close(); }

}  // namespace thinsnap
