// The query commands: `ls`, `inspect`, `diff`, `export`, `df`; tables for people, --json for
// programs (cli/output.h has the JSON shapes).
#include <unistd.h>

#include <iostream>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/units.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace thinsnap::cli {
namespace {

// One JSON array, an element per item.
template <typename T, typename ToJson>
void PrintJsonArray(const std::vector<T>& items, ToJson to_json) {
  nlohmann::json arr = nlohmann::json::array();
  for (const T& item : items) arr.push_back(to_json(item));
  PrintJson(arr);
}

int List(Program* p) {
  std::vector<DeviceRecord> all = p->engine().List();
  if (p->json()) {
    PrintJsonArray(all, RecordToJson);
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "KIND", "ID", "PARENT", "SIZE", "FS", "STATE", "MOUNTPOINT", "KEY"}};
  for (const auto& r : all) {
    std::string parent = p->engine().NameOf(r.parent_id);
    std::string kind = r.kind == DeviceKind::kBase ? "base (internal)" : DeviceKindName(r.kind);
    // The containerd snapshot key of a device `thinsnap serve` made (services/containerd).
    auto key = r.labels.find("thinsnap.ctd.key");
    rows.push_back({r.name, kind, std::to_string(r.id), parent.empty() ? "-" : parent,
                    FormatSize(r.size_bytes), FsTypeName(r.fs), DeviceStateText(r),
                    r.mountpoint.empty() ? "-" : r.mountpoint,
                    key == r.labels.end() ? "-" : key->second});
  }
  PrintTable(rows);
  return 0;
}

int Diff(Program* p, const std::string& name) {
  std::vector<TreeChange> changes = p->engine().Diff(name);
  if (p->json()) {
    PrintJsonArray(changes, ChangeToJson);
    return 0;
  }
  for (const auto& c : changes) std::cout << ChangeLetter(c.kind) << " " << c.path << "\n";
  return 0;
}

int Df(Program* p) {
  std::vector<DfRow> rows = p->engine().Df();
  if (p->json()) {
    PrintJsonArray(rows, DfRowToJson);
    return 0;
  }
  std::vector<std::vector<std::string>> table = {
      {"NAME", "KIND", "ID", "SIZE", "MAPPED", "EXCLUSIVE", "SHARED"}};
  for (const auto& r : rows) {
    table.push_back({r.name, DeviceKindName(r.kind), std::to_string(r.id), FormatSize(r.size),
                     FormatSize(r.mapped), FormatSize(r.exclusive), FormatSize(r.shared)});
  }
  PrintTable(table);
  return 0;
}

}  // namespace

void AddQueryCommands(CLI::App* app, Program* p) {
  p->On(app->add_subcommand("ls", "list devices"), [p] { return List(p); });
  auto inspected = std::make_shared<std::string>();
  CLI::App* inspect = app->add_subcommand("inspect", "details of a device");
  inspect->add_option("NAME", *inspected)->required();
  p->On(inspect, [p, inspected] {
    DeviceView v = p->engine().Inspect(*inspected);
    p->json() ? PrintJson(ViewToJson(v)) : PrintDeviceView(v);
    return 0;
  });
  auto diffed = std::make_shared<std::string>();
  CLI::App* diff = app->add_subcommand("diff", "changes against the parent (like docker diff)");
  diff->add_option("NAME", *diffed)->required();
  p->On(diff, [p, diffed] { return Diff(p, *diffed); });
  auto exported = std::make_shared<std::string>();
  CLI::App* exp = app->add_subcommand("export", "the changes as a layer tar on stdout");
  exp->add_option("NAME", *exported)->required();
  p->On(exp, [p, exported] {
    if (isatty(STDOUT_FILENO)) {
      throw Error("refusing to write a tar to a terminal; redirect stdout", ErrorKind::kUsage);
    }
    p->engine().Export(*exported, STDOUT_FILENO);
    return 0;
  });
  p->On(app->add_subcommand("df", "space used per device"), [p] { return Df(p); });
}

}  // namespace thinsnap::cli
