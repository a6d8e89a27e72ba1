#!/bin/sh
# `clmlp sweep` in one process: a 2 × 2 grid (--lr × --seed) gives 4 JSON lines whose
# options are the cross product in order (the last axis fastest, axes in the order first
# given); each point's metrics equal those of the same `clmlp train` run done on its own
# (the independent check), its --save-dir model reproduces its test loss under
# `clmlp eval`; the table is sorted by test loss (by validation loss with --validation);
# a failing point is reported and the others go on (exit 1); --jobs 2 and 3 (points
# trained at once on threads) give --jobs 1's JSON lines, in point order, and its models;
# bad syntax ends with one line and exit 2 before anything trains. Small IDX sets cut from
# DATA_DIR keep it quick.
# Usage: test_cli_sweep.sh CLMLP_BINARY DATA_DIR
set -u
clmlp=$1
data=$2
. "$(dirname "$0")/cli_lib.sh"

# ---- small IDX sets: the first N images and labels of the real files ----
be32() {
    for b in 24 16 8 0; do
        printf "\\$(printf %03o $(($1 >> b & 255)))"
    done
}
# idx_cut SOURCE.gz DEST COUNT HEADER_BYTES ITEM_BYTES
idx_cut() {
    {
        gzip -dc "$1" | head -c 4
        be32 "$3"
        gzip -dc "$1" | head -c $(($4 + $3 * $5)) | tail -c +9
    } >"$2"
}
small="$work/small"
mkdir -p "$small"
idx_cut "$data/train-images-idx3-ubyte.gz" "$small/train-images-idx3-ubyte" 2000 16 784
idx_cut "$data/train-labels-idx1-ubyte.gz" "$small/train-labels-idx1-ubyte" 2000 8 1
idx_cut "$data/t10k-images-idx3-ubyte.gz" "$small/t10k-images-idx3-ubyte" 500 16 784
idx_cut "$data/t10k-labels-idx1-ubyte.gz" "$small/t10k-labels-idx1-ubyte" 500 8 1
common="--data $small --layers 784,16,10 --epochs 2 --batch 50"

expect 0 "sweep --help" -- "$clmlp" sweep --help
grep -q "^usage: clmlp sweep" "$work/out" || fail "sweep --help does not start with its usage"
"$clmlp" --help | grep -q "^  sweep " || fail "clmlp --help does not list sweep"

# ---- a 2 x 2 sweep: JSON lines on stdout, the human output on stderr ----
expect 0 "sweep --lr x --seed, --json -, --save-dir" -- "$clmlp" sweep $common --lr 0.05 --lr 0.2 --seed 1 --seed 2 \
    --json - --save-dir "$work/models"
