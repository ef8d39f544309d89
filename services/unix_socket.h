// The unix socket path of a service (containerd's snapshotter, Docker's plugin): made ready
// before the server binds it, and locked down after.
#ifndef THINSNAP_SERVICES_UNIX_SOCKET_H_
#define THINSNAP_SERVICES_UNIX_SOCKET_H_

#include <string>

namespace thinsnap {

// Makes `path` free to bind: creates its directory (0755) when missing; a stale socket (nobody
// accepts on it) is removed; a live socket (another server answers) and any other kind of file
// are refused with Error(kExists) naming it. Throws kUsage for a path longer than sun_path.
void PrepareSocketPath(const std::string& path);

// Restricts a bound socket to root: owner root:root, mode 0660 (connect(2) needs write access).
void RestrictSocket(const std::string& path);

}  // namespace thinsnap

#endif  // THINSNAP_SERVICES_UNIX_SOCKET_H_
