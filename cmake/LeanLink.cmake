# Lean process start for the thinsnap CLI (option THINSNAP_LEAN_LINK, default ON).
#
# Every `thinsnap` command is one process, and its start is part of each operation's latency.
# Linked against the shared libraries as pkg-config gives them, the CLI loads 24 shared objects
# (libarchive alone brings nettle, acl, lzma, zstd, lz4, bz2, zlib, libxml2 and ICU; libcrypto has
# 21,000 relocations); under QEMU TCG that start costs more than the device-mapper work of a
# create (vm-tests/bench/peers.sh measures both). So the libraries that Debian ships as static
# archives are linked statically (libarchive, libcrypto, libblkid, liburing, nettle, lzma, bz2,
# zlib, libstdc++, libgcc) and only libdevmapper (with selinux/udev/pcre2), zstd, lz4 and acl
# stay shared. cli/archive_trim.cc keeps libarchive's xar writer (libxml2 + ICU) out of the link.
# Falls back to the shared libraries when a static archive is missing.
option(THINSNAP_LEAN_LINK "Link the CLI's libraries statically where Debian ships archives" ON)

# Included from the top-level CMakeLists.txt after the pkg-config checks, so that the imported
# targets it adjusts are the ones every directory sees; sets THINSNAP_LEAN_LINK_ACTIVE for
# cli/CMakeLists.txt, which links libstdc++ and libgcc statically into the CLI.
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
set(THINSNAP_LEAN_LINK_ACTIVE OFF)

function(thinsnap_lean_link)
  if(NOT THINSNAP_LEAN_LINK OR THINSNAP_SANITIZE)
    return()
  endif()
  set(static_names archive nettle lzma bz2 z crypto blkid uring)
  foreach(n ${static_names})
    find_library(THINSNAP_STATIC_${n} NAMES lib${n}.a)
    if(NOT THINSNAP_STATIC_${n})
      message(STATUS "lean link: lib${n}.a not found; the CLI links shared libraries")
      return()
    endif()
  endforeach()
  # libarchive's shared dependencies that Debian ships without static archives or dev links.
  foreach(n zstd lz4 acl)
    find_library(THINSNAP_SHARED_${n} NAMES ${n} lib${n}.so.1)
    if(NOT THINSNAP_SHARED_${n})
      message(STATUS "lean link: lib${n} not found; the CLI links shared libraries")
      return()
    endif()
  endforeach()
  add_library(thinsnap_archive_trim OBJECT ${PROJECT_SOURCE_DIR}/cli/archive_trim.cc)
  set_property(TARGET PkgConfig::LIBARCHIVE PROPERTY INTERFACE_LINK_LIBRARIES
    $<TARGET_OBJECTS:thinsnap_archive_trim> ${THINSNAP_STATIC_archive} ${THINSNAP_STATIC_nettle}
    ${THINSNAP_STATIC_lzma} ${THINSNAP_STATIC_bz2} ${THINSNAP_STATIC_z} ${THINSNAP_SHARED_zstd}
    ${THINSNAP_SHARED_lz4} ${THINSNAP_SHARED_acl})
  set_property(TARGET PkgConfig::CRYPTO PROPERTY INTERFACE_LINK_LIBRARIES
    ${THINSNAP_STATIC_crypto} ${CMAKE_DL_LIBS})
  set_property(TARGET PkgConfig::BLKID PROPERTY INTERFACE_LINK_LIBRARIES ${THINSNAP_STATIC_blkid})
  set_property(TARGET PkgConfig::URING PROPERTY INTERFACE_LINK_LIBRARIES ${THINSNAP_STATIC_uring})
  set(THINSNAP_LEAN_LINK_ACTIVE ON PARENT_SCOPE)
  message(STATUS "lean link: static libarchive, libcrypto, libblkid, liburing, libstdc++")
endfunction()

thinsnap_lean_link()
