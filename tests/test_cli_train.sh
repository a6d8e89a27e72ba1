#!/bin/sh
# `clmlp train` end to end: --validation (JSON fields, CSV columns, the test set once at
# the end), --patience (stops early, keeps and saves the best epoch: clmlp eval and a
# zero-learning-rate rerun agree with what was reported), --optimizer adam, --resume
# refusals (another --layers, --loss, --dtype, --optimizer) and --resume continuing --metrics, the
# --json run object, the progress bar on a 40-column terminal (util-linux `script`
# gives a pty), the AUTO backend's fallback message, singular wording, and one run on a
# CSV file. Small IDX sets cut from DATA_DIR keep it quick.
# Usage: test_cli_train.sh CLMLP_BINARY DATA_DIR EXAMPLES_DATA_DIR
set -u
clmlp=$1
data=$2
examples=$3
. "$(dirname "$0")/cli_lib.sh"

# check CONDITION DESCRIPTION: an awk condition over no input
check() {
    if awk "BEGIN { exit !($1) }"; then
        echo "ok: $2"
    else
        fail "$2 ($1)"
    fi
}

# ---- small IDX sets: the first N images and labels of the real files ----
# be32 N: N as 4 big-endian bytes
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
mkdir -p "$work/small"
idx_cut "$data/train-images-idx3-ubyte.gz" "$work/small/train-images-idx3-ubyte" 3000 16 784
idx_cut "$data/train-labels-idx1-ubyte.gz" "$work/small/train-labels-idx1-ubyte" 3000 8 1
idx_cut "$data/t10k-images-idx3-ubyte.gz" "$work/small/t10k-images-idx3-ubyte" 1000 16 784
idx_cut "$data/t10k-labels-idx1-ubyte.gz" "$work/small/t10k-labels-idx1-ubyte" 1000 8 1
small="$work/small"
train="$clmlp train --data $small --layers 784,32,10 --seed 5"

# ---- --validation and --json ----
expect 0 "train --validation --json" -- $train --epochs 2 --validation 0.25 --json --metrics "$work/val.csv" \
    --plot "$work/val.svg"
cp "$work/out" "$work/val.json"
[ "$(wc -l <"$work/val.json")" -eq 4 ] || fail "--json: expected a run object, 2 epochs and a result, got $(wc -l <"$work/val.json") lines"
head -1 "$work/val.json" | grep -q '^{"type":"run","net":{"sizes":\[784,32,10\],"loss":"ce","dtype":"f32"}' ||
    fail "--json: the first object does not describe the run: $(head -1 "$work/val.json" | cut -c1-120)"
for key in backend host_fallback kernels training optimizer lr momentum beta1 beta2 eps weight_decay lr_decay \
    seed validation patience data source train test epochs_done_before save metrics plot; do
    head -1 "$work/val.json" | grep -q "\"$key\":" || fail "--json: the run object has no \"$key\""
done
head -1 "$work/val.json" | grep -q '"train":2250,"validation":750,"test":1000' ||
    fail "--json: the run object's counts are not 2250 training, 750 validation and 1000 test images"
sed -n 2,3p "$work/val.json" >"$work/epochs.json"
[ "$(grep -c '"val_loss":[0-9]' "$work/epochs.json")" -eq 2 ] || fail "--json: no val_loss in the epochs"
[ "$(grep -c '"val_accuracy":[0-9]' "$work/epochs.json")" -eq 2 ] || fail "--json: no val_accuracy in the epochs"
grep -q '"test_loss"' "$work/epochs.json" && fail "--json: the test set was evaluated during training"
tail -1 "$work/val.json" | grep -q '^{"type":"result",.*"test_loss":[0-9]' ||
    fail "--json: the last object is not the result with the test loss"
grep -q "^epoch,train_loss,train_accuracy,test_loss,test_accuracy,samples_per_s,seconds,lr,val_loss,val_accuracy$" \
    "$work/val.csv" || fail "--metrics: no val_loss and val_accuracy columns"
[ "$(wc -l <"$work/val.csv")" -eq 3 ] || fail "--metrics: expected a header and 2 rows"
grep -q "validation" "$work/val.svg" || fail "--plot: no validation curve"
grep -q "</svg>" "$work/val.svg" || fail "--plot: not a complete SVG"
expect 2 "--patience without --validation" -- $train --epochs 2 --patience 1
expect 2 "--validation 1" -- $train --epochs 1 --validation 1

# ---- --patience: stops early, keeps and saves the best epoch ----
expect 0 "train --patience" -- $train --epochs 60 --lr 2 --validation 0.5 --patience 2 --json \
    --save "$work/best.ck" --metrics "$work/best.csv"
