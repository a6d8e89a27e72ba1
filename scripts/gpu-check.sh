#!/bin/bash
# Checks clmlp on a lent GPU machine, with build-gpu/ and gpu-kit/ from scripts/gpu-prepare.sh
# carried beside the working tree (nothing is installed there). Run from anywhere:
#
#   bash scripts/gpu-check.sh            # everything, in under 8 minutes; OUT=DIR: the log goes there too
#
# Every step runs under `timeout`, within an overall budget; a failed step does not stop the
# script, which exits 1 at the end if any step failed, timed out or was skipped for want of time.
#
# Environment:
#   GPU_CHECK_DEVICE   the device: gpu (default), cpu or P:D (CLMLP_DEVICE, --device)
#   GPU_CHECK_BUDGET   seconds for the whole script (default 450)
#   GPU_CHECK_QUICK=1  small workloads (a dry run on a slow CPU device)
#   GPU_CHECK_SCALE    multiplies every step's time limit (default 1; e.g. 5 for a dry run on 2 CPU cores)
#   GPU_CHECK_ONLY     a space-separated list of step names to run (default: all; the names are main()'s, below)
#   GPU_CHECK_VENDORS  a vendors folder to use instead of gpu-kit/vendors (e.g. one naming libpocl.so.2)
#   OCL_ICD_VENDORS    kept: its ICDs are used too, as are those in /etc/OpenCL/vendors
#   CLMLP_KERNELS, CLMLP_GEMM, CLMLP_TILES, ...   passed on to clmlp as usual
#   OUT                a folder: gpu-check.log (everything), clinfo.txt (clinfo's full output),
#                      bench.jsonl (clmlp_bench's JSON lines) and tuning.txt (what tune recorded) go there
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 2
bld=$here/build-gpu
kit=$here/gpu-kit
multiarch=x86_64-linux-gnu
device=${GPU_CHECK_DEVICE:-gpu}
budget=${GPU_CHECK_BUDGET:-450}
quick=${GPU_CHECK_QUICK:-0}
scale=${GPU_CHECK_SCALE:-1}
only=${GPU_CHECK_ONLY:-}

if [ ! -x "$bld/clmlp" ] || [ ! -x "$kit/root/usr/bin/clinfo" ]; then
    echo "gpu-check: $bld/clmlp or $kit/root/usr/bin/clinfo is missing: run scripts/gpu-prepare.sh and carry" \
        "build-gpu and gpu-kit" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
out_dir=${OUT:-}
if [ -n "$out_dir" ]; then
    mkdir -p "$out_dir" || out_dir=
fi
log=${out_dir:+$out_dir/gpu-check.log}

