#!/bin/sh
# Regenerates iris-petal-width.csv (regression) from iris.csv: the three other
# measurements in cm as inputs, the petal width in decimetres (cm / 10, so that it lies
# in a tanh output's range (-1, 1)) as the target; the species column is left out.
# Usage: sh make-iris-petal-width.sh [iris.csv] > iris-petal-width.csv
set -eu
awk -F, 'NR == 1 { print "sepal_length,sepal_width,petal_length,petal_width_dm"; next }
         { printf "%s,%s,%s,%.2f\n", $1, $2, $3, $4 / 10 }' "${1:-$(dirname "$0")/iris.csv}"
