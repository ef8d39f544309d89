// LoopDevice: a loop block device attached to a backing file, owned by this object.
//
// Attach() uses LOOP_CTL_GET_FREE + LOOP_CONFIGURE (one atomic ioctl), falling back to
// LOOP_SET_FD + LOOP_SET_STATUS64 on kernels without LOOP_CONFIGURE. With autoclear the kernel
// detaches the loop device when its last opener closes it: the object keeps it open, so it stays
// attached until both this object and every other user (a dm table) let go. That is how a pool
// built on loop files cleans up after itself: removing the pool's dm devices frees the loops.
//
// Ownership: move-only. The destructor detaches (backstop; Detach() reports errors) unless
// Release() was called, which closes this process's descriptor and leaves the device attached
// for the dm table that uses it (the pool outlives the CLI process).
//
// Thread-safety: none per object; attaching from several threads or processes is safe (the
// GET_FREE race is retried).
#ifndef THINSNAP_THINPOOL_KERNEL_LOOP_H_
#define THINSNAP_THINPOOL_KERNEL_LOOP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "base/fd.h"

namespace thinsnap::kernel {

struct LoopOptions {
  bool read_only = false;
  // Use LO_FLAGS_DIRECT_IO when the backing file accepts O_DIRECT (avoids double caching).
  bool direct_io_if_possible = true;
  bool autoclear = true;
};

class LoopDevice {
 public:
  LoopDevice() = default;
  LoopDevice(LoopDevice&& other) noexcept
      : path_(std::exchange(other.path_, {})),
        fd_(std::move(other.fd_)),
        direct_io_(other.direct_io_) {}
  LoopDevice& operator=(LoopDevice&& other) noexcept;
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;
  ~LoopDevice();

  // Attaches `backing_file` to a free loop device. Throws Error with the file and the loop
  // device on failure.
  static LoopDevice Attach(const std::string& backing_file, const LoopOptions& opts = {});

  // "/dev/loopN"; empty for a default-constructed or released object.
  const std::string& path() const { return path_; }
  bool direct_io() const { return direct_io_; }

  // Closes this process's reference and leaves the device attached. Returns the path.
  // REQUIRES: someone else holds the device open when autoclear was set, or it goes away.
  std::string Release();
  // Detaches now (LOOP_CLR_FD). With autoclear and other openers the kernel detaches when the
  // last one closes. Throws Error on failure.
  void Detach();

 private:
  LoopDevice(std::string path, UniqueFd fd, bool direct_io)
      : path_(std::move(path)), fd_(std::move(fd)), direct_io_(direct_io) {}

  std::string path_;
  UniqueFd fd_;
  bool direct_io_ = false;
};

// The loop device (e.g. "/dev/loop3") currently backed by `path` (same device and inode), if any.
std::optional<std::string> FindLoopForFile(const std::string& path);

// Detaches the loop device at `loop_path` (LOOP_CLR_FD); a device that is not attached is fine.
// With other openers the kernel detaches it when the last one closes.
void DetachLoopDevice(const std::string& loop_path);

// Makes the loop device pick up its backing file's new size (LOOP_SET_CAPACITY).
void RefreshCapacity(const std::string& loop_path);

// The backing file of a loop device as the kernel reports it, std::nullopt when not attached.
std::optional<std::string> LoopBackingFile(const std::string& loop_path);

}  // namespace thinsnap::kernel

#endif  // THINSNAP_THINPOOL_KERNEL_LOOP_H_
