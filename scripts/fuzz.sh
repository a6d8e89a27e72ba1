#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan, errors fatal) and runs each for
# SECONDS (default 60) on a copy of its committed seed corpus. Fails on any crash, leak,
# sanitizer report or timeout; the input that did it is left in build-fuzz/findings/ to be
# fixed and added to tests/fuzz/corpus/<target>/ (the normal suite replays it).
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=$(nproc 2>/dev/null || echo 2)
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_FUZZ=ON -DCLMLP_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_idx fuzz_model fuzz_cache_entry
mkdir -p build-fuzz/findings
status=0
for target in idx model cache_entry; do
    work=build-fuzz/corpus-$target
    rm -rf "$work"
    mkdir -p "$work"
    cp tests/fuzz/corpus/$target/* "$work"/
    echo "== fuzz_$target for ${seconds}s"
    if ! ./build-fuzz/fuzz_$target -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix=build-fuzz/findings/$target- "$work" >build-fuzz/fuzz_$target.log 2>&1; then
        tail -40 build-fuzz/fuzz_$target.log
        echo "FAIL: fuzz_$target found a problem (see build-fuzz/findings/)"
        status=1
    else
        grep -E "^(#[0-9]+.*DONE|Done)" build-fuzz/fuzz_$target.log | tail -1 || true
    fi
done
exit $status
