#!/bin/sh
# The command under mpirun (a build with MPI): `clmlp sweep --mpi` gives the same points
# with 1 and 2 ranks as in one process (only seconds and ranks differ; point N on rank
# (N-1) mod 2), printed once by rank 0 in point order; `clmlp train --mpi` on 2 ranks
# prints and writes only on rank 0, trains the weights a 1-rank run with the same global
# batch trains (f64: equal test loss), uses rank 1's rows (rank 1 on other labels trains
# another model), continues a checkpoint with --resume, and a rank that alone fails says
# so in one line without hanging the job. Every mpirun runs under `timeout 300`.
# Usage: test_cli_mpi.sh CLMLP_BINARY DATA_DIR MPIEXEC
set -u
clmlp=$1
data=$2
mpiexec=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
# two ranks on a small machine: shared memory between them, one POCL thread each
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}" OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader}"
export POCL_MAX_PTHREAD_COUNT="${POCL_MAX_PTHREAD_COUNT:-1}"
mpi_flags=""
if "$mpiexec" --version 2>&1 | grep -Eqi "open ?mpi|openrte"; then
    mpi_flags="--allow-run-as-root --oversubscribe"
fi

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect CODE DESCRIPTION -- command...: the exit code (nonzero: any, for mpirun)
expect() {
    code=$1
    what=$2
    shift 3
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -eq 124 ]; then
        fail "$what: timed out"
        return 1
    elif { [ "$code" -eq 0 ] && [ "$got" -ne 0 ]; } || { [ "$code" -ne 0 ] && [ "$got" -eq 0 ]; }; then
        fail "$what: exit code $got, expected $([ "$code" -eq 0 ] && echo 0 || echo nonzero)"
        sed 's/^/    /' "$work/err" | head -8
        return 1
    fi
    echo "ok: $what"
}

# mpi K ARGS...: clmlp ARGS on K ranks
mpi() {
    ranks=$1
    shift
    timeout 300 "$mpiexec" $mpi_flags -np "$ranks" "$clmlp" "$@"
}

# json_field KEY FILE: the values of "KEY": in the lines of FILE, one per line
json_field() {
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"
}

# clmlp's own lines on stderr (mpirun adds its own banners)
clmlp_lines() {
    grep '^clmlp: ' "$1"
}

# ---- small IDX sets: the first N images and labels of the real files ----
be32() {
    for b in 24 16 8 0; do
        printf "\\$(printf %03o $(($1 >> b & 255)))"
    done
}
# idx_cut SOURCE.gz DEST COUNT HEADER_BYTES ITEM_BYTES [SKIP_ITEMS]
idx_cut() {
    {
        gzip -dc "$1" | head -c 4
        be32 "$3"
        gzip -dc "$1" | head -c "$4" | tail -c +9
        gzip -dc "$1" | tail -c +$(($4 + 1 + ${6:-0} * $5)) | head -c $(($3 * $5))
    } >"$2"
}
small="$work/small"
other="$work/other" # the same images, the labels of later images: the same shape, other rows
mkdir -p "$small" "$other"
idx_cut "$data/train-images-idx3-ubyte.gz" "$small/train-images-idx3-ubyte" 1500 16 784
idx_cut "$data/train-labels-idx1-ubyte.gz" "$small/train-labels-idx1-ubyte" 1500 8 1
idx_cut "$data/t10k-images-idx3-ubyte.gz" "$small/t10k-images-idx3-ubyte" 500 16 784
idx_cut "$data/t10k-labels-idx1-ubyte.gz" "$small/t10k-labels-idx1-ubyte" 500 8 1
cp "$small/train-images-idx3-ubyte" "$small"/t10k-* "$other/"
idx_cut "$data/train-labels-idx1-ubyte.gz" "$other/train-labels-idx1-ubyte" 1500 8 1 1500

# ---- sweep --mpi: 1 and 2 ranks, and one process, give the same points ----
grid="--data $small --layers 784,16,10 --epochs 2 --batch 50 --lr 0.05 --lr 0.2 --seed 1 --seed 2"
# the points without what may differ: seconds, the rank, the file's directory
strip() {
    sed -E 's/"rank":[0-9]+,//; s/"seconds":[^,]*,//; s/"saved":("[^"]*"|null),//' "$1"
}
expect 0 "sweep in one process" -- "$clmlp" sweep $grid --json "$work/alone.json"
expect 0 "sweep --mpi on 1 rank" -- mpi 1 sweep --mpi $grid --json "$work/one.json"
expect 0 "sweep --mpi on 2 ranks" -- mpi 2 sweep --mpi $grid --json "$work/two.json" --save-dir "$work/models"
cp "$work/out" "$work/two.txt"
[ "$(wc -l <"$work/two.json")" -eq 4 ] || fail "sweep --mpi: expected 4 JSON lines, got $(wc -l <"$work/two.json")"
strip "$work/alone.json" >"$work/alone.cmp"
strip "$work/one.json" >"$work/one.cmp"
strip "$work/two.json" >"$work/two.cmp"
cmp -s "$work/alone.cmp" "$work/one.cmp" || fail "sweep: 1 rank differs from one process: $(diff "$work/alone.cmp" "$work/one.cmp" | head -3)"
cmp -s "$work/one.cmp" "$work/two.cmp" || fail "sweep: 2 ranks differ from 1: $(diff "$work/one.cmp" "$work/two.cmp" | head -3)"
[ "$(json_field rank "$work/two.json" | tr '\n' ' ')" = "0 1 0 1 " ] ||
    fail "sweep: the points' ranks are $(json_field rank "$work/two.json" | tr '\n' ' '), not 0 1 0 1"
