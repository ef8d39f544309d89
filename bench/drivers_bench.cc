#include "bench/drivers_bench.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <optional>

#include "base/error.h"
#include "base/strings.h"
#include "base/units.h"
#include "bench/drivers_host.h"
#include "bench/latency_histogram.h"
#include "thinpool/engine.h"
#include "thinpool/kernel/blockdev.h"
#include "thinpool/kernel/fs_tools.h"
#include "thinpool/kernel/loop.h"
#include "thinpool/kernel/mount.h"
#include "thinpool/kernel/process.h"

namespace thinsnap::bench {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr unsigned kDirs = 16;

double Mib(uint64_t bytes) { return static_cast<double>(bytes) / kMiB; }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The image's files, written the same way into every driver's layers.
class Image {
 public:
  explicit Image(const DriversBenchOptions& o) : o_(o) {}

  std::string SmallFile(unsigned i) const { return Printf("d%02u/f%05u", i % kDirs, i); }
  uint64_t SmallSize(unsigned i) const { return 1024 * (1 + (i * 7919u) % 16); }
  std::vector<std::string> BigFiles() const {
    std::vector<std::string> v;
    for (unsigned i = 0; i < o_.big_files; ++i) v.push_back(Printf("big%u.bin", i));
    return v;
  }
  uint64_t Bytes() const {
    uint64_t b = o_.copyup_file_size + o_.shared_file_size + (o_.big_files + 1) * o_.big_file_size;
    for (unsigned i = 0; i < o_.small_files; ++i) b += SmallSize(i);
    return b;
  }

  void WriteBase(const std::string& root) const {
    for (unsigned d = 0; d < kDirs; ++d) host::MakeDirs(Printf("%s/d%02u", root.c_str(), d));
    for (unsigned i = 0; i < o_.small_files; ++i) {
      host::WriteDataFile(root + "/" + SmallFile(i), SmallSize(i), i);
    }
    const std::vector<std::string> big = BigFiles();
    for (size_t i = 0; i < big.size(); ++i) {
      host::WriteDataFile(root + "/" + big[i], o_.big_file_size, 1000000 + i);
    }
    host::WriteDataFile(root + "/copyup.bin", o_.copyup_file_size, 2000000);
    host::WriteDataFile(root + "/shared.bin", o_.shared_file_size, 3000000);
  }
  // The second layer: every 10th small file rewritten, one more big file. Only the files it
  // changes, so an overlay lower dir can hold just these.
  void WriteTop(const std::string& root) const {
    for (unsigned d = 0; d < kDirs; ++d) host::MakeDirs(Printf("%s/d%02u", root.c_str(), d));
    for (unsigned i = 0; i < o_.small_files; i += 10) {
      host::WriteDataFile(root + "/" + SmallFile(i), SmallSize(i), 4000000 + i);
    }
    host::WriteDataFile(root + "/top.bin", o_.big_file_size, 5000000);
  }

 private:
  const DriversBenchOptions& o_;
};

// Where a driver lives: its device (formatted by the driver), the devices whose write counters
// count, and a scratch directory for its mount points.
struct Site {
  std::string device;
  std::vector<std::string> counted;
  std::string work;
};

// One storage driver. Containers are named by the caller; roots are directories ready to use.
class Driver {
 public:
  virtual ~Driver() = default;
  // Formats the device (thinsnap: creates the pool with its empty base filesystem).
  virtual void Prepare(const Image& image) = 0;
  virtual void BuildImage(const Image& image) = 0;
  virtual std::string Create(const std::string& name) = 0;
  virtual void Remove(const std::string& name) = 0;
  virtual void Commit(const std::string& container, const std::string& layer) = 0;
  virtual uint64_t SpaceUsed() = 0;  // after a sync
  virtual void Teardown() = 0;       // idempotent
  virtual std::string Describe() = 0;
};

void MountFs(const std::string& device, const std::string& dir, const std::string& fstype) {
  host::MakeDirs(dir);
  kernel::Mount(device, dir, fstype, "");
}

void UnmountIfMounted(const std::string& dir) {
  if (access(dir.c_str(), F_OK) == 0 && kernel::IsMountPoint(dir)) kernel::Unmount(dir);
}

uint64_t StatvfsUsed(const std::string& dir) {
  sync();
  const kernel::FilesystemUsage u = kernel::UsageOf(dir);
  return u.bytes - u.bytes_free;
}

// The engine's pool on the site: direct when a metadata device is given, else loopback files in
// an ext4 on the device.
class ThinsnapDriver : public Driver {
 public:
  ThinsnapDriver(const DriversBenchOptions& o, Site site, FsType fs, kernel::DeviceMapper* dm,
                 kernel::System* sys)
      : o_(o), site_(std::move(site)), fs_(fs), dm_(dm), sys_(sys) {}

