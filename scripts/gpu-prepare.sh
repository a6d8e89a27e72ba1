#!/bin/sh
# Prepares what a lent GPU machine needs to run scripts/gpu-check.sh (run it HERE, on Debian 12):
#
#   build-gpu/   clmlp, clmlp_bench, libclmlp.so.0.1 and the GPU-relevant tests, Release, stripped;
#                libclbuildlog.so, an LD_PRELOAD hook that prints every OpenCL build's log
#   gpu-kit/     root/     Debian 12's ocl-icd-libopencl1, libclblast1, libcmocka0, clinfo, unpacked
#                fallback/ libstdc++6 and libgcc-s1, used by gpu-check.sh only where the system's are
#                          missing or too old
#                vendors/  nvidia.icd (libnvidia-opencl.so.1)
#                data/     Fashion-MNIST's t10k files, linked as train-* too (a smoke run's data)
#
# The full CMake tree is build-gpukit/ (kept for incremental rebuilds); build-gpu/ holds only what
# the check runs. Carry both build-gpu and gpu-kit (64 MiB in all; the total is printed).
#
# Environment: GPU_PREPARE_JOBS (default 2), GPU_PREPARE_DATA (default
# /usr/share/datasets/fashion-mnist), GPU_PREPARE_TESTS (the test programs to carry).
set -eu
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build-gpukit
out=$root/build-gpu
kit=$root/gpu-kit
jobs=${GPU_PREPARE_JOBS:-2}
data_src=${GPU_PREPARE_DATA:-/usr/share/datasets/fashion-mnist}
tests=${GPU_PREPARE_TESTS:-"test_api test_kernels test_exercise test_train_paths test_gradcheck test_train test_tune test_threads test_program_cache test_device_choice"}
packages="ocl-icd-libopencl1 libclblast1 libcmocka0 clinfo"
fallback_packages="libstdc++6 libgcc-s1"
multiarch=x86_64-linux-gnu
limit_mib=64

say() { printf '\n== %s\n' "$*"; }
die() { printf 'gpu-prepare: %s\n' "$*" >&2; exit 1; }

for tool in cmake cc strip objdump dpkg dpkg-query apt-get ldd; do
    command -v "$tool" >/dev/null || die "$tool is missing (run scripts/setup-debian.sh)"
done
[ -f "$data_src/t10k-images-idx3-ubyte.gz" ] && [ -f "$data_src/t10k-labels-idx1-ubyte.gz" ] ||
    die "no Fashion-MNIST t10k files in $data_src (Debian package dataset-fashion-mnist)"

say "build: Release in $work (the tests read their data from the relative path gpu-kit/data)"
mkdir -p "$work"
cmake -S . -B "$work" -DCMAKE_BUILD_TYPE=Release -DCLMLP_BUILD_TESTS=ON -DCLMLP_BUILD_BENCH=ON \
    -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON -DCLMLP_TEST_DATA_DIR=gpu-kit/data >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; die "cmake configure failed"; }
# shellcheck disable=SC2086
cmake --build "$work" -j"$jobs" --target clmlp_cli clmlp_bench $tests

