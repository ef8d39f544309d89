#include "metadata/catalog.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/intrusive/set.hpp>
#include <unordered_map>
#include <utility>

#include "base/error.h"

namespace thinsnap {
namespace {

namespace bi = boost::intrusive;
using Hook = bi::set_member_hook<bi::link_mode<bi::normal_link>>;

// One device, linked into the three indexes at once. Owned by the by-id index (see ~Impl).
struct DeviceNode {
  explicit DeviceNode(DeviceRecord r) : rec(std::move(r)) {}
  DeviceRecord rec;
  Hook by_id;
  Hook by_name;
  Hook by_parent;
};

struct IdOf {
  using type = uint32_t;
  type operator()(const DeviceNode& n) const { return n.rec.id; }
};
struct NameOf {
  using type = std::string_view;  // lookups by string_view need no std::string
  type operator()(const DeviceNode& n) const { return n.rec.name; }
};
struct ParentKeyOf {
  using type = std::pair<uint32_t, uint32_t>;  // (parent_id, id): children of P are contiguous
  type operator()(const DeviceNode& n) const { return {n.rec.parent_id, n.rec.id}; }
};

using ById = bi::set<DeviceNode, bi::member_hook<DeviceNode, Hook, &DeviceNode::by_id>,
                     bi::key_of_value<IdOf>>;
using ByName = bi::set<DeviceNode, bi::member_hook<DeviceNode, Hook, &DeviceNode::by_name>,
                       bi::key_of_value<NameOf>>;
using ByParent = bi::set<DeviceNode, bi::member_hook<DeviceNode, Hook, &DeviceNode::by_parent>,
                         bi::key_of_value<ParentKeyOf>>;

// A run [begin, end) of unused ids. The ranges are disjoint and never adjacent, so adjusting a
// range's begin in place keeps the set ordered.
struct FreeRange {
  FreeRange(uint32_t b, uint32_t e) : begin(b), end(e) {}
  uint32_t begin;
  uint32_t end;
  Hook hook;
};
struct BeginOf {
  using type = uint32_t;
  type operator()(const FreeRange& r) const { return r.begin; }
};
using FreeSet = bi::set<FreeRange, bi::member_hook<FreeRange, Hook, &FreeRange::hook>,
                        bi::key_of_value<BeginOf>>;

constexpr uint32_t kIdSpace = kMaxThinId + 1;

[[noreturn]] void Invariant(const std::string& what) {
  throw Error("catalog: " + what, ErrorKind::kCorrupt);
}

bool ValidKind(DeviceKind k) { return k >= DeviceKind::kBase && k <= DeviceKind::kVolume; }
bool ValidState(DeviceState s) {
  return s >= DeviceState::kReady && s <= DeviceState::kDeletePending;
}

// Enough to undo one applied mutation.
struct Undo {
  Mutation::Op op;
  uint32_t id = 0;
  std::optional<DeviceRecord> before;
  std::string key;
  std::optional<std::string> value_before;
  std::vector<uint32_t> detached;  // delete: children whose parent_id was cleared
};

}  // namespace

struct Catalog::Impl {
  ById by_id;
  ByName by_name;
  ByParent by_parent;
  FreeSet free;
  std::array<size_t, 5> kind_count{};
  PoolConfig config;
  uint64_t config_version = NewConfigVersion();
  uint64_t transaction_id = 0;

  // Unique across every catalog of the process, so that a cache keyed on it never mistakes one
  // catalog's configuration for another's.
  static uint64_t NewConfigVersion() {
    static std::atomic<uint64_t> last{0};
    return ++last;
  }

  Impl() { free.insert(*new FreeRange(0, kIdSpace)); }
  ~Impl() {
    by_name.clear();
    by_parent.clear();
    by_id.clear_and_dispose([](DeviceNode* n) { delete n; });
    free.clear_and_dispose([](FreeRange* r) { delete r; });
  }

  DeviceNode* Find(uint32_t id) const {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : const_cast<DeviceNode*>(&*it);
  }

  // ---- free id ranges ----
  FreeSet::iterator RangeAtOrBefore(uint32_t id) {
    auto it = free.upper_bound(id);
    return it == free.begin() ? free.end() : std::prev(it);
  }

  // REQUIRES: id is free.
  void TakeId(uint32_t id) {
    auto it = RangeAtOrBefore(id);
    FreeRange& r = *it;
    if (r.begin == id && r.end == id + 1) {
      free.erase_and_dispose(it, [](FreeRange* p) { delete p; });
    } else if (r.begin == id) {
      ++r.begin;
    } else if (r.end == id + 1) {
      --r.end;
    } else {
      free.insert(*new FreeRange(id + 1, r.end));
      r.end = id;
    }
  }

  // REQUIRES: id is used.
  void ReleaseId(uint32_t id) {
    auto next = free.upper_bound(id);
    auto prev = next == free.begin() ? free.end() : std::prev(next);
    const bool joins_prev = prev != free.end() && prev->end == id;
    const bool joins_next = next != free.end() && next->begin == id + 1;
    if (joins_prev && joins_next) {
      prev->end = next->end;
      free.erase_and_dispose(next, [](FreeRange* p) { delete p; });
    } else if (joins_prev) {
      ++prev->end;
    } else if (joins_next) {
      --next->begin;
    } else {
      free.insert(*new FreeRange(id, id + 1));
    }
  }

