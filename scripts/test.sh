#!/bin/sh
# Builds clmlp with warnings as errors, runs every test on POCL, then shows that the
# tests catch the exercise's planted bug (no sech² in the output delta).
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== the installed package: examples/ built with CMake and pkg-config against it"
bash scripts/check-install.sh build

echo "== planted bug: the output delta without sech²(z[L]) must fail the gradient tests"
cmake -S . -B build-planted-bug -DCLMLP_WERROR=ON -DCLMLP_PLANT_MISSING_OUTPUT_SECH2=ON >/dev/null
cmake --build build-planted-bug -j"$jobs" --target test_exercise >/dev/null
if POCL_CACHE_DIR="$PWD/build/pocl-cache" ./build-planted-bug/tests/test_exercise >build-planted-bug/out.txt 2>&1; then
    cat build-planted-bug/out.txt
    echo "FAIL: the tests did not catch the planted bug"
    exit 1
fi
grep -E '^ERROR|FAILED  \]' build-planted-bug/out.txt || true
echo "OK: the planted bug was caught"
