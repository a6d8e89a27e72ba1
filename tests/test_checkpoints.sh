#!/bin/sh
# Never lose a model: (1) 2 epochs straight and 1 + --resume 1 give byte-identical
# checkpoints (weights, momentum or Adam's moments, epoch count); (2) SIGINT stops training with a message,
# exit code 130 and a loadable checkpoint; (3) SIGKILL at 20 random moments always leaves
# a checkpoint that loads (the previous one or the new one).
# Usage: test_checkpoints.sh CLMLP_BINARY DATA_DIR
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
train="$clmlp train --data $data --layers 784,24,10 --momentum 0.9 --lr-decay 0.8 --seed 7"

# (1) resume equals an uninterrupted run
$train --epochs 2 --save "$work/straight.ck" >/dev/null 2>&1 || fail "2 epochs straight"
$train --epochs 1 --save "$work/first.ck" >/dev/null 2>&1 || fail "1 epoch"
$train --epochs 1 --resume "$work/first.ck" --save "$work/resumed.ck" >"$work/resume.out" 2>&1 || fail "resume"
grep -q "resumed: .* after 1 epoch" "$work/resume.out" || fail "resume did not say what it resumed"
grep -q "^epoch 2/2 " "$work/resume.out" || fail "the resumed run is not numbered epoch 2"
if cmp -s "$work/straight.ck" "$work/resumed.ck"; then
    echo "ok: 1 + resume 1 is byte-identical to 2 epochs straight"
else
    fail "1 + resume 1 differs from 2 epochs straight"
fi
"$clmlp" eval "$work/resumed.ck" --data "$data" >/dev/null 2>&1 || fail "a checkpoint does not load as a model"
# the same with Adam (its moments and step count travel in the checkpoint), and with
# --metrics continued across the resume
adam="$clmlp train --data $data --layers 784,24,10 --lr-decay 0.8 --seed 7 --optimizer adam --lr 0.002 --beta1 0.8"
$adam --epochs 2 --save "$work/adam-straight.ck" >/dev/null 2>&1 || fail "adam: 2 epochs straight"
$adam --epochs 1 --save "$work/adam-first.ck" --metrics "$work/adam.csv" >/dev/null 2>&1 || fail "adam: 1 epoch"
$adam --epochs 1 --resume "$work/adam-first.ck" --save "$work/adam-resumed.ck" --metrics "$work/adam.csv" \
    >/dev/null 2>&1 || fail "adam: resume"
if cmp -s "$work/adam-straight.ck" "$work/adam-resumed.ck"; then
    echo "ok: adam: 1 + resume 1 is byte-identical to 2 epochs straight"
else
    fail "adam: 1 + resume 1 differs from 2 epochs straight"
fi
[ "$(cut -d, -f1 "$work/adam.csv" | tr '\n' ' ')" = "epoch 1 2 " ] || fail "adam: --metrics after the resume is not epochs 1 and 2"

# (2) SIGINT: a message, exit code 130, a checkpoint that loads
$train --epochs 1000 --save "$work/int.ck" >"$work/int.out" 2>"$work/int.err" &
pid=$!
sleep 4
kill -INT $pid
wait $pid
code=$?
[ "$code" -eq 130 ] || fail "SIGINT: exit code $code, expected 130"
grep -q "interrupted during epoch" "$work/int.err" || fail "SIGINT: no message"
"$clmlp" eval "$work/int.ck" --data "$data" >/dev/null 2>&1 || fail "SIGINT: the checkpoint does not load"
[ "$failures" -eq 0 ] && echo "ok: SIGINT saves and exits cleanly"

# (3) SIGKILL at random moments
i=0
loaded=0
while [ $i -lt 20 ]; do
    delay=$(awk -v seed=$i 'BEGIN { srand(seed * 7919 + 17); printf "%.2f", 1.5 + 2.5 * rand() }')
    $train --epochs 1000 --save "$work/kill.ck" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL $pid
    wait $pid 2>/dev/null
    if [ -e "$work/kill.ck" ]; then
        if "$clmlp" eval "$work/kill.ck" --data "$data" --json >/dev/null 2>"$work/kill.err"; then
            loaded=$((loaded + 1))
        else
            fail "SIGKILL after ${delay}s left a checkpoint that does not load: $(cat "$work/kill.err")"
        fi
    fi
    i=$((i + 1))
done
[ $loaded -ge 10 ] || fail "only $loaded of 20 kills found a checkpoint to check"
echo "ok: 20 SIGKILLs, $loaded checkpoints checked, all loadable"

[ "$failures" -eq 0 ] && echo "all checkpoint checks passed" || echo "$failures checkpoint check(s) failed"
[ "$failures" -eq 0 ]
