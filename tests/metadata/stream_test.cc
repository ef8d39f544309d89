#include "metadata/stream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "base/error.h"
#include "metadata/codec.h"
#include "metadata/crc32c.h"
#include "tests/fakes/string_stream.h"

namespace thinsnap {
namespace {

struct Decoded {
  StreamHeader header;
  std::vector<StreamRecordType> types;
  std::vector<uint64_t> offsets, lengths;
  std::string data;  // every data record's bytes, concatenated
};

Decoded Decode(const std::string& bytes, size_t chunk = 1000) {
  StringSource src(bytes, chunk);
  StreamReader reader(&src);
  Decoded d;
  d.header = reader.ReadHeader();
  StreamRecord r;
  while (reader.Next(&r)) {
    d.types.push_back(r.type);
    d.offsets.push_back(r.offset);
    d.lengths.push_back(r.length);
    if (r.type == StreamRecordType::kData) {
      d.data.append(reinterpret_cast<const char*>(r.data), r.length);
    }
  }
  return d;
}

StreamHeader SampleHeader() {
  StreamHeader h;
  h.block_size = 64 << 10;
  h.device_size = 1 << 20;
  h.kind = DeviceKind::kVolume;
  h.fs = FsType::kExt4;
  for (size_t i = 0; i < 16; ++i) h.uuid[i] = static_cast<uint8_t>(i + 1);
  h.base_uuid = DeviceUuid{};
  (*h.base_uuid)[0] = 0xAB;
  h.name = "golden";
  return h;
}

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

// A small stream: a header, two data records, an unmap, a third data record, the trailer.
std::string SampleStream() {
  StringSink sink;
  StreamWriter w(&sink, SampleHeader());
  std::string a = Pattern(1024, 'a'), b = Pattern(512, 'b'), c = Pattern(512, 'c');
  w.Data(0, a.data(), a.size());
  w.Data(4096, b.data(), b.size());
  w.Unmap(8192, 65536);
  w.Data(1048576 - 512, c.data(), c.size());
  w.Finish();
  EXPECT_EQ(w.bytes(), sink.out.size());
  EXPECT_EQ(w.records(), 6u);
  EXPECT_EQ(w.data_bytes(), 2048u);
  return sink.out;
}

std::string RefusedWith(const std::string& bytes) {
  try {
    Decode(bytes);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "stream of " << bytes.size() << " bytes was accepted";
  return "";
}

// A record frame with a correct CRC around `payload`, for hand-made hostile streams.
std::string Frame(StreamRecordType type, uint32_t number, const std::string& payload,
                  uint32_t length_override = 0) {
  uint8_t f[16] = {};
  f[4] = static_cast<uint8_t>(type);
  StoreLe32(f + 8, number);
  StoreLe32(f + 12, length_override ? length_override : static_cast<uint32_t>(payload.size()));
  uint32_t crc = Crc32cExtend(0, f + 4, 12);
  crc = Crc32cExtend(crc, payload.data(), payload.size());
  StoreLe32(f, crc);
  return std::string(reinterpret_cast<char*>(f), 16) + payload;
}

// The prefix and header record of SampleStream().
std::string SampleStart() {
  StringSink sink;
  StreamWriter w(&sink, SampleHeader());
  return sink.out;
}

std::string Le64(uint64_t v) {
  uint8_t b[8];
  StoreLe64(b, v);
  return std::string(reinterpret_cast<char*>(b), 8);
}

TEST(Stream, RoundTripsHeaderAndRecords) {
  Decoded d = Decode(SampleStream(), 7);
  EXPECT_EQ(d.header, SampleHeader());
  EXPECT_EQ(d.types,
            (std::vector<StreamRecordType>{StreamRecordType::kData, StreamRecordType::kData,
                                           StreamRecordType::kUnmap, StreamRecordType::kData}));
  EXPECT_EQ(d.offsets, (std::vector<uint64_t>{0, 4096, 8192, 1048576 - 512}));
  EXPECT_EQ(d.lengths, (std::vector<uint64_t>{1024, 512, 65536, 512}));
  EXPECT_EQ(d.data, Pattern(1024, 'a') + Pattern(512, 'b') + Pattern(512, 'c'));
}

TEST(Stream, FullStreamHasNoBase) {
  StreamHeader h = SampleHeader();
  h.base_uuid.reset();
  StringSink sink;
  StreamWriter w(&sink, h);
  w.Finish();
  EXPECT_EQ(Decode(sink.out).header, h);
}

TEST(Stream, EveryTruncationIsRefused) {
  const std::string s = SampleStream();
  for (size_t n = 0; n < s.size(); ++n) {
    std::string what = RefusedWith(s.substr(0, n));
    EXPECT_NE(what.find("at byte"), std::string::npos) << n << ": " << what;
  }
}

TEST(Stream, EveryFlippedByteIsRefused) {
  const std::string s = SampleStream();
  for (size_t i = 0; i < s.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::string bad = s;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      std::string what = RefusedWith(bad);
      EXPECT_NE(what.find("stream"), std::string::npos) << i;
    }
  }
}

TEST(Stream, TruncationNamesTheRecordAndOffset) {
  const std::string s = SampleStream();
  // Cut inside the first data record's bytes: record 1, whose frame starts after the header.
  const size_t header_end = SampleStart().size();
  std::string what = RefusedWith(s.substr(0, header_end + 16 + 8 + 100));
  EXPECT_NE(what.find("stream record 1 (data) at byte " + std::to_string(header_end)),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("truncated"), std::string::npos) << what;
}

TEST(Stream, NewerVersionIsRefusedByName) {
  std::string s = SampleStream();
  s[4] = 2;
  std::string what = RefusedWith(s);
  EXPECT_NE(what.find("version 2 is newer"), std::string::npos) << what;
}

TEST(Stream, NotAStreamIsRefused) {
  EXPECT_NE(RefusedWith(std::string(64, 'x')).find("bad magic"), std::string::npos);
  EXPECT_NE(RefusedWith("").find("truncated"), std::string::npos);
}

TEST(Stream, AbsurdLengthIsRefusedBeforeReading) {
  std::string s = SampleStart() + Frame(StreamRecordType::kData, 1, Le64(0), 0x7FFFFFFF);
  std::string what = RefusedWith(s);
  EXPECT_NE(what.find("record length 2147483647 is out of range"), std::string::npos) << what;
  EXPECT_NE(what.find("record 1 (data)"), std::string::npos) << what;
}

TEST(Stream, RecordPastTheEndIsRefused) {
  std::string s =
      SampleStart() + Frame(StreamRecordType::kData, 1, Le64(1 << 20) + std::string(512, 'z'));
  std::string what = RefusedWith(s);
  EXPECT_NE(what.find("past the device's end"), std::string::npos) << what;
  EXPECT_NE(what.find("record 1 (data)"), std::string::npos) << what;
  s = SampleStart() + Frame(StreamRecordType::kUnmap, 1, Le64(512) + Le64(~0ull - 511));
  EXPECT_NE(RefusedWith(s).find("past the device's end"), std::string::npos);
}

TEST(Stream, OverlappingAndMisalignedRangesAreRefused) {
  std::string start =
      SampleStart() + Frame(StreamRecordType::kData, 1, Le64(4096) + std::string(512, 'q'));
  std::string what =
      RefusedWith(start + Frame(StreamRecordType::kUnmap, 2, Le64(4096) + Le64(512)));
  EXPECT_NE(what.find("overlaps"), std::string::npos) << what;
  what = RefusedWith(SampleStart() + Frame(StreamRecordType::kUnmap, 1, Le64(100) + Le64(512)));
  EXPECT_NE(what.find("multiple of 512"), std::string::npos) << what;
}

TEST(Stream, LostOrReorderedRecordsAreRefused) {
  std::string what =
      RefusedWith(SampleStart() + Frame(StreamRecordType::kUnmap, 2, Le64(0) + Le64(512)));
  EXPECT_NE(what.find("records lost or reordered"), std::string::npos) << what;
}

TEST(Stream, TrailerMustMatchTheStream) {
  // A trailer that counts a record that is not there (a dropped record with renumbering).
  std::string t = Le64(2) + Le64(0) + std::string(4, '\0');
  std::string what = RefusedWith(SampleStart() + Frame(StreamRecordType::kTrailer, 1, t));
  EXPECT_NE(what.find("the trailer counts 2 records"), std::string::npos) << what;
  t = Le64(1) + Le64(0) + std::string(4, '\0');
  what = RefusedWith(SampleStart() + Frame(StreamRecordType::kTrailer, 1, t));
  EXPECT_NE(what.find("whole-stream checksum mismatch"), std::string::npos) << what;
}

TEST(Stream, BytesAfterTheTrailerAreRefused) {
  std::string what = RefusedWith(SampleStream() + "x");
  EXPECT_NE(what.find("after the trailer"), std::string::npos) << what;
}

TEST(Stream, WriterRefusesWhatAReaderWouldRefuse) {
  StringSink sink;
  StreamWriter w(&sink, SampleHeader());
  std::string b(512, 'b');
  EXPECT_THROW(w.Data(100, b.data(), b.size()), Error);
  EXPECT_THROW(w.Data(1 << 20, b.data(), b.size()), Error);
  w.Data(4096, b.data(), b.size());
  EXPECT_THROW(w.Unmap(0, 512), Error);  // before the previous record
  EXPECT_THROW(w.Unmap(8192, 0), Error);
  std::string big(kMaxStreamData + 512, 'x');
  EXPECT_THROW(w.Data(0, big.data(), big.size()), Error);
  StreamHeader h = SampleHeader();
  h.device_size = 1000;
  EXPECT_THROW(StreamWriter(&sink, h), Error);
}

TEST(Stream, UuidsPrintAndParse) {
  DeviceUuid r{};
  for (size_t i = 0; i < 16; ++i) r[i] = static_cast<uint8_t>(0xF0 + i);
  DeviceUuid u = MakeUuidV4(r);
  std::string text = FormatUuid(u);
  EXPECT_EQ(text, "f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff");
  DeviceUuid back{};
  ASSERT_TRUE(ParseUuid(text, &back));
  EXPECT_EQ(back, u);
  EXPECT_FALSE(ParseUuid("f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfef", &back));
  EXPECT_FALSE(ParseUuid("f0f1f2f3xf4f5-46f7-b8f9-fafbfcfdfeff", &back));
  EXPECT_FALSE(ParseUuid("F0F1F2F3-F4F5-46F7-B8F9-FAFBFCFDFEFF", &back));
}

}  // namespace
}  // namespace thinsnap