  void Prepare(const Image& image) override {
    PoolCreateOptions p;
    p.block_size = o_.pool_block;
    p.fs = fs_;
    p.min_free_percent = 0;
    p.reserve = "0";
    // Room for the image, the containers' changes and the write test, rounded to MiB.
    p.base_size = (image.Bytes() + image.Bytes() / 4 + o_.write_size + o_.write_region +
                   o_.containers * o_.change_size + 512 * kMiB) /
                  kMiB * kMiB;
    std::string root;
    if (!o_.metadata_device.empty() && !o_.device.empty()) {
      p.mode = PoolMode::kDirect;
      p.data_device = site_.device;
      p.metadata_device = o_.metadata_device;
      p.force = true;
      root = site_.work + "/root";
    } else {
      kernel::MakeFilesystem(site_.device, FsType::kExt4);
      MountFs(site_.device, site_.work + "/fs", "ext4");
      p.mode = PoolMode::kLoopback;
      p.data_size = kernel::BlockDeviceSize(site_.device) / 10 * 8 / kMiB * kMiB;
      p.metadata_size = 128 * kMiB;
      root = site_.work + "/fs/root";
    }
    EngineOptions eo;
    eo.warning = o_.warning;
    engine_ = Engine::Open(root, dm_, sys_, eo);
    engine_->CreatePool(p);
    pool_made_ = true;
  }
  void BuildImage(const Image& image) override {
    Layer("base", "", [&](const std::string& dir) { image.WriteBase(dir); });
    Layer("top", "base", [&](const std::string& dir) { image.WriteTop(dir); });
  }
  std::string Create(const std::string& name) override {
    engine_->CreateContainer(name, "top", std::nullopt);
    names_.push_back(name);
    const std::string dir = site_.work + "/mnt/" + name;
    host::MakeDirs(dir);
    return engine_->Mount(name, dir);
  }
  void Remove(const std::string& name) override {
    engine_->Remove(name, /*force=*/true, /*discard=*/false);
    names_.erase(std::remove(names_.begin(), names_.end(), name), names_.end());
  }
  void Commit(const std::string& container, const std::string& layer) override {
    engine_->Unmount(container);  // as docker commit pauses the container
    engine_->Commit(container, layer);
    names_.push_back(layer);
  }
  uint64_t SpaceUsed() override {
    sync();
    const PoolReport r = engine_->Status();
    return r.status.data_used_blocks * r.settings.block_size + r.status.metadata_used_blocks * 4096;
  }
  void Teardown() override {
    if (engine_ && pool_made_) {
      for (auto it = names_.rbegin(); it != names_.rend(); ++it) {
        engine_->Remove(*it, /*force=*/true, /*discard=*/false);
      }
      names_.clear();
      engine_->DestroyPool(/*force=*/true);
      pool_made_ = false;
    }
    engine_.reset();
    UnmountIfMounted(site_.work + "/fs");
  }
  std::string Describe() override {
    const std::string where =
        o_.metadata_device.empty() || o_.device.empty()
            ? "loopback pool files in an ext4 on " + site_.device
            : "direct pool, data " + site_.device + ", metadata " + o_.metadata_device;
    return Printf("%s: %s, pool block %s, %s in each thin device, skip_block_zeroing",
                  fs_ == FsType::kExt4 ? "thinsnap-ext4" : "thinsnap-xfs", where.c_str(),
                  FormatSize(o_.pool_block).c_str(), FsTypeName(fs_));
  }

