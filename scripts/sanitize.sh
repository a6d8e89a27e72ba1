#!/bin/sh
# The whole test suite built with AddressSanitizer + UndefinedBehaviorSanitizer (errors
# fatal), the OpenCL tests on POCL included. Leak reports from inside the ICD loader,
# POCL and its LLVM are suppressed by tests/lsan.supp, each entry named and explained
# there; anything else fails.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLMLP_WERROR=ON -DCLMLP_FAULT_INJECTION=ON -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_odr_violation=0"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The suite once, and of its GPU-family repeats (CLMLP_KERNELS=gpu) those that reach the
# GPU family's host code: the API and the training paths.
ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '_gpu$|mpi'
ctest --test-dir build-asan --output-on-failure -j"$jobs" -R '^(test_api|test_train_paths)_gpu$'

# Separate nets from separate threads: two concurrent trainings under ThreadSanitizer.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCLMLP_WERROR=ON -DCMAKE_C_FLAGS="-fsanitize=thread" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build build-tsan -j"$jobs" --target test_threads
TSAN_OPTIONS="halt_on_error=1" ./build-tsan/tests/test_threads

# One net from several threads: clmlp_predict from 4 threads at once (tests/test_predict_threads.c)
# on the host path and on the OpenCL device — the own products and CLBlast's — under clang's
# ThreadSanitizer, which sees the OpenCL backend's locking (an unlocked clSetKernelArg shows
# as a race in POCL's memcpy). host_math.inc leaves its function multiversioning out under
# TSan (its resolvers would run before the TSan runtime starts). With POCL 3.1 nothing needs
# suppressing; tests/tsan.supp, if present, is for frames inside libpocl or libOpenCL only,
# never clmlp's.
tsan_dir=build-tsan-clang
CC=clang cmake -S . -B "$tsan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_WERROR=ON \
    -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$tsan_dir" -j"$jobs" --target test_predict_threads
tsan_options="halt_on_error=1:second_deadlock_stack=1"
[ -f tests/tsan.supp ] && tsan_options="$tsan_options:suppressions=$PWD/tests/tsan.supp"
export POCL_CACHE_DIR="$PWD/$tsan_dir/pocl-cache" CLMLP_CACHE_DIR="$PWD/$tsan_dir/clmlp-cache" CLMLP_TEST_PREDICT_ITERATIONS=60
TSAN_OPTIONS="$tsan_options" "./$tsan_dir/tests/test_predict_threads" --backend host
TSAN_OPTIONS="$tsan_options" "./$tsan_dir/tests/test_predict_threads" --backend opencl
CLMLP_GEMM=clblast TSAN_OPTIONS="$tsan_options" "./$tsan_dir/tests/test_predict_threads" --backend opencl
