// Send and receive: a device's blocks as a stream (metadata/stream.h), found from the pool's own
// metadata (thin_delta on a metadata snapshot), read and written with O_DIRECT, and device
// identities (a UUID per device, kept in its labels; FORMAT.md "Device identity").
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "base/units.h"
#include "thinpool/engine_impl.h"

namespace thinsnap {
namespace {

constexpr char kUuidLabel[] = "thinsnap.uuid";
constexpr char kReceivingLabel[] = "thinsnap.receiving";
constexpr uint64_t kChunkBytes = 4u << 20;  // one O_DIRECT read/write and one data record
constexpr int64_t kProgressEveryNs = 250'000'000;

// A receive in progress is a hidden device: '.' cannot start a user's name (ValidateName).
std::string ReceivingName(const std::string& name) { return ".receiving-" + name; }

// Unchanged since it was made: a sealed read-only device, or one never handed out writable.
bool Frozen(const DeviceRecord& r) {
  if (r.state != DeviceState::kReady) return false;
  return r.read_only || r.labels.count(kWrittenLabel) == 0;
}

struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : p(static_cast<uint8_t*>(std::aligned_alloc(4096, n))) {
    if (!p) throw Error("out of memory for a " + std::to_string(n) + "-byte buffer");
  }
  ~AlignedBuffer() { std::free(p); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* p;
};

// A byte range of the device to send, and whether it goes as data or as an unmap.
struct SendRange {
  bool data = true;
  uint64_t offset = 0, length = 0;
};

// thin_delta's block ranges as byte ranges inside the device, adjacent ones of a kind merged.
std::vector<SendRange> ToSendRanges(const std::vector<kernel::DeltaRange>& delta, bool full,
                                    uint64_t block, uint64_t size) {
  using Kind = kernel::DeltaRange::Kind;
  std::vector<SendRange> out;
  for (const kernel::DeltaRange& d : delta) {
    bool data =
        full ? d.kind == Kind::kSame : d.kind == Kind::kDifferent || d.kind == Kind::kRightOnly;
    bool unmap = !full && d.kind == Kind::kLeftOnly;
    if (!data && !unmap) continue;
    uint64_t begin = d.begin * block;
    if (begin >= size) continue;
    uint64_t end = std::min(size, (d.begin + d.length) * block);
    if (!out.empty() && out.back().data == data && out.back().offset + out.back().length == begin) {
      out.back().length = end - out.back().offset;
    } else {
      out.push_back({data, begin, end - begin});
    }
  }
  return out;
}

// Calls the progress callback at most every 250 ms, and once at the end if it was called.
class ProgressTicker {
 public:
  // total: the data bytes to carry when known (send), else 0.
  ProgressTicker(const EngineOptions& opts, kernel::Clock* clock, const std::string& name,
                 bool receiving, uint64_t total)
      : opts_(opts), clock_(clock), start_(clock->NowNs()), last_(start_) {
    p_.name = name;
    p_.receiving = receiving;
    p_.total_bytes = total;
  }
  void Tick(uint64_t data_bytes, uint64_t wire_bytes) {
    p_.data_bytes = data_bytes;
    p_.wire_bytes = wire_bytes;
    const int64_t now = clock_->NowNs();
    p_.elapsed_ns = now - start_;
    if (!opts_.transfer_progress || now - last_ < kProgressEveryNs) return;
    last_ = now;
    shown_ = true;
    opts_.transfer_progress(p_);
  }
  void Done() {
    if (!opts_.transfer_progress || !shown_) return;
    p_.done = true;
    opts_.transfer_progress(p_);
    shown_ = false;
  }
  int64_t elapsed() const { return clock_->NowNs() - start_; }

