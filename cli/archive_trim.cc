// Linked into the CLI by cmake/LeanLink.cmake, ahead of the static libarchive: thinsnap writes
// only pax tarballs, but libarchive's format-by-name table (pulled in by the pax writer) refers
// to the xar writer, which needs libxml2 and with it ICU. Defining the xar entry point here
// keeps those two shared libraries, and their start-up cost, out of every thinsnap process.
#include <archive.h>

extern "C" int archive_write_set_format_xar(struct archive* a) {
  archive_set_error(a, -1 /* ARCHIVE_ERRNO_MISC, private to libarchive */,
                    "xar format is not built into thinsnap");
  return ARCHIVE_FATAL;
}