cp "$work/out" "$work/best.json"
cp "$work/err" "$work/best.err"
epochs_run=$(json_field epochs_run "$work/best.json")
kept=$(json_field kept_epoch "$work/best.json")
best_loss=$(json_field best_val_loss "$work/best.json")
test_loss=$(json_field test_loss "$work/best.json" | tail -1)
check "${epochs_run:-60} < 60" "--patience stopped early (after ${epochs_run:-?} of 60 epochs)"
json_field stopped_early "$work/best.json" | grep -q true || fail "--patience: the result does not say it stopped early"
grep -q "^stopped early after epoch $epochs_run: the validation loss has not improved for 2 epochs$" "$work/best.err" ||
    fail "--patience: no 'stopped early' line"
grep -q "^kept: the model of epoch $kept " "$work/best.err" || fail "--patience: no line naming the kept epoch"
min=$(json_field val_loss "$work/best.json" | sort -g | head -1)
[ "$min" = "$best_loss" ] || fail "--patience: best_val_loss $best_loss is not the smallest val_loss $min"
grep -q "\"epoch\":$kept,.*\"val_loss\":$best_loss," "$work/best.json" ||
    fail "--patience: epoch $kept did not report val_loss $best_loss"
awk -F, -v k="$kept" 'NR > 1 && ($4 != "nan") != ($1 == k) { bad = 1 } END { exit bad }' "$work/best.csv" ||
    fail "--metrics: the test loss is not in the kept epoch's row alone"
# the saved model is the kept one: its test loss (clmlp eval) and its validation loss
# (one more epoch at learning rate 0 on the same split) are the ones reported
expect 0 "eval of the best epoch's checkpoint" -- "$clmlp" eval "$work/best.ck" --data "$small" --json
[ "$(json_field loss "$work/out")" = "$test_loss" ] ||
    fail "eval's loss $(json_field loss "$work/out") is not the reported test loss $test_loss"
expect 0 "the checkpoint's validation loss (lr 0)" -- "$clmlp" train --data "$small" --seed 5 --resume "$work/best.ck" \
    --epochs 1 --lr 0 --validation 0.5 --json
grep -q "\"epoch\":$((kept + 1)),.*\"val_loss\":$best_loss," "$work/out" ||
    fail "the saved model's validation loss $(json_field val_loss "$work/out") is not the best one $best_loss"

# ---- adam ----
expect 0 "train --optimizer adam" -- $train --epochs 3 --optimizer adam --lr 0.002 --beta1 0.85 --json
head -1 "$work/out" | grep -q '"optimizer":"adam","lr":0.002,"momentum":0,"beta1":0.85,"beta2":0.999,"eps":1e-08' ||
    fail "--json: the run object does not show adam's options"
losses=$(json_field train_loss "$work/out" | tr '\n' ' ')
check "$(echo "$losses" | awk '{ print $3 " < " $2 " && " $2 " < " $1 }')" "adam: the training loss decreases ($losses)"
expect 2 "adam with --momentum" -- $train --epochs 1 --optimizer adam --momentum 0.9
expect 2 "sgd with --beta1" -- $train --epochs 1 --beta1 0.9
expect 0 "train --optimizer adam --save" -- $train --epochs 1 --optimizer adam --lr 0.002 --save "$work/adam.ck"
expect 1 "resume adam's checkpoint with sgd" -- $train --epochs 1 --resume "$work/adam.ck"
grep -q "trained with --optimizer adam, --optimizer gives sgd" "$work/err" ||
    fail "the optimizer refusal names not both optimizers"
expect 0 "resume adam's checkpoint with adam" -- $train --epochs 1 --resume "$work/adam.ck" --optimizer adam --lr 0.002

# ---- --resume: refusals, and --metrics continued ----
expect 0 "train 2 epochs" -- $train --epochs 2 --save "$work/r.ck" --metrics "$work/r.csv"
expect 1 "resume with other layers" -- $train --epochs 1 --resume "$work/r.ck" --layers 784,64,10
grep -q "784-32-10" "$work/err" && grep -q "784-64-10" "$work/err" || fail "the layers refusal names not both nets"
expect 1 "resume with another loss" -- $train --epochs 1 --resume "$work/r.ck" --loss mse
grep -q "is ce, --loss gives mse" "$work/err" || fail "the loss refusal names not both losses"
expect 1 "resume with another dtype" -- $train --epochs 1 --resume "$work/r.ck" --dtype f64
grep -q "is f32, --dtype gives f64" "$work/err" || fail "the dtype refusal names not both dtypes"
expect 1 "resume with another optimizer" -- $train --epochs 1 --resume "$work/r.ck" --optimizer adam
grep -q "trained with --optimizer sgd, --optimizer gives adam" "$work/err" ||
    fail "the optimizer refusal names not both optimizers"