 private:
  const EngineOptions& opts_;
  kernel::Clock* clock_;
  TransferProgress p_;
  int64_t start_, last_;
  bool shown_ = false;
};

}  // namespace

// --- identities ---

DeviceUuid Engine::Impl::EnsureUuid(DeviceRecord* rec) {
  auto it = rec->labels.find(kUuidLabel);
  DeviceUuid u{};
  if (it != rec->labels.end() && ParseUuid(it->second, &u)) return u;
  sys->RandomBytes(u.data(), u.size());
  u = MakeUuidV4(u);
  rec->labels[kUuidLabel] = FormatUuid(u);
  UpdateRecord(*rec);
  return u;
}

const DeviceRecord* Engine::Impl::FindByUuid(const std::string& uuid) {
  const DeviceRecord* found = nullptr;
  catalog().ForEach([&](const DeviceRecord& r) {
    auto it = r.labels.find(kUuidLabel);
    if (it != r.labels.end() && it->second == uuid) found = &r;
  });
  return found ? catalog().FindById(found->id) : nullptr;
}

void Engine::Impl::MarkWritten(DeviceRecord* rec) {
  if (rec->read_only || rec->labels.count(kWrittenLabel)) return;
  rec->labels[kWrittenLabel] = "1";
  UpdateRecord(*rec);
}

void Engine::Impl::ReplaceLabels(DeviceRecord* rec, std::map<std::string, std::string> labels) {
  for (const char* key : {kUuidLabel, kWrittenLabel}) {
    auto it = rec->labels.find(key);
    if (it != rec->labels.end()) labels[key] = it->second;
  }
  rec->labels = std::move(labels);
}

void Engine::Impl::NewIdentity(DeviceRecord* rec) {
  DeviceUuid u;
  sys->RandomBytes(u.data(), u.size());
  rec->labels[kUuidLabel] = FormatUuid(MakeUuidV4(u));
  rec->labels.erase(kWrittenLabel);
}

void Engine::Impl::RemoveAbandonedReceives(std::vector<std::string>* notes) {
  std::vector<DeviceRecord> left;
  catalog().ForEach([&](const DeviceRecord& r) {
    if (r.labels.count(kReceivingLabel)) left.push_back(r);
  });
  for (const DeviceRecord& r : left) {
    if (ThinActive(r.id)) DeactivateThin(r.id, false);
    DeleteDevice(r);
    notes->push_back("removed the unfinished receive of '" + r.labels.at(kReceivingLabel) +
                     "' (thin id " + std::to_string(r.id) + ") left by an interrupted receive");
  }
}

// --- send ---

namespace {

// The ranges to send, from a metadata snapshot held only for the thin_delta call.
std::vector<kernel::DeltaRange> PoolDelta(kernel::DeviceMapper* dm, kernel::System* sys,
                                          const std::string& pool, const std::string& meta_dev,
                                          uint32_t left, uint32_t right) {
  dm->Message(pool, "reserve_metadata_snap");
  std::vector<kernel::DeltaRange> out;
  try {
    out = sys->ThinDelta(meta_dev, left, right);
  } catch (...) {
    dm->Message(pool, "release_metadata_snap");
    throw;
  }
  dm->Message(pool, "release_metadata_snap");
  return out;
}

void SendRanges(const std::vector<SendRange>& ranges, kernel::BlockIo* io, StreamWriter* w,
                ProgressTicker* ticker, TransferStats* st) {
  AlignedBuffer buf(kChunkBytes);
  for (const SendRange& r : ranges) {
    if (!r.data) {
      w->Unmap(r.offset, r.length);
      st->unmapped_bytes += r.length;
      ++st->unmap_ranges;
      continue;
    }
    ++st->data_ranges;
    for (uint64_t at = r.offset; at < r.offset + r.length; at += kChunkBytes) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, r.offset + r.length - at));
      io->ReadAt(at, buf.p, n);
      w->Data(at, buf.p, n);
      st->data_bytes += n;
      ticker->Tick(st->data_bytes, w->bytes());
    }
  }
}

}  // namespace

