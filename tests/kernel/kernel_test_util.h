// Helpers for the kernel tests: a temporary directory removed at the end of the test, and skips
// for hosts without the needed privileges or devices.
#ifndef THINSNAP_TESTS_KERNEL_KERNEL_TEST_UTIL_H_
#define THINSNAP_TESTS_KERNEL_KERNEL_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace thinsnap::kernel::testing {

// A fresh directory under $TMPDIR (or /var/tmp: a disk-backed filesystem, so O_DIRECT works),
// removed recursively by the destructor.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/var/tmp") + "/thinsnap-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline bool HaveLoopDevices() {
  return ::geteuid() == 0 && ::access("/dev/loop-control", W_OK) == 0;
}

inline bool HaveProgram(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"}) {
    if (::access((std::string(dir) + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace thinsnap::kernel::testing

#define THINSNAP_REQUIRE_LOOP()                                                                 \
  do {                                                                                          \
    if (!::thinsnap::kernel::testing::HaveLoopDevices()) GTEST_SKIP() << "needs root and loop"; \
  } while (0)

#endif  // THINSNAP_TESTS_KERNEL_KERNEL_TEST_UTIL_H_