 private:
  template <typename Fill>
  void Layer(const std::string& name, const std::string& parent, Fill fill) {
    engine_->CreateLayer(name, parent);
    names_.push_back(name);
    const std::string dir = site_.work + "/mnt/" + name;
    host::MakeDirs(dir);
    engine_->Mount(name, dir);
    fill(dir);
    engine_->Unmount(name);
    engine_->SealLayer(name);
  }

  const DriversBenchOptions& o_;
  Site site_;
  FsType fs_;
  kernel::DeviceMapper* dm_;
  kernel::System* sys_;
  std::unique_ptr<Engine> engine_;
  bool pool_made_ = false;
  std::vector<std::string> names_;  // devices made, oldest first
};

// Shared by the drivers that keep everything in one filesystem on the device.
class FsDriver : public Driver {
 public:
  FsDriver(Site site, std::string fstype) : site_(std::move(site)), fstype_(std::move(fstype)) {}
  uint64_t SpaceUsed() override { return StatvfsUsed(fs()); }
  void Prepare(const Image&) override { Format(); }
  void Teardown() override {
    for (const std::string& m : mounts_) UnmountIfMounted(m);
    mounts_.clear();
    UnmountIfMounted(fs());
  }

 protected:
  std::string fs() const { return site_.work + "/fs"; }
  void Format() {
    if (fstype_ == "btrfs") {
      kernel::RunCommand({"mkfs.btrfs", "-q", "-f", site_.device});
    } else {
      kernel::MakeFilesystem(site_.device, FsType::kExt4);
    }
    MountFs(site_.device, fs(), fstype_);
  }
  Site site_;
  std::string fstype_;
  std::vector<std::string> mounts_;
};

class OverlayDriver : public FsDriver {
 public:
  explicit OverlayDriver(Site site) : FsDriver(std::move(site), "ext4") {}
  void BuildImage(const Image& image) override {
    host::MakeDirs(fs() + "/l/base");
    host::MakeDirs(fs() + "/l/top");
    image.WriteBase(fs() + "/l/base");
    image.WriteTop(fs() + "/l/top");
  }
  std::string Create(const std::string& name) override {
    const std::string c = fs() + "/c/" + name, dir = site_.work + "/mnt/" + name;
    host::MakeDirs(c + "/upper");
    host::MakeDirs(c + "/work");
    host::MakeDirs(dir);
    kernel::Mount("overlay", dir, "overlay",
                  "lowerdir=" + fs() + "/l/top:" + fs() + "/l/base,upperdir=" + c +
                      "/upper,workdir=" + c + "/work");
    mounts_.push_back(dir);
    return dir;
  }
  void Remove(const std::string& name) override {
    const std::string dir = site_.work + "/mnt/" + name;
    kernel::Unmount(dir);
    mounts_.erase(std::remove(mounts_.begin(), mounts_.end(), dir), mounts_.end());
    host::RemoveTree(fs() + "/c/" + name);
  }
  // docker commit on overlay: the container's upper dir becomes a new lower dir.
  void Commit(const std::string& container, const std::string& layer) override {
    host::CopyTree(fs() + "/c/" + container + "/upper", fs() + "/l/" + layer);
  }
  std::string Describe() override {
    return "overlay: lower and upper dirs in an ext4 on " + site_.device +
           ", two lower layers, copy-up on first write";
  }
};

class BtrfsDriver : public FsDriver {
 public:
  explicit BtrfsDriver(Site site) : FsDriver(std::move(site), "btrfs") {}
  void BuildImage(const Image& image) override {
    host::BtrfsCreateSubvolume(fs() + "/base");
    image.WriteBase(fs() + "/base");
    host::BtrfsSnapshot(fs() + "/base", fs() + "/top", /*read_only=*/false);
    image.WriteTop(fs() + "/top");
    host::SyncFs(fs());
  }
  std::string Create(const std::string& name) override {
    host::BtrfsSnapshot(fs() + "/top", fs() + "/" + name, /*read_only=*/false);
    return fs() + "/" + name;
  }
  void Remove(const std::string& name) override { host::BtrfsDeleteSubvolume(fs() + "/" + name); }
  void Commit(const std::string& container, const std::string& layer) override {
    host::BtrfsSnapshot(fs() + "/" + container, fs() + "/" + layer, /*read_only=*/true);
  }
  std::string Describe() override {
    return "btrfs: one btrfs on " + site_.device +
           " (mkfs.btrfs defaults), layers and containers are subvolume snapshots";
  }
};

class PlainDriver : public FsDriver {
 public:
  explicit PlainDriver(Site site) : FsDriver(std::move(site), "ext4") {}
  void BuildImage(const Image& image) override {
    host::MakeDirs(fs() + "/image");
    image.WriteBase(fs() + "/image");
    image.WriteTop(fs() + "/image");
  }
  std::string Create(const std::string& name) override {
    host::MakeDirs(fs() + "/c");
    host::CopyTree(fs() + "/image", fs() + "/c/" + name);
    return fs() + "/c/" + name;
  }
  void Remove(const std::string& name) override { host::RemoveTree(fs() + "/c/" + name); }
  void Commit(const std::string& container, const std::string& layer) override {
    host::MakeDirs(fs() + "/l");
    host::CopyTree(fs() + "/c/" + container, fs() + "/l/" + layer);
  }
  std::string Describe() override {
    return "plain: ext4 on " + site_.device + ", every container a full copy of the image";
  }
};

uint64_t BytesWritten(const Site& site) {
  uint64_t total = 0;
  for (const std::string& d : site.counted) total += host::DeviceBytesWritten(d);
  return total;
}

// Measures one driver on its site, in the order the header lists.
class Measurement {
 public:
  Measurement(const DriversBenchOptions& o, const std::string& name, Driver& driver,
              const Site& site, DriversReport& report)
      : o_(o), image_(o), name_(name), d_(driver), site_(site), r_(report) {}