TransferStats Engine::Send(const std::string& name, const std::string& base_name, ByteSink* out) {
  Impl& m = *impl_;
  m.RequireActivePool();
  DeviceRecord rec = m.Find(name);
  if (rec.state == DeviceState::kDeletePending) {
    throw Error("send " + name + ": it is being removed", ErrorKind::kBusy);
  }
  if (!rec.mountpoint.empty() && !rec.read_only) {
    throw Error("send " + name + ": it is mounted read-write at " + rec.mountpoint +
                    "; unmount it, or send a snapshot of it (volume clone, commit)",
                ErrorKind::kBusy);
  }
  TransferStats st;
  st.name = name;
  st.base = base_name;
  st.kind = rec.kind;
  st.device_size = rec.size_bytes;
  std::optional<DeviceRecord> base;
  if (!base_name.empty()) {
    base = m.Find(base_name);
    if (base->id == rec.id)
      throw Error("send " + name + ": --from names the device itself", ErrorKind::kUsage);
    if (!Frozen(*base)) {
      throw Error("send " + name + ": --from " + base_name +
                      " has been writable since it was made, so a receiver's copy of it may "
                      "differ; use a read-only layer or an unwritten snapshot as the base",
                  ErrorKind::kUsage);
    }
    if (base->size_bytes > rec.size_bytes) {
      throw Error("send " + name + ": --from " + base_name + " is larger than " + name,
                  ErrorKind::kUsage);
    }
  }
  StreamHeader h;
  h.block_size = static_cast<uint32_t>(m.settings().block_size);
  h.device_size = rec.size_bytes;
  h.kind = rec.kind;
  h.fs = rec.fs;
  h.name = rec.name;
  h.uuid = m.EnsureUuid(&rec);
  st.uuid = FormatUuid(h.uuid);
  if (base) {
    h.base_uuid = m.EnsureUuid(&*base);
    st.base_uuid = FormatUuid(*h.base_uuid);
  }
  std::vector<SendRange> ranges =
      ToSendRanges(PoolDelta(m.dm, m.sys, m.PoolName(), m.MetadataDevice(m.settings()),
                             base ? base->id : rec.id, rec.id),
                   !base, h.block_size, rec.size_bytes);
  uint64_t total = 0;
  for (const SendRange& r : ranges) total += r.data ? r.length : 0;

  const bool was_active = m.ThinActive(rec.id);
  ProgressTicker ticker(m.opts, m.sys, name, /*receiving=*/false, total);
  try {
    std::unique_ptr<kernel::BlockIo> io = m.sys->OpenBlockIo(m.ActivateThin(rec), false);
    StreamWriter w(out, h);
    SendRanges(ranges, io.get(), &w, &ticker, &st);
    w.Finish();
    io->Close();
    st.wire_bytes = w.bytes();
  } catch (const Error& e) {
    ticker.Done();
    if (!was_active && m.ThinActive(rec.id)) m.DeactivateThin(rec.id, false);
    throw e.Wrap("send " + name);
  }
  ticker.Done();
  if (!was_active) m.DeactivateThin(rec.id, false);
  st.elapsed_ns = ticker.elapsed();
  return st;
}

// --- receive ---

namespace {

// Applies the stream's records to `io`. Unmaps discard the whole pool blocks they cover and
// write zeros over the parts of blocks at their edges (a partial discard leaves data in place),
// or write zeros throughout when the pool ignores discards.
class Applier {
 public:
  Applier(kernel::BlockIo* io, uint64_t block, bool discards)
      : io_(io), block_(block), discards_(discards) {}

  void Data(const StreamRecord& r) { io_->WriteAt(r.offset, r.data, r.length); }

  void Unmap(uint64_t offset, uint64_t length) {
    uint64_t end = offset + length;
    uint64_t first = (offset + block_ - 1) / block_ * block_;
    uint64_t last = end / block_ * block_;
    if (!discards_ || first >= last) return Zero(offset, end);
    Zero(offset, first);
    io_->Discard(first, last - first);
    Zero(last, end);
  }

 private:
  void Zero(uint64_t from, uint64_t to) {
    if (from >= to) return;
    if (!zeros_) {
      zeros_ = std::make_unique<AlignedBuffer>(kChunkBytes);
      std::memset(zeros_->p, 0, kChunkBytes);
    }
    for (uint64_t at = from; at < to; at += kChunkBytes) {
      io_->WriteAt(at, zeros_->p, static_cast<size_t>(std::min<uint64_t>(kChunkBytes, to - at)));
    }
  }

  kernel::BlockIo* io_;
  uint64_t block_;
  bool discards_;
  std::unique_ptr<AlignedBuffer> zeros_;
};

void ApplyStream(StreamReader* reader, kernel::BlockIo* io, Applier* apply, ProgressTicker* ticker,
                 TransferStats* st) {
  StreamRecord r;
  uint64_t data_end = UINT64_MAX;  // where the last data record ended: a range goes on there
  while (reader->Next(&r)) {
    if (r.type == StreamRecordType::kData) {
      apply->Data(r);
      st->data_bytes += r.length;
      if (r.offset != data_end) ++st->data_ranges;
      data_end = r.offset + r.length;
    } else {
      apply->Unmap(r.offset, r.length);
      st->unmapped_bytes += r.length;
      ++st->unmap_ranges;
      data_end = UINT64_MAX;
    }
    ticker->Tick(st->data_bytes, reader->bytes());
  }
  io->Close();  // fdatasync: the bytes are on the pool before the name appears
}

}  // namespace

