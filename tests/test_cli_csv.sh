#!/bin/sh
# The `clmlp` command on CSV data (apps/data.c): the example data sets, CSV dialects that
# must read the same (header or none, quotes, CRLF, a byte order mark, blank lines,
# columns by name or number), hostile files that must end with one line naming the line
# and column (exit 1; 2 for bad column options), and eval and predict on CSV, including
# predict --all --out for a whole CSV or IDX data set.
# Usage: test_cli_csv.sh CLMLP_BINARY EXAMPLES_DATA_DIR
set -u
clmlp=$1
examples=$2
. "$(dirname "$0")/cli_lib.sh"
# refuse CODE DESCRIPTION PATTERN FILE [options]: predict on a hostile FILE ends with CODE
# and one line matching the extended regular expression PATTERN
refuse() {
    code=$1
    what=$2
    pattern=$3
    file=$4
    shift 4
    expect "$code" "$what" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$file" "$@" &&
        { grep -Eq -- "$pattern" "$work/err" || fail "$what: the message does not match '$pattern': $(cat "$work/err")"; }
}

# same FILE_A FILE_B DESCRIPTION: two outputs that must be identical
same() {
    if cmp -s "$1" "$2"; then
        echo "ok: $3"
    else
        fail "$3: the predictions differ"
        diff "$1" "$2" | head -6 | sed 's/^/    /'
    fi
}

iris=$examples/iris.csv
petal=$examples/iris-petal-width.csv
header=sepal_length,sepal_width,petal_length,petal_width,species

# ---- the example data ----
[ "$(wc -l <"$iris")" -eq 151 ] || fail "iris.csv: expected a header and 150 rows"
[ "$(wc -l <"$petal")" -eq 151 ] || fail "iris-petal-width.csv: expected a header and 150 rows"
if sh "$examples/make-iris-petal-width.sh" "$iris" | cmp -s - "$petal"; then
    echo "ok: iris-petal-width.csv is what make-iris-petal-width.sh makes of iris.csv"
else
    fail "iris-petal-width.csv differs from make-iris-petal-width.sh's output"
fi

# ---- models trained on the examples (the host path: quick and exact) ----
expect 0 "train on iris.csv (classes, label by name)" -- "$clmlp" train --train-csv "$iris" --label-column species \
    --standardize --layers 4,16,3 --epochs 60 --batch 10 --lr 0.1 --seed 1 --backend host --save "$work/iris.clmlp" ||
    { echo "cannot go on without a model"; exit 1; }
expect 0 "train on iris-petal-width.csv (a target by name)" -- "$clmlp" train --train-csv "$petal" \
    --target-columns petal_width_dm --standardize --layers 3,8,1 --epochs 100 --batch 10 --lr 0.1 --seed 1 \
    --backend host --save "$work/petal.clmlp"
expect 0 "train with two targets (a list of numbers)" -- "$clmlp" train --train-csv "$iris" --target-columns 3,4 \
    --standardize --layers 3,4,2 --epochs 1 --batch 10 --seed 1 --backend host --save "$work/two.clmlp"

# ---- eval ----
expect 0 "eval --csv, label by name" -- "$clmlp" eval "$work/iris.clmlp" --backend host --csv "$iris" \
    --label-column species --json
cp "$work/out" "$work/eval-name.json"
accuracy=$(sed -n 's/.*"accuracy":\([0-9.e-]*\),.*/\1/p' "$work/eval-name.json")
awk -v a="${accuracy:-0}" 'BEGIN { exit !(a >= 0.9) }' || fail "eval: iris accuracy ${accuracy:-none} below 0.9"
total=$(sed -n 's/.*"confusion":\(.*\)}/\1/p' "$work/eval-name.json" | tr -c '0-9' ' ' | awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s }')
[ "$total" = 150 ] || fail "eval: the confusion matrix counts ${total:-nothing}, not 150 rows"
expect 0 "eval --model M --csv, label by number" -- "$clmlp" eval --model "$work/iris.clmlp" --backend host \
    --csv "$iris" --label-column 5 --json
same "$work/eval-name.json" "$work/out" "eval: label column by name and by number"
expect 0 "eval --csv table on the default backend" -- "$clmlp" eval "$work/iris.clmlp" --csv "$iris" --label-column species
grep -q "^accuracy" "$work/out" && grep -q "confusion" "$work/out" || fail "eval: no accuracy line or confusion matrix"
expect 0 "eval --csv with regression targets" -- "$clmlp" eval "$work/petal.clmlp" --backend host --csv "$petal" \
    --target-columns 4 --json