# ---- the environment -------------------------------------------------------------------------
# Libraries: the kit's (OpenCL loader, CLBlast, cmocka), the build's (libclmlp; build-tree RPATHs
# point at the machine that built them). libstdc++/libgcc_s from the kit only where the system's
# are missing or older than CLBlast needs.
libpath=$kit/root/usr/lib/$multiarch:$bld
needs_cxx=$(grep -ao 'GLIBCXX_3\.4\.[0-9]*' "$kit/root/usr/lib/$multiarch/libclblast.so.1" | sort -uV | tail -n 1)
system_cxx=$( (ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}') || true)
for f in /usr/lib/$multiarch/libstdc++.so.6 /lib/$multiarch/libstdc++.so.6 /usr/lib64/libstdc++.so.6; do
    [ -n "$system_cxx" ] || [ ! -e "$f" ] || system_cxx=$f
done
fallback_note="the system's libstdc++ ($system_cxx) has $needs_cxx"
if [ -z "$system_cxx" ] || ! grep -aq "$needs_cxx" "$system_cxx" 2>/dev/null; then
    libpath=$libpath:$kit/fallback
    fallback_note="the kit's libstdc++ (the system's ${system_cxx:-is missing}${system_cxx:+ lacks $needs_cxx})"
fi
export LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$kit/root/usr/bin:$PATH

# OpenCL vendors: ocl-icd reads one folder, so one is made of the given OCL_ICD_VENDORS (folder or
# file), /etc/OpenCL/vendors and the kit's (or GPU_CHECK_VENDORS), each library once. NVIDIA's
# library is named by absolute path where the loader would not find it by name.
vendors=$tmp/vendors
mkdir -p "$vendors"
vendor_notes=
find_nvidia() {
    local d
    if ldconfig -p 2>/dev/null | grep -q 'libnvidia-opencl\.so\.1 '; then
        echo libnvidia-opencl.so.1
        return
    fi
    local IFS=:
    for d in ${LD_LIBRARY_PATH:-} /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/$multiarch /usr/lib64 \
        /usr/lib /lib/$multiarch /lib64 /usr/local/cuda/compat /usr/local/cuda/lib64; do
        if [ -n "$d" ] && [ -e "$d/libnvidia-opencl.so.1" ]; then
            echo "$d/libnvidia-opencl.so.1"
            return
        fi
    done
    timeout 20 find /usr/local /usr/lib /usr/lib64 /opt -name 'libnvidia-opencl.so.1*' 2>/dev/null | head -n 1
}
stem() { basename "$1" | sed 's/\.so.*$//'; } # libpocl.so.2.10.0 and libpocl.so.2: libpocl
add_icd() { # add_icd FILE: its library, unless the same library (by stem) is there already
    local lib found f
    lib=$(head -n 1 "$1" | tr -d '\r')
    [ -n "$lib" ] || return 0
    if [ "$lib" = libnvidia-opencl.so.1 ]; then
        found=$(find_nvidia)
        if [ -z "$found" ]; then
            vendor_notes="$vendor_notes; libnvidia-opencl.so.1 NOT found (ldconfig, LD_LIBRARY_PATH, /usr/local/nvidia, /usr/lib*)"
        elif [ "$found" != "$lib" ]; then
            vendor_notes="$vendor_notes; libnvidia-opencl.so.1 found at $found"
            lib=$found
        fi
    fi
    for f in "$vendors"/*.icd; do
        [ -f "$f" ] && [ "$(stem "$(head -n 1 "$f")")" = "$(stem "$lib")" ] && return 0
    done
    n_icd=$((n_icd + 1))
    printf '%s\n' "$lib" >"$vendors/$n_icd-$(basename "$1")"
    vendor_sources="$vendor_sources $1"
}
n_icd=0
vendor_sources=
if [ -n "${OCL_ICD_VENDORS:-}" ]; then
    if [ -d "$OCL_ICD_VENDORS" ]; then
        for f in "$OCL_ICD_VENDORS"/*.icd; do [ -f "$f" ] && add_icd "$f"; done
    elif [ -f "$OCL_ICD_VENDORS" ]; then
        add_icd "$OCL_ICD_VENDORS"
    else # a library's name or path
        printf '%s\n' "$OCL_ICD_VENDORS" >"$tmp/given.icd"
        add_icd "$tmp/given.icd"
    fi
fi
for f in /etc/OpenCL/vendors/*.icd; do [ -f "$f" ] && add_icd "$f"; done
for f in "${GPU_CHECK_VENDORS:-$kit/vendors}"/*.icd; do [ -f "$f" ] && add_icd "$f"; done
export OCL_ICD_VENDORS=$vendors

# clmlp's program cache and tuning database, POCL's and NVIDIA's caches: fresh, in the temp folder.
export CLMLP_CACHE_DIR=$tmp/clmlp-cache POCL_CACHE_DIR=$tmp/pocl-cache CUDA_CACHE_PATH=$tmp/cuda-cache
export CLMLP_DEVICE=$device
mkdir -p "$CLMLP_CACHE_DIR" "$POCL_CACHE_DIR" "$CUDA_CACHE_PATH"

# Data: the kit's t10k files, which also serve as train-*.
data=$kit/data
if [ ! -e "$data/train-images-idx3-ubyte.gz" ] || [ ! -e "$data/train-labels-idx1-ubyte.gz" ]; then
    mkdir -p "$tmp/data"
    for k in images-idx3 labels-idx1; do
        ln -s "$data/t10k-$k-ubyte.gz" "$tmp/data/t10k-$k-ubyte.gz"
        ln -s "$data/t10k-$k-ubyte.gz" "$tmp/data/train-$k-ubyte.gz"
    done
    data=$tmp/data
fi

# Workloads.
if [ "$quick" = 1 ]; then
    runs=1 epoch_samples=2048 per_sample=300 tune_args="--dtype f32 --layers 64,32,10 --batch 32"
else
    runs=3 epoch_samples=10000 per_sample=3000 tune_args=""
fi

# The kernel family test_kernels checks: CLMLP_KERNELS if set, else the GPU family unless the
# device is the CPU.
if [ -n "${CLMLP_KERNELS:-}" ]; then
    test_family=$CLMLP_KERNELS
elif [ "$device" = cpu ]; then
    test_family=cpu
else
    test_family=gpu
fi

# ---- the steps -------------------------------------------------------------------------------
start=$SECONDS
n_pass=0 n_fail=0 n_skip=0 summary=
step_no=0
# step NAME TIMEOUT COMMAND...: runs it under timeout within what is left of the budget
step() {
    local name=$1 limit=$2 t0 rc left status
    shift 2
    limit=$((limit * scale))
    step_no=$((step_no + 1))
    if [ -n "$only" ] && ! [[ " $only " == *" $name "* ]]; then
        return 0
    fi
    left=$((budget - (SECONDS - start) - 5))
    printf '\n======== [%02d] %s   (limit %ss, %ss of the budget left)\n$ %s\n' "$step_no" "$name" "$limit" \
        "$((left + 5))" "$*"
    if [ "$left" -lt 10 ]; then
        echo "SKIPPED: no time left in the budget of ${budget}s"
        n_skip=$((n_skip + 1))
        summary="$summary$(printf '  %-24s SKIPPED (budget)' "$name")"$'\n'
        return 0
    fi
    [ "$limit" -le "$left" ] || limit=$left
    t0=$SECONDS
    local file
    file=$tmp/step-$(printf '%02d' "$step_no")-$name.txt
    timeout -k 10 "$limit" bash -c '"$@"' "$name" "$@" 2>&1 | tee "$file"
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 0 ]; then
        status=PASS
        n_pass=$((n_pass + 1))
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status="TIMEOUT (${limit}s)"
        n_fail=$((n_fail + 1))
    else
        status="FAIL (exit $rc)"
        n_fail=$((n_fail + 1))
    fi
    printf -- '-------- %s: %s in %ss\n' "$name" "$status" "$((SECONDS - t0))"
    summary="$summary$(printf '  %-24s %-18s %4ss' "$name" "$status" "$((SECONDS - t0))")"$'\n'
    return 0
}

environment() {
    echo "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}"); $(nproc) cores;" \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "glibc: $(ldd --version 2>&1 | head -n 1); the binaries need $(sed -n 's/^glibc needed.*: //p' "$kit/MANIFEST")"
    echo "libstdc++: $fallback_note"
    echo "device: CLMLP_DEVICE=$CLMLP_DEVICE; kernels: ${CLMLP_KERNELS:-by device type} (test_kernels:" \
        "$test_family); products: ${CLMLP_GEMM:-by device type}; tiles: ${CLMLP_TILES:-default}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo "OpenCL vendors ($OCL_ICD_VENDORS), from:$vendor_sources${vendor_notes}"
    for f in "$OCL_ICD_VENDORS"/*.icd; do [ -f "$f" ] && echo "  $(basename "$f"): $(cat "$f")"; done
    echo "data: $data; caches: $tmp; workloads: runs $runs, epoch $epoch_samples, per-sample $per_sample" \
        "(GPU_CHECK_QUICK=$quick); limits x$scale, budget ${budget}s"
    sed 's/^/kit: /' "$kit/MANIFEST"
    if command -v nvidia-smi >/dev/null; then
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap \
            --format=csv 2>&1 || true
    fi
    echo "libraries of clmlp and clinfo:"
    ldd "$bld/clmlp" "$kit/root/usr/bin/clinfo" | grep -v 'linux-vdso' | sed 's/ (0x.*//'
    ! ldd "$bld/clmlp" "$bld/clmlp_bench" "$bld/tests/"* "$kit/root/usr/bin/clinfo" | grep 'not found'
}

clinfo_essentials() {
    clinfo >"$tmp/clinfo.txt" 2>&1
    local rc=$?
    # The platforms and devices (up to clinfo's "NULL platform behavior" part).
    awk '/NULL platform behavior/ {exit} {print}' "$tmp/clinfo.txt" | grep -E \
        'Number of (platforms|devices)|Platform Name|Platform Version|Device Name|Device Vendor |Device Version|Driver Version|Device Type|Max compute units|Max clock frequency|Global memory size|Global memory cache size|Local memory type|Local memory size|Max memory allocation|Max constant buffer size|Max work group size|Max work item sizes|Preferred work group size multiple \(device\)|Double-precision Floating-point support|Half-precision Floating-point support|Preferred / native vector sizes|^ +(char|short|int|long|half|float|double) +[0-9]+ / [0-9]+' |
        sed 's/  */ /g'
    echo "cl_khr_fp64 among the device extensions: $(grep -c 'cl_khr_fp64' "$tmp/clinfo.txt") line(s)"
    [ -z "$out_dir" ] || cp "$tmp/clinfo.txt" "$out_dir/clinfo.txt"
    return "$rc"
}

devices() { # clmlp's list; with GPU_CHECK_DEVICE=gpu, a GPU must be in it
    clmlp devices || return
    [ "$device" != gpu ] || clmlp devices | grep -q '^[* ] [0-9]*:[0-9]*  GPU' ||
        { echo "no OpenCL GPU device: see the environment and clinfo steps above"; return 1; }
}

build_logs() {
    # clmlp prints a build log only when a build fails: the LD_PRELOAD hook prints every build's
    # (on NVIDIA with -cl-nv-verbose: registers, spills, shared memory) while tune --show builds the
    # f32 and f64 programs, from an empty cache.
    local cache=$tmp/buildlog-cache
    mkdir -p "$cache"
    if [ -f "$bld/libclbuildlog.so" ]; then
        CLMLP_CACHE_DIR=$cache LD_PRELOAD=$bld/libclbuildlog.so CLBUILDLOG_NV_VERBOSE=1 CLBUILDLOG_KERNELS=1 \
            clmlp tune --show --device "$device"
    else
        echo "(no build-gpu/libclbuildlog.so: clmlp has no way to print a successful build's log)"
        CLMLP_CACHE_DIR=$cache clmlp tune --show --device "$device"
    fi
}

bench() { clmlp_bench --data "$data" --backends opencl --runs "$runs" --json "$@"; }
# The steps run under timeout in a new bash: what they use is exported.
export PATH=$bld:$PATH
export here bld kit tmp out_dir multiarch device data runs quick scale budget test_family epoch_samples \
    per_sample fallback_note vendor_sources vendor_notes
export -f environment clinfo_essentials devices build_logs bench

main() {
    echo "gpu-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), in $here, budget ${budget}s"
    step environment 20 environment
    step clinfo-list 20 clinfo --list
    step clinfo 20 clinfo_essentials
    step devices 20 devices
    step build-logs 60 build_logs
    # test_kernels runs the GPU family's grid of shapes only when CLMLP_KERNELS=gpu is set.
    step test_kernels 120 env CLMLP_DEVICE="$device" CLMLP_KERNELS="$test_family" "$bld/tests/test_kernels"
    step test_exercise 60 env CLMLP_DEVICE="$device" "$bld/tests/test_exercise"
    step test_train_paths-batch 45 env CLMLP_DEVICE="$device" TRAIN_PATH=batch "$bld/tests/test_train_paths"
    step test_train_paths-per-sample 45 env CLMLP_DEVICE="$device" TRAIN_PATH=per-sample \
        "$bld/tests/test_train_paths"
    step test_api 60 env CLMLP_DEVICE="$device" "$bld/tests/test_api"
    step bench-minibatch 60 bench --only minibatch --dtypes f32,f64 --epoch-samples "$epoch_samples"
    [ -n "$only" ] || printf '\n(batch 1024: clmlp_bench has no option for the batch size; minibatch is batch 128 only)\n'
    step bench-per-sample 60 bench --only per-sample --dtypes f32,f64 --per-sample-samples "$per_sample"
    step bench-kernels 60 bench --only kernels --dtypes f32,f64
    step bench-cold-start 60 bench --only cold-start
    step bench-profile 45 clmlp_bench --data "$data" --backends opencl --runs 1 --only minibatch --dtypes f32,f64 \
        --epoch-samples "$epoch_samples" --profile
    step train 60 clmlp train --device "$device" --data "$data" --epochs 1
    # Last, as the longest; in its own cache, so that what it records changes none of the above.
    # shellcheck disable=SC2086
    step tune 120 env CLMLP_CACHE_DIR="$tmp/tune-cache" clmlp tune --device "$device" $tune_args
    if [ -n "$out_dir" ]; then
        [ ! -f "$tmp/tune-cache/tuning.txt" ] || cp "$tmp/tune-cache/tuning.txt" "$out_dir/tuning.txt"
        cat "$tmp"/step-*-bench-*.txt 2>/dev/null | grep '^{' >"$out_dir/bench.jsonl"
    fi
    printf '\n======== summary (%ss in all, device %s)\n%s' "$((SECONDS - start))" "$device" "$summary"
    echo "$n_pass passed, $((n_fail + n_skip)) failed"
    [ "$n_fail" = 0 ] && [ "$n_skip" = 0 ]
}

if [ -n "$log" ]; then
    main 2>&1 | tee "$log"
    exit "${PIPESTATUS[0]}"
fi
main 2>&1
