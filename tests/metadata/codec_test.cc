#include "metadata/codec.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/metadata/metadata_test_util.h"

namespace thinsnap {
namespace {

using testing::SampleDevice;

template <typename T, typename Enc, typename Dec>
T RoundTrip(const T& v, Enc enc, Dec dec) {
  Encoder e;
  enc(e, v);
  Decoder d(e.bytes(), "test");
  T out = dec(d);
  d.ExpectEnd();
  return out;
}

Intent SampleIntent() {
  Intent i;
  i.txn = 42;
  i.kernel_ops = {{KernelOp::Kind::kCreateSnap, 7, 3}, {KernelOp::Kind::kDelete, 5, 0}};
  i.mutations = {Mutation::Put(SampleDevice(7, "layer7", 3)), Mutation::Delete(5),
                 Mutation::SetConfig("fs", "xfs"), Mutation::EraseConfig("old")};
  return i;
}

void ExpectCorrupt(const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "expected Error(kCorrupt)";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  }
}

TEST(Codec, DeviceRoundTripsEveryField) {
  for (uint32_t id : {0u, 1u, 5u, 15u, kMaxThinId}) {
    DeviceRecord d = SampleDevice(id, "dev" + std::to_string(id), id == 0 ? kNoParent : 0);
    d.kind = DeviceKind::kContainer;
    d.fs = FsType::kXfs;
    d.state = DeviceState::kDeletePending;
    d.created_ns = -5;
    EXPECT_EQ(RoundTrip(d, EncodeDevice, DecodeDevice), d);
  }
}

TEST(Codec, MutationsKernelOpsIntentAndConfigRoundTrip) {
  const Intent i = SampleIntent();
  EXPECT_EQ(RoundTrip(i, EncodeIntent, DecodeIntent), i);
  for (const Mutation& m : i.mutations) EXPECT_EQ(RoundTrip(m, EncodeMutation, DecodeMutation), m);
  const PoolConfig c = {{"block_size", "65536"}, {"fs", "ext4"}, {"", "empty key"}};
  EXPECT_EQ(RoundTrip(c, EncodeConfig, DecodeConfig), c);
}

TEST(Codec, EveryJournalRecordTypeRoundTrips) {
  const std::vector<JournalRecord> records = {
      JournalRecord::MakeIntent(SampleIntent()), JournalRecord::MakeCommit(42),
      JournalRecord::MakeAbort(43),
      JournalRecord::MakeUpdate({Mutation::Put(SampleDevice(1, "a")), Mutation::Delete(9)})};
  for (const JournalRecord& r : records) {
    const std::string payload = EncodeRecordPayload(r);
    Decoder d(payload, "test");
    EXPECT_EQ(DecodeRecordPayload(r.type, d), r);
  }
}

TEST(Codec, FieldsAreLittleEndianAtFixedOffsets) {
  JournalRecord r = JournalRecord::MakeCommit(0x0102030405060708ull);
  r.seq = 0x1122334455667788ull;
  const std::string b = EncodeJournalRecord(r);
  ASSERT_EQ(b.size(), kRecordHeaderSize + 8);
  EXPECT_EQ(b.substr(0, 4), "TSJR");
  EXPECT_EQ(static_cast<uint8_t>(b[8]), 0x88);  // seq, low byte first
  EXPECT_EQ(static_cast<uint8_t>(b[15]), 0x11);
  EXPECT_EQ(static_cast<uint8_t>(b[16]), 1);  // version
  EXPECT_EQ(static_cast<uint8_t>(b[18]), 2);  // type commit
  EXPECT_EQ(static_cast<uint8_t>(b[20]), 8);  // length
  EXPECT_EQ(static_cast<uint8_t>(b[24]), 0x08);
}

TEST(Codec, DecoderRejectsLengthsBeyondTheInput) {
  Encoder e;
  e.U32(1000);  // a string claiming 1000 bytes
  e.U8('x');
  ExpectCorrupt([&] {
    Decoder d(e.bytes(), "test");
    d.String(kMaxStringBytes, "s");
  });
  Encoder names;
  names.String(std::string(kMaxNameBytes + 1, 'n'), kMaxStringBytes, "raw");
  Decoder d(names.bytes(), "test");
  ExpectCorrupt([&] { d.String(kMaxNameBytes, "name"); });
}

TEST(Codec, ForgedCountFailsWithoutAllocating) {
  Encoder e;
  e.U32(kMaxMutations);  // a million mutations in four bytes
  Decoder d(e.bytes(), "test");
  ExpectCorrupt([&] { DecodeMutations(d); });
}

TEST(Codec, DecoderRejectsBadEnumsBoolsAndTrailingBytes) {
  Encoder e;
  EncodeDevice(e, SampleDevice(3, "x"));
  const std::string good = e.bytes();
  const size_t kind_offset = 4 + 4 + 1;  // id, name length, "x"
  std::string bad = good;
  bad[kind_offset] = 9;
  ExpectCorrupt([&] {
    Decoder d(bad, "t");
    DecodeDevice(d);
  });
  bad = good;
  bad[kind_offset + 1 + 4 + 8 + 1] = 2;  // read_only byte
  ExpectCorrupt([&] {
    Decoder d(bad, "t");
    DecodeDevice(d);
  });
  const std::string trailing = good + "z";  // the Decoder does not own its input
  ExpectCorrupt([&] {
    Decoder d(trailing, "t");
    DecodeDevice(d);
    d.ExpectEnd();
  });
}

TEST(Codec, UnsortedOrDuplicateMapKeysAreCorrupt) {
  Encoder e;
  e.U32(2);
  for (const char* k : {"b", "a"}) {
    e.String(k, 10, "k");
    e.String("v", 10, "v");
  }
  Decoder d(e.bytes(), "t");
  ExpectCorrupt([&] { DecodeConfig(d); });
}

TEST(Codec, EncoderRefusesWhatTheDecoderWouldReject) {
  Encoder e;
  EXPECT_THROW(EncodeDevice(e, SampleDevice(1, std::string(kMaxNameBytes + 1, 'n'))), Error);
  DeviceRecord big = SampleDevice(kMaxThinId + 1, "big");
  EXPECT_THROW(EncodeDevice(e, big), Error);
  EXPECT_THROW(EncodeMutation(e, Mutation::Delete(kMaxThinId + 1)), Error);
}

TEST(Codec, CheckpointRoundTripsAndEveryByteFlipIsCorrupt) {
  CheckpointData c;
  c.seq = 77;
  c.transaction_id = 12;
  c.config = {{"fs", "ext4"}};
  c.devices = {SampleDevice(0, "base"), SampleDevice(2, "l2", 0), SampleDevice(9, "l9", 2)};
  c.pending = SampleIntent();
  const std::string file = EncodeCheckpoint(c);
  EXPECT_EQ(DecodeCheckpoint(file, "catalog"), c);
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] ^= 0x40;
    ExpectCorrupt([&] { DecodeCheckpoint(bad, "catalog"); });
  }
  for (size_t n = 0; n < file.size(); ++n)
    ExpectCorrupt([&] { DecodeCheckpoint(file.substr(0, n), "c"); });
}

}  // namespace
}  // namespace thinsnap
