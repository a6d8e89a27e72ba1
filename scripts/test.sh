#!/bin/sh
# Everything CI runs: the formatting check; the build with warnings as errors (the
# kernels compiled offline by clang) and every test on POCL; the
# installed package; the API reference and man page; the Python package; the exercise's planted bug (no sech² in the output delta) caught;
# the suite again under ASan + UBSan; the host path under valgrind; the fuzzers for
# FUZZ_SECONDS each (default 60).
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== formatting: .clang-format applied to every C file"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_WERROR=ON -DCLMLP_FAULT_INJECTION=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== the installed package: examples/ built with CMake and pkg-config against it"
bash scripts/check-install.sh build

echo "== the documentation: the API reference (Doxygen, a warning fails) and the man page (groff warnings)"
bash scripts/docs.sh

echo "== the Python package: pip install ./python into a fresh venv, then pytest"
bash scripts/test-python.sh

echo "== planted bug: the output delta without sech²(z[L]) must fail the gradient tests, on every path that trains, in both kernel families"
cmake -S . -B build-planted-bug -DCLMLP_WERROR=ON -DCLMLP_PLANT_MISSING_OUTPUT_SECH2=ON >/dev/null
cmake --build build-planted-bug -j"$jobs" --target test_exercise test_train_paths >/dev/null
planted() { # planted NAME COMMAND...: the command must fail
    name=$1
    shift
    if POCL_CACHE_DIR="$PWD/build/pocl-cache" "$@" >build-planted-bug/out.txt 2>&1; then
        cat build-planted-bug/out.txt
        echo "FAIL: the planted bug was not caught: $name"
        exit 1
    fi
    grep -E '^ERROR|FAILED  \]' build-planted-bug/out.txt | head -3 || true
    echo "OK: the planted bug was caught: $name"
}
for family in cpu gpu; do
    export CLMLP_KERNELS=$family
    planted "the exercise (finite differences, host and device; $family kernels)" ./build-planted-bug/tests/test_exercise
    for path in host batch per-sample; do
        TRAIN_PATH=$path planted "training on the $path path ($family kernels)" ./build-planted-bug/tests/test_train_paths
    done
done
unset CLMLP_KERNELS

echo "== the GPU kernels under Oclgrind (races, uninitialised reads, bounds)"
bash scripts/oclgrind.sh build

echo "== the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer"
bash scripts/sanitize.sh

echo "== the host path under valgrind memcheck"
bash scripts/valgrind.sh

echo "== fuzzing: IDX reader, model loader, program-cache entries"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
echo "== all checks passed"
