// libFuzzer target: arbitrary bytes into the journal reader and the checkpoint decoder. Neither
// may crash, hang, leak or read out of bounds; whatever they accept must re-encode to exactly
// the bytes they read (the encoding is canonical), so damage is never taken for other data.
// Build: metadata/CMakeLists.txt, option THINSNAP_FUZZ.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/error.h"
#include "metadata/catalog.h"
#include "metadata/codec.h"
#include "metadata/journal.h"

namespace thinsnap {
namespace {

void FuzzJournal(std::string_view bytes) {
  JournalContents j;
  try {
    j = ParseJournal(bytes, "journal");
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCorrupt) std::abort();
    return;
  }
  if (j.valid_bytes > bytes.size()) std::abort();
  std::string again;
  for (const JournalRecord& r : j.records) again += EncodeJournalRecord(r);
  if (again != bytes.substr(0, j.valid_bytes)) std::abort();
}

void FuzzCheckpoint(std::string_view bytes) {
  CheckpointData c;
  try {
    c = DecodeCheckpoint(bytes, "catalog");
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCorrupt) std::abort();
    return;
  }
  if (EncodeCheckpoint(c) != bytes) std::abort();
  Catalog catalog;
  try {
    catalog.Load(std::move(c.devices), std::move(c.config), c.transaction_id);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCorrupt) std::abort();
  }
}

// Payload decoders without the checksum in the way, so the fuzzer reaches them directly.
void FuzzPayload(std::string_view bytes) {
  if (bytes.empty()) return;
  const auto type = static_cast<RecordType>(1 + static_cast<uint8_t>(bytes[0]) % 4);
  try {
    Decoder d(bytes.substr(1), "payload");
    JournalRecord r = DecodeRecordPayload(type, d);
    if (EncodeRecordPayload(r) != bytes.substr(1)) std::abort();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kCorrupt) std::abort();
  }
}

}  // namespace
}  // namespace thinsnap

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  thinsnap::FuzzJournal(bytes);
  thinsnap::FuzzCheckpoint(bytes);
  thinsnap::FuzzPayload(bytes);
  return 0;
}
