#include "tests/fakes/fake_loops.h"

#include "base/error.h"

namespace thinsnap::kernel {
namespace {

class FakeLoop : public LoopHandle {
 public:
  explicit FakeLoop(std::string path) : path_(std::move(path)) {}
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<LoopHandle> FakeLoops::AttachLoop(const std::string& file) {
  files_->Fault("AttachLoop", file);
  if (!files_->HasFile(file))
    throw Error("attach " + file + ": no such file", ErrorKind::kNotFound);
  // The same file gets the same loop device back after a reboot, as the pool metadata that the
  // fake keeps per device path must be found again.
  auto it = loop_names_.emplace(file, "/dev/loop" + std::to_string(loop_names_.size())).first;
  std::string path = it->second;
  loops_[path] = file;
  files_->AddFileDevice(path, file);
  dm_->SetDeviceSize(path, files_->FileSize(file));
  return std::make_unique<FakeLoop>(path);
}

std::optional<std::string> FakeLoops::FindLoop(const std::string& file) {
  for (auto& [loop, backing] : loops_) {
    if (backing == file) return loop;
  }
  return std::nullopt;
}

void FakeLoops::RefreshLoopCapacity(const std::string& loop) {
  dm_->SetDeviceSize(loop, files_->FileSize(loops_.at(loop)));
}

void FakeLoops::Reboot() {
  for (const auto& [loop, file] : loops_) files_->RemoveFileDevice(loop);
  loops_.clear();
}

}  // namespace thinsnap::kernel