rmse=$(sed -n 's/.*"rmse":\([0-9.e-]*\),.*/\1/p' "$work/out")
# the petal widths' own standard deviation is 0.076 dm: a fit must do better than their mean
awk -v r="${rmse:-1}" 'BEGIN { exit !(r < 0.05) }' || fail "eval: petal width RMSE ${rmse:-none} dm not below 0.05"
expect 2 "eval --csv without a label or target column" -- "$clmlp" eval "$work/iris.clmlp" --csv "$iris"
expect 2 "eval --csv with --standardize" -- "$clmlp" eval "$work/iris.clmlp" --csv "$iris" --label-column 5 --standardize

# ---- CSV dialects: each must give exactly the predictions of the plain file ----
head -11 "$iris" >"$work/ref.csv"
predict_all() { # FILE LABEL-COLUMN OUT
    "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$1" --label-column "$2" --all >"$3" 2>"$work/err" ||
        fail "predict --all on $1: $(cat "$work/err")"
}
predict_all "$work/ref.csv" species "$work/ref.out"
[ "$(wc -l <"$work/ref.out")" -eq 11 ] || fail "predict --all: expected a header and 10 lines"
head -1 "$work/ref.out" | grep -qx "row,class,label,p_0,p_1,p_2" || fail "predict --all: header $(head -1 "$work/ref.out")"

tail -n +2 "$work/ref.csv" >"$work/noheader.csv"
predict_all "$work/noheader.csv" 5 "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "no header row, label by number"
predict_all "$work/ref.csv" 5 "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "a header row, label by number"
# every cell quoted; names with a comma, doubled quotes and a line break inside quotes
{
    printf '"sepal ""length"", cm","sepal_width","petal\nlength","petal_width","the ""species"", 0-2"\n'
    tail -n +2 "$work/ref.csv" | sed 's/\([^,]*\)/"\1"/g'
} >"$work/quoted.csv"
predict_all "$work/quoted.csv" 'the "species", 0-2' "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "quoted cells and names, label by a quoted name"
sed 's/$/\r/' "$work/ref.csv" >"$work/crlf.csv"
predict_all "$work/crlf.csv" species "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "CRLF line ends"
{ printf '\357\273\277'; cat "$work/ref.csv"; } >"$work/bom.csv"
predict_all "$work/bom.csv" species "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "a UTF-8 byte order mark (the first name still matches)"
{ cat "$work/ref.csv"; printf '\n\n   \n\r\n'; } >"$work/trailing.csv"
predict_all "$work/trailing.csv" species "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "blank trailing lines"
head -c -1 "$work/ref.csv" >"$work/nofinal.csv"
predict_all "$work/nofinal.csv" species "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "no line end after the last row"
awk -F, 'BEGIN { OFS = "," } { print $5, $1, $2, $3, $4 }' "$work/ref.csv" >"$work/labelfirst.csv"
predict_all "$work/labelfirst.csv" 1 "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "the label column first, by number"
sed 's/^5\.1,3\.5,1\.4,0\.2,0$/ 51e-1 , +3.50,"1.4" ,0.20,0.0/' "$work/ref.csv" >"$work/notation.csv"
grep -q "51e-1" "$work/notation.csv" || fail "notation.csv: the first row was not rewritten"
predict_all "$work/notation.csv" species "$work/out.csv"
same "$work/ref.out" "$work/out.csv" "spaces around cells, exponents, signs, a label 0.0"

# targets: by number, name and range, on the two-target model
for list in 3,4 petal_length,petal_width 3-4; do
    "$clmlp" predict "$work/two.clmlp" --backend host --csv "$iris" --target-columns "$list" --all \
        >"$work/two-$list.out" 2>"$work/err" || fail "predict --target-columns $list: $(cat "$work/err")"
done
same "$work/two-3,4.out" "$work/two-petal_length,petal_width.out" "target columns by number and by name"
same "$work/two-3,4.out" "$work/two-3-4.out" "target columns as a range"
head -1 "$work/two-3,4.out" | grep -qx "row,class,y_0,y_1,target_0,target_1" ||
    fail "predict with targets: header $(head -1 "$work/two-3,4.out")"
sed -n 2p "$work/two-3,4.out" | grep -q ",1.4,0.2$" || fail "predict with targets: row 0's targets are not 1.4,0.2"

