#!/bin/sh
# Checks the installed package: installs clmlp into a temporary prefix, checks what is
# there (headers, libraries with SONAME, command, CMake package, clmlp.pc), then builds
# examples/train_mnist.c against the *installed* library three ways — CMake with
# clmlp::clmlp, pkg-config, CMake with clmlp::clmlp_static — and runs each on a few
# Fashion-MNIST images, requiring a test accuracy and exit status 0.
#
#   scripts/check-install.sh [BUILD_DIR]
#
# BUILD_DIR: reuse that build directory (configured there first if it is not one yet);
# without it the project is configured and built in the temporary directory.
# Environment: CLMLP_DATA_DIR (default /usr/share/datasets/fashion-mnist),
# CHECK_INSTALL_SAMPLES (training images, default 2000), CC (default cc),
# POCL_CACHE_DIR (default BUILD_DIR/pocl-cache).
set -eu
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)
data=${CLMLP_DATA_DIR:-/usr/share/datasets/fashion-mnist}
samples=${CHECK_INSTALL_SAMPLES:-2000}
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clmlp-check-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
prefix=$tmp/prefix

fail() {
    echo "check-install: FAIL: $*" >&2
    exit 1
}

# ---- build and install ------------------------------------------------------------
if [ $# -ge 1 ]; then
    mkdir -p "$1"
    build=$(cd "$1" && pwd)
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_WERROR=ON
    fi
    # only what gets installed (the tests are not)
    cmake --build "$build" -j"$jobs" --target clmlp clmlp_static clmlp_cli
else
    build=$tmp/build
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLMLP_WERROR=ON -DCLMLP_BUILD_TESTS=OFF
    cmake --build "$build" -j"$jobs"
fi
: "${POCL_CACHE_DIR:=$build/pocl-cache}"
export POCL_CACHE_DIR

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix"

# ---- what was installed -------------------------------------------------------------
pc=$(find "$prefix" -path '*/pkgconfig/clmlp.pc' | head -n 1)
[ -n "$pc" ] || fail "no pkgconfig/clmlp.pc under $prefix"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
# The SONAME follows the version: libclmlp.so.MAJOR, or libclmlp.so.0.MINOR while MAJOR is 0.
pc_version=$(sed -n 's/^Version: //p' "$pc")
major=${pc_version%%.*}
minor=${pc_version#*.}
minor=${minor%%.*}
if [ "$major" -gt 0 ]; then expected_soname=libclmlp.so.$major; else expected_soname=libclmlp.so.0.$minor; fi
for f in "$prefix/include/clmlp.h" "$prefix/include/clmlp_version.h" "$prefix/bin/clmlp" "$libdir/libclmlp.a" \
         "$libdir/libclmlp.so" "$libdir/$expected_soname" "$libdir/libclmlp.so.$pc_version" \
         "$libdir/cmake/clmlp/clmlpConfig.cmake" \
         "$libdir/cmake/clmlp/clmlpConfigVersion.cmake" "$libdir/cmake/clmlp/clmlpTargets.cmake" \
         "$libdir/cmake/clmlp/clmlpStaticTargets.cmake"; do
    [ -e "$f" ] || fail "not installed: $f"
done
echo "installed under $prefix:"
(cd "$prefix" && find . ! -type d | sort | sed 's/^\.\//    /')
grep -qx "#define CLMLP_VERSION_STRING \"$pc_version\"" "$prefix/include/clmlp_version.h" ||
    fail "clmlp_version.h and clmlp.pc disagree on the version ($pc_version)"

soname=$(readelf -d "$libdir/libclmlp.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "$expected_soname" ] || fail "SONAME of libclmlp.so is '$soname', not $expected_soname"
echo "SONAME: $soname"

# the installed command, without LD_LIBRARY_PATH (its RUNPATH finds the installed library)
version=$("$prefix/bin/clmlp" --version) || fail "$prefix/bin/clmlp --version failed"
echo "$prefix/bin/clmlp --version: $version"
case "$version" in "clmlp "[0-9]*) ;; *) fail "unexpected --version output: $version" ;; esac
"$prefix/bin/clmlp" --version | grep -qxF "clmlp $pc_version" ||
    fail "clmlp --version and clmlp.pc disagree"

PKG_CONFIG_PATH=$pcdir
export PKG_CONFIG_PATH
[ "$(pkg-config --variable=prefix clmlp)" = "$prefix" ] || fail "clmlp.pc: prefix is $(pkg-config --variable=prefix clmlp)"
echo "pkg-config clmlp $(pkg-config --modversion clmlp): $(pkg-config --cflags --libs clmlp)"
echo "pkg-config --static: $(pkg-config --static --libs clmlp)"
pkg-config --static --libs clmlp | grep -q -- '-lclblast' || fail "pkg-config --static lacks -lclblast"

# ---- the example against the installed package ---------------------------------------
run_example() { # name binary
    echo "== $1: $2 $data 1 $samples"
    rc=0
    "$2" "$data" 1 "$samples" >"$tmp/$1.out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$tmp/$1.out"
        fail "$1: train_mnist exited with status $rc"
    fi
    cat "$tmp/$1.out"
    acc=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$tmp/$1.out")
    [ -n "$acc" ] || fail "$1: no test accuracy printed"
    # 10 classes: chance is 0.1; a working net gets well above 0.5 even from 2000 images
    awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "$1: test accuracy $acc is not above 0.5"
}

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'; }

echo "== (a) CMake: find_package(clmlp CONFIG), clmlp::clmlp"
cmake -S examples -B "$tmp/cmake-shared" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS=-Werror >"$tmp/cmake-shared.log" || { cat "$tmp/cmake-shared.log"; fail "configuring examples/"; }
grep -qx "clmlp_DIR:PATH=$libdir/cmake/clmlp" "$tmp/cmake-shared/CMakeCache.txt" ||
    fail "examples/ did not find the package installed in $prefix: $(grep '^clmlp_DIR' "$tmp/cmake-shared/CMakeCache.txt")"
cmake --build "$tmp/cmake-shared"
needed "$tmp/cmake-shared/train_mnist" | grep -qxF "$soname" || fail "(a) does not link $soname"
run_example cmake-shared "$tmp/cmake-shared/train_mnist"

echo "== (b) pkg-config: \$(pkg-config --cflags --libs clmlp)"
# shellcheck disable=SC2046 # word splitting of pkg-config's output is wanted
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 "$root/examples/train_mnist.c" -o "$tmp/train_mnist_pkgconfig" \
    $(pkg-config --cflags --libs clmlp) -Wl,-rpath,"$(pkg-config --variable=libdir clmlp)"
needed "$tmp/train_mnist_pkgconfig" | grep -qxF "$soname" || fail "(b) does not link $soname"
run_example pkg-config "$tmp/train_mnist_pkgconfig"

echo "== (c) CMake: find_package(clmlp CONFIG COMPONENTS static), clmlp::clmlp_static"
cmake -S examples -B "$tmp/cmake-static" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS=-Werror -DTRAIN_MNIST_STATIC=ON >"$tmp/cmake-static.log" ||
    { cat "$tmp/cmake-static.log"; fail "configuring examples/ with TRAIN_MNIST_STATIC=ON"; }
cmake --build "$tmp/cmake-static"
if needed "$tmp/cmake-static/train_mnist" | grep -q '^libclmlp'; then
    fail "(c) links libclmlp dynamically"
fi
run_example cmake-static "$tmp/cmake-static/train_mnist"

echo "OK: the installed package works (CMake shared and static, pkg-config)"
