#include "services/docker/graph_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <thread>

#include "base/error.h"
#include "base/units.h"
#include "services/docker/names.h"

namespace thinsnap::docker {
namespace {

using nlohmann::json;

std::string RequireId(const std::string& id) {
  if (id.empty()) throw Error("docker plugin: the request names no layer id", ErrorKind::kUsage);
  return id;
}

// Docker's Go client sends absent fields as null (Opts) or leaves them out (omitempty).
std::string StringField(const json& req, const char* key) {
  auto it = req.find(key);
  return it == req.end() || it->is_null() ? std::string() : it->get<std::string>();
}

std::string IdOf(const json& req) { return RequireId(StringField(req, "ID")); }
std::string ParentOf(const json& req) { return StringField(req, "Parent"); }

const DeviceRecord* Find(Engine& e, const std::string& name) {
  return e.store().catalog().FindByName(name);
}

const DeviceRecord& FindOrThrow(Engine& e, const std::string& id) {
  const DeviceRecord* rec = Find(e, DeviceNameFor(id));
  if (!rec || rec->state == DeviceState::kDeletePending) {
    throw Error("no layer or container '" + id + "' (device " + DeviceNameFor(id) + ")",
                ErrorKind::kNotFound);
  }
  return *rec;
}

std::string BaseName(Engine& e) {
  for (const DeviceRecord& r : e.List()) {
    if (r.kind == DeviceKind::kBase) return r.name;
  }
  throw Error("the pool has no base device; run thinsnap pool check");
}

// Diffs are always against the device's own parent; Docker names the same one.
void CheckParent(Engine& e, const DeviceRecord& rec, const std::string& id,
                 const std::string& parent) {
  const DeviceRecord* actual = e.store().catalog().FindById(rec.parent_id);
  bool same = actual && (parent.empty() ? actual->kind == DeviceKind::kBase
                                        : actual->name == DeviceNameFor(parent));
  if (!same) {
    throw Error("'" + id + "' was made from '" + (actual ? actual->name : "nothing") +
                    "', not from '" + (parent.empty() ? "the base" : parent) +
                    "'; changes against another layer are not supported",
                ErrorKind::kUsage);
  }
}

// False once the reader has gone (the import finished or failed): the rest is drained.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

GraphDriver::GraphDriver(EngineHost* host) : host_(host) {}

const std::map<std::string, GraphDriver::Handler>& GraphDriver::Handlers() {
  static const std::map<std::string, Handler> handlers = {
      {"Plugin.Activate", &GraphDriver::Activate},
      {"GraphDriver.Init", &GraphDriver::Init},
      {"GraphDriver.Capabilities", &GraphDriver::Capabilities},
      {"GraphDriver.Create", &GraphDriver::Create},
      {"GraphDriver.CreateReadWrite", &GraphDriver::CreateReadWrite},
      {"GraphDriver.Remove", &GraphDriver::Remove},
      {"GraphDriver.Get", &GraphDriver::Get},
      {"GraphDriver.Put", &GraphDriver::Put},
      {"GraphDriver.Exists", &GraphDriver::Exists},
      {"GraphDriver.Status", &GraphDriver::Status},
      {"GraphDriver.GetMetadata", &GraphDriver::GetMetadata},
      {"GraphDriver.Cleanup", &GraphDriver::Cleanup},
      {"GraphDriver.Changes", &GraphDriver::Changes},
      {"GraphDriver.DiffSize", &GraphDriver::DiffSize},
  };
  return handlers;
}

Reply GraphDriver::Call(const std::string& method, const json& request) {
  auto it = Handlers().find(method);
  if (it == Handlers().end()) {
    return {404, {{"Err", "thinsnap docker plugin: unknown method '" + method + "'"}}};
  }
  try {
    return {200, (this->*(it->second))(request)};
  } catch (const std::exception& e) {
    return ErrorReply(e);
  }
}

Reply GraphDriver::ErrorReply(const std::exception& e) {
  if (dynamic_cast<const json::exception*>(&e)) {
    return {500, {{"Err", std::string("bad request: ") + e.what()}}};
  }
  return {500, {{"Err", e.what()}}};
}

json GraphDriver::Activate(const json&) { return {{"Implements", {"GraphDriver"}}}; }

json GraphDriver::Init(const json& req) {
  std::optional<uint64_t> size;
  auto opts = req.find("Opts");
  std::vector<std::string> given;
  if (opts != req.end() && !opts->is_null()) given = opts->get<std::vector<std::string>>();
  for (const char* maps : {"UIDMaps", "GIDMaps"}) {
    auto it = req.find(maps);
    if (it != req.end() && !it->is_null() && !it->empty()) {
      throw Error("user namespace remapping (dockerd --userns-remap) is not supported by thinsnap",
                  ErrorKind::kUsage);
    }
  }
  for (const std::string& opt : given) {
    std::string key = opt.substr(0, opt.find('='));
    if (key != "size" || opt.find('=') == std::string::npos) {
      throw Error("unsupported storage option '" + opt + "' (thinsnap takes size=S)",
                  ErrorKind::kUsage);
    }
    size = ParseSize(opt.substr(opt.find('=') + 1), "storage option size");
  }
  host_->Run([&](Engine& e) {
    PoolReport r = e.Status();
    if (!r.active) {
      throw Error("the pool at " + host_->root() +
                  " is not active; run thinsnap pool create or thinsnap pool activate first");
    }
  });
  std::lock_guard<std::mutex> hold(mu_);
  default_size_ = size;
  return json::object();
}

json GraphDriver::Capabilities(const json&) {
  // Exports are made from the trees, not the tar that came in: Docker keeps its tar-split.
  return {{"Capabilities", {{"ReproducesExactDiffs", false}}}};
}

std::optional<uint64_t> GraphDriver::SizeOption(const json& req) const {
  std::optional<uint64_t> size;
  auto opts = req.find("StorageOpt");
  if (opts != req.end() && !opts->is_null()) {
    for (const auto& [key, value] : opts->get<std::map<std::string, std::string>>()) {
      if (key != "size") {
        throw Error("unsupported storage option '" + key + "' (thinsnap takes size=S)",
                    ErrorKind::kUsage);
      }
      size = ParseSize(value, "storage option size");
    }
  }
  return size;
}

std::string GraphDriver::PrepareParent(Engine& e, const std::string& parent) {
  if (parent.empty()) return "";
  const DeviceRecord& rec = FindOrThrow(e, parent);
  if (rec.kind == DeviceKind::kLayer && rec.state == DeviceState::kWritableLayer) {
    // Docker's init layer (or a layer made by Create) is final once something is made from it.
    std::string name = rec.name;
    UnmountIfMounted(e, name);
    e.SealLayer(name);
    return name;
  }
  return rec.name;
}

void GraphDriver::UnmountIfMounted(Engine& e, const std::string& name) {
  const DeviceRecord* rec = Find(e, name);
  // Deferred: a container's mount namespace may still hold the filesystem for a moment.
  if (rec && !rec->mountpoint.empty()) e.Unmount(name, /*defer_busy=*/true);
  std::lock_guard<std::mutex> hold(mu_);
  refs_.erase(name);
}

json GraphDriver::Create(const json& req) {
  std::string name = DeviceNameFor(IdOf(req));
  std::string parent = ParentOf(req);
  SizeOption(req);  // refuses options it does not know; a layer takes its parent's size
  host_->Run([&](Engine& e) { e.CreateLayer(name, PrepareParent(e, parent)); });
  return json::object();
}

json GraphDriver::CreateReadWrite(const json& req) {
  std::string id = IdOf(req);
  std::string name = DeviceNameFor(id);
  std::string parent = ParentOf(req);
  std::optional<uint64_t> size = SizeOption(req);
  if (!size) {
    std::lock_guard<std::mutex> hold(mu_);
    size = default_size_;
  }
  host_->Run([&](Engine& e) {
    std::string from = PrepareParent(e, parent);
    if (IsInitLayerId(id)) {
      e.CreateLayer(name, from);  // the container made from it has the size
    } else {
      e.CreateContainer(name, from.empty() ? BaseName(e) : from, size);
    }
  });
  return json::object();
}

json GraphDriver::Remove(const json& req) {
  std::string name = DeviceNameFor(IdOf(req));
  host_->Run([&](Engine& e) {
    const DeviceRecord* rec = Find(e, name);
    if (!rec || rec->state == DeviceState::kDeletePending) return;  // removed already
    UnmountIfMounted(e, name);
    e.Remove(name, /*force=*/false, /*discard=*/false);
  });
  return json::object();
}

json GraphDriver::Get(const json& req) {
  std::string id = IdOf(req);
  std::string dir;
  host_->Run([&](Engine& e) {
    const DeviceRecord& rec = FindOrThrow(e, id);
    std::lock_guard<std::mutex> hold(mu_);
    int& refs = refs_[rec.name];
    dir = (refs > 0 && !rec.mountpoint.empty()) ? rec.mountpoint : e.Mount(rec.name, "");
    ++refs;
  });
  return {{"Dir", dir}};
}

json GraphDriver::Put(const json& req) {
  std::string name = DeviceNameFor(IdOf(req));
  host_->Run([&](Engine& e) {
    {
      std::lock_guard<std::mutex> hold(mu_);
      auto it = refs_.find(name);
      if (it != refs_.end() && --it->second > 0) return;
    }
    UnmountIfMounted(e, name);  // also after a restart of the plugin, when no count is known
  });
  return json::object();
}

json GraphDriver::Exists(const json& req) {
  std::string name = DeviceNameFor(IdOf(req));
  bool exists = false;
  host_->Run([&](Engine& e) {
    const DeviceRecord* rec = Find(e, name);
    exists = rec && rec->state != DeviceState::kDeletePending;
  });
  return {{"Exists", exists}};
}

json GraphDriver::Status(const json&) {
  json pairs = json::array();
  auto add = [&](const std::string& key, const std::string& value) {
    pairs.push_back({key, value});
  };
  host_->Run([&](Engine& e) {
    PoolReport r = e.Status();
    const PoolSettings& s = r.settings;
    add("Pool Name", r.pool_name);
    add("Pool Blocksize", HumanSize(static_cast<double>(s.block_size)));
    add("Base Device Size", HumanSize(static_cast<double>(s.base_size)));
    add("Backing Filesystem", FsTypeName(s.fs));
    add("Udev Sync Supported", r.udev_sync ? "true" : "false");
    if (!s.data_path.empty()) add("Data file", s.data_path);
    if (!s.metadata_path.empty()) add("Metadata file", s.metadata_path);
    const kernel::PoolStatus& st = r.status;
    double data_used = static_cast<double>(st.data_used_blocks * s.block_size);
    double data_total = static_cast<double>(st.data_total_blocks * s.block_size);
    double meta_used = static_cast<double>(st.metadata_used_blocks * 4096);
    double meta_total = static_cast<double>(st.metadata_total_blocks * 4096);
    add("Data Space Used", HumanSize(data_used));
    add("Data Space Total", HumanSize(data_total));
    add("Data Space Available", HumanSize(data_total - data_used));
    add("Metadata Space Used", HumanSize(meta_used));
    add("Metadata Space Total", HumanSize(meta_total));
    add("Metadata Space Available", HumanSize(meta_total - meta_used));
    add("Thin Pool Minimum Free Space", HumanSize(data_total * s.min_free_percent / 100));
    add("Deferred Removal Enabled", s.deferred_removal ? "true" : "false");
    add("Deferred Deletion Enabled", "true");
    size_t pending = 0;
    for (const DeviceRecord& d : e.List()) pending += d.state == DeviceState::kDeletePending;
    add("Deferred Deleted Device Count", std::to_string(pending));
    add("Library Version", r.library_version);
    for (const std::string& w : r.warnings) add("Warning", w);
  });
  return {{"Status", pairs}};
}

json GraphDriver::GetMetadata(const json& req) {
  std::string id = IdOf(req);
  json meta;
  host_->Run([&](Engine& e) {
    DeviceView v = e.Inspect(FindOrThrow(e, id).name);
    meta = {{"DeviceId", std::to_string(v.record.id)},
            {"DeviceName", v.dm_name},
            {"DeviceSize", std::to_string(v.record.size_bytes)}};
  });
  return {{"Metadata", meta}};
}

json GraphDriver::Cleanup(const json&) {
  std::map<std::string, int> mounted = MountCounts();
  host_->Run([&](Engine& e) {
    for (const auto& [name, count] : mounted) UnmountIfMounted(e, name);
  });
  return json::object();
}

json GraphDriver::Changes(const json& req) {
  std::string id = IdOf(req);
  json changes = json::array();
  host_->Run([&](Engine& e) {
    const DeviceRecord& rec = FindOrThrow(e, id);
    CheckParent(e, rec, id, ParentOf(req));
    for (const TreeChange& c : e.Diff(rec.name)) {
      // Docker's archive.ChangeType: 0 modify, 1 add, 2 delete.
      int kind = c.kind == ChangeKind::kChanged ? 0 : c.kind == ChangeKind::kAdded ? 1 : 2;
      changes.push_back({{"Path", c.path}, {"Kind", kind}});
    }
  });
  return {{"Changes", changes}};
}

json GraphDriver::DiffSize(const json& req) {
  std::string id = IdOf(req);
  uint64_t size = 0;
  host_->Run([&](Engine& e) {
    const DeviceRecord& rec = FindOrThrow(e, id);
    CheckParent(e, rec, id, ParentOf(req));
    for (const DfRow& row : e.Df()) {
      if (row.name == rec.name) size = row.exclusive;
    }
  });
  return {{"Size", size}};
}

UniqueFd GraphDriver::Diff(const json& req) {
  std::string id = IdOf(req);
  std::string dir = host_->root() + "/tmp";
  ::mkdir(dir.c_str(), 0700);
  UniqueFd spool(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), dir);
  if (!spool.valid()) ThrowErrno("docker plugin: Diff " + id + ": a spool file in " + dir, errno);
  host_->Run([&](Engine& e) {
    const DeviceRecord& rec = FindOrThrow(e, id);
    CheckParent(e, rec, id, ParentOf(req));
    e.Export(rec.name, spool.get());
  });
  if (::lseek(spool.get(), 0, SEEK_SET) != 0) {
    ThrowErrno("docker plugin: Diff " + id + ": rewinding the spool file", errno);
  }
  return spool;
}

Reply GraphDriver::ApplyDiff(const std::string& id_arg, const std::string& parent,
                             const BodyReader& body) {
  try {
    std::string id = RequireId(id_arg);
    std::string name = DeviceNameFor(id);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      ThrowErrno("docker plugin: ApplyDiff " + id + ": pipe", errno);
    UniqueFd in(fds[0], "ApplyDiff pipe"), out(fds[1], "ApplyDiff pipe");
    std::exception_ptr failure;
    std::thread import([&, reader = std::move(in)]() mutable {
      try {
        host_->Run([&](Engine& e) {
          if (const DeviceRecord* rec = Find(e, name)) {
            if (rec->kind != DeviceKind::kLayer || rec->state != DeviceState::kWritableLayer) {
              throw Error("'" + id + "' is already a finished layer or a container",
                          ErrorKind::kExists);
            }
            UnmountIfMounted(e, name);  // made empty by Create: the import makes it again
            e.Remove(name, /*force=*/false, /*discard=*/false);
          }
          e.ImportLayer(name, PrepareParent(e, parent), reader.get());
        });
      } catch (...) {
        failure = std::current_exception();
      }
      reader = UniqueFd();  // the pump sees EPIPE and drains the rest
    });
    uint64_t total = 0;
    try {
      std::vector<char> buf(1 << 16);
      bool open = true;
      for (size_t n; (n = body(buf.data(), buf.size())) > 0;) {
        total += n;
        if (open) open = WriteAll(out.get(), buf.data(), n);
      }
    } catch (...) {
      out = UniqueFd();  // a cut body: the import sees a short tar and rolls back
      import.join();
      throw;
    }
    out = UniqueFd();
    import.join();
    if (failure) std::rethrow_exception(failure);
    return {200, {{"Size", total}}};
  } catch (const std::exception& e) {
    return ErrorReply(e);
  }
}

std::map<std::string, int> GraphDriver::MountCounts() {
  std::lock_guard<std::mutex> hold(mu_);
  return refs_;
}

std::string HumanSize(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t i = 0;
  while (bytes >= 1000 && i + 1 < std::size(kUnits)) {
    bytes /= 1000;
    ++i;
  }
  char out[32];
  std::snprintf(out, sizeof out, "%.4g%s", bytes, kUnits[i]);
  return out;
}

}  // namespace thinsnap::docker
