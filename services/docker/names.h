// How Docker's ids become thinsnap device names, deterministically, so no mapping file is needed
// and a restarted plugin finds every device again.
//
// Docker names a layer by a 64-hex cache id and a container by a 64-hex mount id plus
// "<mount id>-init" for its init layer: 69 characters, over thinsnap's 64. An id that is already
// a valid thinsnap name is used as it is (`thinsnap ls` shows Docker's own ids). Any other id
// becomes its first 47 usable characters, '-', and the first 16 hex digits of the SHA-256 of the
// whole id (64 characters): the hash keeps two ids with the same prefix apart, and "-init" ids
// keep their container's id readable at the front.
#ifndef THINSNAP_SERVICES_DOCKER_NAMES_H_
#define THINSNAP_SERVICES_DOCKER_NAMES_H_

#include <string>

namespace thinsnap::docker {

// REQUIRES: id is not empty (callers refuse empty ids with a usage error first).
std::string DeviceNameFor(const std::string& id);

// Docker's "<mount id>-init" layer of a container.
bool IsInitLayerId(const std::string& id);

}  // namespace thinsnap::docker

#endif  // THINSNAP_SERVICES_DOCKER_NAMES_H_
