# Compiles the kernel source offline, as the library builds it at run time, so that an
# error in a .cl file fails the build. Run with cmake -P and
#   CLANG    the clang executable
#   INPUTS   the ;-separated .cl files, in the order the library embeds them
#   SOURCE   where to write their concatenation (what embed_kernels.cmake embeds)
#   STAMP    touched when every variant compiles
#   EXTRA    optional ;-separated options added to both variants
# The library's program options are "-cl-std=CL1.2" (f32) and "-cl-std=CL1.2 -D CLMLP_FP64"
# (f64), with "-D CLMLP_GPU" for the GPU family; the shapes are common.cl's defaults. The
# f32 variants are checked with cl_khr_fp64 off, as on a device without doubles.
set(text "")
foreach(input IN LISTS INPUTS)
  file(READ "${input}" content)
  # Diagnostics name the kernel file and line; the code itself is unchanged.
  if(text STREQUAL "" OR text MATCHES "\n$")
    string(APPEND text "#line 1 \"${input}\"\n")
  endif()
  string(APPEND text "${content}")
endforeach()
file(WRITE "${SOURCE}" "${text}")

set(f32_options -cl-std=CL1.2 -Xclang -cl-ext=-cl_khr_fp64)
set(f64_options -cl-std=CL1.2 -D CLMLP_FP64 -Xclang -cl-ext=+cl_khr_fp64)
set(cpu_options "")
set(gpu_options -D CLMLP_GPU)
foreach(family cpu gpu)
  foreach(variant f32 f64)
    execute_process(
      COMMAND "${CLANG}" -x cl -fsyntax-only -Xclang -finclude-default-header
              ${${variant}_options} ${${family}_options} ${EXTRA} "${SOURCE}"
      RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "OpenCL kernels (${family} family, ${variant}): ${CLANG} failed (see above) on ${SOURCE}")
    endif()
  endforeach()
endforeach()
file(TOUCH "${STAMP}")
