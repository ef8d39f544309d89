#include "thinpool/kernel/fs_tools.h"

#include <optional>
#include <sstream>
#include <string_view>

#include "base/error.h"
#include "thinpool/kernel/process.h"

namespace thinsnap::kernel {
namespace {

ToolReport Report(const RunResult& r) {
  return ToolReport{r.exit_code == 0, r.exit_code, r.stdout_text + r.stderr_text};
}

RunOptions NoCheck() {
  RunOptions opts;
  opts.check = false;
  return opts;
}

[[noreturn]] void NoFilesystem(const std::string& device) {
  throw Error("no filesystem type given for " + device, ErrorKind::kUsage);
}

uint64_t ParseCount(const std::string& word, const std::string& line) {
  size_t used = 0;
  uint64_t value = 0;
  try {
    value = std::stoull(word, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != word.size()) {
    throw Error("malformed thin_ls line \"" + line + "\"", ErrorKind::kCorrupt);
  }
  return value;
}

}  // namespace

std::vector<std::string> MakeFilesystemArgv(const std::string& device, FsType fs,
                                            const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv;
  if (fs == FsType::kExt4) {
    argv = {"mkfs.ext4", "-q", "-F", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0"};
  } else if (fs == FsType::kXfs) {
    argv = {"mkfs.xfs", "-q", "-f", "-K"};
  } else {
    NoFilesystem(device);
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.push_back(device);
  return argv;
}

void MakeFilesystem(const std::string& device, FsType fs,
                    const std::vector<std::string>& extra_args) {
  RunCommand(MakeFilesystemArgv(device, fs, extra_args));
}

void GrowFilesystem(const std::string& device, const std::string& mountpoint, FsType fs) {
  if (fs == FsType::kExt4) {
    RunCommand({"resize2fs", device});
  } else if (fs == FsType::kXfs) {
    if (mountpoint.empty()) {
      throw Error("xfs_growfs needs " + device + " mounted", ErrorKind::kUsage);
    }
    RunCommand({"xfs_growfs", mountpoint});
  } else {
    NoFilesystem(device);
  }
}

ToolReport CheckFilesystem(const std::string& device, FsType fs) {
  RunOptions opts = NoCheck();
  if (fs == FsType::kExt4) return Report(RunCommand({"e2fsck", "-n", "-f", device}, opts));
  if (fs == FsType::kXfs) return Report(RunCommand({"xfs_repair", "-n", device}, opts));
  NoFilesystem(device);
}

ToolReport ThinCheck(const std::string& metadata_dev, bool metadata_snap, bool clear_needs_check) {
  std::vector<std::string> argv = {"thin_check"};
  if (metadata_snap) argv.push_back("-m");
  if (clear_needs_check) argv.push_back("--clear-needs-check-flag");
  argv.push_back(metadata_dev);
  return Report(RunCommand(argv, NoCheck()));
}

std::vector<ThinLsRow> ParseThinLs(const std::string& output) {
  std::vector<ThinLsRow> rows;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> w;
    for (std::string word; fields >> word;) w.push_back(word);
    if (w.empty()) continue;
    if (w.size() != 4) throw Error("malformed thin_ls line \"" + line + "\"", ErrorKind::kCorrupt);
    rows.push_back(ThinLsRow{static_cast<uint32_t>(ParseCount(w[0], line)), ParseCount(w[1], line),
                             ParseCount(w[2], line), ParseCount(w[3], line)});
  }
  return rows;
}

std::vector<ThinLsRow> ThinLs(const std::string& metadata_dev, bool use_metadata_snap) {
  std::vector<std::string> argv = {"thin_ls", "--no-headers", "-o",
                                   "DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS"};
  if (use_metadata_snap) argv.push_back("-m");
  argv.push_back(metadata_dev);
  return ParseThinLs(RunCommand(argv).stdout_text);
}

namespace {

// The value of attribute `name` in an XML element line, or nullopt.
std::optional<uint64_t> Attribute(const std::string& line, const std::string& name) {
  const std::string key = " " + name + "=\"";
  size_t at = line.find(key);
  if (at == std::string::npos) return std::nullopt;
  at += key.size();
  size_t end = line.find('"', at);
  if (end == std::string::npos) return std::nullopt;
  return ParseCount(line.substr(at, end - at), line);
}

}  // namespace

std::vector<DeltaRange> ParseThinDelta(const std::string& output) {
  static const std::pair<const char*, DeltaRange::Kind> kKinds[] = {
      {"<same ", DeltaRange::Kind::kSame},
      {"<different ", DeltaRange::Kind::kDifferent},
      {"<left_only ", DeltaRange::Kind::kLeftOnly},
      {"<right_only ", DeltaRange::Kind::kRightOnly}};
  std::vector<DeltaRange> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    std::string_view tag(line.c_str() + start);
    // "<diff " and not "<different ": the element names share a prefix.
    if (tag.starts_with("<superblock ") || tag.starts_with("</superblock>") ||
        tag.starts_with("<diff ") || tag.starts_with("</diff>")) {
      continue;
    }
    bool matched = false;
    for (const auto& [prefix, kind] : kKinds) {
      if (!tag.starts_with(prefix)) continue;
      auto begin = Attribute(line, "begin"), length = Attribute(line, "length");
      if (!begin || !length || *length == 0) break;
      out.push_back({kind, *begin, *length});
      matched = true;
    }
    if (!matched) {
      throw Error("malformed thin_delta line \"" + line + "\"", ErrorKind::kCorrupt);
    }
  }
  return out;
}

std::vector<DeltaRange> ThinDelta(const std::string& metadata_dev, uint32_t snap1, uint32_t snap2,
                                  bool use_metadata_snap) {
  std::vector<std::string> argv = {"thin_delta"};
  if (use_metadata_snap) argv.push_back("-m");
  argv.insert(argv.end(),
              {"--snap1", std::to_string(snap1), "--snap2", std::to_string(snap2), metadata_dev});
  return ParseThinDelta(RunCommand(argv).stdout_text);
}

void ThinRepair(const std::string& in, const std::string& out) {
  RunCommand({"thin_repair", "-i", in, "-o", out});
}

std::string ThinDump(const std::string& metadata_dev, bool use_metadata_snap) {
  std::vector<std::string> argv = {"thin_dump"};
  if (use_metadata_snap) argv.push_back("-m");
  argv.push_back(metadata_dev);
  return RunCommand(argv).stdout_text;
}

}  // namespace thinsnap::kernel
