#include "thinpool/kernel/libdevmapper.h"

#include <libdevmapper.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

// libdevmapper's log levels (lib/log/log.h): the low 3 bits; higher bits are flags.
constexpr int kLogLevelMask = 7;
constexpr int kLogErr = 3;

// The buffer of the libdevmapper call in progress on this thread, if any.
thread_local std::string* t_log_sink = nullptr;

void CaptureLog(int level, const char* /*file*/, int /*line*/, int /*dm_errno_or_class*/,
                const char* format, ...) {
  if ((level & kLogLevelMask) > kLogErr) return;
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  if (t_log_sink == nullptr) {
    std::fprintf(stderr, "libdevmapper: %s\n", buf);
    return;
  }
  if (!t_log_sink->empty()) t_log_sink->append("; ");
  t_log_sink->append(buf);
}

// Points libdevmapper's log at `sink` for the lifetime of the scope.
class ScopedLogCapture {
 public:
  explicit ScopedLogCapture(std::string* sink) : previous_(std::exchange(t_log_sink, sink)) {}
  ~ScopedLogCapture() { t_log_sink = previous_; }
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

 private:
  std::string* previous_;
};

void InstallLogOnce() {
  static std::once_flag once;
  std::call_once(once, [] { dm_log_with_errno_init(CaptureLog); });
}

// Every libdevmapper call of the process, of every instance: libdevmapper keeps process-wide
// state (the stacked /dev/mapper node operations applied after a create, resume or remove, the
// udev cookie semaphores), so two threads may not be inside it at once. Recursive: Create
// removes a half-made device through Remove. Not taken by WaitEvent, which blocks in the kernel
// until the pool's next event and touches no node state.
std::recursive_mutex& CallLock() {
  static std::recursive_mutex mu;
  return mu;
}

bool DecideUdevSync() {
  bool udev_running = ::access("/run/udev/control", F_OK) == 0;
  bool disabled = std::getenv("DM_DISABLE_UDEV") != nullptr;
  if (udev_running && !disabled && dm_udev_get_sync_support()) return true;
  dm_udev_set_sync_support(0);
  return false;
}

// One dm ioctl: the dm_task, the udev cookie that goes with it, and what libdevmapper said.
// Move-only; the destructor waits for udev on a cookie still outstanding and destroys the task.
class DmTask {
 public:
  // `op` and `name` (and `detail`, e.g. the message text) name the call in errors.
  DmTask(int type, std::string op, std::string name, std::string detail = {})
      : op_(std::move(op)), name_(std::move(name)), detail_(std::move(detail)) {
    ScopedLogCapture capture(&log_);
    task_ = dm_task_create(type);
    if (task_ == nullptr) Throw("dm_task_create");
    if (!name_.empty() && !dm_task_set_name(task_, name_.c_str())) Throw("set name");
  }
  DmTask(DmTask&& other) noexcept
      : task_(std::exchange(other.task_, nullptr)),
        cookie_(other.cookie_),
        cookie_set_(std::exchange(other.cookie_set_, false)),
        op_(std::move(other.op_)),
        name_(std::move(other.name_)),
        detail_(std::move(other.detail_)),
        log_(std::move(other.log_)),
        errno_(other.errno_) {}
  DmTask& operator=(DmTask&&) = delete;
  DmTask(const DmTask&) = delete;
  DmTask& operator=(const DmTask&) = delete;
  ~DmTask() {
    WaitUdev();
    if (task_ != nullptr) dm_task_destroy(task_);
  }

  dm_task* get() { return task_; }

  // Applies a dm_task_* setter; throws naming `what` when libdevmapper refuses.
  template <typename F>
  DmTask& Set(const char* what, F&& setter) {
    ScopedLogCapture capture(&log_);
    if (!setter(task_)) Throw(what);
    return *this;
  }

  void AddTable(const Table& table) {
    for (const TableLine& line : table) {
      Set("add target", [&](dm_task* t) {
        return dm_task_add_target(t, line.start, line.length, line.target.c_str(),
                                  line.params.c_str());
      });
    }
  }

  // With udev sync: attach a cookie so that Run() can be followed by a wait for udev.
  void UseCookie(bool udev_sync) {
    if (!udev_sync) return;
    Set("set udev cookie", [&](dm_task* t) { return dm_task_set_cookie(t, &cookie_, 0); });
    cookie_set_ = true;
  }

  // Runs the ioctl; false on failure, with errno() and log() describing it.
  bool TryRun() {
    ScopedLogCapture capture(&log_);
    bool ok = dm_task_run(task_) != 0;
    errno_ = ok ? 0 : dm_task_get_errno(task_);
    return ok;
  }
  void Run() {
    if (!TryRun()) Throw(nullptr);
  }

  // Waits for udev to finish the node work of this task (udev mode) or lets libdevmapper
  // create/remove nodes itself (no udev). Never throws.
  void WaitUdev() {
    ScopedLogCapture capture(&log_);
    if (cookie_set_) {
      cookie_set_ = false;
      dm_udev_wait(cookie_);
    } else {
      dm_task_update_nodes();
    }
  }

