#!/bin/sh
# Data-parallel training over MPI (tests/test_mpi.c) with 2 ranks on POCL, one POCL thread
# each, over shared memory; every mpirun bounded by a timeout, so a hang fails the test.
#   usage: test_mpi.sh TEST_MPI_EXECUTABLE
set -u
exe=$1
ranks=${CLMLP_TEST_RANKS:-2}
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1 POCL_MAX_PTHREAD_COUNT=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run MODE SECONDS: mpirun -np $ranks EXE MODE, output in $out, status in $rc, time in $took
run() {
    start=$(date +%s)
    out=$(timeout "$2" mpirun -np "$ranks" "$exe" "$1" 2>&1)
    rc=$?
    took=$(($(date +%s) - start))
    printf '%s\n' "$out" | sed "s/^/[$1] /"
    [ "$rc" -ne 124 ] || fail "$1: mpirun did not end within $2 s (a hang)"
}

for mode in equivalence failing mismatch; do
    run $mode 300
    [ "$rc" -eq 0 ] || fail "$mode: exit status $rc"
    printf '%s\n' "$out" | grep -q "^FAIL" && fail "$mode: a rank reported a failure"
    [ "$(printf '%s\n' "$out" | grep -c "^ok: rank")" -ge "$ranks" ] || fail "$mode: too few checks ran"
done

# a stuck rank: rank 0 reaches the deadline (2 s), reports, and aborts the job
run stuck 120
echo "stuck: exit status $rc after $took s"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "stuck: exit status $rc, expected the abort's non-zero status"
printf '%s\n' "$out" | grep -q "^ok: rank 0: a stuck rank: CLMLP_ECOMM" || fail "stuck: rank 0 did not report the deadline"
printf '%s\n' "$out" | grep -q "^FAIL" && fail "stuck: a check failed"

# a killed rank: mpirun ends the job with a non-zero status, no hang
run killed 120
echo "killed: exit status $rc after $took s"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "killed: exit status $rc, expected non-zero"

[ "$failures" -eq 0 ] && echo "all MPI checks passed" || echo "$failures MPI check(s) failed"
[ "$failures" -eq 0 ]
