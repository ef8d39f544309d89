# cmake -DIN=containerd.proto -DOUT=copy.proto -P cmake/StripGogo.cmake
#
# Copies one of containerd's .proto files without its gogoproto import and options. protoc 3.21
# aborts on `import weak "gogoproto/gogo.proto"` (not installed, and weak imports must resolve);
# the gogoproto options only steer Go code generation (custom names, non-nullable fields, stdtime)
# and do not change the wire format, so the C++ code generated from the copy speaks the same
# protocol. The copy lives in the build tree only: containerd's files are never committed here.
file(READ "${IN}" text)
string(REGEX REPLACE "import weak \"gogoproto/gogo.proto\";[^\n]*\n" "" text "${text}")
# Whole-line options: `option (gogoproto.goproto_enum_prefix) = false;`
string(REGEX REPLACE "[ \t]*option \\(gogoproto\\.[^;]*;[^\n]*\n" "" text "${text}")
# Field and enum value options: ` [(gogoproto.nullable) = false, (gogoproto.stdtime) = true]`
string(REGEX REPLACE "[ \t]*\\[\\(gogoproto\\.[^]]*\\]" "" text "${text}")
if(text MATCHES "gogoproto")
  message(FATAL_ERROR "${IN}: a gogoproto use this script does not know how to strip")
endif()
file(WRITE "${OUT}" "${text}")