cp "$work/out" "$work/grid.json"
cp "$work/err" "$work/grid.txt"
[ "$(wc -l <"$work/grid.json")" -eq 4 ] || fail "--json -: expected 4 lines, got $(wc -l <"$work/grid.json")"
n=0
for lr in 0.05 0.2; do
    for seed in 1 2; do
        n=$((n + 1))
        line=$(sed -n "${n}p" "$work/grid.json")
        echo "$line" | grep -q "^{\"type\":\"point\",\"point\":$n,\"points\":4,\"rank\":0,\"axes\":{\"lr\":\"$lr\",\"seed\":\"$seed\"}," ||
            fail "point $n is not --lr $lr --seed $seed: $(echo "$line" | cut -c1-100)"
        echo "$line" | grep -q "\"layers\":\[784,16,10\],\"loss\":\"ce\",\"dtype\":\"f32\",\"optimizer\":\"sgd\",\"lr\":$lr,.*\"batch\":50,\"epochs\":2,\"seed\":$seed," ||
            fail "point $n does not carry its options: $(echo "$line" | cut -c1-240)"
        echo "$line" | grep -q '"ok":true,' || fail "point $n did not train"
        # the independent check: the same training as clmlp train
        expect 0 "train --lr $lr --seed $seed on its own" -- "$clmlp" train $common --lr $lr --seed $seed --json
        echo "$line" >"$work/point.json"
        for key in train_loss train_accuracy; do
            want=$(sed -n 3p "$work/out" | sed -n "s/.*\"$key\":\([^,}]*\).*/\1/p")
            got=$(json_field "$key" "$work/point.json")
            [ -n "$want" ] && [ "$got" = "$want" ] || fail "point $n: $key $got, clmlp train gives $want"
        done
        for key in test_loss test_accuracy; do
            want=$(tail -1 "$work/out" | sed -n "s/.*\"$key\":\([^,}]*\).*/\1/p")
            got=$(json_field "$key" "$work/point.json")
            [ -n "$want" ] && [ "$got" = "$want" ] || fail "point $n: $key $got, clmlp train gives $want"
        done
        # its saved model: clmlp eval reproduces the test loss
        expect 0 "eval of point $n's model" -- "$clmlp" eval "$work/models/point-$n.clmlp" --data "$small" --json
        [ "$(json_field loss "$work/out")" = "$(json_field test_loss "$work/point.json")" ] ||
            fail "point $n: eval's loss $(json_field loss "$work/out") is not its test loss $(json_field test_loss "$work/point.json")"
        json_field saved "$work/point.json" | grep -q "models/point-$n.clmlp\"$" || fail "point $n: \"saved\" does not name its file"
    done
done
grep -q "^sweep: 4 points, --lr 0.05|0.2 x --seed 1|2;" "$work/grid.txt" || fail "no plan line: $(head -1 "$work/grid.txt")"
[ "$(grep -c '^point [1-4]/4  --lr ' "$work/grid.txt")" -eq 4 ] || fail "expected a line per point"
# the table: every point once, best test loss first, the same order as the JSON's losses
sed -n '/^best first, by test loss:$/,$p' "$work/grid.txt" | tail -n +3 >"$work/table"
[ "$(wc -l <"$work/table")" -eq 4 ] || fail "the table has $(wc -l <"$work/table") rows, not 4"
table_points=$(awk '{ printf "%s ", $2 }' "$work/table")
json_order=$(awk -F'"test_loss":' '{ split($2, v, ","); split($0, p, "\"point\":"); split(p[2], q, ","); print v[1], q[1] }' \
    "$work/grid.json" | sort -g | awk '{ printf "%s ", $2 }')
[ "$table_points" = "$json_order" ] || fail "the table's order $table_points is not by test loss ($json_order)"
awk '{ if (NR > 1 && $6 < prev) bad = 1; prev = $6 } END { exit bad }' "$work/table" ||
    fail "the table's test losses do not increase"
[ "$(awk '{ print $1 }' "$work/table" | tr '\n' ' ')" = "1 2 3 4 " ] || fail "the table's places are not 1 to 4"

# ---- the axes in the order first given, whatever the order of their values ----
expect 0 "sweep with interleaved axes" -- "$clmlp" sweep --data "$small" --layers 784,8,10 --epochs 1 --seed 3 \
    --lr 0.1 --seed 4 --lr 0.3 --lr 0.5 --json "$work/axes.json"
[ "$(sed -n 's/.*"axes":{\([^}]*\)}.*/\1/p' "$work/axes.json" | tr '\n' ' ')" = \
    '"seed":"3","lr":"0.1" "seed":"3","lr":"0.3" "seed":"3","lr":"0.5" "seed":"4","lr":"0.1" "seed":"4","lr":"0.3" "seed":"4","lr":"0.5" ' ] ||
    fail "the points are not seed-major: $(sed -n 's/.*"axes":{\([^}]*\)}.*/\1/p' "$work/axes.json" | tr '\n' ' ')"
grep -q "^best first, by test loss:$" "$work/out" || fail "--json FILE: the table is not on stdout"

