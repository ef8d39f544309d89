#include "metadata/records.h"

#include <utility>

namespace thinsnap {

Mutation Mutation::Put(DeviceRecord d) {
  Mutation m;
  m.op = Op::kPutDevice;
  m.device = std::move(d);
  return m;
}

Mutation Mutation::Delete(uint32_t id) {
  Mutation m;
  m.op = Op::kDeleteDevice;
  m.id = id;
  return m;
}

Mutation Mutation::SetConfig(std::string key, std::string value) {
  Mutation m;
  m.op = Op::kSetConfig;
  m.key = std::move(key);
  m.value = std::move(value);
  return m;
}

Mutation Mutation::EraseConfig(std::string key) {
  Mutation m;
  m.op = Op::kEraseConfig;
  m.key = std::move(key);
  return m;
}

}  // namespace thinsnap