# ---- hostile files ----
printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,abc,1.4,0.2,0\n' "$header" >"$work/text.csv"
refuse 1 "a non-numeric cell" 'text\.csv:3: column 2 \(sepal_width\):.*not a number' "$work/text.csv" --label-column species
printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,,1.4,0.2,0\n' "$header" >"$work/empty-cell.csv"
refuse 1 "a missing cell" 'empty-cell\.csv:3: column 2 \(sepal_width\):.*empty' "$work/empty-cell.csv" --label-column 5
printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,3.5,1.4\n' "$header" >"$work/short.csv"
refuse 1 "a short row" 'short\.csv:3: column 4 \(petal_width\): missing' "$work/short.csv" --label-column 5
printf '%s\n5.1,3.5,1.4,0.2,0,7\n' "$header" >"$work/long.csv"
refuse 1 "a long row" 'long\.csv:2: column 6: one cell too many' "$work/long.csv" --label-column 5
for value in nan NaN inf -Infinity 1e999; do
    printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,3.5,%s,0.2,0\n' "$header" "$value" >"$work/nonfinite.csv"
    refuse 1 "a cell $value" "nonfinite\\.csv:3: column 3 \\(petal_length\\): '$value' is not finite" \
        "$work/nonfinite.csv" --label-column 5
done
printf '5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,nan,0\n' >"$work/nonfinite-noheader.csv"
refuse 1 "nan without a header" 'nonfinite-noheader\.csv:2: column 4:' "$work/nonfinite-noheader.csv" --label-column 5
printf '%s\r\n5.1,3.5,1.4,0.2,0\r\n\r\n\r\n5.1,3.5,1.4,0.2,x\r\n' "$header" >"$work/crlf-bad.csv"
refuse 1 "an error after blank CRLF lines (line count)" 'crlf-bad\.csv:5: column 5 \(species\)' \
    "$work/crlf-bad.csv" --label-column 5
# a CRLF split between two of the reader's 64 KiB blocks: '\r' is byte 65535, '\n' byte 65536
awk 'BEGIN { printf "a,b,c,d,e\r\n"; n = 11
    while (n < 65516) { printf "1,2,3,4,0\r\n"; n += 11 }
    printf "1,2,3,4,"; for (i = n + 8; i < 65535; i++) printf "0"; printf "\r\n"
    for (i = 0; i < 3; i++) printf "1,2,3,4,0\r\n"
    printf "1,2,3,4,x\r\n" }' >"$work/boundary.csv"
[ "$(head -c 65536 "$work/boundary.csv" | tail -c 1 | od -An -c | tr -d ' ')" = '\r' ] ||
    fail "boundary.csv: byte 65535 is not a carriage return"
refuse 1 "an error after a CRLF split between read blocks" 'boundary\.csv:5961: column 5 \(e\)' "$work/boundary.csv" \
    --label-column 5
printf '"a","b\nb","c\n\nc",d,e\n1,2,3,4,5\n1,2,3,4,?\n' >"$work/multiline.csv"
refuse 1 "an error after quoted line breaks (line count)" 'multiline\.csv:6: column 5 \(e\)' "$work/multiline.csv" \
    --label-column 1
printf '\357\273\277%s\n5.1,3.5,1.4,0.2,1x\n' "$header" >"$work/bom-bad.csv"
refuse 1 "an error in a file with a byte order mark" 'bom-bad\.csv:2: column 5 \(species\)' "$work/bom-bad.csv" \
    --label-column species
printf '%s\n5.1,3"5,1.4,0.2,0\n' "$header" >"$work/stray.csv"
refuse 1 "a stray quote" 'stray\.csv:2: column 2 \(sepal_width\): a stray quote' "$work/stray.csv" --label-column 5
printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,"3.5,1.4,0.2,0\n' "$header" >"$work/unclosed.csv"
refuse 1 "an unclosed quote" 'unclosed\.csv:3: column 2 \(sepal_width\): a quoted cell is not closed' \
    "$work/unclosed.csv" --label-column 5
printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,3.5\0001,1.4,0.2,0\n' "$header" >"$work/nul.csv"
refuse 1 "a NUL byte in a cell" 'nul\.csv:3: column 2 \(sepal_width\):.*not a number' "$work/nul.csv" --label-column 5
{ printf '%s\n5.1,' "$header"; head -c 70000 /dev/zero | tr '\000' 7; printf ',1.4,0.2,0\n'; } >"$work/huge-cell.csv"
refuse 1 "a cell of 70000 bytes" 'huge-cell\.csv:2: column 2 \(sepal_width\): a cell longer' "$work/huge-cell.csv" \
    --label-column 5