# ---- with --validation: sorted by the validation loss, which equals train's ----
expect 0 "sweep --validation" -- "$clmlp" sweep $common --validation 0.25 --momentum 0 --momentum 0.9 --json "$work/val.json"
sed -n '/^best first, by validation loss:$/,$p' "$work/out" | tail -n +3 >"$work/vtable"
[ "$(wc -l <"$work/vtable")" -eq 2 ] || fail "--validation: the table has $(wc -l <"$work/vtable") rows, not 2"
awk 'NR == 1 { a = $5 } NR == 2 { b = $5 } END { exit !(a <= b) }' "$work/vtable" ||
    fail "--validation: the table is not sorted by validation loss"
expect 0 "train --validation --momentum 0.9 on its own" -- "$clmlp" train $common --validation 0.25 --momentum 0.9 --json
[ "$(sed -n 2p "$work/val.json" | sed -n 's/.*"val_loss":\([^,}]*\).*/\1/p')" = "$(sed -n 3p "$work/out" | sed -n 's/.*"val_loss":\([^,}]*\).*/\1/p')" ] ||
    fail "--validation: point 2's val_loss is not train's"

# ---- a failing point: reported, the others go on, exit 1 ----
expect 1 "sweep with a point that cannot train" -- "$clmlp" sweep --data "$small" --epochs 1 --layers 784,8,10 \
    --layers 700,10 --json "$work/fail.json"
grep -q "sweep: 1 of 2 points failed" "$work/err" || fail "the failure count is not said"
sed -n 1p "$work/fail.json" | grep -q '"ok":true' || fail "point 1 did not train"
sed -n 2p "$work/fail.json" | grep -q '"ok":false,.*"test_loss":null,.*"error":".*784 inputs.*700' ||
    fail "point 2's failure is not recorded: $(sed -n 2p "$work/fail.json" | cut -c1-300)"
grep -q "^point 2/2  --layers 700,10  failed: " "$work/out" || fail "point 2's failure is not printed"

# ---- --jobs: N points at once on threads, the same results as one after another ----
# (the JSON lines equal --jobs 1's but for seconds, rank, job and the --save-dir; in point order; the same
# models in --save-dir; a failing point is still reported as such)
strip() {
    sed -E 's/"seconds":[^,]*,//; s/"rank":[0-9]+,//; s/,"job":[0-9]+//; s|/jobs[0-9]+/point-|/DIR/point-|' "$1"
}
grid="--lr 0.05 --lr 0.2 --seed 1 --seed 2"
expect 0 "sweep --jobs 1" -- "$clmlp" sweep $common $grid --jobs 1 --json "$work/jobs1.json" --save-dir "$work/jobs1"
grep -q "^sweep: 4 points, .*; one after another in this process$" "$work/out" ||
    fail "--jobs 1: the plan is not one after another: $(head -1 "$work/out")"
strip "$work/jobs1.json" >"$work/jobs1.stripped"
[ "$(wc -l <"$work/jobs1.stripped")" -eq 4 ] || fail "--jobs 1: expected 4 JSON lines"
for j in 2 3; do
    expect 0 "sweep --jobs $j" -- "$clmlp" sweep $common $grid --jobs $j --json "$work/jobs$j.json" --save-dir "$work/jobs$j"
    grep -q "^sweep: 4 points, .*; $j jobs at once in this process" "$work/out" ||
        fail "--jobs $j: the plan does not say $j jobs: $(head -1 "$work/out")"
    strip "$work/jobs$j.json" >"$work/jobs$j.stripped"
    cmp -s "$work/jobs1.stripped" "$work/jobs$j.stripped" || {
        fail "--jobs $j: the JSON lines differ from --jobs 1's"
        diff "$work/jobs1.stripped" "$work/jobs$j.stripped" | tr ',' '\n' | sort | uniq -u | head -8 | sed 's/^/    /'
    }
    [ "$(json_field point "$work/jobs$j.json" | tr '\n' ' ')" = "1 2 3 4 " ] ||
        fail "--jobs $j: the JSON lines are not in point order: $(json_field point "$work/jobs$j.json" | tr '\n' ' ')"
    [ "$(sed -n 's|^point \([0-9]*\)/4 .*|\1|p' "$work/out" | tr '\n' ' ')" = "1 2 3 4 " ] ||
        fail "--jobs $j: the lines are not in point order"
    bad_job=$(json_field job "$work/jobs$j.json" | awk -v j=$j '$1 !~ /^[0-9]+$/ || $1 >= j')
    [ -z "$bad_job" ] || fail "--jobs $j: a \"job\" out of 0..$((j - 1)): $bad_job"
    for n in 1 2 3 4; do
        cmp -s "$work/jobs1/point-$n.clmlp" "$work/jobs$j/point-$n.clmlp" ||
            fail "--jobs $j: point $n's model differs from --jobs 1's"
    done
