#!/bin/sh
# The GPU kernel family under Oclgrind, a simulator of an OpenCL device that reports data
# races, reads of uninitialised values, out-of-bounds accesses and divergent barriers
# (POCL runs a work-group's items one after another and can hide a missing barrier).
# Runs tests/test_gpu_oclgrind (every GPU-family operation once at small awkward sizes,
# checked against the host path) with Oclgrind as the only OpenCL platform, and fails if
# the test fails or Oclgrind reports anything.
#
#   bash scripts/oclgrind.sh [BUILD_DIR]    (default build; configured there if missing)
#
# CLMLP_TEST_OCLGRIND_QUICK=1 runs fewer shapes. Oclgrind 21.10 has no option to stop
# at the first error, so its reports are counted instead. The kernels are built with
# -cl-opt-disable: its uninitialised-value checker aborts on LLVM's `freeze`
# instruction, which the optimizer emits ("OCLGRIND FATAL ERROR ... Unsupported
# instruction: freeze").
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)
command -v oclgrind >/dev/null || { echo "oclgrind: not installed (bash scripts/setup-debian.sh)"; exit 2; }

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_WERROR=ON >/dev/null
fi
cmake --build "$build" -j"$jobs" --target test_gpu_oclgrind >/dev/null
exe="$build/tests/test_gpu_oclgrind"
out="$build/oclgrind-test.log"    # the test's output (stdout)
log="$build/oclgrind-stderr.log" # Oclgrind's reports and the test's errors (stderr)

rm -f "$log" "$out"
start=$(date +%s)
status=0
# (not --log: Oclgrind reopens that file, truncated, for every OpenCL context)
env -u CLMLP_TEST_HOST_ONLY CLMLP_CACHE_DIR=off \
    oclgrind --data-races --uniform-writes --uninitialized --check-api --build-options -cl-opt-disable \
    "$exe" >"$out" 2>"$log" || status=$?
elapsed=$(($(date +%s) - start))

# A report about a kernel names it on its second line ("\tKernel: gemm_nt"); an API
# error starts "Oclgrind - OpenCL runtime error detected". Any other line of Oclgrind's
# (a fatal error, "errors generated - suppressing further errors") fails the run too.
oclgrind_messages='Invalid (read|write)|data race|[Uu]ninitiali[sz]ed|[Dd]ivergen|barrier|OCLGRIND|Oclgrind|runtime error|Unsupported|Invalid memory|out of bounds|[Mm]isaligned|[Uu]naligned'
kernel_reports=$(grep -cE '^[[:space:]]+Kernel: ' "$log" || true)
api_reports=$(grep -c 'OpenCL runtime error detected' "$log" || true)
reports=$((kernel_reports + api_reports))
other=$(grep -E "$oclgrind_messages" "$log" "$out" | grep -vc 'Oclgrind Simulator' || true)
passed=$(grep -c '^\[       OK \]' "$out" || true)
failed=$(grep -c '^\[  FAILED  \] [a-z]' "$out" || true)
skipped=$(grep -c '^\[  SKIPPED \]' "$out" || true)
on_oclgrind=$(grep -c 'Oclgrind Simulator' "$out" || true)

echo "oclgrind: $reports report(s) ($kernel_reports on kernels, $api_reports on API calls); test exit status $status:" \
    "$passed passed, $failed failed, $skipped skipped ($on_oclgrind suites on Oclgrind); ${elapsed} s"
ok=1
if [ "$reports" -ne 0 ] || [ "$other" -ne 0 ]; then
    ok=0
    echo "oclgrind: reports by kind ($log):"
    # "line N of input.cl" is a line of the kernels concatenated in CMakeLists.txt's order
    offsets=$(sed -n '/^set(CLMLP_KERNELS/,/)/p' CMakeLists.txt | grep -o 'kernels/[A-Za-z0-9_]*\.cl' | {
        n=0
        while read -r f; do
            printf '%s:%s ' "$n" "$f"
            n=$((n + $(wc -l <"$f")))
        done
    })
    awk -v offsets="$offsets" '
        function where(line,    i, parts, n, best, f) {
            n = split(offsets, parts, " "); best = 0; f = "input.cl"
            for (i = 1; i <= n; i++) { split(parts[i], o, ":"); if (o[1] + 0 < line && o[1] + 0 >= best) { best = o[1] + 0; f = o[2] } }
            return f ":" (line - best)
        }
        function flush() { if (h != "") print h " | " k " | " at " | " src; h = "" }
        /^$/ { flush(); next }
        /^[^[:space:][]/ && !/^ERROR:/ { flush(); h = $0; k = ""; at = ""; src = ""; want = 0; next }
        h == "" { next }
        want { src = $0; sub(/^[[:space:]]+/, "", src); want = 0; next }
        /^[[:space:]]+Kernel: / { k = $0; sub(/^[[:space:]]+Kernel: /, "", k); next }
        /^[[:space:]]+At line [0-9]+/ && at == "" { split($0, w, " "); at = where(w[3] + 0); want = 1 }
        END { flush() }' "$log" | sed 's/0x[0-9a-f]*/0x…/g' | sort | uniq -c | sort -rn | head -20
    echo "oclgrind: the first reports:"
    grep -vE '^\[|^ERROR:' "$log" | head -32
fi
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    ok=0
    echo "oclgrind: the test failed ($out):"
    grep -hE '^\[  (FAILED|ERROR)|^ERROR:' "$log" "$out" | head -30 || true
fi
if [ "$passed" -eq 0 ] || [ "$on_oclgrind" -eq 0 ]; then
    ok=0
    echo "oclgrind: no test ran on the Oclgrind device ($out)"
    tail -20 "$out"
fi
[ "$ok" -eq 1 ] || { echo "oclgrind: FAILED"; exit 1; }
echo "oclgrind: clean"