TransferStats Engine::Receive(const std::string& name, const std::string& base_name,
                              ByteSource* in) {
  Impl& m = *impl_;
  m.RequireActivePool();
  m.RequireNameFree(name);
  const std::string what = "receive " + name;
  StreamReader reader(in);
  StreamHeader h;
  try {
    h = reader.ReadHeader();
  } catch (const Error& e) {
    throw e.Wrap(what);
  }
  const PoolSettings s = m.settings();
  if (h.block_size % s.block_size != 0) {
    throw Error(what + ": the stream's block size " + FormatSize(h.block_size) +
                    " is not a multiple of this pool's " + FormatSize(s.block_size),
                ErrorKind::kUsage);
  }
  if (const DeviceRecord* dup = m.FindByUuid(FormatUuid(h.uuid))) {
    throw Error(what + ": this pool already holds that device (identity " + FormatUuid(h.uuid) +
                    ") as '" + dup->name + "'",
                ErrorKind::kExists);
  }
  const DeviceRecord* base = nullptr;
  if (h.base_uuid) {
    const std::string want = FormatUuid(*h.base_uuid);
    base = base_name.empty() ? m.FindByUuid(want) : &m.Find(base_name);
    if (!base) {
      throw Error(what + ": the stream is incremental from a device with identity " + want +
                      ", which this pool does not hold; receive that one first",
                  ErrorKind::kNotFound);
    }
    auto it = base->labels.find(kUuidLabel);
    if (it == base->labels.end() || it->second != want) {
      throw Error(what + ": --from " + base_name + " has identity " +
                      (it == base->labels.end() ? std::string("(none)") : it->second) +
                      ", the stream was made against " + want,
                  ErrorKind::kUsage);
    }
    if (!Frozen(*base)) {
      throw Error(what + ": base '" + base->name +
                      "' has been writable since it arrived, so it may no longer hold the "
                      "sender's bytes",
                  ErrorKind::kUsage);
    }
    if (base->size_bytes > h.device_size) {
      throw Error(what + ": base '" + base->name + "' is larger than the stream's device",
                  ErrorKind::kUsage);
    }
  } else if (!base_name.empty()) {
    throw Error(what + ": the stream is a full one; --from " + base_name + " does not apply",
                ErrorKind::kUsage);
  }
  m.CheckSpace(what);
  const DeviceKind kind = h.kind == DeviceKind::kBase ? DeviceKind::kLayer : h.kind;
  DeviceRecord rec =
      m.NewRecord(ReceivingName(name), kind, base ? base->id : kNoParent, h.device_size, h.fs);
  rec.labels[kUuidLabel] = FormatUuid(h.uuid);
  rec.labels[kReceivingLabel] = name;
  TransferStats st;
  st.name = name;
  st.base = base ? base->name : "";
  st.uuid = FormatUuid(h.uuid);
  st.base_uuid = h.base_uuid ? FormatUuid(*h.base_uuid) : "";
  st.kind = kind;
  st.device_size = h.device_size;
  m.CreateDevice(rec, base);
  ProgressTicker ticker(m.opts, m.sys, name, /*receiving=*/true, 0);
  try {
    std::unique_ptr<kernel::BlockIo> io = m.sys->OpenBlockIo(m.ActivateThin(rec), true);
    Applier apply(io.get(), s.block_size, s.discard != DiscardMode::kIgnore);
    ApplyStream(&reader, io.get(), &apply, &ticker, &st);
    io.reset();
    m.DeactivateThin(rec.id, false);
  } catch (const Error& e) {
    ticker.Done();
    try {
      if (m.ThinActive(rec.id)) m.DeactivateThin(rec.id, false);
      m.DeleteDevice(m.Find(rec.name));
    } catch (const Error& cleanup) {
      throw e.Wrap(
          what + " (the unfinished device is removed at the next command: " + cleanup.what() + ")");
    }
    throw e.Wrap(what + " (nothing kept)");
  }
  ticker.Done();
  // The stream verified: the device takes its name (one synced journal update).
  m.RequireNameFree(name);
  rec = m.Find(rec.name);
  rec.name = name;
  rec.labels.erase(kReceivingLabel);
  rec.read_only = kind == DeviceKind::kLayer;
  m.UpdateRecord(rec);
  st.wire_bytes = reader.bytes();
  st.elapsed_ns = ticker.elapsed();
  return st;
}

}  // namespace thinsnap
