// Explicit little-endian encoding of thinsnap's records into the byte layouts described in
// metadata/FORMAT.md. The on-disk structs here (RecordHeaderDisk, CheckpointHeaderDisk) are byte
// arrays with no padding and no host-endian fields; in-memory records (records.h) never touch disk
// directly.
//
// Decoding never trusts a length or a count: every one is checked against the bytes that remain
// and against the limits below, every enum and bool against its valid values, and the payload
// must be consumed exactly. Violations throw Error(kCorrupt). Encoding checks the same limits
// (throwing Error(kUsage)) so that nothing is ever written that could not be read back.
//
// Thread-safety: all functions are pure; Encoder/Decoder objects are not shared.
#ifndef THINSNAP_METADATA_CODEC_H_
#define THINSNAP_METADATA_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/records.h"

namespace thinsnap {

// ---- Limits (FORMAT.md "Limits"). Raising one is a format version bump. ----
inline constexpr uint32_t kMaxNameBytes = 255;            // DeviceRecord::name
inline constexpr uint32_t kMaxStringBytes = 64 * 1024;    // every other string
inline constexpr uint32_t kMaxLabels = 4096;              // labels per device
inline constexpr uint32_t kMaxKernelOps = 1024;           // per intent
inline constexpr uint32_t kMaxMutations = 1u << 20;       // per intent or update
inline constexpr uint32_t kMaxConfigEntries = 1u << 16;   // pool configuration keys
inline constexpr uint32_t kMaxRecordPayload = 64u << 20;  // one journal record's payload
inline constexpr uint64_t kMaxCheckpointBody = 1ull << 32;

// ---- Primitive encoding ----

// Appends little-endian fixed-width fields and u32-length-prefixed strings to a byte string.
class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  // Throws Error(kUsage) when s is longer than max_bytes ("field" names it).
  void String(std::string_view s, uint32_t max_bytes, const char* field);
  // Throws Error(kUsage) when n > max.
  void Count(size_t n, uint32_t max, const char* field);

  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// Reads what Encoder wrote from a byte range it does not own. Every failure throws
// Error(kCorrupt) "<context>: <what> at byte <offset>", offset relative to `base_offset`.
class Decoder {
 public:
  Decoder(std::string_view in, std::string context, uint64_t base_offset = 0)
      : in_(in), context_(std::move(context)), base_(base_offset) {}

  uint8_t U8();
  uint16_t U16();
  uint32_t U32();
  uint64_t U64();
  int64_t I64() { return static_cast<int64_t>(U64()); }
  bool Bool();
  std::string String(uint32_t max_bytes, const char* field);
  // A count of elements that each take at least min_element_bytes: checked against max and
  // against the bytes left, so a forged count cannot make us allocate.
  uint32_t Count(uint32_t max, size_t min_element_bytes, const char* field);
  // Throws unless every byte was consumed.
  void ExpectEnd();
  [[noreturn]] void Fail(const std::string& what) const;

  size_t position() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  const uint8_t* Take(size_t n, const char* field);

  std::string_view in_;
  size_t pos_ = 0;
  std::string context_;
  uint64_t base_;
};

// Little-endian helpers for the fixed headers.
void StoreLe16(uint8_t* p, uint16_t v);
void StoreLe32(uint8_t* p, uint32_t v);
void StoreLe64(uint8_t* p, uint64_t v);
uint16_t LoadLe16(const uint8_t* p);
uint32_t LoadLe32(const uint8_t* p);
uint64_t LoadLe64(const uint8_t* p);

// ---- Records ----
void EncodeDevice(Encoder& e, const DeviceRecord& d);
DeviceRecord DecodeDevice(Decoder& d);
void EncodeMutation(Encoder& e, const Mutation& m);
Mutation DecodeMutation(Decoder& d);
void EncodeMutations(Encoder& e, const std::vector<Mutation>& ms);
std::vector<Mutation> DecodeMutations(Decoder& d);
void EncodeKernelOp(Encoder& e, const KernelOp& op);
KernelOp DecodeKernelOp(Decoder& d);
void EncodeIntent(Encoder& e, const Intent& intent);
Intent DecodeIntent(Decoder& d);
void EncodeConfig(Encoder& e, const PoolConfig& config);
PoolConfig DecodeConfig(Decoder& d);

// ---- Journal records (FORMAT.md "Journal") ----
enum class RecordType : uint8_t { kIntent = 1, kCommit = 2, kAbort = 3, kUpdate = 4 };

// One decoded journal record; which fields mean something depends on `type`.
struct JournalRecord {
  RecordType type = RecordType::kUpdate;
  uint64_t seq = 0;
  Intent intent;                    // kIntent
  uint64_t txn = 0;                 // kCommit, kAbort
  std::vector<Mutation> mutations;  // kUpdate