  // ---- linking ----
  void Link(DeviceRecord rec) {
    auto* n = new DeviceNode(std::move(rec));
    by_id.insert(*n);
    by_name.insert(*n);
    by_parent.insert(*n);
    TakeId(n->rec.id);
    ++kind_count[static_cast<size_t>(n->rec.kind)];
  }

  DeviceRecord Unlink(uint32_t id) {
    auto it = by_id.find(id);
    DeviceNode* n = &*it;
    by_name.erase(by_name.iterator_to(*n));
    by_parent.erase(by_parent.iterator_to(*n));
    by_id.erase(it);
    ReleaseId(id);
    --kind_count[static_cast<size_t>(n->rec.kind)];
    DeviceRecord rec = std::move(n->rec);
    delete n;
    return rec;
  }

  bool HasChildren(uint32_t id) const {
    auto it = by_parent.lower_bound(ParentKeyOf::type{id, 0});
    return it != by_parent.end() && it->rec.parent_id == id;
  }

  // ---- invariants ----
  void CheckRecord(const DeviceRecord& d) const {
    if (d.id > kMaxThinId) Invariant("device id " + std::to_string(d.id) + " above 2^24-1");
    if (d.name.empty()) Invariant("device " + std::to_string(d.id) + " has an empty name");
    if (!ValidKind(d.kind) || !ValidState(d.state) || d.fs > FsType::kXfs) {
      Invariant("device " + std::to_string(d.id) + " has an invalid kind, state or fs");
    }
    auto named = by_name.find(std::string_view(d.name));
    if (named != by_name.end() && named->rec.id != d.id) {
      Invariant("name '" + d.name + "' of device " + std::to_string(d.id) + " is used by device " +
                std::to_string(named->rec.id));
    }
  }

  void CheckParent(const DeviceRecord& d) const {
    if (d.parent_id == kNoParent) return;
    size_t steps = 0;
    for (uint32_t p = d.parent_id; p != kNoParent; p = Find(p)->rec.parent_id) {
      if (p == d.id) Invariant("device " + std::to_string(d.id) + " would be its own ancestor");
      if (!Find(p)) {
        Invariant("parent " + std::to_string(p) + " of device " + std::to_string(d.id) +
                  " does not exist");
      }
      if (++steps > by_id.size()) Invariant("cycle among parents");
    }
  }

  // ---- mutations ----
  Undo Put(const DeviceRecord& d) {
    CheckRecord(d);
    CheckParent(d);
    Undo u{Mutation::Op::kPutDevice, d.id, std::nullopt, {}, std::nullopt, {}};
    if (Find(d.id)) u.before = Unlink(d.id);
    Link(d);
    return u;
  }

  // Re-parents a linked node; only the by-parent index depends on parent_id.
  void SetParent(uint32_t id, uint32_t parent) {
    DeviceNode* n = Find(id);
    by_parent.erase(by_parent.iterator_to(*n));
    n->rec.parent_id = parent;
    by_parent.insert(*n);
  }

  // Children of a deleted device are detached (parent_id = kNoParent): the kernel keeps a
  // snapshot independent of its origin, and the freed id may be reused by an unrelated device.
  Undo Delete(uint32_t id) {
    if (!Find(id)) Invariant("delete of absent device " + std::to_string(id));
    Undo u{Mutation::Op::kDeleteDevice, id, std::nullopt, {}, std::nullopt, {}};
    for (const DeviceRecord* child : ChildrenOf(id)) u.detached.push_back(child->id);
    for (uint32_t child : u.detached) SetParent(child, kNoParent);
    u.before = Unlink(id);
    return u;
  }

  std::vector<const DeviceRecord*> ChildrenOf(uint32_t id) const {
    std::vector<const DeviceRecord*> out;
    for (auto it = by_parent.lower_bound(ParentKeyOf::type{id, 0});
         it != by_parent.end() && it->rec.parent_id == id; ++it) {
      out.push_back(&it->rec);
    }
    return out;
  }

  Undo SetConfig(const std::string& key, std::optional<std::string> value) {
    Undo u{Mutation::Op::kSetConfig, 0, std::nullopt, key, std::nullopt, {}};
    config_version = NewConfigVersion();
    auto it = config.find(key);
    if (it != config.end()) u.value_before = it->second;
    if (value) {
      config[key] = std::move(*value);
    } else if (it != config.end()) {
      config.erase(it);
    }
    return u;
  }

  Undo ApplyOne(const Mutation& m) {
    switch (m.op) {
      case Mutation::Op::kPutDevice:
        return Put(m.device);
      case Mutation::Op::kDeleteDevice:
        return Delete(m.id);
      case Mutation::Op::kSetConfig:
        return SetConfig(m.key, m.value);
      case Mutation::Op::kEraseConfig:
        return SetConfig(m.key, std::nullopt);
    }
    Invariant("invalid mutation op " + std::to_string(static_cast<int>(m.op)));
  }

