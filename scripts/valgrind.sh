#!/bin/sh
# The tests under valgrind memcheck on the host path: no errors, no leaks. Every net the
# tests create is a host net (CLMLP_TEST_HOST_ONLY) and the ICD loader sees no platform
# (an empty OCL_ICD_VENDORS), because POCL and LLVM are not memcheck-clean themselves.
set -eu
cd "$(dirname "$0")/.."
[ -d build ] || { echo "run scripts/test.sh first (it builds build/)"; exit 2; }
export CLMLP_TEST_HOST_ONLY=1
export CLMLP_TEST_SKIP='*opencl*' # test_model_file's OpenCL variants
export OCL_ICD_VENDORS="$PWD/build/no-icd-vendors"
mkdir -p "$OCL_ICD_VENDORS"
status=0
for t in test_api test_gradcheck test_autograd test_train test_exercise test_model_file test_idx test_fuzz_corpus test_report; do
    printf '%-18s ' "$t"
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        "./build/tests/$t" >"build/valgrind-$t.log" 2>&1; then
        echo "clean ($(grep -c '^\[       OK \]' "build/valgrind-$t.log") run, $(grep -c '^\[  SKIPPED \]' "build/valgrind-$t.log") skipped)"
    else
        echo "FAILED"
        grep -E "==[0-9]+==|FAILED|ERROR" "build/valgrind-$t.log" | head -30
        status=1
    fi
done
exit $status
