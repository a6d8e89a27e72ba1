#!/bin/sh
# The manual page docs/clmlp.1 against the built command: every subcommand that
# `clmlp --help` lists has its subsection (.SS "clmlp CMD ..."), and every option that
# a subcommand's --help names (--xyz) appears in that subsection; the options of
# `clmlp --help` itself appear in the page. With SOURCE_DIR also: every option literal
# the parsers in apps/*.c compare against appears in the page, every environment
# variable of the README's Configuration table in its ENVIRONMENT section, and the
# .TH line names the version `clmlp --version` prints. Then the page must format
# without one groff warning (man --warnings -E UTF-8, MANWIDTH=80).
# Exit 0: all good; 1: a failure (each one listed); 77 (skipped): the page documents
# everything, but man (man-db) is not installed to check its formatting.
# Usage: test_man_page.sh CLMLP_BINARY MAN_PAGE [SOURCE_DIR]
set -u
clmlp=$1
page=$2
src=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

[ -f "$page" ] || {
    echo "FAIL: no manual page $page"
    exit 1
}

# The page as text to search: roff's \- as -, font changes and zero-width \& removed.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\f\[[^]]*\]//g' -e 's/\\&//g' \
    "$page" >"$work/page"

# has_option FILE OPTION: OPTION as a whole word (--lr is not found in --lr-decay).
has_option() {
    grep -Eq -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$1"
}

# The text of the subsections whose heading starts with "clmlp CMD" (predict has two),
# up to the next subsection or section.
section_of() {
    awk -v cmd="$1" '
        /^\.S[SH][ \t]/ {
            title = $0
            sub(/^\.S[SH][ \t]+"?/, "", title)
            split(title, word, /[ \t"]+/)
            inside = ($1 == ".SS" && word[1] == "clmlp" && word[2] == cmd)
            next
        }
        inside' "$work/page"
}

options_of() { # the --options a help text names, one a line
    grep -oE -- '--[a-z0-9][a-z0-9-]*' "$1" | sort -u
}

# ---- the subcommands: clmlp --help lists them ----
if ! "$clmlp" --help >"$work/help" 2>"$work/err"; then
    fail "clmlp --help: exit code $?"
    cat "$work/err"
    exit 1
fi
commands=$(awk '/^commands:/ { on = 1; next } on && /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' "$work/help")
[ -n "$commands" ] || fail "clmlp --help lists no commands"
for option in $(options_of "$work/help"); do
    has_option "$work/page" "$option" || fail "clmlp $option (clmlp --help) is not in $page"
done

checked=0
for cmd in $commands; do
    if ! "$clmlp" "$cmd" --help >"$work/help.$cmd" 2>"$work/err" || [ ! -s "$work/help.$cmd" ]; then
        fail "clmlp $cmd --help: no help text"
        continue
    fi
    section_of "$cmd" >"$work/section.$cmd"
    if [ ! -s "$work/section.$cmd" ]; then
        fail "clmlp $cmd has no subsection .SS \"clmlp $cmd ...\" in $page"
        continue
    fi
    n=0
    for option in $(options_of "$work/help.$cmd"); do
        n=$((n + 1))
        checked=$((checked + 1))
        has_option "$work/section.$cmd" "$option" ||
            fail "clmlp $cmd $option (in clmlp $cmd --help) is not in the page's clmlp $cmd subsection"
    done
    echo "ok: clmlp $cmd: $n option(s) of its --help documented"
done
echo "checked: $checked option(s) of $(echo "$commands" | wc -w) command(s)"

# ---- with the sources: the parsers' option literals, the README's variables, the version ----
if [ -n "$src" ]; then
    for option in $(cat "$src"/apps/*.c | grep -oE '"--[a-z][a-z0-9-]*"' | tr -d '"' | sort -u); do
        has_option "$work/page" "$option" || fail "$option (a literal in apps/*.c) is not in $page"
    done
    echo "ok: the option literals of apps/*.c"
    awk '/^\.SH[ \t]+"?ENVIRONMENT/ { on = 1; next } /^\.SH/ { on = 0 } on' "$work/page" >"$work/environment"
    # shellcheck disable=SC2016 # the backquotes are the README's, not a command
    variables=$(sed -n '/^## Configuration/,/^## /p' "$src/README.md" | grep -oE '^\| `[A-Z][A-Z0-9_]*`' |
        tr -d '|` ')
    [ -n "$variables" ] || fail "no variables found in the Configuration table of $src/README.md"
    for variable in $variables; do
        grep -Eq "^\.[A-Z]*[ \t]+$variable([^A-Z0-9_]|\$)" "$work/environment" ||
            fail "$variable (README's Configuration) has no entry in the page's ENVIRONMENT"
    done
    echo "ok: ENVIRONMENT has $(echo "$variables" | tr '\n' ' ')"
    version=$("$clmlp" --version | sed -n 's/^clmlp //p')
    grep -q "^\.TH CLMLP 1 [^ ]* \"clmlp $version\"" "$page" ||
        fail ".TH of $page does not name clmlp $version (clmlp --version): $(grep '^\.TH' "$page")"
fi

[ "$failures" -eq 0 ] || {
    echo "$failures failure(s)"
    exit 1
}

# ---- formatting: not one groff warning at 80 columns ----
if ! command -v man >/dev/null 2>&1; then
    echo "SKIP: man (man-db) is not installed: the formatting is not checked"
    exit 77
fi
MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >"$work/formatted" 2>"$work/warnings"
status=$?
if [ "$status" -ne 0 ] || [ -s "$work/warnings" ]; then
    echo "FAIL: man --warnings -E UTF-8 -l $page: exit code $status, warnings:"
    sed 's/^/    /' "$work/warnings"
    exit 1
fi
echo "ok: man --warnings -E UTF-8 formats $page without a warning ($(wc -l <"$work/formatted") lines at 80 columns)"
echo "all checks passed"