  // Restores what `u` recorded; every state it restores was valid, so nothing is checked.
  void Revert(Undo& u) {
    switch (u.op) {
      case Mutation::Op::kPutDevice:
        Unlink(u.id);
        if (u.before) Link(std::move(*u.before));
        return;
      case Mutation::Op::kDeleteDevice:
        Link(std::move(*u.before));
        for (uint32_t child : u.detached) SetParent(child, u.id);
        return;
      default:
        SetConfig(u.key, std::move(u.value_before));
    }
  }

  void RevertAll(std::vector<Undo>& undo) {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) Revert(*it);
    undo.clear();
  }

  // Applies all of ms; on a throw reverts the ones applied. Returns the undo log.
  std::vector<Undo> ApplyAll(const std::vector<Mutation>& ms) {
    std::vector<Undo> undo;
    undo.reserve(ms.size());
    try {
      for (const Mutation& m : ms) undo.push_back(ApplyOne(m));
    } catch (...) {
      RevertAll(undo);
      throw;  // not swallowed: the caller sees the invariant that failed
    }
    return undo;
  }

  // Checks there are no cycles among parents, in O(n) lookups.
  void CheckAcyclic() const {
    std::unordered_map<uint32_t, bool> done;  // id -> fully checked
    std::vector<uint32_t> path;
    for (const DeviceNode& n : by_id) {
      uint32_t p = n.rec.id;
      path.clear();
      while (p != kNoParent && !done.count(p)) {
        done.emplace(p, false);
        path.push_back(p);
        p = Find(p)->rec.parent_id;
      }
      if (p != kNoParent && !done[p])
        Invariant("cycle among parents at device " + std::to_string(p));
      for (uint32_t id : path) done[id] = true;
    }
  }
};

Catalog::Catalog() : impl_(std::make_unique<Impl>()) {}
Catalog::~Catalog() = default;
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;

const DeviceRecord* Catalog::FindById(uint32_t id) const {
  const DeviceNode* n = impl_->Find(id);
  return n ? &n->rec : nullptr;
}

const DeviceRecord* Catalog::FindByName(std::string_view name) const {
  auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : &it->rec;
}

std::vector<const DeviceRecord*> Catalog::Children(uint32_t id) const {
  return impl_->ChildrenOf(id);
}

bool Catalog::HasChildren(uint32_t id) const { return impl_->HasChildren(id); }

void Catalog::ForEach(const std::function<void(const DeviceRecord&)>& visit) const {
  for (const DeviceNode& n : impl_->by_id) visit(n.rec);
}

size_t Catalog::size() const { return impl_->by_id.size(); }

size_t Catalog::CountByKind(DeviceKind kind) const {
  return ValidKind(kind) ? impl_->kind_count[static_cast<size_t>(kind)] : 0;
}

uint32_t Catalog::NextFreeId(const std::vector<uint32_t>& also_taken) const {
  std::vector<uint32_t> taken = also_taken;
  std::sort(taken.begin(), taken.end());
  // Each candidate rejected below is a distinct member of `taken`, so this loop runs at most
  // |taken| + (ranges visited) times.
  for (const FreeRange& r : impl_->free) {
    for (uint32_t c = r.begin; c < r.end; ++c) {
      if (!std::binary_search(taken.begin(), taken.end(), c)) return c;
    }
  }
  throw Error("no free thin device id (all 2^24 are in use)", ErrorKind::kNoSpace);
}

const PoolConfig& Catalog::config() const { return impl_->config; }
uint64_t Catalog::config_version() const { return impl_->config_version; }
uint64_t Catalog::transaction_id() const { return impl_->transaction_id; }
void Catalog::set_transaction_id(uint64_t txn) { impl_->transaction_id = txn; }

void Catalog::Apply(const Mutation& m) { impl_->ApplyOne(m); }

void Catalog::ApplyAll(const std::vector<Mutation>& ms) { impl_->ApplyAll(ms); }

void Catalog::CheckAll(const std::vector<Mutation>& ms) {
  std::vector<Undo> undo = impl_->ApplyAll(ms);
  impl_->RevertAll(undo);
}

void Catalog::Load(std::vector<DeviceRecord> devices, PoolConfig config, uint64_t txn) {
  if (size() != 0) throw Error("catalog: Load into a non-empty catalog", ErrorKind::kFailure);
  for (DeviceRecord& d : devices) {
    impl_->CheckRecord(d);
    if (impl_->Find(d.id)) Invariant("device id " + std::to_string(d.id) + " appears twice");
    impl_->Link(std::move(d));
  }
  for (const DeviceNode& n : impl_->by_id) {
    const uint32_t p = n.rec.parent_id;
    if (p != kNoParent && (p == n.rec.id || !impl_->Find(p))) {
      Invariant("parent " + std::to_string(p) + " of device " + std::to_string(n.rec.id) +
                " does not exist");
    }
  }
  impl_->CheckAcyclic();
  impl_->config = std::move(config);
  impl_->config_version = Impl::NewConfigVersion();
  impl_->transaction_id = txn;
}

}  // namespace thinsnap
