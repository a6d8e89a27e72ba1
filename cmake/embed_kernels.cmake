# Writes OUTPUT, a C file defining `const char clmlp_kernel_source[]` from the
# concatenated INPUTS (a ;-separated list of .cl files). Run with cmake -P.
set(bytes "")
foreach(input IN LISTS INPUTS)
  file(READ "${input}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  # OpenCL C compilers are not all UTF-8 clean: keep kernels ASCII.
  string(REGEX MATCH "0x[89a-f][0-9a-f]," non_ascii "${hex}")
  if(non_ascii)
    message(FATAL_ERROR "${input}: non-ASCII byte ${non_ascii} found; kernels must be ASCII")
  endif()
  string(APPEND bytes "${hex}")
endforeach()
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
  "/* Generated from the kernels/ folder by cmake/embed_kernels.cmake: do not edit. */\n"
  "const char clmlp_kernel_source[] = {\n${bytes}0x00};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
