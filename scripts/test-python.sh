#!/bin/sh
# Tests the Python package: a fresh virtual environment of Debian's Python
# (/usr/bin/python3 -m venv --system-site-packages: numpy, pytest and, when installed,
# torch come from Debian), `pip install ./python` into it (scikit-build-core from PyPI
# builds libclmlp with CMake from the repository's CMakeLists.txt), then pytest on
# python/tests. Exit status 0 when everything passes.
#
#   scripts/test-python.sh [PYTEST_ARGS…]
#
# Environment: PYTHON (default /usr/bin/python3), CLMLP_PY_DIR (default build-python/
# in the checkout: the venv and the CMake build directory, which later runs reuse;
# CLMLP_PY_CLEAN=1 removes it first).
set -eu
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-/usr/bin/python3}
dir=${CLMLP_PY_DIR:-$root/build-python}
venv=$dir/venv

fail() {
    echo "test-python: FAIL: $*" >&2
    exit 1
}

[ -x "$python" ] || fail "no $python (Debian: python3, python3-venv)"
[ "${CLMLP_PY_CLEAN:-0}" = 1 ] && rm -rf "$dir"
mkdir -p "$dir"
start=$(date +%s)

echo "test-python: a fresh venv in $venv ($("$python" --version))"
rm -rf "$venv"
"$python" -m venv --system-site-packages "$venv" || fail "cannot create a venv (Debian: python3-venv)"
py=$venv/bin/python

echo "test-python: pip install ./python"
"$py" -m pip install --quiet --config-settings=build-dir="$dir/cmake" ./python || fail "pip install ./python"
built=$(date +%s)

"$py" -c 'import numpy, pytest' 2>/dev/null || "$py" -m pip install --quiet numpy pytest || fail "numpy, pytest"
# the package imports from the venv, not from the source tree
where=$(cd / && "$py" -c 'import clmlp; print(clmlp.__file__)')
case $where in
"$venv"/*) ;;
*) fail "clmlp imports from $where, not from $venv" ;;
esac

echo "test-python: pytest python/tests"
cd "$root/python"
status=0
"$py" -m pytest -p no:cacheprovider -ra "$@" tests || status=$?
end=$(date +%s)
echo "test-python: build $((built - start)) s, tests $((end - built)) s"
[ "$status" -eq 0 ] || fail "pytest exited with $status"
echo "test-python: examples/train_mnist.py from the venv (1 epoch on 6000 images)"
cd "$root"
"$py" examples/train_mnist.py --epochs 1 --max-train 6000 --plot "$dir/loss.png" || fail "examples/train_mnist.py"
echo "test-python: PASS"
