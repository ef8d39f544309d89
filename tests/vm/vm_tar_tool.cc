// vm_tar_tool: makes the tarballs the layer VM scenarios import and fingerprints the trees they
// produce. It runs inside the test VM (included by the scenarios' VM-Args), where there is no
// python or bsdtar. Not a unit test; it reuses the unit tests' tar writer
// (tests/layers/tree_test_util.h).
//
//   vm_tar_tool hostile DIR     writes the hostile set into DIR and prints one line per case:
//                               FILE EXPECT NEEDLE PARENT   (EXPECT accept|refuse; NEEDLE is a
//                               string the refusal must contain, "-" for any; PARENT a case
//                               whose layer must be imported first, "-" for none)
//   vm_tar_tool rich-lower FILE a lower layer for the round trip
//   vm_tar_tool rich FILE       a layer with every kind of entry and metadata, whiteouts included
//   vm_tar_tool manifest DIR    every entry under DIR (not DIR itself), one line each: type, mode,
//                               owner, mtime (ns), size, blocks-free content sha256, hardlink
//                               group, device numbers, symlink target, xattrs (names and values)
#include <openssl/evp.h>

#include <cstdio>
#include <iostream>

#include "tests/layers/tree_test_util.h"

namespace {

using thinsnap::testing::PaxRecord;
using thinsnap::testing::RawUstarEnd;
using thinsnap::testing::RawUstarEntry;
using thinsnap::testing::TarBuilder;

// Where the hostile names try to land: the scenario keeps a canary directory there.
constexpr char kCanary[] = "/tmp/canary";
const std::string kUp = "../../../../../../../../../..";

void WriteFile(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f)) {
    throw std::runtime_error("write " + path + ": " + std::strerror(errno));
  }
}