  int error_number() const { return errno_; }

  Error MakeError(const char* step) const {
    std::string msg = "dm " + op_ + " " + name_;
    if (!detail_.empty()) msg += " \"" + detail_ + "\"";
    if (step != nullptr) msg += std::string(" (") + step + ")";
    msg += ": ";
    msg += errno_ != 0
               ? std::string(std::strerror(errno_)) + " (errno " + std::to_string(errno_) + ")"
               : std::string("failed");
    msg += log_.empty() ? ": libdevmapper logged no reason" : ": " + log_;
    return Error(msg, errno_ != 0 ? KindForErrno(errno_) : ErrorKind::kFailure, errno_);
  }
  [[noreturn]] void Throw(const char* step) const { throw MakeError(step); }

 private:
  dm_task* task_ = nullptr;
  uint32_t cookie_ = 0;
  bool cookie_set_ = false;
  std::string op_;
  std::string name_;
  std::string detail_;
  std::string log_;
  int errno_ = 0;
};

struct dm_info GetInfo(DmTask& task) {
  struct dm_info info;
  std::memset(&info, 0, sizeof info);
  task.Set("get info", [&](dm_task* t) { return dm_task_get_info(t, &info); });
  return info;
}

// STATUS and INFO on an absent device succeed in libdevmapper with exists=0; make it an error.
void RequireExists(DmTask& task, const std::string& op, const std::string& name) {
  if (GetInfo(task).exists) return;
  ThrowErrno("dm " + op + " " + name, ENXIO);
}

Table ReadTargets(DmTask& task) {
  Table table;
  void* next = nullptr;
  do {
    uint64_t start = 0, length = 0;
    char* type = nullptr;
    char* params = nullptr;
    next = dm_get_next_target(task.get(), next, &start, &length, &type, &params);
    if (type == nullptr) break;
    table.push_back(TableLine{start, length, type, params != nullptr ? params : ""});
  } while (next != nullptr);
  return table;
}

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Version ParseVersion(const std::string& text) {
  Version v;
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%u.%u.%u%c", &v.major, &v.minor, &v.patch, &tail);
  if (n < 3) throw Error("malformed version \"" + text + "\"", ErrorKind::kCorrupt);
  return v;
}

LibDevmapper::LibDevmapper() {
  InstallLogOnce();
  udev_sync_ = DecideUdevSync();
}

LibDevmapper::~LibDevmapper() {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  std::string ignored;
  ScopedLogCapture capture(&ignored);
  dm_lib_release();
}

std::string LibDevmapper::ReportUdevMode() const {
  return udev_sync_ ? "udev sync" : "no udev: nodes by libdevmapper";
}

void LibDevmapper::Create(const std::string& name, const Table& table, const CreateOptions& opts) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask create(DM_DEVICE_CREATE, "create", name);
  if (!opts.uuid.empty()) {
    create.Set("set uuid", [&](dm_task* t) { return dm_task_set_uuid(t, opts.uuid.c_str()); });
  }
  create.Run();
  try {
    DmTask load(DM_DEVICE_RELOAD, "create: load table of", name);
    load.AddTable(table);
    if (opts.read_only) load.Set("set read-only", dm_task_set_ro);
    load.Run();
    DmTask resume(DM_DEVICE_RESUME, "create: resume", name);
    resume.UseCookie(udev_sync_);
    resume.Run();
  } catch (const Error& e) {
    // Take the half-made device away again; a failure there is added to the original error.
    try {
      Remove(name, RemoveOptions{.busy_retry_ms = 500, .deferred = false});
    } catch (const Error& undo) {
      throw Error(std::string(e.what()) +
                      " (removing the half-made device failed too: " + undo.what() + ")",
                  e.kind(), e.error_number());
    }
    throw;
  }
}

void LibDevmapper::Reload(const std::string& name, const Table& table) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask load(DM_DEVICE_RELOAD, "reload", name);
  load.AddTable(table);
  load.Run();
}

void LibDevmapper::Suspend(const std::string& name, bool flush) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_SUSPEND, flush ? "suspend" : "suspend --noflush", name);
  if (!flush) task.Set("set noflush", dm_task_no_flush);
  task.Run();
}

void LibDevmapper::Resume(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_RESUME, "resume", name);
  task.UseCookie(udev_sync_);
  task.Run();
}

