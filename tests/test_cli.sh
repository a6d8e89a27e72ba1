#!/bin/sh
# The `clmlp` command end to end: --help everywhere, a short training run that saves a
# model, eval and predict on it, and bad input ending with one line and the right exit
# code (2: usage, 1: runtime). Usage: test_cli.sh CLMLP_BINARY DATA_DIR
set -u
clmlp=$1
data=$2
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
    elif [ "$code" -ne 0 ] && [ "$(wc -l <"$work/err")" -ne 1 ]; then
        fail "$what: expected one line on stderr, got:"
        sed 's/^/    /' "$work/err" | head -5
    else
        echo "ok: $what"
    fi
}

for sub in train eval predict gradcheck devices tune; do
    expect 0 "$sub --help" -- "$clmlp" "$sub" --help
    grep -q "usage: clmlp $sub" "$work/out" || fail "$sub --help does not start with its usage"
done
expect 0 "--version" -- "$clmlp" --version
expect 2 "no command" -- "$clmlp"
expect 2 "unknown command" -- "$clmlp" frobnicate
expect 2 "unknown option" -- "$clmlp" train --frobnicate 1
expect 2 "batch 0" -- "$clmlp" train --batch 0
expect 2 "negative learning rate" -- "$clmlp" train --lr -1
expect 2 "epochs 1e12" -- "$clmlp" train --epochs 1000000000000
expect 2 "bad layer list" -- "$clmlp" train --layers 784,,10
expect 2 "bad loss" -- "$clmlp" train --loss hinge
expect 2 "missing value" -- "$clmlp" train --epochs
expect 1 "missing data directory" -- "$clmlp" train --data "$work/nowhere" --epochs 1
expect 1 "784-input net on 24x24 crops" -- "$clmlp" train --data "$data" --crop 24 --layers 784,10 --epochs 1
grep -q "576" "$work/err" && grep -q "784" "$work/err" || fail "the shape message does not name 576 and 784"
expect 1 "eval of a missing model" -- "$clmlp" eval "$work/none.clmlp" --data "$data"
expect 2 "eval without a model" -- "$clmlp" eval --data "$data"
expect 1 "predict on a directory" -- "$clmlp" predict "$work" "$data/t10k-images-idx3-ubyte.gz"

# A short run: 2 epochs of a small net, with every output file.
expect 0 "train" -- "$clmlp" train --data "$data" --layers 784,32,10 --epochs 2 --seed 3 --json \
    --save "$work/model.clmlp" --metrics "$work/metrics.csv" --plot "$work/plot.svg"
