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

  // The lowest id that is neither used nor in `also_taken` (freed ids are reused). O(log n).
  uint32_t NextFreeId(const std::vector<uint32_t>& also_taken = {}) const;

  const PoolConfig& config() const;
  // The pool transaction id of the last committed kernel transaction.
  uint64_t transaction_id() const;
  void set_transaction_id(uint64_t txn);

  // Applies one change. Throws Error(kCorrupt) when it would break an invariant: a name used by
  // another id, an id above kMaxThinId, deleting an absent id, a parent that does not exist.
  void Apply(const Mutation& m);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace thinsnap

#endif  // THINSNAP_METADATA_CATALOG_H_