  void Run() {
    Say("building the image (" + FormatSize(image_.Bytes()) + ")");
    d_.Prepare(image_);
    const uint64_t empty = d_.SpaceUsed();
    d_.BuildImage(image_);
    image_used_ = d_.SpaceUsed();
    Set("disk_image_mib", Mib(image_used_ > empty ? image_used_ - empty : 0));
    Creates();
    ReadsAndWrites();
    Containers();
  }

 private:
  void Say(const std::string& what) {
    if (o_.progress) o_.progress(name_ + ": " + what);
  }
  void Set(const std::string& metric, double v) { r_.Set(name_, metric, v); }

  void Creates() {
    Say(Printf("create: %u containers", o_.creates));
    LatencyHistogram h;
    for (unsigned i = 0; i < o_.creates; ++i) {
      const std::string c = Printf("k%u", i);
      const double t0 = host::NowSeconds();
      last_root_ = d_.Create(c);
      h.Record(static_cast<uint64_t>((host::NowSeconds() - t0) * 1e9));
      if (i + 1 < o_.creates) d_.Remove(c);
    }
    Set("create_p50_ms", static_cast<double>(h.Percentile(50)) / 1e6);
    Set("create_p95_ms", static_cast<double>(h.Percentile(95)) / 1e6);
  }