[ "$(json_field point "$work/two.json" | tr '\n' ' ')" = "1 2 3 4 " ] || fail "sweep: the points are not in order"
[ "$(grep -c '^point ' "$work/two.txt")" -eq 4 ] || fail "sweep --mpi: the point lines are not printed once each"
[ "$(grep -c '^best first' "$work/two.txt")" -eq 1 ] || fail "sweep --mpi: the table is not printed once"
[ "$(ls "$work/models" | tr '\n' ' ')" = "point-1.clmlp point-2.clmlp point-3.clmlp point-4.clmlp " ] ||
    fail "sweep --mpi --save-dir: the files are $(ls "$work/models" | tr '\n' ' ')"
expect 0 "eval of rank 1's point 2" -- "$clmlp" eval "$work/models/point-2.clmlp" --data "$small" --json
[ "$(json_field loss "$work/out")" = "$(sed -n 2p "$work/two.json" | sed -n 's/.*"test_loss":\([^,}]*\).*/\1/p')" ] ||
    fail "sweep --mpi: point 2's model does not give its test loss"
# a point that fails on rank 1 is rank 0's to report, in its place
expect 1 "sweep --mpi with a failing point on rank 1" -- mpi 2 sweep --mpi --data "$small" --epochs 1 \
    --layers 784,8,10 --layers 700,10 --json "$work/fail.json"
sed -n 2p "$work/fail.json" | grep -q '"rank":1,.*"ok":false,.*"error":".*700' ||
    fail "sweep --mpi: rank 1's failed point is not recorded: $(sed -n 2p "$work/fail.json" | cut -c1-200)"
[ "$(clmlp_lines "$work/err")" = "clmlp: sweep: 1 of 2 points failed" ] ||
    fail "sweep --mpi: the failure is not told once by rank 0: $(clmlp_lines "$work/err" | head -3)"
expect 2 "sweep --mpi: a usage error" -- mpi 2 sweep --mpi --lr 0.1 --lr 0.1
[ "$(clmlp_lines "$work/err" | wc -l)" -eq 1 ] || fail "sweep --mpi: the usage error is not told once"

# ---- train --mpi: rank 0 alone prints and writes ----
train="--data $small --layers 784,16,10 --dtype f64 --batch 64 --seed 7"
expect 0 "train --mpi on 2 ranks" -- mpi 2 train --mpi $train --epochs 2 --json --save "$work/two.ck" \
    --metrics "$work/two.csv"
cp "$work/out" "$work/train2.json"
cp "$work/err" "$work/train2.txt"
[ "$(wc -l <"$work/train2.json")" -eq 4 ] ||
    fail "train --mpi --json: expected a run object, 2 epochs and a result once, got $(wc -l <"$work/train2.json") lines"
head -1 "$work/train2.json" | grep -q '"mpi":{"ranks":2,' || fail "train --mpi --json: the run object does not say 2 ranks"
for line in "^epoch 1/2 " "^epoch 2/2 " "^saved: " "^net: " "^mpi: 2 ranks, "; do
    [ "$(grep -c "$line" "$work/train2.txt")" -eq 1 ] || fail "train --mpi: '$line' is not printed once"
done
[ "$(wc -l <"$work/two.csv")" -eq 3 ] || fail "train --mpi --metrics: expected a header and 2 rows"
# rank 1's own --save and --metrics (another program of the same job) are never written
expect 0 "train --mpi: rank 1 told to write elsewhere" -- timeout 300 "$mpiexec" $mpi_flags \
    -np 1 "$clmlp" train --mpi $train --epochs 1 --save "$work/r0.ck" --metrics "$work/r0.csv" : \
    -np 1 "$clmlp" train --mpi $train --epochs 1 --save "$work/r1.ck" --metrics "$work/r1.csv"