done
expect 1 "sweep --jobs 2 with a point that cannot train" -- "$clmlp" sweep --data "$small" --epochs 1 \
    --layers 784,8,10 --layers 700,10 --layers 784,4,10 --jobs 2 --json "$work/jobsfail.json"
grep -q "sweep: 1 of 3 points failed" "$work/err" || fail "--jobs 2: the failure count is not said"
[ "$(json_field ok "$work/jobsfail.json" | tr '\n' ' ')" = "true false true " ] ||
    fail "--jobs 2: not the failure of point 2 alone: $(json_field ok "$work/jobsfail.json" | tr '\n' ' ')"
sed -n 2p "$work/jobsfail.json" | grep -q '"error":".*784 inputs.*700' || fail "--jobs 2: point 2's error is not recorded"
expect 2 "--jobs 0" -- "$clmlp" sweep $common --jobs 0
expect 2 "--jobs abc" -- "$clmlp" sweep $common --jobs abc
expect 2 "--jobs given twice" -- "$clmlp" sweep $common --jobs 2 --jobs 3
expect 2 "--jobs without a value" -- "$clmlp" sweep $common --jobs
expect 2 "--jobs with --mpi" -- "$clmlp" sweep $common --jobs 2 --mpi

# ---- bad syntax: one line, exit 2, nothing trained ----
expect 2 "a value given twice" -- "$clmlp" sweep --lr 0.1 --lr 0.1
expect 2 "a non-axis option twice" -- "$clmlp" sweep --data "$small" --data "$small"
expect 2 "--save in a sweep" -- "$clmlp" sweep --save "$work/x.clmlp"
grep -q -- "--save-dir" "$work/err" || fail "the --save refusal does not point to --save-dir"
expect 2 "--resume in a sweep" -- "$clmlp" sweep --resume "$work/x.clmlp"
expect 2 "--metrics in a sweep" -- "$clmlp" sweep --metrics "$work/x.csv"
expect 2 "--mpi-timeout in a sweep" -- "$clmlp" sweep --mpi-timeout 10
expect 2 "unknown option" -- "$clmlp" sweep --frobnicate 1
expect 2 "a stray argument" -- "$clmlp" sweep 0.1
expect 2 "--json without a value" -- "$clmlp" sweep --lr 0.1 --json
expect 2 "missing value" -- "$clmlp" sweep --lr
expect 2 "a bad value at point 3" -- "$clmlp" sweep $common --save-dir "$work/never" --lr 0.1 --lr 0.2 --lr abc
grep -q "sweep: point 3 (--lr abc): bad value 'abc' for --lr" "$work/err" || fail "the bad value's message does not name point 3"
[ -e "$work/never" ] && fail "a sweep with a bad point created its --save-dir"
expect 2 "adam with --momentum at point 2" -- "$clmlp" sweep $common --optimizer sgd --optimizer adam --momentum 0.9
grep -q "point 2 (--optimizer adam)" "$work/err" || fail "the conflict's message does not name point 2"
expect 2 "--patience without --validation" -- "$clmlp" sweep $common --patience 1 --patience 2

[ "$failures" -eq 0 ] && echo "all sweep checks passed" || echo "$failures sweep check(s) failed"
[ "$failures" -eq 0 ]
