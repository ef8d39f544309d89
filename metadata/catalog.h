// Catalog: the in-memory set of thin devices and the pool configuration, indexed by id, by name
// and parent -> children (Boost.Intrusive containers over nodes the catalog owns), so every lookup
// is O(log n) and loading 10,000 devices stays cheap. Apply() is the only way to change it.
//
// Thread-safety: none; the process holds the root lock (metadata/lock.h) while it uses one.
#ifndef THINSNAP_METADATA_CATALOG_H_
#define THINSNAP_METADATA_CATALOG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "metadata/records.h"

namespace thinsnap {

class Catalog {
 public:
  Catalog();
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  // A moved-from catalog may only be destroyed or assigned to.
  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;

  // nullptr when absent. Pointers stay valid until the record is replaced or deleted.
  const DeviceRecord* FindById(uint32_t id) const;
  const DeviceRecord* FindByName(std::string_view name) const;
  // Devices whose parent_id is `id`, in id order.
  std::vector<const DeviceRecord*> Children(uint32_t id) const;
  bool HasChildren(uint32_t id) const;
  // Visits every device in id order.
  void ForEach(const std::function<void(const DeviceRecord&)>& visit) const;
  size_t size() const;
  size_t CountByKind(DeviceKind kind) const;

  // The lowest id that is neither used nor in `also_taken` (freed ids are reused).
  // O((k + 1) log n) for k = |also_taken|, through an ordered set of free id ranges.
  // Throws Error(kNoSpace) when all 2^24 ids are taken.
  uint32_t NextFreeId(const std::vector<uint32_t>& also_taken = {}) const;

  const PoolConfig& config() const;
  // Changes whenever config() may have changed; never the same for two catalogs of the process.
  uint64_t config_version() const;
  // The pool transaction id of the last committed kernel transaction.
  uint64_t transaction_id() const;
  void set_transaction_id(uint64_t txn);

  // Applies one change. Throws Error(kCorrupt) when it would break an invariant: a name used by
  // another id, an empty name, an id above kMaxThinId, an invalid kind/state/fs, deleting an absent
  // id, a parent that does not exist or would make a cycle. On a throw nothing changed.
  // Deleting a device that has children detaches them (their parent_id becomes kNoParent): the
  // kernel keeps snapshots independent of their origin, and the freed id may be reused by an
  // unrelated device, which must not inherit children. Callers that want "no delete while
  // children exist" check HasChildren() first.
  void Apply(const Mutation& m);
  // Applies all of `ms` in order, or none: when one throws, the ones before it are undone. An
  // erased config key that is absent is not an error.
  void ApplyAll(const std::vector<Mutation>& ms);
  // Throws what ApplyAll(ms) would throw, and leaves the catalog as it was either way (it applies
  // and rolls back, so it is not const). O(|ms| log n).
  void CheckAll(const std::vector<Mutation>& ms);
  // Bulk load from a checkpoint. REQUIRES: the catalog is empty. Checks the same invariants as
  // Apply() but lets a child come before its parent (a reused id can be lower than its parent's).
  // Throws Error(kCorrupt); the catalog's contents are then unspecified (discard it).
  void Load(std::vector<DeviceRecord> devices, PoolConfig config, uint64_t transaction_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_CATALOG_H_