std::string Hex(const std::string& bytes) {
  std::string out;
  char buf[3];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

std::string Sha256(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return Hex(std::string(reinterpret_cast<char*>(digest), length));
}

// A ustar header for a regular file of `size` bytes (no data).
std::string UstarHeader(const std::string& name, uint64_t size) {
  std::string h = RawUstarEntry(name, '0', "");
  std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  return h;
}

std::string Gzip(const std::string& data) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* o, const void* d, size_t n) -> la_ssize_t {
        static_cast<std::string*>(o)->append(static_cast<const char*>(d), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A tar whose one file holds `mib` MiB of 'A' but which compresses to a few hundred KiB: the
// same gzip member (one MiB of data) repeated, after a member holding the header and before one
// holding the end of the archive. gzip readers join concatenated members into one stream.
std::string GzipBomb(const std::string& name, int mib) {
  std::string out = Gzip(UstarHeader(name, uint64_t(mib) << 20));
  std::string chunk = Gzip(std::string(1 << 20, 'A'));
  for (int i = 0; i < mib; ++i) out += chunk;
  return out + Gzip(RawUstarEnd());
}

struct Case {
  std::string file, expect, needle, parent, bytes;
};

std::vector<Case> HostileCases() {
  const std::string canary = kCanary;
  std::vector<Case> c;
  auto refuse = [&](std::string file, std::string needle, std::string bytes,
                    std::string parent = "-") {
    c.push_back(
        {std::move(file), "refuse", std::move(needle), std::move(parent), std::move(bytes)});
  };
  auto accept = [&](std::string file, std::string bytes) {
    c.push_back({std::move(file), "accept", "-", "-", std::move(bytes)});
  };
  refuse("01-dotdot.tar", "tmp/canary/evil",
         TarBuilder().File(kUp + canary + "/evil", "x").Finish());
  refuse("02-nested-dotdot.tar", "a/b/../",
         TarBuilder().Dir("a/b").File("a/b/" + kUp + canary + "/secret", "pwned").Finish());
  accept("03-absolute.tar", TarBuilder().File(canary + "/abs", "inside").Finish());
  refuse("04-symlink-escape.tar", "esc/evil",
         TarBuilder().Symlink("esc", canary).File("esc/evil", "x").Finish());
  refuse("05-symlink-dotdot.tar", "up/canary/evil",
         TarBuilder().Symlink("up", kUp + "/tmp").File("up/canary/evil", "x").Finish());
  accept("06-lower-symlink.tar", TarBuilder().Symlink("lowlink", canary).Finish());
  refuse("07-through-lower-symlink.tar", "lowlink/evil",
         TarBuilder().File("lowlink/evil", "x").Finish(), "06-lower-symlink.tar");
  refuse("08-hardlink-dotdot.tar", "hl1",
         TarBuilder().Hardlink("hl1", kUp + canary + "/secret").Finish());
  refuse("09-hardlink-absolute.tar", "hl2",
         TarBuilder().Hardlink("hl2", canary + "/secret").Finish());
  refuse("10-hardlink-via-symlink.tar", "hl3",
         TarBuilder().Symlink("l", canary).Hardlink("hl3", "l/secret").Finish());
  accept("11-devices.tar",
         TarBuilder()
             .Add("dev/kmem", AE_IFCHR, 0600, "",
                  [](archive_entry* e) { archive_entry_set_rdev(e, makedev(1, 2)); })
             .Add("dev/sda", AE_IFBLK, 0660, "",
                  [](archive_entry* e) { archive_entry_set_rdev(e, makedev(8, 0)); })
             .Add("run/fifo", AE_IFIFO, 0644)
             .Finish());
  refuse("12-device-escape.tar", "canary/kmem",
         TarBuilder()
             .Add(kUp + canary + "/kmem", AE_IFCHR, 0600, "",
                  [](archive_entry* e) { archive_entry_set_rdev(e, makedev(1, 2)); })
             .Finish());
  const int64_t huge = int64_t{8} << 30;
  accept("13-huge-sparse.tar",
         TarBuilder().Sparse("huge", huge, {{0, "head"}, {huge - 4, "tail"}}).Finish());
  {
    TarBuilder many(ARCHIVE_FILTER_GZIP);
    for (int i = 0; i < 10000; ++i) {
      many.File("many/d" + std::to_string(i % 10) + "/f" + std::to_string(i), std::to_string(i));
    }
    accept("14-10000-files.tar.gz", many.Finish());
  }
  {
    TarBuilder deep;
    std::string path = "deep";
    for (int i = 0; i < 300; ++i) path += "/d";
    deep.Dir(path).File(path + "/leaf", "deep");
    accept("15-deep-dirs.tar", deep.Finish());
  }
  {
    std::string name = "h\xc3\xa9llo-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x90\xb3";
    std::string tar = RawUstarEntry("PaxHeader/x", 'x', PaxRecord("path", "uni/" + name)) +
                      RawUstarEntry("placeholder", '0', "utf8") + RawUstarEnd();
    accept("16-unicode.tar", tar);
  }
  accept("17-long-name.tar",
         TarBuilder().File(std::string(200, 'a') + "/" + std::string(255, 'n'), "ok").Finish());
  refuse("18-name-too-long.tar", "xxxxxxxx",
         TarBuilder().File(std::string(256, 'x'), "x").Finish());
  refuse("19-path-max.tar", "PATH_MAX", TarBuilder().File(std::string(5000, 'y'), "y").Finish());
  accept("20-duplicates.tar", TarBuilder()
                                  .File("dup", "first")
                                  .File("dup", "second")
                                  .Symlink("duplink", "a")
                                  .Symlink("duplink", "b")
                                  .Finish());
  refuse("21-whiteout-outside.tar", ".wh.secret",
         TarBuilder().File(kUp + canary + "/.wh.secret", "").Finish());
  refuse("22-whiteout-dotdot.tar", ".wh..", TarBuilder().File(".wh..", "").Finish());
  refuse("23-opaque-outside.tar", ".wh..wh..opq",
         TarBuilder().File(kUp + canary + "/.wh..wh..opq", "").Finish());
  {
    std::string tar =
        TarBuilder().File("trunc-a", std::string(100000, 'a')).File("b", "b").Finish();
    tar.resize(30000);
    refuse("24-truncated.tar", "trunc-a", tar);
  }
  {
    std::string garbage(4096, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7919 % 251);
    refuse("25-garbage.tar", "-", garbage);
  }
  refuse("26-empty.tar", "-", "");
  {
    std::string gz = TarBuilder(ARCHIVE_FILTER_GZIP).File("a", std::string(100000, 'a')).Finish();
    for (size_t i = 20; i < gz.size() - 20; i += 7) gz[i] ^= 0x5a;
    refuse("27-corrupt.tar.gz", "-", gz);
  }
  {
    std::string zst = TarBuilder(ARCHIVE_FILTER_ZSTD)
                          .File("z", std::string(1 << 20, 'z'))
                          .File("b", "b")
                          .Finish();
    zst.resize(zst.size() / 2);
    refuse("28-truncated.tar.zst", "-", zst);
  }
  refuse("29-gzip-bomb.tar.gz", "bomb", GzipBomb("bomb", 128));
  refuse("30-root-as-file.tar", "root", TarBuilder().Symlink("/", "/etc").Finish());
  refuse("31-hardlink-forward.tar", "hl4",
         TarBuilder().Hardlink("hl4", "later").File("later", "x").Finish());
  // The same valid layer three ways: the digests must agree (sha256 of the plain tar).
  auto valid = [](int filter) {
    return TarBuilder(filter)
        .Dir("app", 0755)
        .File("app/hello", "hello, compressed world\n", 0755)
        .Symlink("app/link", "hello")
        .Finish();
  };
  accept("32-valid.tar", valid(ARCHIVE_FILTER_NONE));
  accept("33-valid.tar.gz", valid(ARCHIVE_FILTER_GZIP));
  accept("34-valid.tar.zst", valid(ARCHIVE_FILTER_ZSTD));
  return c;
}

int Hostile(const std::string& dir) {
  for (const Case& c : HostileCases()) {
    WriteFile(dir + "/" + c.file, c.bytes);
    std::cout << c.file << " " << c.expect << " " << c.needle << " " << c.parent << "\n";
  }
  return 0;
}

std::string Capability() {
  // vfs_cap_data revision 2: magic_etc, then permitted/inheritable for two 32-bit words.
  std::string cap(20, '\0');
  uint32_t words[5] = {0x02000001, 1u << 13, 0, 0, 0};  // CAP_NET_RAW, effective bit set
  std::memcpy(cap.data(), words, sizeof words);
  return cap;
}

int RichLower(const std::string& file) {
  WriteFile(file, TarBuilder()
                      .File("delme", "to be whited out")
                      .Dir("gone")
                      .File("gone/child", "a whole tree goes")
                      .Dir("opq")
                      .File("opq/old", "hidden by the opaque marker")
                      .File("keep", "stays")
                      .File("edit", "lower version")
                      .Finish());
  return 0;
}

int Rich(const std::string& file) {
  auto meta = [](int uid, int gid, long nsec, std::vector<std::pair<std::string, std::string>> x) {
    return [=](archive_entry* e) {
      archive_entry_set_uid(e, uid);
      archive_entry_set_gid(e, gid);
      archive_entry_set_mtime(e, 1650000000, nsec);
      for (const auto& [k, v] : x) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    };
  };
  TarBuilder t;
  t.Add("etc", AE_IFDIR, 0755, "", meta(0, 0, 1, {}))
      .Add("etc/conf", AE_IFREG, 0640, "key=value\n",
           meta(1000, 1001, 123456789, {{"user.note", "v1"}, {"trusted.tag", "t"}}))
      .Add("bin", AE_IFDIR, 0755, "", meta(0, 0, 2, {{"user.dir", "d"}}))
      .Add("bin/ping", AE_IFREG, 0755, "#!/bin/sh\necho ping\n",
           meta(0, 0, 3, {{"security.capability", Capability()}}))
      .Add("bin/su", AE_IFREG, 04755, "setuid\n", meta(0, 0, 4, {}))
      .Add("bin/sgid", AE_IFREG, 02711, "setgid\n", meta(0, 50, 5, {}))
      .Symlink("bin/sh", "busybox")
      .Symlink("lib64", "/usr/lib")
      .Add("bin/a", AE_IFREG, 0644, "hardlinked\n", meta(7, 7, 6, {}))
      .Hardlink("bin/b", "bin/a")
      .Hardlink("bin/c", "bin/a")
      .Add("dev", AE_IFDIR, 0755, "", meta(0, 0, 7, {}))
      .Add("dev/null", AE_IFCHR, 0666, "",
           [](archive_entry* e) { archive_entry_set_rdev(e, makedev(1, 3)); })
      .Add("dev/loop9", AE_IFBLK, 0660, "",
           [](archive_entry* e) {
             archive_entry_set_rdev(e, makedev(7, 9));
             archive_entry_set_gid(e, 6);
           })
      .Add("run/fifo", AE_IFIFO, 0600, "", meta(0, 0, 8, {}))
      .Add("tmp", AE_IFDIR, 01777, "", meta(0, 0, 9, {}))
      .Sparse("var/sparse", 64 << 20, {{0, "start"}, {32 << 20, "middle"}})
      .Add("var/empty", AE_IFREG, 0600, "", meta(65534, 65534, 10, {}))
      .File("var/zeros", std::string(4096, 'z') + std::string(8192, '\0') + "end")
      .File(".wh.delme", "")
      .File(".wh.gone", "")
      .File("opq/.wh..wh..opq", "")
      .File("opq/new", "only this one")
      .File("edit", "upper version");
  WriteFile(file, t.Finish());
  return 0;
}

std::string ReadXattrs(const std::string& path) {
  char names[8192];
  ssize_t n = llistxattr(path.c_str(), names, sizeof names);
  if (n <= 0) return "";
  std::vector<std::string> keys;
  for (ssize_t i = 0; i < n; i += std::strlen(names + i) + 1) keys.emplace_back(names + i);
  std::sort(keys.begin(), keys.end());
  std::string out;
  for (const std::string& k : keys) {
    char value[8192];
    ssize_t v = lgetxattr(path.c_str(), k.c_str(), value, sizeof value);
    out += " " + k + "=" + (v < 0 ? std::string("?") : Hex(std::string(value, v)));
  }
  return out;
}

int Manifest(const std::string& root) {
  std::vector<std::string> paths;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::map<std::pair<dev_t, ino_t>, std::string> first_path;
  for (const std::string& p : paths) {
    struct stat st = thinsnap::testing::Lstat(p);
    std::string rel = p.substr(root.size());
    char line[512];
    std::snprintf(line, sizeof line, " %06o %u:%u t%lld.%09ld s%lld", st.st_mode, st.st_uid,
                  st.st_gid, static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                  S_ISDIR(st.st_mode) ? 0LL : static_cast<long long>(st.st_size));
    std::string out = rel + line;
    if (!S_ISDIR(st.st_mode)) {
      auto [it, fresh] = first_path.try_emplace({st.st_dev, st.st_ino}, rel);
      out += " n" + std::to_string(st.st_nlink) + (fresh ? "" : " =" + it->second);
    }
    if (S_ISREG(st.st_mode)) out += " " + Sha256(thinsnap::testing::ReadFileAt(p)).substr(0, 16);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      out += " dev" + std::to_string(major(st.st_rdev)) + "," + std::to_string(minor(st.st_rdev));
    }
    if (S_ISLNK(st.st_mode)) out += " ->" + std::filesystem::read_symlink(p).string();
    std::cout << out << ReadXattrs(p) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: vm_tar_tool hostile DIR | rich-lower FILE | rich FILE | manifest DIR\n";
    return 2;
  }
  std::string cmd = argv[1], arg = argv[2];
  try {
    if (cmd == "hostile") return Hostile(arg);
    if (cmd == "rich-lower") return RichLower(arg);
    if (cmd == "rich") return Rich(arg);
    if (cmd == "manifest") return Manifest(arg);
  } catch (const std::exception& e) {
    std::cerr << "vm_tar_tool: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "vm_tar_tool: unknown command " << cmd << "\n";
  return 2;
}