[ -f "$work/r0.ck" ] && [ -f "$work/r0.csv" ] || fail "train --mpi: rank 0 did not write its files"
[ -e "$work/r1.ck" ] || [ -e "$work/r1.csv" ] && fail "train --mpi: rank 1 wrote files"

# ---- the same weights as 1 rank with the same global batch ----
expect 0 "train --mpi on 1 rank" -- mpi 1 train --mpi $train --epochs 2 --json --save "$work/one.ck"
cp "$work/out" "$work/train1.json"
# relative difference of two numbers within tol
close() {
    awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; exit !(a != "" && d <= tol * m) }'
}
for n in 1 2; do
    a=$(sed -n "$((n + 1))p" "$work/train1.json" | sed -n 's/.*"train_loss":\([^,}]*\).*/\1/p')
    b=$(sed -n "$((n + 1))p" "$work/train2.json" | sed -n 's/.*"train_loss":\([^,}]*\).*/\1/p')
    close "$a" "$b" 1e-9 || fail "train --mpi: epoch $n's training loss is $b on 2 ranks, $a on 1"
done
expect 0 "eval of the 2-rank model" -- "$clmlp" eval "$work/two.ck" --data "$small" --json
loss2=$(json_field loss "$work/out")
accuracy2=$(json_field accuracy "$work/out")
expect 0 "eval of the 1-rank model" -- "$clmlp" eval "$work/one.ck" --data "$small" --json
loss1=$(json_field loss "$work/out")
close "$loss1" "$loss2" 1e-9 || fail "train --mpi: the 2-rank model's test loss $loss2 is not the 1-rank model's $loss1"
[ "$accuracy2" = "$(json_field accuracy "$work/out")" ] || fail "train --mpi: the test accuracies differ"
# rank 1's rows count: with other labels on rank 1 the model is another one
expect 0 "train --mpi: rank 1 on other labels" -- timeout 300 "$mpiexec" $mpi_flags \
    -np 1 "$clmlp" train --mpi --data "$small" --layers 784,16,10 --dtype f64 --batch 64 --seed 7 --epochs 2 \
    --save "$work/mixed.ck" : \
    -np 1 "$clmlp" train --mpi --data "$other" --layers 784,16,10 --dtype f64 --batch 64 --seed 7 --epochs 2
expect 0 "eval of the model trained with rank 1's labels" -- "$clmlp" eval "$work/mixed.ck" --data "$small" --json
close "$loss1" "$(json_field loss "$work/out")" 1e-6 &&
    fail "train --mpi: rank 1's rows made no difference (test loss $(json_field loss "$work/out"))"

# ---- --resume under --mpi continues: 1 + 1 epochs are the 2 epochs ----
expect 0 "train --mpi: 1 epoch" -- mpi 2 train --mpi $train --epochs 1 --save "$work/r.ck"
expect 0 "train --mpi --resume: 1 more" -- mpi 2 train --mpi $train --epochs 1 --resume "$work/r.ck" --save "$work/r.ck"
grep -q "^resumed: .*r.ck after 1 epoch$" "$work/out" || fail "train --mpi --resume: no 'resumed' line"
grep -q "^epoch 2/2 " "$work/out" || fail "train --mpi --resume: the epoch is not 2/2"
expect 0 "eval of the resumed model" -- "$clmlp" eval "$work/r.ck" --data "$small" --json
close "$loss2" "$(json_field loss "$work/out")" 1e-9 ||
    fail "train --mpi --resume: test loss $(json_field loss "$work/out"), the uninterrupted run's $loss2"

# ---- failures: told once, the job ends ----
expect 2 "train --mpi: a usage error" -- mpi 2 train --mpi --lr -1
[ "$(clmlp_lines "$work/err" | wc -l)" -eq 1 ] || fail "train --mpi: the usage error is not told once"
expect 1 "train --mpi: a missing checkpoint on every rank" -- mpi 2 train --mpi $train --resume "$work/none.ck"
[ "$(clmlp_lines "$work/err" | wc -l)" -eq 1 ] || fail "train --mpi: the missing checkpoint is not told once"
mkdir "$work/nothing"
expect 1 "train --mpi: rank 1 alone without data" -- timeout 300 "$mpiexec" $mpi_flags \
    -np 1 "$clmlp" train --mpi $train --epochs 1 : -np 1 "$clmlp" train --mpi $train --epochs 1 --data "$work/nothing"
[ "$(clmlp_lines "$work/err")" = "clmlp: rank 1: no train-images-idx3-ubyte in $work/nothing" ] ||
    fail "train --mpi: rank 1's failure is not told by rank 1 alone: $(clmlp_lines "$work/err" | head -3)"

[ "$failures" -eq 0 ] && echo "all MPI checks passed" || echo "$failures MPI check(s) failed"
[ "$failures" -eq 0 ]
