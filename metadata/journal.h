// The journal: an append-only log of checksummed, sequence-numbered records (Intent, Commit,
// Abort, Update) in the byte layout of metadata/FORMAT.md "Journal". metadata/store.cc replays it
// over the last checkpoint.
//
// Reading tells a torn tail from damage in the middle: a record that fails its frame check
// (short header, bad magic, impossible length, CRC mismatch) is a torn tail only if no valid
// record with a higher sequence number follows it anywhere in the file; then the file is cut
// there and a note says so. Otherwise it is Error(kCorrupt) naming the file and the offset. A
// record whose frame is valid but whose contents are not (unknown version or type, undecodable
// payload, a sequence number that is not the previous one plus one) is always Error(kCorrupt).
//
// Thread-safety: none.
#ifndef THINSNAP_METADATA_JOURNAL_H_
#define THINSNAP_METADATA_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/codec.h"

namespace thinsnap {

class WritableFile;

struct JournalContents {
  std::vector<JournalRecord> records;  // contiguous sequence numbers
  std::vector<uint64_t> offsets;       // byte offset of each record
  uint64_t valid_bytes = 0;            // end of the last good record; the file is cut here
  std::string note;                    // what was cut, empty when nothing
};

// Parses a whole journal file held in `bytes`; `name` names it in messages.
JournalContents ParseJournal(std::string_view bytes, const std::string& name);

// Appends records to an open journal file. Owns the file.
class JournalWriter {
 public:
  // `size` is the file's current length, `next_seq` the sequence number of the next record.
  JournalWriter(std::unique_ptr<WritableFile> file, uint64_t next_seq, uint64_t size);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Gives `r` the next sequence number, appends it and fdatasyncs. Returns its sequence number.
  // Same as Write(Encode(r)).
  uint64_t Append(JournalRecord r) { return Write(Encode(std::move(r))); }
  // The bytes of `r` numbered as the next record. Throws Error(kUsage) past a format limit;
  // nothing is written.
  std::string Encode(JournalRecord r) const;
  // Appends the output of the last Encode() and, unless `sync` is false, fdatasyncs (which also
  // makes every earlier unsynced record durable). On a throw the file may hold part of the
  // record: the caller must stop using the journal.
  uint64_t Write(std::string_view encoded, bool sync = true);
  // fdatasyncs what was written unsynced.
  void Sync();
  void Close();

  uint64_t size() const { return size_; }
  uint64_t next_seq() const { return next_seq_; }

 private:
  std::unique_ptr<WritableFile> file_;
  uint64_t next_seq_;
  uint64_t size_;
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_JOURNAL_H_