  void ReadsAndWrites() {
    const std::string c = Printf("k%u", o_.creates - 1);  // the last create's, still there
    const std::string root = last_root_;
    std::vector<std::string> big;
    for (const std::string& f : image_.BigFiles()) big.push_back(root + "/" + f);
    Say("read: sequential, cold");
    host::DropCaches();
    double t0 = host::NowSeconds();
    uint64_t bytes = 0;
    for (const std::string& f : big) bytes += host::ReadWholeFile(f);
    Set("read_seq_mib_s", Mib(bytes) / (host::NowSeconds() - t0));
    Say(Printf("read: %u random 4K reads, cold", o_.read_ios));
    host::DropCaches();
    t0 = host::NowSeconds();
    host::RandomReads(big, o_.read_ios, 42);
    Set("read_rand_iops", o_.read_ios / (host::NowSeconds() - t0));
    Say("write: sequential " + FormatSize(o_.write_size) + " + fsync");
    t0 = host::NowSeconds();
    host::WriteDataFile(root + "/seq.bin", o_.write_size, 6000000);
    Set("write_seq_mib_s", Mib(o_.write_size) / (host::NowSeconds() - t0));
    Say(Printf("write: %u random 4K writes, each fdatasync'd", o_.write_ios));
    host::WriteDataFile(root + "/rand.bin", o_.write_region, 7000000);
    t0 = host::NowSeconds();
    host::RandomSyncWrites(root + "/rand.bin", o_.write_ios, 43);
    Set("write_rand_iops", o_.write_ios / (host::NowSeconds() - t0));
    d_.Remove(c);
  }

  void Containers() {
    Say(Printf("memory: %u containers read the shared file", o_.containers));
    std::vector<std::string> roots;
    for (unsigned i = 0; i < o_.containers; ++i) roots.push_back(d_.Create(Printf("c%u", i)));
    host::DropCaches();
    const uint64_t cache0 = host::PageCacheBytes();
    for (const std::string& root : roots) host::ReadWholeFile(root + "/shared.bin");
    const uint64_t cache1 = host::PageCacheBytes();
    const uint64_t cached = cache1 > cache0 ? cache1 - cache0 : 0;
    Set("memory_cache_mib", Mib(cached));
    Set("memory_copies", static_cast<double>(cached) / static_cast<double>(o_.shared_file_size));

    Say("disk: every container changes a little, then one commit");
    for (unsigned i = 0; i < roots.size(); ++i) {
      host::WriteDataFile(roots[i] + "/change.bin", o_.change_size, 8000000 + i);
      for (unsigned f = 1; f <= 4 && f < o_.small_files; ++f) {
        host::WriteDataFile(roots[i] + "/" + image_.SmallFile(f), image_.SmallSize(f), 9000000 + f);
      }
    }
    const uint64_t changed = d_.SpaceUsed();
    // From the image alone: what the containers themselves cost (plain: their copies too).
    Set("disk_containers_mib", Mib(changed > image_used_ ? changed - image_used_ : 0));
    d_.Commit("c0", "committed");
    const uint64_t committed = d_.SpaceUsed();
    Set("disk_commit_mib", Mib(committed > changed ? committed - changed : 0));

    CopyUps(roots);
    for (unsigned i = 0; i < o_.containers; ++i) d_.Remove(Printf("c%u", i));
  }

  // In containers 1..copyup_reps, whose copy-up file is still the lower layer's.
  void CopyUps(const std::vector<std::string>& roots) {
    Say(Printf("copy-up: 1 byte into the %s lower file, %u times",
               FormatSize(o_.copyup_file_size).c_str(), o_.copyup_reps));
    std::vector<double> ms, kib;
    for (unsigned i = 1; i <= o_.copyup_reps; ++i) {
      sync();
      const uint64_t w0 = BytesWritten(site_);
      const double t0 = host::NowSeconds();
      host::WriteOneByte(roots[i] + "/copyup.bin");
      ms.push_back((host::NowSeconds() - t0) * 1e3);
      sync();
      kib.push_back(static_cast<double>(BytesWritten(site_) - w0) / 1024);
    }
    Set("copyup_ms", Median(ms));
    Set("copyup_written_kib", Median(kib));
  }