  static JournalRecord MakeIntent(Intent i);
  static JournalRecord MakeCommit(uint64_t txn);
  static JournalRecord MakeAbort(uint64_t txn);
  static JournalRecord MakeUpdate(std::vector<Mutation> ms);
  bool operator==(const JournalRecord&) const = default;
};

inline constexpr uint32_t kJournalMagic = 0x524A5354;  // "TSJR" little-endian
inline constexpr uint16_t kJournalVersion = 1;

// The 24-byte header in front of every journal record. CRC32C covers bytes [8, 24) of the
// header followed by the payload.
struct RecordHeaderDisk {
  uint8_t magic[4];
  uint8_t crc[4];
  uint8_t seq[8];
  uint8_t version[2];
  uint8_t type;
  uint8_t flags;  // 0; reserved
  uint8_t length[4];
};
static_assert(sizeof(RecordHeaderDisk) == 24);
inline constexpr size_t kRecordHeaderSize = sizeof(RecordHeaderDisk);
inline constexpr size_t kRecordCrcFrom = 8;  // offset where the checksummed header bytes begin

std::string EncodeRecordPayload(const JournalRecord& r);
// REQUIRES: `type` is a valid RecordType. `d` holds exactly the payload.
JournalRecord DecodeRecordPayload(RecordType type, Decoder& d);
// Header + payload, checksummed. Throws Error(kUsage) when the payload exceeds kMaxRecordPayload.
std::string EncodeJournalRecord(const JournalRecord& r);

// ---- Checkpoint (FORMAT.md "Checkpoint") ----
inline constexpr uint32_t kCheckpointMagic = 0x4B435354;  // "TSCK" little-endian
inline constexpr uint16_t kCheckpointVersion = 1;

// The 32-byte header of the `catalog` file. CRC32C covers bytes [8, 32) and the body.
struct CheckpointHeaderDisk {
  uint8_t magic[4];
  uint8_t crc[4];
  uint8_t version[2];
  uint8_t flags[2];     // 0; reserved
  uint8_t reserved[4];  // 0
  uint8_t seq[8];       // last journal sequence number this checkpoint covers
  uint8_t body_length[8];
};
static_assert(sizeof(CheckpointHeaderDisk) == 32);
inline constexpr size_t kCheckpointHeaderSize = sizeof(CheckpointHeaderDisk);

// Everything a checkpoint holds.
struct CheckpointData {
  uint64_t seq = 0;
  uint64_t transaction_id = 0;
  PoolConfig config;
  std::vector<DeviceRecord> devices;  // in id order
  std::optional<Intent> pending;
  bool operator==(const CheckpointData&) const = default;
};

std::string EncodeCheckpoint(const CheckpointData& c);

// What a checkpoint is encoded from without a copy of the records: a catalog of 100,000 devices
// holds ~60 MiB of them, and a copy per checkpoint left that much in the malloc arena of every
// thread that happened to checkpoint (the served daemon's RSS grew ~130 KiB per Prepare).
struct CheckpointSource {
  uint64_t seq = 0;
  uint64_t transaction_id = 0;
  const PoolConfig* config = nullptr;
  size_t device_count = 0;
  // Calls its argument once per device, in id order, device_count times.
  std::function<void(const std::function<void(const DeviceRecord&)>&)> for_each_device;
  const std::optional<Intent>* pending = nullptr;
};
// The same bytes as EncodeCheckpoint(CheckpointData) of the same state.
std::string EncodeCheckpoint(const CheckpointSource& s);
// `name` is used in error messages. Throws Error(kCorrupt) on any damage (a checkpoint is
// written whole and renamed into place, so unlike the journal it has no torn tail to forgive).
CheckpointData DecodeCheckpoint(std::string_view file, const std::string& name);

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_CODEC_H_