: >"$work/empty.csv"
refuse 1 "an empty file" 'empty\.csv:1: no rows' "$work/empty.csv" --label-column 5
printf '\n\n\r\n' >"$work/blank.csv"
refuse 1 "a file of blank lines" 'blank\.csv:1: no rows' "$work/blank.csv" --label-column 5
printf '%s\n\n' "$header" >"$work/header-only.csv"
refuse 1 "only a header" 'header-only\.csv:2: only a header' "$work/header-only.csv" --label-column species
printf '%s\n5.1,3.5,1.4,0.2,-1\n' "$header" >"$work/negative.csv"
refuse 1 "a negative label" "negative\\.csv:2: column 5 \\(species\\): label '-1' is not an integer" \
    "$work/negative.csv" --label-column species
printf '%s\n5.1,3.5,1.4,0.2,0\n5.1,3.5,1.4,0.2,1.5\n' "$header" >"$work/fraction.csv"
refuse 1 "a fractional label" "fraction\\.csv:3: column 5 \\(species\\): label '1.5' is not an integer" \
    "$work/fraction.csv" --label-column species
printf '%s\n5.1,3.5,1.4,0.2,70000\n' "$header" >"$work/big-label.csv"
refuse 1 "a label above 65535" "big-label\\.csv:2: column 5 \\(species\\): label '70000'" "$work/big-label.csv" \
    --label-column species
printf '%s\n5.1,3.5,1.4,0.2,7\n' "$header" >"$work/label7.csv"
expect 1 "eval: a label the 3-class model does not have" -- "$clmlp" eval "$work/iris.clmlp" --backend host \
    --csv "$work/label7.csv" --label-column species
grep -q "label 7" "$work/err" || fail "the label message does not name label 7: $(cat "$work/err")"
mkdir -p "$work/dir.csv"
refuse 1 "a directory" 'dir\.csv: is a directory' "$work/dir.csv" --label-column 5
refuse 1 "a file that does not exist" 'none\.csv: cannot open' "$work/none.csv" --label-column 5
# bad column options: usage errors
refuse 2 "--label-column of no such name" "no column of that name" "$work/ref.csv" --label-column colour
refuse 2 "a column name with printf directives" "no column of that name" "$work/ref.csv" --label-column '%s%n%s'
printf '%s\n5.1,3.5,1.4,0.2,%%s%%n\n' "$header" >"$work/percent.csv"
refuse 1 "a cell with printf directives" "percent\\.csv:2: column 5 \\(species\\): '%s%n' is not a number" \
    "$work/percent.csv" --label-column species
refuse 2 "--label-column 0 (columns count from 1)" "has 5 columns \\(numbered from 1\\)" "$work/ref.csv" --label-column 0
refuse 2 "--label-column 6 of 5" "has 5 columns" "$work/ref.csv" --label-column 6
refuse 2 "a name without a header row" "no header row" "$work/noheader.csv" --label-column species
refuse 2 "--target-columns naming a column twice" "twice" "$work/ref.csv" --target-columns 3,petal_length
refuse 2 "--target-columns with an empty entry" "empty entry" "$work/ref.csv" --target-columns 3,,4
refuse 2 "every column a target" "no input columns" "$work/ref.csv" --target-columns 1-5
printf 'a,b,a,c,d\n1,2,3,4,0\n' >"$work/twice.csv"
refuse 2 "an ambiguous name" "2 columns .* have that name" "$work/twice.csv" --label-column a
expect 2 "--label-column and --target-columns together" -- "$clmlp" predict "$work/iris.clmlp" --csv "$iris" \
    --label-column 5 --target-columns 4
expect 2 "--label-column without a value" -- "$clmlp" predict "$work/iris.clmlp" --csv "$iris" --label-column
expect 1 "predict: the label column left among the inputs" -- "$clmlp" predict "$work/iris.clmlp" --backend host \
    --csv "$iris"
grep -q "5 input columns" "$work/err" && grep -q "n_0 = 4" "$work/err" || fail "the shape message names not 5 and 4"

# ---- predict on CSV ----
expect 0 "predict one row" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$iris" --label-column species 0 120
grep -q "^row 0: class [0-2] (label 0)$" "$work/out" && grep -q "^row 120: class [0-2] (label 2)$" "$work/out" ||
    fail "predict: no 'row N: class C (label L)' lines"
[ "$(grep -c '^probabilities: 0:[0-9.]* 1:[0-9.]* 2:[0-9.]*$' "$work/out")" -eq 2 ] || fail "predict: no probabilities"
expect 0 "predict --json" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$iris" --label-column 5 --json 50
grep -q '^{"row":50,"class":[0-2],"label":1,"probabilities":\[[^]]*\]}$' "$work/out" || fail "predict --json: $(cat "$work/out")"
sed 's/.*\[\(.*\)\].*/\1/' "$work/out" | awk -F, '{ s = $1 + $2 + $3 } END { exit !(s > 0.999999 && s < 1.000001) }' ||
    fail "predict --json: the probabilities do not sum to 1"
