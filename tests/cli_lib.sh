# Shared by the command's shell tests (sourced): a scratch directory removed at exit,
# the failure count, and the checks.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect CODE DESCRIPTION -- command...: exit code and, for errors, exactly one stderr line
expect() {
    code=$1
    what=$2
    shift 3
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -ne "$code" ]; then
        fail "$what: exit code $got, expected $code"
        sed 's/^/    /' "$work/err" | head -5
        return 1
    elif [ "$code" -ne 0 ] && [ "$(wc -l <"$work/err")" -ne 1 ]; then
        fail "$what: expected one line on stderr, got:"
        sed 's/^/    /' "$work/err" | head -5
        return 1
    fi
    echo "ok: $what"
}

# json_field KEY FILE: the values of "KEY": in the lines of FILE, one per line
json_field() {
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"
}