say "the build-log hook: $out/libclbuildlog.so"
cat >"$work/clbuildlog.c" <<'EOF'
/* LD_PRELOAD hook (written by scripts/gpu-prepare.sh): around every clBuildProgram it prints
 * the device, the options, the status, the time and the build log, and (CLBUILDLOG_KERNELS=1)
 * each kernel's work-group size, local and private memory. CLBUILDLOG_OPTIONS is appended to
 * the options; CLBUILDLOG_NV_VERBOSE=1 appends -cl-nv-verbose on NVIDIA platforms only
 * (registers, spills and shared memory per kernel in the log). CLBUILDLOG_FILE: append there
 * instead of stderr. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef cl_int (*build_fn)(cl_program, cl_uint, const cl_device_id *, const char *,
                           void(CL_CALLBACK *)(cl_program, void *), void *);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int on_nvidia(cl_device_id d)
{
    cl_platform_id p;
    char name[256] = "";
    if (clGetDeviceInfo(d, CL_DEVICE_PLATFORM, sizeof p, &p, NULL) != CL_SUCCESS)
        return 0;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof name - 1, name, NULL);
    return strstr(name, "NVIDIA") != NULL;
}

static void kernels(FILE *f, cl_program program, cl_device_id d)
{
    cl_uint n = 0;
    if (clCreateKernelsInProgram(program, 0, NULL, &n) != CL_SUCCESS || n == 0)
        return;
    cl_kernel *k = calloc(n, sizeof *k);
    if (!k || clCreateKernelsInProgram(program, n, k, NULL) != CL_SUCCESS) {
        free(k);
        return;
    }
    fprintf(f, "  %-28s %10s %10s %12s %8s\n", "kernel", "max group", "local B", "private B", "multiple");
    for (cl_uint i = 0; i < n; i++) {
        char name[256] = "";
        size_t group = 0, multiple = 0;
        cl_ulong local = 0, priv = 0;
        clGetKernelInfo(k[i], CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
        clGetKernelWorkGroupInfo(k[i], d, CL_KERNEL_WORK_GROUP_SIZE, sizeof group, &group, NULL);
        clGetKernelWorkGroupInfo(k[i], d, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
        clGetKernelWorkGroupInfo(k[i], d, CL_KERNEL_PRIVATE_MEM_SIZE, sizeof priv, &priv, NULL);
        clGetKernelWorkGroupInfo(k[i], d, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof multiple, &multiple,
                                 NULL);
        fprintf(f, "  %-28s %10zu %10llu %12llu %8zu\n", name, group, (unsigned long long)local,
                (unsigned long long)priv, multiple);
        clReleaseKernel(k[i]);
    }
    free(k);
}

CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program program, cl_uint num_devices, const cl_device_id *devices,
                                               const char *options, void(CL_CALLBACK *notify)(cl_program, void *),
                                               void *user_data)
{
    static build_fn real;
    static int count;
    if (!real)
        real = (build_fn)dlsym(RTLD_NEXT, "clBuildProgram");
    if (!real)
        return CL_INVALID_OPERATION;
    cl_device_id list[16];
    cl_uint n = num_devices;
    if (devices && n > 0) {
        n = n > 16 ? 16 : n;
        memcpy(list, devices, n * sizeof *list);
    } else {
        size_t bytes = 0;
        clGetProgramInfo(program, CL_PROGRAM_DEVICES, sizeof list, list, &bytes);
        n = (cl_uint)(bytes / sizeof *list);
    }
    const char *extra = getenv("CLBUILDLOG_OPTIONS"), *nv = getenv("CLBUILDLOG_NV_VERBOSE");
    int add_nv = nv && strcmp(nv, "0") != 0 && n > 0 && on_nvidia(list[0]);
    size_t len = (options ? strlen(options) : 0) + (extra ? strlen(extra) : 0) + 32;
    char *opts = malloc(len);
    if (!opts)
        return CL_OUT_OF_HOST_MEMORY;
    snprintf(opts, len, "%s%s%s%s", options ? options : "", extra ? " " : "", extra ? extra : "",
             add_nv ? " -cl-nv-verbose" : "");
    size_t source = 0;
    clGetProgramInfo(program, CL_PROGRAM_SOURCE, 0, NULL, &source);
    double t0 = now();
    cl_int err = real(program, num_devices, devices, opts, notify, user_data);
    double seconds = now() - t0;
    const char *path = getenv("CLBUILDLOG_FILE");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f)
        f = stderr;
    count++;
    for (cl_uint i = 0; i < n; i++) {
        char name[256] = "";
        clGetDeviceInfo(list[i], CL_DEVICE_NAME, sizeof name - 1, name, NULL);
        fprintf(f, "---- clBuildProgram #%d on %s: status %d, %.3f s, %s\n  options: %s\n", count, name, (int)err,
                seconds, source > 1 ? "from source" : "from a binary", opts);
        if (notify) {
            fprintf(f, "  (asynchronous build: no log read)\n");
            continue;
        }
        size_t log_len = 0;
        if (clGetProgramBuildInfo(program, list[i], CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len) == CL_SUCCESS &&
            log_len > 1) {
            char *log = malloc(log_len + 1);
            if (log && clGetProgramBuildInfo(program, list[i], CL_PROGRAM_BUILD_LOG, log_len, log, NULL) ==
                           CL_SUCCESS) {
                log[log_len] = '\0';
                fprintf(f, "  build log (%zu bytes):\n%s\n", log_len - 1, log);
            }
            free(log);
        } else
            fprintf(f, "  build log: empty\n");
        if (err == CL_SUCCESS && getenv("CLBUILDLOG_KERNELS"))
            kernels(f, program, list[i]);
    }
    fflush(f);
    if (f != stderr)
        fclose(f);
    free(opts);
    return err;
}
EOF
rm -rf "$out"
mkdir -p "$out/tests"
cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -o "$out/libclbuildlog.so" "$work/clbuildlog.c" -ldl -lOpenCL

say "build-gpu: the binaries the check runs, stripped"
cp "$work/clmlp" "$work/clmlp_bench" "$out/"
cp -L "$work/libclmlp.so.0.1" "$out/libclmlp.so.0.1" # the SONAME, as a plain file
for t in $tests; do
    cp "$work/tests/$t" "$out/tests/"
done
find "$out" -type f | while read -r f; do
    strip --strip-unneeded "$f"
done

say "gpu-kit: Debian 12 packages"
rm -rf "$kit"
mkdir -p "$kit/debs" "$kit/root" "$kit/fallback-root" "$kit/vendors" "$kit/data"
fetch_deb() { # fetch_deb PACKAGE: apt-get download, else the installed version from apt's cache
    (cd "$kit/debs" && apt-get download "$1" >/dev/null 2>&1) && return 0
    version=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed 's/:/%3a/') || version=
    for deb in /var/cache/apt/archives/"$1"_"$version"_*.deb; do
        [ -n "$version" ] && [ -f "$deb" ] && cp "$deb" "$kit/debs/" && return 0
    done
    die "could not fetch $1 (apt-get download failed and apt's cache has none; try apt-get update)"
}
for p in $packages $fallback_packages; do
    fetch_deb "$p"
done
for p in $packages; do
    dpkg -x "$kit/debs/${p}"_*.deb "$kit/root"
done
for p in $fallback_packages; do
    dpkg -x "$kit/debs/${p}"_*.deb "$kit/fallback-root"
done
ls "$kit/debs" | sed 's/^/  /'
ls "$kit/debs" >"$kit/PACKAGES"
rm -rf "$kit/debs" "$kit/root/usr/share/doc" "$kit/root/usr/share/man" "$kit/root/usr/share/lintian" \
    "$kit/root/usr/share/bug"

# Libraries under their SONAME, as plain files (no links to travel).
flatten_libs() { # flatten_libs FROM_DIR TO_DIR
    mkdir -p "$2.new"
    for f in "$1"/*.so*; do
        [ -e "$f" ] || continue
        soname=$(objdump -p "$f" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
        [ -n "$soname" ] && [ ! -e "$2.new/$soname" ] && cp -L "$f" "$2.new/$soname"
    done
    rm -rf "$1"
    [ "$1" = "$2" ] || rm -rf "$2"
    mv "$2.new" "$2"
}
mkdir -p "$kit/root/usr/lib/$multiarch"
# libgcc-s1 installs into /lib/..., libstdc++6 into /usr/lib/...: both end up in fallback/.
mkdir -p "$kit/fallback-root/usr/lib/$multiarch"
if [ -d "$kit/fallback-root/lib/$multiarch" ]; then
    cp -P "$kit/fallback-root/lib/$multiarch"/* "$kit/fallback-root/usr/lib/$multiarch/"
fi
flatten_libs "$kit/fallback-root/usr/lib/$multiarch" "$kit/fallback"
rm -rf "$kit/fallback-root"
if [ -d "$kit/root/lib/$multiarch" ]; then
    cp -P "$kit/root/lib/$multiarch"/* "$kit/root/usr/lib/$multiarch/"
    rm -rf "$kit/root/lib"
fi
flatten_libs "$kit/root/usr/lib/$multiarch" "$kit/root/usr/lib/$multiarch"
[ -x "$kit/root/usr/bin/clinfo" ] || die "clinfo did not unpack into $kit/root/usr/bin"
for lib in libOpenCL.so.1 libclblast.so.1 libcmocka.so.0; do
    [ -f "$kit/root/usr/lib/$multiarch/$lib" ] || die "$lib did not unpack into $kit/root/usr/lib/$multiarch"
done

say "gpu-kit: vendors and data"
printf 'libnvidia-opencl.so.1\n' >"$kit/vendors/nvidia.icd"
cp "$data_src/t10k-images-idx3-ubyte.gz" "$data_src/t10k-labels-idx1-ubyte.gz" "$kit/data/"
ln -s t10k-images-idx3-ubyte.gz "$kit/data/train-images-idx3-ubyte.gz"
ln -s t10k-labels-idx1-ubyte.gz "$kit/data/train-labels-idx1-ubyte.gz"
{
    echo "prepared: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) (the working tree may have differed)"
    echo "compiler: $(cc --version | head -n 1)"
    echo "glibc needed (highest symbol version of the binaries): $(for f in "$out"/clmlp "$out"/clmlp_bench \
        "$out"/libclmlp.so.0.1 "$out"/tests/* "$kit"/root/usr/lib/$multiarch/*; do objdump -T "$f"; done 2>/dev/null |
        grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
    echo "libstdc++ needed: $(objdump -T "$kit/root/usr/lib/$multiarch/libclblast.so.1" | grep -o 'GLIBCXX_[0-9.]*' |
        sort -uV | tail -n 1)"
} >"$kit/MANIFEST"
sed 's/^/  /' "$kit/MANIFEST"

say "runtime dependencies outside the kit (ldd), with their Debian package"
LD_LIBRARY_PATH="$kit/root/usr/lib/$multiarch:$out" ldd "$out"/clmlp "$out"/clmlp_bench "$out"/libclmlp.so.0.1 \
    "$out"/libclbuildlog.so "$out"/tests/* "$kit/root/usr/bin/clinfo" "$kit"/root/usr/lib/$multiarch/* 2>/dev/null |
    awk '$2 == "=>" {print $1, $3} $2 == "not" {print $1, "NOT-FOUND"}' | sort -u >"$work/deps.txt"
missing=0
while read -r name path; do
    case $path in
    "$kit"/* | "$out"/*) continue ;;
    NOT-FOUND)
        echo "  $name: NOT FOUND"
        missing=1
        continue
        ;;
    esac
    real=$(readlink -f "$path")
    pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null ||
        dpkg -S "${real#/usr}" 2>/dev/null || echo "?: ?")
    pkg=${pkg%%:*}
    # In every Debian/Ubuntu base system: libc6 and zlib1g (what the essential packages need),
    # libgcc-s1 and libstdc++6 (apt's); fallback/ carries the last two all the same.
    case $pkg in
    libc6 | zlib1g) note="in every base system" ;;
    libstdc++6 | libgcc-s1) note="in every base system (apt needs it); fallback/ has Debian 12's" ;;
    *)
        note="NOT in a minimal system: add it to the kit"
        missing=1
        ;;
    esac
    printf '  %-18s %-12s %s\n' "$name" "$pkg" "$note"
done <"$work/deps.txt"
[ "$missing" = 0 ] || die "a library is missing or not in a minimal system (see above)"
LD_LIBRARY_PATH="$kit/root/usr/lib/$multiarch:$out" "$out/clmlp" train --help >/dev/null ||
    die "build-gpu/clmlp does not start"

say "sizes"
for d in "$out" "$out/tests" "$kit" "$kit/root" "$kit/fallback" "$kit/data"; do
    printf '  %6s  %s\n' "$(du -sh "$d" | cut -f 1)" "${d#"$root"/}"
done
total=$(du -scb "$out" "$kit" | tail -n 1 | cut -f 1)
printf '  total: %s bytes (%.1f MiB) of the %d MiB that travel\n' "$total" "$(echo "$total" | awk '{print $1 / 1048576}')" "$limit_mib"
[ "$total" -lt $((48 * 1048576)) ] || die "build-gpu + gpu-kit exceed 48 MiB: carry less"
echo
echo "ready: carry build-gpu and gpu-kit, then run: bash scripts/gpu-check.sh"