expect 1 "predict a row past the end" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$iris" \
    --label-column 5 150
grep -q "150 data rows" "$work/err" || fail "the range message does not say 150 data rows"
expect 0 "predict a regression row" -- "$clmlp" predict "$work/petal.clmlp" --backend host --csv "$petal" \
    --target-columns 4 3
grep -q "^row 3: output [0-9.e-]* (target 0.02)$" "$work/out" || fail "predict regression: $(cat "$work/out")"

echo old >"$work/all.csv"
expect 0 "predict --all --out" -- "$clmlp" predict "$work/iris.clmlp" --csv "$iris" --label-column species --all \
    --out "$work/all.csv"
[ "$(wc -l <"$work/all.csv")" -eq 151 ] || fail "predict --all --out: expected a header and 150 rows"
[ -s "$work/out" ] && fail "predict --all --out also wrote to stdout"
awk -F, 'NR > 1 { s = $4 + $5 + $6; if (s < 0.999999 || s > 1.000001) bad++ } END { exit bad > 0 }' "$work/all.csv" ||
    fail "predict --all --out: probabilities that do not sum to 1"
tail -n +2 "$iris" | cut -d, -f5 >"$work/labels.want"
tail -n +2 "$work/all.csv" | cut -d, -f3 >"$work/labels.got"
cmp -s "$work/labels.want" "$work/labels.got" || fail "predict --all --out: the label column is not the file's"
awk -F, 'NR > 1 && $2 == $3 { right++ } END { exit !(right >= 135) }' "$work/all.csv" ||
    fail "predict --all: fewer than 135 of 150 rows predicted right"
ls "$work" | grep -q '\.tmp' && fail "predict --out left a temporary file"
expect 0 "predict --all --json --out" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$iris" \
    --label-column species --all --json --out "$work/all.jsonl"
[ "$(grep -c '^{"row":[0-9]*,"class":[0-2],"label":[0-2],"probabilities":' "$work/all.jsonl")" -eq 150 ] ||
    fail "predict --all --json: expected 150 JSON lines"
mkdir -p "$work/taken"
expect 1 "predict --out onto a directory" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$iris" \
    --label-column species --all --out "$work/taken"
[ -d "$work/taken" ] || fail "predict --out replaced a directory"
expect 1 "predict --out in a missing directory" -- "$clmlp" predict "$work/iris.clmlp" --backend host --csv "$iris" \
    --label-column species --all --out "$work/nowhere/all.csv"
expect 2 "predict --all with row indices" -- "$clmlp" predict "$work/iris.clmlp" --csv "$iris" --label-column 5 --all 3

# ---- predict --all on an IDX data set (4 tiny images; labels found beside them) ----
mkdir -p "$work/tiny"
for split in train t10k; do
    { printf '\000\000\010\003\000\000\000\004\000\000\000\034\000\000\000\034'; yes abcdefg | head -c 3136; } \
        >"$work/tiny/$split-images-idx3-ubyte"
    printf '\000\000\010\001\000\000\000\004\000\001\002\003' >"$work/tiny/$split-labels-idx1-ubyte"
done
expect 0 "train on tiny IDX data" -- "$clmlp" train --data "$work/tiny" --layers 784,10 --epochs 1 --backend host \
    --save "$work/tiny.clmlp"
expect 0 "predict --all --out on IDX images" -- "$clmlp" predict "$work/tiny.clmlp" \
    "$work/tiny/t10k-images-idx3-ubyte" --all --backend host --out "$work/tiny.csv"
[ "$(wc -l <"$work/tiny.csv")" -eq 5 ] || fail "predict --all on IDX: expected a header and 4 lines"
head -1 "$work/tiny.csv" | grep -q "^image,class,label,p_0," || fail "predict --all on IDX: header $(head -1 "$work/tiny.csv")"
[ "$(tail -n +2 "$work/tiny.csv" | cut -d, -f3 | tr '\n' ' ')" = "0 1 2 3 " ] ||
    fail "predict --all on IDX: not the labels of the label file"
expect 0 "predict one IDX image with its label" -- "$clmlp" predict "$work/tiny.clmlp" \
    "$work/tiny/t10k-images-idx3-ubyte" 2 --backend host
grep -q "^image 2: class [0-9] (label 2)$" "$work/out" || fail "predict on IDX: no label 2"

[ "$failures" -eq 0 ] && echo "all CSV command checks passed" || echo "$failures CSV command check(s) failed"
[ "$failures" -eq 0 ]
