#include "metadata/codec.h"

#include <cstring>

#include "base/error.h"
#include "metadata/crc32c.h"

namespace thinsnap {

// ---- Little-endian helpers ----

void StoreLe16(uint8_t* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void StoreLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void StoreLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint16_t LoadLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t LoadLe64(const uint8_t* p) {
  return uint64_t{LoadLe32(p)} | uint64_t{LoadLe32(p + 4)} << 32;
}

// ---- Encoder ----

void Encoder::U16(uint16_t v) {
  uint8_t b[2];
  StoreLe16(b, v);
  out_.append(reinterpret_cast<const char*>(b), sizeof b);
}
void Encoder::U32(uint32_t v) {
  uint8_t b[4];
  StoreLe32(b, v);
  out_.append(reinterpret_cast<const char*>(b), sizeof b);
}
void Encoder::U64(uint64_t v) {
  uint8_t b[8];
  StoreLe64(b, v);
  out_.append(reinterpret_cast<const char*>(b), sizeof b);
}

void Encoder::String(std::string_view s, uint32_t max_bytes, const char* field) {
  if (s.size() > max_bytes) {
    throw Error(std::string(field) + " is " + std::to_string(s.size()) + " bytes, the limit is " +
                    std::to_string(max_bytes),
                ErrorKind::kUsage);
  }
  U32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

void Encoder::Count(size_t n, uint32_t max, const char* field) {
  if (n > max) {
    throw Error(std::string("too many ") + field + ": " + std::to_string(n) + ", the limit is " +
                    std::to_string(max),
                ErrorKind::kUsage);
  }
  U32(static_cast<uint32_t>(n));
}

// ---- Decoder ----

void Decoder::Fail(const std::string& what) const {
  throw Error(context_ + ": " + what + " at byte " + std::to_string(base_ + pos_),
              ErrorKind::kCorrupt);
}

const uint8_t* Decoder::Take(size_t n, const char* field) {
  if (n > remaining()) Fail(std::string("truncated ") + field);
  const auto* p = reinterpret_cast<const uint8_t*>(in_.data()) + pos_;
  pos_ += n;
  return p;
}

uint8_t Decoder::U8() { return *Take(1, "u8"); }
uint16_t Decoder::U16() { return LoadLe16(Take(2, "u16")); }
uint32_t Decoder::U32() { return LoadLe32(Take(4, "u32")); }
uint64_t Decoder::U64() { return LoadLe64(Take(8, "u64")); }

bool Decoder::Bool() {
  const uint8_t v = U8();
  if (v > 1) Fail("bool byte " + std::to_string(v));
  return v == 1;
}

std::string Decoder::String(uint32_t max_bytes, const char* field) {
  const uint32_t n = U32();
  if (n > max_bytes) Fail(std::string(field) + " length " + std::to_string(n) + " over limit");
  const uint8_t* p = Take(n, field);
  return std::string(reinterpret_cast<const char*>(p), n);
}

uint32_t Decoder::Count(uint32_t max, size_t min_element_bytes, const char* field) {
  const uint32_t n = U32();
  if (n > max) Fail(std::string(field) + " count " + std::to_string(n) + " over limit");
  if (uint64_t{n} * min_element_bytes > remaining()) {
    Fail(std::string(field) + " count " + std::to_string(n) + " exceeds the bytes left");
  }
  return n;
}

void Decoder::ExpectEnd() {
  if (remaining() != 0) Fail(std::to_string(remaining()) + " unexpected trailing bytes");
}

// ---- Records ----

namespace {

constexpr size_t kMinStringBytes = 4;
// id, name length, kind, parent, size, fs/read_only/state/active, mountpoint length, created,
// digest length, label count.
constexpr size_t kMinDeviceBytes = 4 + 4 + 1 + 4 + 8 + 4 + 4 + 8 + 4 + 4;
constexpr size_t kMinMutationBytes = 1 + 4;
constexpr size_t kKernelOpBytes = 1 + 4 + 4;

template <typename Enum>
Enum CheckedEnum(Decoder& d, uint8_t lo, uint8_t hi, const char* field) {
  const uint8_t v = d.U8();
  if (v < lo || v > hi) d.Fail(std::string("bad ") + field + " " + std::to_string(v));
  return static_cast<Enum>(v);
}

uint32_t CheckedId(Decoder& d, const char* field) {
  const uint32_t id = d.U32();
  if (id > kMaxThinId) d.Fail(std::string(field) + " " + std::to_string(id) + " over 2^24-1");
  return id;
}

// The encoder refuses what the decoder would refuse, so a bad value never reaches the disk.
void Require(bool ok, const std::string& what) {
  if (!ok) throw Error("cannot encode " + what, ErrorKind::kUsage);
}

void EncodeLabels(Encoder& e, const std::map<std::string, std::string>& labels) {
  e.Count(labels.size(), kMaxLabels, "labels");
  for (const auto& [k, v] : labels) {
    e.String(k, kMaxStringBytes, "label key");
    e.String(v, kMaxStringBytes, "label value");
  }
}

// Keys must be strictly increasing: the encoding is canonical, so a duplicate or reordered key
// is damage, not a different spelling of the same map.
std::map<std::string, std::string> DecodeStringMap(Decoder& d, uint32_t max, const char* field) {
  std::map<std::string, std::string> out;
  const uint32_t n = d.Count(max, 2 * kMinStringBytes, field);
  for (uint32_t i = 0; i < n; ++i) {
    std::string k = d.String(kMaxStringBytes, "key");
    std::string v = d.String(kMaxStringBytes, "value");
    if (!out.empty() && !(out.rbegin()->first < k)) d.Fail(std::string(field) + " not sorted");
    out.emplace_hint(out.end(), std::move(k), std::move(v));
  }
  return out;
}

}  // namespace

void EncodeDevice(Encoder& e, const DeviceRecord& r) {
  Require(r.id <= kMaxThinId, "device id " + std::to_string(r.id));
  Require(r.parent_id == kNoParent || r.parent_id <= kMaxThinId, "parent id");
  Require(r.kind >= DeviceKind::kBase && r.kind <= DeviceKind::kVolume, "device kind");
  Require(r.fs <= FsType::kXfs, "fs type");
  Require(r.state >= DeviceState::kReady && r.state <= DeviceState::kDeletePending, "state");
  e.U32(r.id);
  e.String(r.name, kMaxNameBytes, "device name");
  e.U8(static_cast<uint8_t>(r.kind));
  e.U32(r.parent_id);
  e.U64(r.size_bytes);
  e.U8(static_cast<uint8_t>(r.fs));
  e.Bool(r.read_only);
  e.U8(static_cast<uint8_t>(r.state));
  e.Bool(r.active);
  e.String(r.mountpoint, kMaxStringBytes, "mountpoint");
  e.I64(r.created_ns);
  e.String(r.digest, kMaxStringBytes, "digest");
  EncodeLabels(e, r.labels);
}

DeviceRecord DecodeDevice(Decoder& d) {
  DeviceRecord r;
  r.id = CheckedId(d, "device id");
  r.name = d.String(kMaxNameBytes, "device name");
  r.kind = CheckedEnum<DeviceKind>(d, 1, 4, "device kind");
  r.parent_id = d.U32();
  if (r.parent_id != kNoParent && r.parent_id > kMaxThinId) d.Fail("bad parent id");
  r.size_bytes = d.U64();
  r.fs = CheckedEnum<FsType>(d, 0, 2, "fs type");
  r.read_only = d.Bool();
  r.state = CheckedEnum<DeviceState>(d, 1, 3, "device state");
  r.active = d.Bool();
  r.mountpoint = d.String(kMaxStringBytes, "mountpoint");
  r.created_ns = d.I64();
  r.digest = d.String(kMaxStringBytes, "digest");
  r.labels = DecodeStringMap(d, kMaxLabels, "labels");
  return r;
}

void EncodeMutation(Encoder& e, const Mutation& m) {
  e.U8(static_cast<uint8_t>(m.op));
  switch (m.op) {
    case Mutation::Op::kPutDevice:
      return EncodeDevice(e, m.device);
    case Mutation::Op::kDeleteDevice:
      Require(m.id <= kMaxThinId, "deleted id " + std::to_string(m.id));
      return e.U32(m.id);
    case Mutation::Op::kSetConfig:
      e.String(m.key, kMaxStringBytes, "config key");
      return e.String(m.value, kMaxStringBytes, "config value");
    case Mutation::Op::kEraseConfig:
      return e.String(m.key, kMaxStringBytes, "config key");
  }
  throw Error("mutation op " + std::to_string(static_cast<int>(m.op)) + " is invalid",
              ErrorKind::kUsage);
}

Mutation DecodeMutation(Decoder& d) {
  switch (CheckedEnum<Mutation::Op>(d, 1, 4, "mutation op")) {
    case Mutation::Op::kPutDevice:
      return Mutation::Put(DecodeDevice(d));
    case Mutation::Op::kDeleteDevice:
      return Mutation::Delete(CheckedId(d, "deleted id"));
    case Mutation::Op::kSetConfig: {
      std::string key = d.String(kMaxStringBytes, "config key");
      return Mutation::SetConfig(std::move(key), d.String(kMaxStringBytes, "config value"));
    }
    case Mutation::Op::kEraseConfig:
      return Mutation::EraseConfig(d.String(kMaxStringBytes, "config key"));
  }
  d.Fail("unreachable mutation op");
}

void EncodeMutations(Encoder& e, const std::vector<Mutation>& ms) {
  e.Count(ms.size(), kMaxMutations, "mutations");
  for (const Mutation& m : ms) EncodeMutation(e, m);
}

std::vector<Mutation> DecodeMutations(Decoder& d) {
  const uint32_t n = d.Count(kMaxMutations, kMinMutationBytes, "mutations");
  std::vector<Mutation> ms;
  ms.reserve(n);
  for (uint32_t i = 0; i < n; ++i) ms.push_back(DecodeMutation(d));
  return ms;
}

void EncodeKernelOp(Encoder& e, const KernelOp& op) {
  Require(op.kind <= KernelOp::Kind::kDelete, "kernel op kind");
  Require(op.id <= kMaxThinId && op.origin <= kMaxThinId, "kernel op id");
  e.U8(static_cast<uint8_t>(op.kind));
  e.U32(op.id);
  e.U32(op.origin);
}

KernelOp DecodeKernelOp(Decoder& d) {
  KernelOp op;
  op.kind = CheckedEnum<KernelOp::Kind>(d, 0, 3, "kernel op");
  op.id = CheckedId(d, "kernel op id");
  op.origin = CheckedId(d, "kernel op origin");
  return op;
}

void EncodeIntent(Encoder& e, const Intent& intent) {
  e.U64(intent.txn);
  e.Count(intent.kernel_ops.size(), kMaxKernelOps, "kernel ops");
  for (const KernelOp& op : intent.kernel_ops) EncodeKernelOp(e, op);
  EncodeMutations(e, intent.mutations);
}

Intent DecodeIntent(Decoder& d) {
  Intent intent;
  intent.txn = d.U64();
  const uint32_t n = d.Count(kMaxKernelOps, kKernelOpBytes, "kernel ops");
  intent.kernel_ops.reserve(n);
  for (uint32_t i = 0; i < n; ++i) intent.kernel_ops.push_back(DecodeKernelOp(d));
  intent.mutations = DecodeMutations(d);
  return intent;
}

void EncodeConfig(Encoder& e, const PoolConfig& config) {
  e.Count(config.size(), kMaxConfigEntries, "config entries");
  for (const auto& [k, v] : config) {
    e.String(k, kMaxStringBytes, "config key");
    e.String(v, kMaxStringBytes, "config value");
  }
}

PoolConfig DecodeConfig(Decoder& d) { return DecodeStringMap(d, kMaxConfigEntries, "config"); }

// ---- Journal records ----

JournalRecord JournalRecord::MakeIntent(Intent i) {
  JournalRecord r;
  r.type = RecordType::kIntent;
  r.intent = std::move(i);
  return r;
}
JournalRecord JournalRecord::MakeCommit(uint64_t txn) {
  JournalRecord r;
  r.type = RecordType::kCommit;
  r.txn = txn;
  return r;
}
JournalRecord JournalRecord::MakeAbort(uint64_t txn) {
  JournalRecord r;
  r.type = RecordType::kAbort;
  r.txn = txn;
  return r;
}
JournalRecord JournalRecord::MakeUpdate(std::vector<Mutation> ms) {
  JournalRecord r;
  r.type = RecordType::kUpdate;
  r.mutations = std::move(ms);
  return r;
}

std::string EncodeRecordPayload(const JournalRecord& r) {
  Encoder e;
  switch (r.type) {
    case RecordType::kIntent:
      EncodeIntent(e, r.intent);
      break;
    case RecordType::kCommit:
    case RecordType::kAbort:
      e.U64(r.txn);
      break;
    case RecordType::kUpdate:
      EncodeMutations(e, r.mutations);
      break;
    default:
      throw Error("journal record type " + std::to_string(static_cast<int>(r.type)) + " is invalid",
                  ErrorKind::kUsage);
  }
  return std::move(e.bytes());
}

JournalRecord DecodeRecordPayload(RecordType type, Decoder& d) {
  JournalRecord r;
  r.type = type;
  switch (type) {
    case RecordType::kIntent:
      r.intent = DecodeIntent(d);
      break;
    case RecordType::kCommit:
    case RecordType::kAbort:
      r.txn = d.U64();
      break;
    case RecordType::kUpdate:
      r.mutations = DecodeMutations(d);
      break;
    default:
      d.Fail("bad record type " + std::to_string(static_cast<int>(type)));
  }
  d.ExpectEnd();
  return r;
}

std::string EncodeJournalRecord(const JournalRecord& r) {
  const std::string payload = EncodeRecordPayload(r);
  if (payload.size() > kMaxRecordPayload) {
    throw Error("journal record of " + std::to_string(payload.size()) + " bytes exceeds the " +
                    std::to_string(kMaxRecordPayload) + "-byte limit",
                ErrorKind::kUsage);
  }
  RecordHeaderDisk h{};
  StoreLe32(h.magic, kJournalMagic);
  StoreLe64(h.seq, r.seq);
  StoreLe16(h.version, kJournalVersion);
  h.type = static_cast<uint8_t>(r.type);
  h.flags = 0;
  StoreLe32(h.length, static_cast<uint32_t>(payload.size()));
  const auto* hb = reinterpret_cast<const uint8_t*>(&h);
  uint32_t crc = Crc32cExtend(0, hb + kRecordCrcFrom, kRecordHeaderSize - kRecordCrcFrom);
  crc = Crc32cExtend(crc, payload.data(), payload.size());
  StoreLe32(h.crc, crc);
  std::string out(reinterpret_cast<const char*>(&h), kRecordHeaderSize);
  out += payload;
  return out;
}

// ---- Checkpoint ----

std::string EncodeCheckpoint(const CheckpointData& c) {
  CheckpointSource s;
  s.seq = c.seq;
  s.transaction_id = c.transaction_id;
  s.config = &c.config;
  s.device_count = c.devices.size();
  s.for_each_device = [&c](const std::function<void(const DeviceRecord&)>& visit) {
    for (const DeviceRecord& d : c.devices) visit(d);
  };
  s.pending = &c.pending;
  return EncodeCheckpoint(s);
}

std::string EncodeCheckpoint(const CheckpointSource& s) {
  // The header's room first, filled in once the body is known: one buffer, no second copy.
  Encoder e;
  e.bytes().assign(kCheckpointHeaderSize, '\0');
  e.U64(s.transaction_id);
  EncodeConfig(e, *s.config);
  e.Count(s.device_count, kMaxThinId + 1, "devices");
  size_t visited = 0;
  s.for_each_device([&](const DeviceRecord& d) {
    EncodeDevice(e, d);
    ++visited;
  });
  if (visited != s.device_count) {
    throw Error("checkpoint: " + std::to_string(visited) + " devices visited, " +
                std::to_string(s.device_count) + " counted");
  }
  e.Bool(s.pending->has_value());
  if (s.pending->has_value()) EncodeIntent(e, **s.pending);
  std::string& out = e.bytes();
  const size_t body_size = out.size() - kCheckpointHeaderSize;

  CheckpointHeaderDisk h{};
  StoreLe32(h.magic, kCheckpointMagic);
  StoreLe16(h.version, kCheckpointVersion);
  StoreLe64(h.seq, s.seq);
  StoreLe64(h.body_length, body_size);
  const auto* hb = reinterpret_cast<const uint8_t*>(&h);
  uint32_t crc = Crc32cExtend(0, hb + 8, kCheckpointHeaderSize - 8);
  crc = Crc32cExtend(crc, out.data() + kCheckpointHeaderSize, body_size);
  StoreLe32(h.crc, crc);
  std::memcpy(out.data(), &h, kCheckpointHeaderSize);
  return std::move(out);
}

namespace {

// Checks the header of a checkpoint file and returns its body.
std::string_view CheckCheckpointFrame(std::string_view file, const std::string& name,
                                      uint64_t* seq) {
  auto fail = [&](const std::string& what) -> void {
    throw Error(name + ": " + what, ErrorKind::kCorrupt);
  };
  if (file.size() < kCheckpointHeaderSize) {
    fail("checkpoint is " + std::to_string(file.size()) + " bytes, shorter than its header");
  }
  CheckpointHeaderDisk h;
  std::memcpy(&h, file.data(), kCheckpointHeaderSize);
  if (LoadLe32(h.magic) != kCheckpointMagic) fail("bad checkpoint magic at byte 0");
  const uint16_t version = LoadLe16(h.version);
  if (version != kCheckpointVersion) {
    fail("unsupported checkpoint version " + std::to_string(version) + " at byte 8");
  }
  const uint64_t body_length = LoadLe64(h.body_length);
  if (body_length != file.size() - kCheckpointHeaderSize || body_length > kMaxCheckpointBody) {
    fail("checkpoint body length " + std::to_string(body_length) + " does not match the file");
  }
  const auto* hb = reinterpret_cast<const uint8_t*>(file.data());
  uint32_t crc = Crc32cExtend(0, hb + 8, kCheckpointHeaderSize - 8);
  crc = Crc32cExtend(crc, hb + kCheckpointHeaderSize, body_length);
  if (crc != LoadLe32(h.crc)) fail("checkpoint checksum mismatch");
  if (LoadLe16(h.flags) != 0 || LoadLe32(h.reserved) != 0) fail("reserved header bytes set");
  *seq = LoadLe64(h.seq);
  return file.substr(kCheckpointHeaderSize);
}

}  // namespace

CheckpointData DecodeCheckpoint(std::string_view file, const std::string& name) {
  CheckpointData c;
  Decoder d(CheckCheckpointFrame(file, name, &c.seq), name, kCheckpointHeaderSize);
  c.transaction_id = d.U64();
  c.config = DecodeConfig(d);
  const uint32_t n = d.Count(kMaxThinId + 1, kMinDeviceBytes, "devices");
  c.devices.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    c.devices.push_back(DecodeDevice(d));
    if (i > 0 && c.devices[i - 1].id >= c.devices[i].id) d.Fail("devices not in id order");
  }
  if (d.Bool()) c.pending = DecodeIntent(d);
  d.ExpectEnd();
  return c;
}

}  // namespace thinsnap
