/*
 * The data a command reads: MNIST-format IDX files in a directory, or CSV files of
 * numeric columns (libcsv). Shared by train, eval and predict.
 *
 * CSV files (apps/data.c): comma-separated, cells optionally in double quotes (a quote
 * inside one doubled; line breaks allowed inside), LF, CRLF or CR line ends, an optional
 * UTF-8 byte order mark; blank lines are skipped, spaces around an unquoted cell are
 * ignored. The first row is a header when one of its cells is not a number (then its
 * names select columns; an empty name is "column N"), else it is the first data row.
 * Every row has the first row's number of cells, every cell is a finite number (strtod's
 * syntax; nan, inf and overflowing values are refused), a label an integer in 0..65535.
 * Columns are selected by header name or by number counted from 1 (the numbers the
 * messages use); a name that is also another column's number is refused as ambiguous.
 * Messages name the file, the line (where the cell began) and the column:
 * "clmlp: data.csv:7: column 3 (petal_length): 'abc' is not a number".
 */
#ifndef CLMLP_CLI_DATA_H
#define CLMLP_CLI_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "clmlp.h"

typedef struct cli_data_args {
    const char *data_dir;             /* --data DIR: IDX files */
    const char *train_csv, *test_csv; /* train: --train-csv, --test-csv; eval, predict: --csv (train_csv) */
    const char *label_column;         /* --label-column NAME|NUMBER (from 1): integer classes, one-hot */
    /* --target-columns LIST: regression targets (MSE); comma-separated names, numbers from 1
     * and ranges of numbers N-M (e.g. "4", "2,4", "2-4", "petal_width"); excludes --label-column */
    const char *target_columns;
    int standardize; /* --standardize: per-column mean/std of the training rows */
} cli_data_args;

/* Takes the data options above from argv: 0 when opt is none of them, 1 when it took
 * opt alone (a flag), 2 when it took opt and val; -1 after printing the error for a
 * missing or bad value (val NULL, empty or an option, or --label-column with
 * --target-columns). --csv is another name for --train-csv. */
int cli_data_option(cli_data_args *args, const char *opt, const char *val);

/* The rows of a CSV file split into inputs and targets as args say: every column that
 * is neither the label column nor a target column is an input, in file order. */
typedef struct cli_rows {
    size_t count, n_in, n_out; /* n_out: target columns, 0 with a label column */
    double *x;                 /* count × n_in */
    double *y;                 /* count × n_out targets, or NULL */
    uint32_t *labels;          /* count class labels, or NULL */
    uint32_t classes;          /* with labels: largest label + 1 */
    char **input_names;        /* n_in names (the header's, or "column N" from 1) */
} cli_rows;

/* Reads path; CLI_OK, or prints "clmlp: FILE:LINE: column C ..." and returns CLI_RUNTIME
 * (bad file or cell, an empty file, only a header) or CLI_USAGE (bad column options).
 * Without a label or target column every column is an input. The file is read once, in
 * blocks, every size computed with overflow checks; a cell may hold at most 65536 bytes,
 * a row 1048576 cells. On failure *out is empty (cli_rows_free is harmless). */
int cli_csv_rows(const char *path, const cli_data_args *args, cli_rows *out);
void cli_rows_free(cli_rows *rows);
/* The per-column mean and (population) standard deviation of rows->x (std 1 for a
 * constant column) set as net's standardization. CLI_OK, or prints why and returns
 * CLI_RUNTIME (also when rows->n_in is not the net's n_0). */
int cli_rows_fit_standardization(clmlp_net *net, const cli_rows *rows);
/* A dataset on net from rows, standardized first by net's standardization when it has
 * one (rows->x is changed in place: call it once per rows): labels one-hot as target
 * says, or the targets. CLI_OK, or prints why (n_in ≠ n_0, a label ≥ n_L, n_out ≠ n_L,
 * neither labels nor targets) and returns CLI_RUNTIME (CLI_USAGE for the last). */
int cli_rows_dataset(clmlp_net *net, cli_rows *rows, clmlp_target target, clmlp_dataset **out);

#endif