# the run, 2 epochs, the result
[ "$(wc -l <"$work/out")" -eq 4 ] || fail "train --json: expected 4 JSON lines on stdout"
head -1 "$work/out" | grep -q '^{"type":"run",' || fail "train --json: the first object is not the run's"
[ "$(grep -c '^{"epoch":[12],.*"test_accuracy"' "$work/out")" -eq 2 ] || fail "train --json: no test_accuracy per epoch"
tail -1 "$work/out" | grep -q '^{"type":"result",.*"kept_epoch":2,' || fail "train --json: no result object last"
[ "$(wc -l <"$work/metrics.csv")" -eq 3 ] || fail "metrics: expected a header and 2 rows"
grep -q "</svg>" "$work/plot.svg" || fail "plot: not a complete SVG"
accuracy=$(grep '^{"epoch":2,' "$work/out" | sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p')
tail -1 "$work/out" | grep -q "\"test_accuracy\":$accuracy," || fail "train --json: the result's test accuracy is not epoch 2's"
expect 0 "eval --json" -- "$clmlp" eval "$work/model.clmlp" --data "$data" --json
grep -q "\"accuracy\":$accuracy," "$work/out" || fail "eval accuracy differs from training's last test accuracy $accuracy"
expect 0 "predict" -- "$clmlp" predict "$work/model.clmlp" "$data/t10k-images-idx3-ubyte.gz" 0 1
[ "$(grep -c '^image [01]: class [0-9]' "$work/out")" -eq 2 ] || fail "predict: expected two classified images"
expect 1 "predict index out of range" -- "$clmlp" predict "$work/model.clmlp" "$data/t10k-images-idx3-ubyte.gz" 10000
# images of another size than the model's 784 inputs: refused, naming both numbers
# (2 images; octal 070 = 56, 016 = 14)
printf '\000\000\010\003\000\000\000\002\000\000\000\070\000\000\000\070' >"$work/big.idx"
head -c 6272 /dev/zero | tr '\000' '\177' >>"$work/big.idx"
printf '\000\000\010\003\000\000\000\002\000\000\000\016\000\000\000\016' >"$work/small.idx"
head -c 392 /dev/zero >>"$work/small.idx"
for size in big small; do
    expect 1 "predict on $size images" -- "$clmlp" predict "$work/model.clmlp" "$work/$size.idx" 1
    inputs=$([ $size = big ] && echo 3136 || echo 196)
    grep -q "$inputs" "$work/err" && grep -q "784" "$work/err" || fail "predict on $size images: no $inputs and 784"
    grep -q "^image" "$work/out" && fail "predict on $size images printed scores"
done
head -c 100 "$work/model.clmlp" >"$work/truncated.clmlp"
expect 1 "eval of a truncated model" -- "$clmlp" eval "$work/truncated.clmlp" --data "$data"
# hostile data directories and files
mkdir -p "$work/mismatch" "$work/truncated"
for f in t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz train-labels-idx1-ubyte.gz; do
    ln -s "$data/$f" "$work/mismatch/$f"
done
ln -s "$data/t10k-images-idx3-ubyte.gz" "$work/mismatch/train-images-idx3-ubyte.gz"
expect 1 "10000 images with 60000 labels" -- "$clmlp" train --data "$work/mismatch" --layers 784,10 --epochs 1
grep -q "10000" "$work/err" && grep -q "60000" "$work/err" || fail "the count message does not name 10000 and 60000"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    ln -s "$data/$f" "$work/truncated/$f"
done
head -c 200000 "$data/t10k-images-idx3-ubyte.gz" >"$work/truncated/t10k-images-idx3-ubyte.gz"
expect 1 "a truncated .gz" -- "$clmlp" train --data "$work/truncated" --layers 784,10 --epochs 1
grep -q "truncated" "$work/err" || fail "the truncated file is not called truncated"
mkdir -p "$work/dirs/t10k-images-idx3-ubyte.gz"
expect 1 "a directory where a file is expected" -- "$clmlp" predict "$work/model.clmlp" "$work/dirs/t10k-images-idx3-ubyte.gz"
cp "$work/model.clmlp" "$work/v9.clmlp"
printf '\011' | dd of="$work/v9.clmlp" bs=1 seek=8 conv=notrunc 2>/dev/null
expect 1 "a model file of another version" -- "$clmlp" eval "$work/v9.clmlp" --data "$data"
grep -q "version 9" "$work/err" || fail "the version message does not name version 9"
expect 0 "an f64 model" -- "$clmlp" train --data "$data" --layers 784,10 --dtype f64 --epochs 1 --save "$work/f64.clmlp"
expect 0 "eval of the f64 model" -- "$clmlp" eval "$work/f64.clmlp" --data "$data"

# An output never replaces what is not a regular file: a copy of /dev/null (a FIFO where
# mknod is refused) stays one. The runs train on 4 tiny images, so each is quick.
mkdir -p "$work/tiny"
for split in train t10k; do
    { printf '\000\000\010\003\000\000\000\004\000\000\000\034\000\000\000\034'; yes abcdefg | head -c 3136; } \
        >"$work/tiny/$split-images-idx3-ubyte"
    printf '\000\000\010\001\000\000\000\004\000\001\002\003' >"$work/tiny/$split-labels-idx1-ubyte"
done
expect 0 "train on the tiny data" -- "$clmlp" train --data "$work/tiny" --layers 784,10 --epochs 1 --backend host
node_kind=c
mknod "$work/probe" c "0x$(stat -c %t /dev/null)" "0x$(stat -c %T /dev/null)" 2>/dev/null || node_kind=p
rm -f "$work/probe"
for output in --save --metrics --plot; do
    node="$work/node$output"
    if [ $node_kind = c ]; then
        mknod "$node" c "0x$(stat -c %t /dev/null)" "0x$(stat -c %T /dev/null)"
    else
        mkfifo "$node"
    fi
    expect 1 "train $output onto a device node" -- "$clmlp" train --data "$work/tiny" --layers 784,10 --epochs 1 \
        --backend host "$output" "$node"
    [ -$node_kind "$node" ] || fail "train $output replaced the device node"
    ls "$work" | grep -q '\.tmp\.' && fail "train $output left a temporary file"
    if [ "$output" = --save ] && ! grep -q "not a regular file" "$work/err"; then
        fail "the --save refusal does not say the path is not a regular file"
    fi
done

expect 0 "gradcheck" -- "$clmlp" gradcheck --epochs 1
grep -q "PASS" "$work/out" || fail "gradcheck printed no PASS"
expect 0 "devices" -- "$clmlp" devices
expect 0 "tune --show" -- "$clmlp" tune --show --layers 40,24,10 --dtype f32
grep -Eq "tiles ([0-9]+:[0-9]+x[0-9]+:[0-9]+x[0-9]+|gpu:[0-9]+x[0-9]+:[0-9]+x[0-9]+(:[0-9]+){4})" "$work/out" ||
    fail "tune --show names no tiles"
expect 2 "tune with batch 1" -- "$clmlp" tune --batch 1

[ "$failures" -eq 0 ] && echo "all command checks passed" || echo "$failures command check(s) failed"
[ "$failures" -eq 0 ]
