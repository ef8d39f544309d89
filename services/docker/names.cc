#include "services/docker/names.h"

#include <openssl/evp.h>

#include <array>
#include <cctype>

#include "base/error.h"

namespace thinsnap::docker {
namespace {

constexpr size_t kMaxName = 64;
constexpr size_t kHashDigits = 16;

bool UsableChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

bool IsValidName(const std::string& s) {
  if (s.empty() || s.size() > kMaxName || s[0] == '.' || s[0] == '-') return false;
  for (char c : s) {
    if (!UsableChar(c)) return false;
  }
  return true;
}

std::string Sha256Hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md;
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), md.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw Error("docker plugin: SHA-256 of id '" + text + "' failed");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

}  // namespace

std::string DeviceNameFor(const std::string& id) {
  if (IsValidName(id)) return id;
  std::string prefix;
  for (char c : id) {
    if (prefix.size() == kMaxName - kHashDigits - 1) break;
    if (UsableChar(c) && !(prefix.empty() && (c == '.' || c == '-'))) prefix += c;
  }
  if (prefix.empty()) prefix = "d";
  return prefix + "-" + Sha256Hex(id).substr(0, kHashDigits);
}

bool IsInitLayerId(const std::string& id) {
  return id.size() > 5 && id.compare(id.size() - 5, 5, "-init") == 0;
}

}  // namespace thinsnap::docker