expect 0 "resume with the same layers, loss and dtype" -- $train --epochs 2 --resume "$work/r.ck" --loss ce \
    --dtype f32 --save "$work/r.ck" --metrics "$work/r.csv" --plot "$work/r.svg"
[ "$(cut -d, -f1 "$work/r.csv" | tr '\n' ' ')" = "epoch 1 2 3 4 " ] ||
    fail "--resume --metrics: the rows are epochs $(cut -d, -f1 "$work/r.csv" | tail -n +2 | tr '\n' ' '), not 1 2 3 4"
grep -q "4 epochs" "$work/r.svg" || fail "--resume --plot: the plot does not show the 4 epochs"

# ---- wording: 1 epoch, not 1 epochs ----
expect 0 "one epoch" -- $train --epochs 1 --validation 0.2 --patience 1 --save "$work/one.ck"
cat "$work/out" "$work/err" >"$work/one.out"
grep -q "^training: 1 epoch, " "$work/out" || fail "wording: no 'training: 1 epoch,'"
expect 0 "resume after one epoch" -- $train --epochs 1 --resume "$work/one.ck" --validation 0.2 --patience 1
cat "$work/out" "$work/err" >>"$work/one.out"
grep -q "after 1 epoch$" "$work/out" || fail "wording: no 'after 1 epoch'"
grep -q "patience 1 epoch," "$work/one.out" || fail "wording: no 'patience 1 epoch,'"
grep -Eq "(^|[^0-9])1 (epochs|samples|rows|images|classes)" "$work/one.out" && fail "wording: a plural after 1"

# ---- the progress bar on a 40-column terminal ----
# $COLUMNS when the pty has no size (stty cols 0), the pty's size when it has one;
# every redraw (the text between carriage returns) must fit in 40 columns.
if command -v script >/dev/null 2>&1; then
    for how in "stty cols 0; COLUMNS=40" "stty cols 40; COLUMNS=200"; do
        script -qec "$how $clmlp train --data $data --layers 784,64,10 --epochs 1 --batch 8 --backend host" \
            /dev/null </dev/null >"$work/pty" 2>&1
        tr '\r' '\n' <"$work/pty" | sed 's/\x1b\[K//g' | grep '^epoch 1 \[' >"$work/redraws"
        widest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$work/redraws")
        count=$(wc -l <"$work/redraws")
        check "$count >= 2 && $widest <= 40" "progress bar ($how): $count redraws, the widest $widest columns"
        grep -q "ETA [0-9]" "$work/redraws" || fail "progress bar ($how): no ETA"
    done
else
    echo "skipped: the progress bar (no util-linux script)"
fi

# ---- AUTO without a usable OpenCL device: the host path, said so ----
expect 0 "train with no OpenCL platform" -- env OCL_ICD_VENDORS="$work/none" OCL_ICD_FILENAMES= \
    $train --epochs 1
if grep -q "on host$" "$work/out"; then
    grep -q "^no usable OpenCL device: .*, training on the host path$" "$work/out" ||
        fail "the fallback to the host path is not announced"
else
    echo "skipped: the fallback message (OpenCL found a platform despite OCL_ICD_VENDORS)"
fi

# ---- a CSV file end to end ----
iris="$examples/iris.csv"
head -1 "$iris" >"$work/iris-test.csv"
sed -n '2,11p;52,61p;102,111p' "$iris" >>"$work/iris-test.csv"
expect 0 "train on iris.csv with a test CSV" -- "$clmlp" train --train-csv "$iris" --test-csv "$work/iris-test.csv" \
    --label-column species --standardize --epochs 40 --batch 10 --lr 0.1 --validation 0.2 --patience 5 \
    --backend host --json --save "$work/iris.ck"
head -1 "$work/out" | grep -q '"sizes":\[4,256,128,3\]' || fail "CSV: the net is not 4-256-128-3 from the file"
head -1 "$work/out" | grep -q '"source":"csv".*"inputs":4,"classes":3,"one_hot":"01","train":120,"validation":30,"test":30' ||
    fail "CSV: the run object does not describe the data: $(head -1 "$work/out" | sed 's/.*"data"/"data"/')"
accuracy=$(json_field test_accuracy "$work/out" | tail -1)
check "${accuracy:-0} >= 0.8" "CSV: iris test accuracy ${accuracy:-none} at least 0.8"
expect 1 "CSV: --layers that do not fit the file" -- "$clmlp" train --train-csv "$iris" --label-column species \
    --layers 5,8,3 --epochs 1
expect 2 "CSV: regression targets with --loss ce" -- "$clmlp" train --train-csv "$iris" --target-columns 4 --loss ce

[ "$failures" -eq 0 ] && echo "all train checks passed" || echo "$failures train check(s) failed"
[ "$failures" -eq 0 ]