  const DriversBenchOptions& o_;
  Image image_;
  std::string name_;
  Driver& d_;
  const Site& site_;
  DriversReport& r_;
  uint64_t image_used_ = 0;
  std::string last_root_;
};

std::unique_ptr<Driver> MakeDriver(const std::string& name, const DriversBenchOptions& o,
                                   const Site& site, kernel::DeviceMapper* dm,
                                   kernel::System* sys) {
  if (name == "thinsnap-ext4")
    return std::make_unique<ThinsnapDriver>(o, site, FsType::kExt4, dm, sys);
  if (name == "thinsnap-xfs")
    return std::make_unique<ThinsnapDriver>(o, site, FsType::kXfs, dm, sys);
  if (name == "overlay") return std::make_unique<OverlayDriver>(site);
  if (name == "btrfs") return std::make_unique<BtrfsDriver>(site);
  if (name == "plain") return std::make_unique<PlainDriver>(site);
  throw Error("bench drivers: unknown driver '" + name + "'", ErrorKind::kUsage);
}

std::vector<std::string> Limits(const DriversBenchOptions& o) {
  std::vector<std::string> l;
  if (host::CpuModel().find("QEMU") != std::string::npos) {
    l.push_back(
        "QEMU vCPU (TCG emulation, no KVM): CPU work is ~15x slower than native, so CPU-bound "
        "figures (create, copy-up of big files) are inflated: compare ratios, not absolutes");
  }
  if (!o.device.empty() && host::DeviceModel(o.device).find("QEMU") != std::string::npos) {
    l.push_back(
        "emulated NVMe (QEMU): a file on the host stands behind it; device latency and "
        "bandwidth are QEMU's and the host's, not a real SSD's");
  }
  if (o.device.empty()) {
    l.push_back("loop devices over sparse files in " + o.dir +
                ": the filesystem below them is not measured");
  }
  l.push_back(
      "one run per figure (create: p50/p95 of the creates; copy-up: median of its reps); "
      "stability only from vm-tests/bench/drivers.sh (guest resets)");
  return l;
}

void RanOn(const DriversBenchOptions& o, DriversReport& r) {
  const std::string model = o.device.empty() ? "" : host::DeviceModel(o.device);
  r.ran_on.push_back("kernel " + host::KernelRelease() + ", CPU " + host::CpuModel());
  r.ran_on.push_back(
      "device " + (o.device.empty() ? o.dir + "/<driver>.img (loop, direct I/O)" : o.device) +
      (model.empty() ? "" : " (" + model + ")") + ", " +
      FormatSize(o.device.empty() ? o.device_size : kernel::BlockDeviceSize(o.device)) +
      (o.metadata_device.empty() ? "" : "; thinsnap metadata on " + o.metadata_device));
  r.ran_on.push_back(Printf(
      "image: %u small files (1-16 KiB), %u big files of %s, copy-up file %s, shared file %s, "
      "2nd layer rewrites every 10th small file; %u creates, %u containers, %u random reads, "
      "%u random writes, %s sequential write",
      o.small_files, o.big_files, FormatSize(o.big_file_size).c_str(),
      FormatSize(o.copyup_file_size).c_str(), FormatSize(o.shared_file_size).c_str(), o.creates,
      o.containers, o.read_ios, o.write_ios, FormatSize(o.write_size).c_str()));
}

// Runs one driver on a fresh site; the driver is torn down whatever happens.
void RunOne(const DriversBenchOptions& o, const std::string& name, kernel::DeviceMapper* dm,
            kernel::System* sys, DriversReport& report) {
  Site site;
  site.work = o.dir + "/" + name;
  host::MakeDirs(site.work);
  std::optional<kernel::LoopDevice> loop;
  if (o.device.empty()) {
    const std::string file = o.dir + "/" + name + ".img";
    unlink(file.c_str());
    kernel::CreateSparseFile(file, o.device_size);
    loop = kernel::LoopDevice::Attach(file);
    site.device = loop->path();
    unlink(file.c_str());  // the loop keeps it; nothing is left behind
  } else {
    site.device = o.device;
  }
  site.counted = {site.device};
  const bool direct = !o.device.empty() && !o.metadata_device.empty();
  if (direct && name.rfind("thinsnap", 0) == 0) site.counted.push_back(o.metadata_device);
  std::unique_ptr<Driver> driver = MakeDriver(name, o, site, dm, sys);
  try {
    Measurement(o, name, *driver, site, report).Run();
    report.ran_on.push_back(driver->Describe());
  } catch (const Error& e) {
    try {
      driver->Teardown();
    } catch (const std::exception& c) {
      throw Error(name + ": " + e.what() + "; cleaning up also failed: " + c.what(), e.kind());
    }
    throw Error(name + ": " + e.what(), e.kind(), e.error_number());
  }
  driver->Teardown();
  driver.reset();
  if (loop) loop->Detach();
}

}  // namespace

