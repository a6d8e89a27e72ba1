#!/bin/sh
# The documentation checks, for CI: builds the API reference from the comments of
# include/clmlp.h and include/clmlp_mpi.h with Doxygen (docs/Doxyfile; any warning, e.g.
# an undocumented public symbol, fails), then formats the manual page docs/clmlp.1 with
# man-db at 80 columns, which must give not one groff warning. Needs only Debian's
# doxygen, man-db and groff-base (scripts/setup-debian.sh installs them): no build.
#
#   scripts/docs.sh [OUT_DIR]
#
# OUT_DIR: where the HTML goes (default build/docs: OUT_DIR/html/index.html).
# Environment: CLMLP, a built clmlp command: then tests/test_man_page.sh runs too (every
# option of every subcommand's --help documented in the page; CTest runs it as
# test_man_page).
set -eu
cd "$(dirname "$0")/.."
out=${1:-build/docs}
failed=0

fail() {
    echo "docs: FAIL: $*" >&2
    failed=1
}

for tool in doxygen man groff; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "docs: $tool is not installed (Debian: apt-get install doxygen man-db groff-base)" >&2
        exit 1
    }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clmlp-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the API reference ----
version=$(sed -n 's/^project(clmlp VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
mkdir -p "$out"
rm -rf "$out/html"
status=0
CLMLP_DOCS_DIR=$out CLMLP_VERSION=$version doxygen docs/Doxyfile >"$tmp/doxygen.out" 2>"$tmp/doxygen.err" || status=$?
if [ "$status" -ne 0 ] || [ -s "$tmp/doxygen.err" ]; then
    fail "doxygen docs/Doxyfile: exit code $status; every warning counts:"
    sed 's/^/    /' "$tmp/doxygen.err" >&2
elif [ ! -f "$out/html/index.html" ]; then
    fail "doxygen wrote no $out/html/index.html"
else
    echo "docs: API reference of clmlp $version: $out/html/index.html (no Doxygen warning)"
fi

# ---- the manual page ----
status=0
MANWIDTH=80 man --warnings -E UTF-8 -l docs/clmlp.1 >"$tmp/man.out" 2>"$tmp/man.err" || status=$?
if [ "$status" -ne 0 ] || [ -s "$tmp/man.err" ]; then
    fail "man --warnings -E UTF-8 -l docs/clmlp.1: exit code $status, warnings:"
    sed 's/^/    /' "$tmp/man.err" >&2
else
    echo "docs: docs/clmlp.1 formats without a groff warning ($(wc -l <"$tmp/man.out") lines at 80 columns)"
fi

if [ -n "${CLMLP:-}" ]; then
    sh tests/test_man_page.sh "$CLMLP" docs/clmlp.1 . || fail "tests/test_man_page.sh $CLMLP"
fi

[ "$failed" -eq 0 ] || exit 1
echo "docs: all checks passed"
