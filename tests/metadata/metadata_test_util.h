// Helpers shared by the metadata tests: sample records and a scratch directory.
#ifndef THINSNAP_TESTS_METADATA_METADATA_TEST_UTIL_H_
#define THINSNAP_TESTS_METADATA_METADATA_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "metadata/records.h"

namespace thinsnap::testing {

// A fully populated record, so round trips exercise every field.
inline DeviceRecord SampleDevice(uint32_t id, std::string name, uint32_t parent = kNoParent) {
  DeviceRecord d;
  d.id = id;
  d.name = std::move(name);
  d.kind = parent == kNoParent ? DeviceKind::kBase : DeviceKind::kLayer;
  d.parent_id = parent;
  d.size_bytes = (10ull << 30) + id * 512ull;
  d.fs = FsType::kExt4;
  d.read_only = id % 2 == 1;
  d.state = DeviceState::kReady;
  d.active = id % 3 == 0;
  d.mountpoint = id % 5 == 0 ? "/mnt/" + d.name : "";
  d.created_ns = 1700000000000000000ll + id;
  d.digest = "sha256:" + std::string(64, static_cast<char>('a' + id % 6));
  d.labels = {{"owner", "test"}, {"n", std::to_string(id)}};
  return d;
}

// A fresh directory under the system temp dir, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "thinsnap-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace thinsnap::testing

#endif  // THINSNAP_TESTS_METADATA_METADATA_TEST_UTIL_H_