DriversBenchOptions DriversBenchOptions::Small() {
  DriversBenchOptions o;
  o.device_size = 2ull << 30;
  o.small_files = 200;
  o.big_files = 2;
  o.big_file_size = 8 << 20;
  o.copyup_file_size = 64 << 20;
  o.shared_file_size = 16 << 20;
  o.creates = 3;
  o.read_ios = 200;
  o.write_size = 16 << 20;
  o.write_ios = 40;
  o.write_region = 4 << 20;
  o.copyup_reps = 2;
  o.containers = 3;
  o.change_size = 1 << 20;
  return o;
}

void DriversBenchOptions::Validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error("bench drivers: " + what, ErrorKind::kUsage);
  };
  need(!drivers.empty(), "no driver to run");
  need(!dir.empty(), "--dir SCRATCH is needed (mount points and roots live there)");
  need(metadata_device.empty() || !device.empty(), "--metadata-device needs --device");
  need(creates >= 1 && creates <= 1000, "--creates must be in [1, 1000]");
  need(containers >= 2 && containers <= 64, "--containers must be in [2, 64]");
  need(copyup_reps >= 1 && copyup_reps < containers,
       "--copyup-reps must be at least 1 and below --containers");
  need(big_files >= 1 && big_files <= 64, "--big-files must be in [1, 64]");
  need(small_files >= 5, "--small-files must be at least 5");
  for (uint64_t s :
       {big_file_size, copyup_file_size, shared_file_size, write_size, write_region, change_size}) {
    need(s >= 4096 && s % 4096 == 0, "file sizes must be multiples of 4 KiB, at least 4 KiB");
  }
  need(pool_block >= (64 << 10) && pool_block % (64 << 10) == 0,
       "--pool-block must be a multiple of 64 KiB");
  need(read_ios >= 1 && write_ios >= 1, "--read-ios and --write-ios must be at least 1");
  // plain keeps `containers` + 2 copies of the image (the committed one and the image itself).
  const uint64_t image = Image(*this).Bytes();
  const uint64_t need_bytes = image * (containers + 2) + containers * change_size + write_size +
                              write_region + (1ull << 30);
  if (device.empty()) {
    need(device_size >= need_bytes, "--device-size " + FormatSize(device_size) +
                                        " is too small: the plain driver needs " +
                                        FormatSize(need_bytes) + " for these sizes");
  }
}

DriversReport RunDriversBench(const DriversBenchOptions& o, kernel::DeviceMapper* dm,
                              kernel::System* sys) {
  o.Validate();
  if (geteuid() != 0) throw Error("bench drivers: must run as root (mounts, drop_caches)");
  DriversReport report;
  report.drivers = o.drivers;
  host::MakeDirs(o.dir);
  RanOn(o, report);
  report.limits = Limits(o);
  for (const std::string& name : o.drivers) RunOne(o, name, dm, sys, report);
  return report;
}

}  // namespace thinsnap::bench