RemoveResult LibDevmapper::Remove(const std::string& name, const RemoveOptions& opts) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  int64_t deadline = NowMs() + opts.busy_retry_ms;
  for (;;) {
    DmTask task(DM_DEVICE_REMOVE, "remove", name);
    task.UseCookie(udev_sync_);
    if (task.TryRun()) return RemoveResult::kRemoved;
    if (task.error_number() == ENXIO) {
      RemoveStaleNode(name);
      return RemoveResult::kAbsent;
    }
    if (task.error_number() != EBUSY) task.Throw(nullptr);
    if (NowMs() >= deadline) {
      if (!opts.deferred) task.Throw(nullptr);
      break;
    }
    SleepMs(50);
  }
  DmTask task(DM_DEVICE_REMOVE, "remove --deferred", name);
  task.Set("set deferred remove", dm_task_deferred_remove);
  task.UseCookie(udev_sync_);
  if (task.TryRun()) {
    // The kernel removes a device that is no longer open at once, even when asked to defer.
    return Info(name) ? RemoveResult::kDeferred : RemoveResult::kRemoved;
  }
  if (task.error_number() == ENXIO) return RemoveResult::kAbsent;
  task.Throw(nullptr);
}

std::string LibDevmapper::Message(const std::string& name, const std::string& message) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_TARGET_MSG, "message", name, message);
  task.Set("set sector", [](dm_task* t) { return dm_task_set_sector(t, 0); });
  task.Set("set message", [&](dm_task* t) { return dm_task_set_message(t, message.c_str()); });
  task.Run();
  const char* response = dm_task_get_message_response(task.get());
  return response != nullptr ? response : "";
}

std::string LibDevmapper::Status(const std::string& name, bool no_flush) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_STATUS, "status", name);
  if (no_flush) task.Set("set noflush", dm_task_no_flush);
  task.Run();
  RequireExists(task, "status", name);
  Table targets = ReadTargets(task);
  if (targets.empty()) {
    throw Error("dm status " + name + ": the device has no live table", ErrorKind::kFailure);
  }
  return targets.front().params;
}

Table LibDevmapper::GetTable(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_TABLE, "table", name);
  task.Run();
  RequireExists(task, "table", name);
  return ReadTargets(task);
}

std::optional<DeviceInfo> LibDevmapper::Info(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_INFO, "info", name);
  task.Run();
  struct dm_info info = GetInfo(task);
  if (!info.exists) {
    RemoveStaleNode(name);
    return std::nullopt;
  }
  const char* uuid = dm_task_get_uuid(task.get());
  return DeviceInfo{.suspended = info.suspended != 0,
                    .read_only = info.read_only != 0,
                    .live_table = info.live_table != 0,
                    .inactive_table = info.inactive_table != 0,
                    .deferred_remove = info.deferred_remove != 0,
                    .open_count = info.open_count,
                    .event_nr = info.event_nr,
                    .major = info.major,
                    .minor = info.minor,
                    .target_count = info.target_count,
                    .uuid = uuid != nullptr ? uuid : ""};
}

std::vector<ListedDevice> LibDevmapper::List() {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_LIST, "list", "");
  task.Run();
  std::vector<ListedDevice> out;
  struct dm_names* names = dm_task_get_names(task.get());
  if (names == nullptr || names->dev == 0) return out;
  for (;;) {
    out.push_back(ListedDevice{names->name, major(names->dev), minor(names->dev)});
    if (names->next == 0) break;
    names = reinterpret_cast<struct dm_names*>(reinterpret_cast<char*>(names) + names->next);
  }
  return out;
}

std::optional<Version> LibDevmapper::TargetVersion(const std::string& target) {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_LIST_VERSIONS, "list target versions", "");
  task.Run();
  struct dm_versions* v = dm_task_get_versions(task.get());
  while (v != nullptr) {
    if (target == v->name) return Version{v->version[0], v->version[1], v->version[2]};
    if (v->next == 0) break;
    v = reinterpret_cast<struct dm_versions*>(reinterpret_cast<char*>(v) + v->next);
  }
  return std::nullopt;
}

Version LibDevmapper::DriverVersion() {
  std::lock_guard<std::recursive_mutex> lock(CallLock());
  DmTask task(DM_DEVICE_VERSION, "version", "");
  task.Run();
  char buf[64] = {};
  task.Set("get driver version",
           [&](dm_task* t) { return dm_task_get_driver_version(t, buf, sizeof buf); });
  return ParseVersion(buf);
}

std::string LibDevmapper::LibraryVersion() {
  char buf[64] = {};
  if (!dm_get_library_version(buf, sizeof buf)) {
    throw Error("dm_get_library_version failed");
  }
  return buf;
}

uint32_t LibDevmapper::WaitEvent(const std::string& name, uint32_t event_nr) {
  DmTask task(DM_DEVICE_WAITEVENT, "wait event", name, std::to_string(event_nr));
  task.Set("set event nr", [&](dm_task* t) { return dm_task_set_event_nr(t, event_nr); });
  task.Run();
  return GetInfo(task).event_nr;
}

void LibDevmapper::RemoveStaleNode(const std::string& name) {
  // Without udev nobody removes the node of a device that went away by a deferred remove.
  if (udev_sync_ || ::access(DevicePath(name).c_str(), F_OK) != 0) return;
  DmTask task(DM_DEVICE_MKNODES, "mknodes", name);
  task.Run();
}

std::string LibDevmapper::DevicePath(const std::string& name) {
  return std::string(dm_dir()) + "/" + name;
}

}  // namespace thinsnap::kernel
