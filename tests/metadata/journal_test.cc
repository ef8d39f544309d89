#include "metadata/journal.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "metadata/crc32c.h"
#include "tests/fakes/fault_fs.h"
#include "tests/metadata/metadata_test_util.h"

namespace thinsnap {
namespace {

using testing::SampleDevice;

std::vector<JournalRecord> SampleRecords() {
  Intent i;
  i.txn = 1;
  i.kernel_ops = {{KernelOp::Kind::kCreateThin, 1, 0}};
  i.mutations = {Mutation::Put(SampleDevice(1, "vol"))};
  return {JournalRecord::MakeUpdate({Mutation::SetConfig("fs", "ext4")}),
          JournalRecord::MakeIntent(i),
          JournalRecord::MakeCommit(1),
          JournalRecord::MakeIntent(Intent{2, {{KernelOp::Kind::kDelete, 1, 0}}, {}}),
          JournalRecord::MakeAbort(2),
          JournalRecord::MakeUpdate({Mutation::Put(SampleDevice(0, "base"))})};
}

// Writes the records through a JournalWriter (seq from 1) and returns the file's bytes and
// the end offset of each record.
std::string WriteJournal(const std::vector<JournalRecord>& records, std::vector<size_t>* ends) {
  FaultFileSystem fs;
  fs.CreateDir("/m");
  JournalWriter w(fs.OpenWritable("/m/journal", FileSystem::OpenMode::kTruncate), 1, 0);
  for (const JournalRecord& r : records) {
    w.Append(r);
    if (ends) ends->push_back(w.size());
  }
  w.Close();
  return fs.Contents("/m/journal");
}

std::vector<JournalRecord> Numbered(std::vector<JournalRecord> rs) {
  for (size_t i = 0; i < rs.size(); ++i) rs[i].seq = i + 1;
  return rs;
}

TEST(Journal, EveryRecordTypeRoundTripsThroughTheFile) {
  const auto records = SampleRecords();
  const JournalContents j = ParseJournal(WriteJournal(records, nullptr), "journal");
  EXPECT_EQ(j.records, Numbered(records));
  EXPECT_TRUE(j.note.empty());
}

TEST(Journal, TruncationAtEveryOffsetRecoversTheCompletePrefix) {
  std::vector<size_t> ends;
  const std::string file = WriteJournal(SampleRecords(), &ends);
  const auto all = Numbered(SampleRecords());
  for (size_t len = 0; len <= file.size(); ++len) {
    const JournalContents j = ParseJournal(file.substr(0, len), "journal");
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= len) ++complete;
    ASSERT_EQ(j.records.size(), complete) << "cut at " << len;
    EXPECT_TRUE(std::equal(j.records.begin(), j.records.end(), all.begin()));
    const size_t boundary = complete ? ends[complete - 1] : 0;
    EXPECT_EQ(j.valid_bytes, boundary);
    EXPECT_EQ(j.note.empty(), len == boundary) << j.note;
  }
}

// A flipped byte is either cut off as a torn tail (only possible in the last record) or
// reported as corruption; the records returned are never different from what was written.
TEST(Journal, EveryByteFlipIsDetected) {
  std::vector<size_t> ends;
  const std::string file = WriteJournal(SampleRecords(), &ends);
  const auto all = Numbered(SampleRecords());
  const size_t last_start = ends[ends.size() - 2];
  for (size_t i = 0; i < file.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::string bad = file;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      try {
        const JournalContents j = ParseJournal(bad, "journal");
        ASSERT_GE(i, last_start) << "damage before the last record accepted at " << i;
        ASSERT_EQ(j.records.size(), all.size() - 1);
        EXPECT_TRUE(std::equal(j.records.begin(), j.records.end(), all.begin()));
        EXPECT_FALSE(j.note.empty());
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
        EXPECT_NE(std::string(e.what()).find("journal"), std::string::npos);
      }
    }
  }
}

TEST(Journal, DamageInTheMiddleNamesFileAndOffset) {
  std::vector<size_t> ends;
  std::string file = WriteJournal(SampleRecords(), &ends);
  file[ends[1] + 30] ^= 0x10;  // inside the third record
  try {
    ParseJournal(file, "/m/journal");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("/m/journal"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("offset " + std::to_string(ends[1])), std::string::npos)
        << e.what();
  }
}

TEST(Journal, ZeroFilledTailIsCut) {
  std::vector<size_t> ends;
  const std::string file = WriteJournal(SampleRecords(), &ends);
  const JournalContents j = ParseJournal(file + std::string(4096, '\0'), "journal");
  EXPECT_EQ(j.records.size(), ends.size());
  EXPECT_EQ(j.valid_bytes, file.size());
  EXPECT_EQ(j.note, "journal: cut 4096 torn bytes at offset " + std::to_string(file.size()));
}

TEST(Journal, SequenceGapIsCorrupt) {
  JournalRecord a = JournalRecord::MakeCommit(1), b = JournalRecord::MakeCommit(2);
  a.seq = 1;
  b.seq = 3;
  EXPECT_THROW(ParseJournal(EncodeJournalRecord(a) + EncodeJournalRecord(b), "j"), Error);
  b.seq = 2;
  EXPECT_EQ(ParseJournal(EncodeJournalRecord(a) + EncodeJournalRecord(b), "j").records.size(), 2u);
}

TEST(Journal, ValidChecksumWithBadContentsIsCorruptNotTail) {
  JournalRecord r = JournalRecord::MakeCommit(1);
  r.seq = 1;
  std::string rec = EncodeJournalRecord(r);
  rec[18] = 9;  // unknown type, then fix the checksum so the frame is valid
  uint8_t crc[4];
  StoreLe32(crc, Crc32c(std::string_view(rec).substr(kRecordCrcFrom)));
  rec.replace(4, 4, reinterpret_cast<const char*>(crc), 4);
  EXPECT_THROW(ParseJournal(rec, "j"), Error);
}

}  // namespace
}  // namespace thinsnap
