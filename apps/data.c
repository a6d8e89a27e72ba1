/*
 * CSV data for the command (data.h): libcsv parses the fields (quotes, CRLF); this file
 * counts physical lines for the messages, skips a UTF-8 byte order mark, tells a header
 * row from data, picks the label, target and input columns, and converts every cell to a
 * finite number as it arrives, so a file is read once and never held whole in memory.
 */
#include "data.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checked.h"
#include "cli.h"

enum {
    MAX_COLUMNS = 1 << 20, /* cells per row */
    MAX_CELL = 1 << 16,    /* bytes per cell */
    MAX_LABEL = 65535,     /* the largest class label */
    BLOCK = 1 << 16        /* bytes read at a time */
};

enum { ROLE_INPUT = 0, ROLE_TARGET = 1, ROLE_LABEL = 2 };

int cli_data_option(cli_data_args *args, const char *opt, const char *val)
{
    const char **slot;
    if (strcmp(opt, "--standardize") == 0) {
        args->standardize = 1;
        return 1;
    }
    if (strcmp(opt, "--data") == 0)
        slot = &args->data_dir;
    else if (strcmp(opt, "--train-csv") == 0 || strcmp(opt, "--csv") == 0)
        slot = &args->train_csv;
    else if (strcmp(opt, "--test-csv") == 0)
        slot = &args->test_csv;
    else if (strcmp(opt, "--label-column") == 0)
        slot = &args->label_column;
    else if (strcmp(opt, "--target-columns") == 0)
        slot = &args->target_columns;
    else
        return 0;
    if (!val || !*val || strncmp(val, "--", 2) == 0) {
        cli_error(CLI_USAGE, "missing value for %s", opt);
        return -1;
    }
    if ((slot == &args->label_column && args->target_columns) ||
        (slot == &args->target_columns && args->label_column)) {
        cli_error(CLI_USAGE, "give --label-column (classes) or --target-columns (regression), not both");
        return -1;
    }
    *slot = val;
    return 2;
}

/* ---- reading ---- */

typedef struct reader {
    const char *path;
    const cli_data_args *args;
    cli_rows *rows;
    size_t line;  /* the physical line being parsed, from 1 */
    int prev_cr;  /* the last byte fed was '\r' (a '\n' after it ends no new line) */
    int in_quote; /* a quoted cell runs on past the end of a line: it began on quote_line */
    size_t quote_line;
    size_t field;  /* cells seen so far in the current record */
    size_t n_cols; /* the first record's cells; 0 until it has ended */
    char **first;  /* the first record's cells, until it is known whether it is a header */
    size_t n_first, cap_first, first_line;
    int header;
    char **names;        /* n_cols: the header's names, or "column N" */
    unsigned char *role; /* n_cols: ROLE_* */
    size_t *slot;        /* n_cols: the index among the inputs or targets */
    size_t cap;          /* rows allocated */
    int rc;              /* CLI_OK until a message was printed */
} reader;

/* `text` for a message, at most 40 bytes, control characters as '?': quoted, or bare. */
static const char *shown_as(const char *text, size_t len, int quoted, char *buf, size_t size)
{
    size_t n = 0, i, max = size - 6; /* room for "...'" and the NUL */
    if (quoted)
        buf[n++] = '\'';
    for (i = 0; i < len && n < max; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (i < len)
        buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    if (quoted)
        buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

static const char *shown(const char *text, size_t len, char *buf, size_t size)
{
    return shown_as(text, len, 1, buf, size);
}

/* "column 3 (petal_length)" or, without a header, "column 3". */
static const char *column_desc(const reader *r, size_t col, char *buf, size_t size)
{
    char name[48];
    if (r->header && col < r->n_cols)
        snprintf(buf, size, "column %zu (%s)", col + 1,
                 shown_as(r->names[col], strlen(r->names[col]), 0, name, sizeof name));
    else
        snprintf(buf, size, "column %zu", col + 1);
    return buf;
}

/* Prints "clmlp: FILE:LINE: column C (NAME): msg" (col SIZE_MAX: no column) once. */
static int fail_at(reader *r, size_t line, size_t col, const char *msg)
{
    char desc[96];
    if (!r->rc) {
        if (col == SIZE_MAX)
            cli_error(CLI_RUNTIME, "%s:%zu: %s", r->path, line, msg);
        else
            cli_error(CLI_RUNTIME, "%s:%zu: %s: %s", r->path, line, column_desc(r, col, desc, sizeof desc), msg);
        r->rc = CLI_RUNTIME;
    }
    return r->rc;
}

/* NULL when s is a whole finite number (in *v), else why not. */
static const char *parse_number(const char *s, size_t len, double *v, int *not_finite)
{
    char *end;
    *not_finite = 0;
    if (!s || len == 0)
        return "empty";
    if (strlen(s) != len) /* a NUL byte inside */
        return "not a number";
    errno = 0;
    *v = strtod(s, &end);
    if (end == s)
        return "not a number";
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return "not a number";
    if (!isfinite(*v)) {
        *not_finite = 1;
        return "not finite";
    }
    return NULL; /* an underflow (ERANGE with a tiny value) is the nearest double */
}

/* Room for row rows->count. */
static int ensure_row(reader *r)
{
    cli_rows *rows = r->rows;
    if (rows->count < r->cap)
        return CLI_OK;
    size_t cap = r->cap ? r->cap * 2 : 256, bytes;
    if (cap <= r->cap ||
        !clmlp_mul3_ok(cap, rows->n_in > rows->n_out ? rows->n_in : rows->n_out, sizeof(double), &bytes))
        return fail_at(r, r->line, SIZE_MAX, "too many rows to hold in memory");
    double *x = realloc(rows->x, cap * rows->n_in * sizeof *x);
    if (x)
        rows->x = x;
    double *y = rows->n_out ? realloc(rows->y, cap * rows->n_out * sizeof *y) : NULL;
    if (y)
        rows->y = y;
    uint32_t *labels = r->args->label_column ? realloc(rows->labels, cap * sizeof *labels) : NULL;
    if (labels)
        rows->labels = labels;
    if (!x || (rows->n_out && !y) || (r->args->label_column && !labels)) {
        char msg[128];
        snprintf(msg, sizeof msg, "out of memory for %zu rows of %zu columns", cap, r->n_cols);
        return fail_at(r, r->line, SIZE_MAX, msg);
    }
    r->cap = cap;
    return CLI_OK;
}

/* Cell `col` of row rows->count. */
static void store_cell(reader *r, size_t col, const char *s, size_t len, size_t line)
{
    cli_rows *rows = r->rows;
    double v;
    int not_finite;
    char buf[64], msg[96];
    const char *why = parse_number(s, len, &v, &not_finite);
    if (why) {
        if (!s || len == 0)
            fail_at(r, line, col, "missing value (an empty cell)");
        else {
            snprintf(msg, sizeof msg, "%s is %s", shown(s, len, buf, sizeof buf), why);
            fail_at(r, line, col, msg);
        }
        return;
    }
    switch (r->role[col]) {
    case ROLE_INPUT: rows->x[rows->count * rows->n_in + r->slot[col]] = v; break;
    case ROLE_TARGET: rows->y[rows->count * rows->n_out + r->slot[col]] = v; break;
    default:
        if (v < 0 || v > MAX_LABEL || v != floor(v)) {
            snprintf(msg, sizeof msg, "label %s is not an integer in 0..%d", shown(s, len, buf, sizeof buf), MAX_LABEL);
            fail_at(r, line, col, msg);
            return;
        }
        rows->labels[rows->count] = (uint32_t)v;
        if ((uint32_t)v + 1 > rows->classes)
            rows->classes = (uint32_t)v + 1;
    }
}

static char *copy_text(const char *s, size_t len)
{
    char *c = malloc(len + 1);
    if (c) {
        if (len)
            memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

static int usage(reader *r, const char *msg)
{
    if (!r->rc)
        cli_error(CLI_USAGE, "%s", msg);
    r->rc = CLI_USAGE;
    return r->rc;
}

static int all_digits(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* A column by its header name or its number from 1; spec is len bytes. */
static int find_column(reader *r, const char *opt, const char *spec, size_t len, size_t *col)
{
    char msg[512], name[64];
    size_t named = SIZE_MAX, n_named = 0;
    for (size_t c = 0; r->header && c < r->n_cols; c++)
        if (strlen(r->names[c]) == len && memcmp(r->names[c], spec, len) == 0) {
            if (n_named++ == 0)
                named = c;
        }
    size_t number = 0;
    int is_number = all_digits(spec, len) && len < 10;
    if (is_number)
        for (size_t i = 0; i < len; i++)
            number = number * 10 + (size_t)(spec[i] - '0');
    shown(spec, len, name, sizeof name);
    if (n_named > 1) {
        snprintf(msg, sizeof msg, "%s %s: %zu columns of %s have that name; give its number (from 1)", opt, name,
                 n_named, r->path);
        return usage(r, msg);
    }
    if (n_named == 1 && is_number && number != named + 1) {
        snprintf(msg, sizeof msg, "%s %s is ambiguous in %s: column %zu has that name", opt, name, r->path, named + 1);
        return usage(r, msg);
    }
    if (n_named == 1) {
        *col = named;
        return CLI_OK;
    }
    if (is_number && number >= 1 && number <= r->n_cols) {
        *col = number - 1;
        return CLI_OK;
    }
    if (all_digits(spec, len))
        snprintf(msg, sizeof msg, "%s %s: %s has %zu columns (numbered from 1)", opt, name, r->path, r->n_cols);
    else if (r->header) {
        int n = snprintf(msg, sizeof msg, "%s %s: %s has no column of that name (its columns:", opt, name, r->path);
        for (size_t c = 0; c < r->n_cols && n > 0 && (size_t)n < sizeof msg - 32; c++) {
            char nm[48];
            n += snprintf(msg + n, sizeof msg - (size_t)n, " %s",
                          shown(r->names[c], strlen(r->names[c]), nm, sizeof nm));
        }
        if (n > 0 && (size_t)n < sizeof msg - 8)
            snprintf(msg + n, sizeof msg - (size_t)n, ")");
    } else
        snprintf(msg, sizeof msg, "%s %s: %s has no header row; give a column number from 1 to %zu", opt, name, r->path,
                 r->n_cols);
    return usage(r, msg);
}

/* The label, target and input columns, from args, once the first row told n_cols. */
static int assign_roles(reader *r)
{
    cli_rows *rows = r->rows;
    const cli_data_args *a = r->args;
    char msg[256];
    r->role = calloc(r->n_cols, 1);
    r->slot = clmlp_alloc_array(r->n_cols, sizeof *r->slot);
    if (!r->role || !r->slot)
        return fail_at(r, r->line, SIZE_MAX, "out of memory");
    if (a->label_column && a->target_columns)
        return usage(r, "give --label-column (classes) or --target-columns (regression), not both");
    if (a->label_column) {
        size_t col;
        if (find_column(r, "--label-column", a->label_column, strlen(a->label_column), &col))
            return r->rc;
        r->role[col] = ROLE_LABEL;
    }
    if (a->target_columns) {
        const char *p = a->target_columns;
        for (;;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p), lo, hi;
            const char *dash = memchr(p, '-', len);
            int named = 0;
            for (size_t c = 0; r->header && c < r->n_cols; c++)
                named |= strlen(r->names[c]) == len && memcmp(r->names[c], p, len) == 0;
            if (len == 0) {
                snprintf(msg, sizeof msg, "--target-columns '%s': an empty entry", a->target_columns);
                return usage(r, msg);
            }
            if (dash && !named && all_digits(p, (size_t)(dash - p)) &&
                all_digits(dash + 1, len - (size_t)(dash - p) - 1)) { /* a range N-M */
                if (find_column(r, "--target-columns", p, (size_t)(dash - p), &lo) ||
                    find_column(r, "--target-columns", dash + 1, len - (size_t)(dash - p) - 1, &hi))
                    return r->rc;
                if (hi < lo) {
                    snprintf(msg, sizeof msg, "--target-columns: the range %.*s runs backwards", (int)len, p);
                    return usage(r, msg);
                }
            } else {
                if (find_column(r, "--target-columns", p, len, &lo))
                    return r->rc;
                hi = lo;
            }
            for (size_t c = lo; c <= hi; c++) {
                if (r->role[c] == ROLE_TARGET) {
                    snprintf(msg, sizeof msg, "--target-columns '%s' names column %zu twice", a->target_columns, c + 1);
                    return usage(r, msg);
                }
                r->role[c] = ROLE_TARGET;
            }
            if (!end)
                break;
            p = end + 1;
        }
    }
    for (size_t c = 0; c < r->n_cols; c++)
        r->slot[c] = r->role[c] == ROLE_INPUT ? rows->n_in++ : r->role[c] == ROLE_TARGET ? rows->n_out++ : 0;
    if (rows->n_in == 0) {
        snprintf(msg, sizeof msg, "%s: no input columns left: all %zu columns are labels or targets", r->path,
                 r->n_cols);
        return usage(r, msg);
    }
    rows->input_names = calloc(rows->n_in, sizeof *rows->input_names);
    if (!rows->input_names)
        return fail_at(r, r->line, SIZE_MAX, "out of memory");
    for (size_t c = 0; c < r->n_cols; c++)
        if (r->role[c] == ROLE_INPUT && !(rows->input_names[r->slot[c]] = copy_text(r->names[c], strlen(r->names[c]))))
            return fail_at(r, r->line, SIZE_MAX, "out of memory");
    return CLI_OK;
}

/* The first record has ended: a header if one of its cells is text, else the first row. */
static void finish_first(reader *r)
{
    double v;
    int not_finite;
    r->n_cols = r->n_first;
    for (size_t c = 0; c < r->n_first; c++)
        if (r->first[c][0] && parse_number(r->first[c], strlen(r->first[c]), &v, &not_finite) && !not_finite)
            r->header = 1;
    r->names = calloc(r->n_cols, sizeof *r->names);
    if (!r->names) {
        fail_at(r, r->first_line, SIZE_MAX, "out of memory");
        return;
    }
    for (size_t c = 0; c < r->n_cols; c++) {
        char number[32];
        if (r->header && r->first[c][0]) {
            r->names[c] = r->first[c];
            r->first[c] = NULL;
        } else {
            snprintf(number, sizeof number, "column %zu", c + 1);
            if (!(r->names[c] = copy_text(number, strlen(number)))) {
                fail_at(r, r->first_line, SIZE_MAX, "out of memory");
                return;
            }
        }
    }
    if (assign_roles(r) || r->header)
        return;
    if (ensure_row(r))
        return;
    for (size_t c = 0; c < r->n_cols && !r->rc; c++)
        store_cell(r, c, r->first[c], strlen(r->first[c]), r->first_line);
    if (!r->rc)
        r->rows->count++;
}

/* The column of the cell being read, from 0. */
static size_t current_column(const reader *r) { return r->n_cols ? r->field : r->n_first; }

static void on_field(void *s, size_t len, void *data)
{
    reader *r = data;
    size_t line = r->in_quote ? r->quote_line : r->line; /* where the cell began */
    r->in_quote = 0;
    if (r->rc)
        return;
    if (len > MAX_CELL) {
        fail_at(r, line, current_column(r), "a cell longer than 65536 bytes");
        return;
    }
    if (r->n_cols == 0) { /* the first record */
        if (r->n_first == 0)
            r->first_line = line;
        if (r->n_first == MAX_COLUMNS) {
            fail_at(r, r->line, SIZE_MAX, "more than 1048576 columns");
            return;
        }
        if (r->n_first == r->cap_first) {
            size_t cap = r->cap_first ? 2 * r->cap_first : 16;
            char **first = realloc(r->first, cap * sizeof *first);
            if (!first) {
                fail_at(r, r->line, SIZE_MAX, "out of memory");
                return;
            }
            r->first = first;
            r->cap_first = cap;
        }
        if (!(r->first[r->n_first] = copy_text(s ? s : "", s ? len : 0))) {
            fail_at(r, r->line, SIZE_MAX, "out of memory");
            return;
        }
        r->n_first++;
        return;
    }
    if (r->field >= r->n_cols) {
        char msg[128];
        snprintf(msg, sizeof msg, "one cell too many: the first row (line %zu) has %zu columns", r->first_line,
                 r->n_cols);
        fail_at(r, r->line, r->field, msg);
        return;
    }
    if (r->field == 0 && ensure_row(r))
        return;
    store_cell(r, r->field, s, len, line);
    r->field++;
}

static void on_record(int c, void *data)
{
    reader *r = data;
    (void)c;
    if (r->rc)
        return;
    if (r->n_cols == 0) {
        finish_first(r);
        return;
    }
    if (r->field < r->n_cols) {
        char msg[160];
        snprintf(msg, sizeof msg, "missing: the row has %zu cell%s, the first row (line %zu) %zu", r->field,
                 r->field == 1 ? "" : "s", r->first_line, r->n_cols);
        fail_at(r, r->line, r->field, msg);
        return;
    }
    r->rows->count++;
    r->field = 0;
}

/* Feeds len bytes to the parser a line at a time, counting lines ('\n', '\r\n' or '\r'). */
static int feed(reader *r, struct csv_parser *p, const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len && !r->rc) {
        size_t end = pos;
        while (end < len && buf[end] != '\n' && buf[end] != '\r')
            end++;
        size_t n = end < len ? end + 1 - pos : end - pos;
        if (csv_parse(p, buf + pos, n, on_field, on_record, r) != n) {
            int e = csv_error(p);
            if (e == CSV_EPARSE)
                fail_at(r, r->line, current_column(r), "a stray quote: quote a whole cell, doubling quotes inside");
            else
                fail_at(r, r->line, SIZE_MAX, csv_strerror(e));
            return r->rc;
        }
        if (p->entry_pos > MAX_CELL) {
            fail_at(r, r->in_quote ? r->quote_line : r->line, current_column(r), "a cell longer than 65536 bytes");
            return r->rc;
        }
        if (end < len) {
            if (p->quoted && !r->in_quote) { /* a quoted cell goes on to the next line */
                r->in_quote = 1;
                r->quote_line = r->line;
            }
            if (buf[end] == '\r' || !r->prev_cr)
                r->line++;
            r->prev_cr = buf[end] == '\r';
        } else if (n > 0)
            r->prev_cr = 0;
        pos += n;
    }
    return r->rc;
}

static void free_reader(reader *r)
{
    for (size_t c = 0; c < r->n_first; c++)
        free(r->first[c]);
    free(r->first);
    for (size_t c = 0; r->names && c < r->n_cols; c++)
        free(r->names[c]);
    free(r->names);
    free(r->role);
    free(r->slot);
}

int cli_csv_rows(const char *path, const cli_data_args *args, cli_rows *out)
{
    memset(out, 0, sizeof *out);
    reader r = {.path = path, .args = args, .rows = out, .line = 1};
    struct csv_parser p;
    struct stat st;
    if (args->label_column && args->target_columns)
        return cli_error(CLI_USAGE, "give --label-column (classes) or --target-columns (regression), not both");
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_error(CLI_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return cli_error(CLI_RUNTIME, "%s: is a directory, not a CSV file", path);
    }
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        return cli_error(CLI_RUNTIME, "%s: cannot start the CSV parser", path);
    }
    char *buf = malloc(BLOCK);
    if (!buf)
        r.rc = cli_error(CLI_RUNTIME, "out of memory");
    for (int first = 1; !r.rc; first = 0) {
        size_t n = fread(buf, 1, BLOCK, f), skip = 0;
        if (n == 0) {
            if (ferror(f))
                r.rc = cli_error(CLI_RUNTIME, "%s:%zu: cannot read: %s", path, r.line, strerror(errno));
            break;
        }
        if (first && n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
            skip = 3; /* a UTF-8 byte order mark */
        feed(&r, &p, buf + skip, n - skip);
    }
    if (!r.rc && csv_fini(&p, on_field, on_record, &r) != 0 && !r.rc)
        fail_at(&r, r.in_quote ? r.quote_line : r.line, current_column(&r),
                "a quoted cell is not closed at the end of the file");
    if (!r.rc && r.n_cols == 0)
        r.rc = cli_error(CLI_RUNTIME, "%s:1: no rows: the file is empty", path);
    else if (!r.rc && out->count == 0)
        r.rc = cli_error(CLI_RUNTIME, "%s:%zu: only a header, no data rows", path, r.first_line + 1);
    csv_free(&p);
    free(buf);
    fclose(f);
    free_reader(&r);
    if (r.rc)
        cli_rows_free(out);
    return r.rc;
}

void cli_rows_free(cli_rows *rows)
{
    if (!rows)
        return;
    for (size_t j = 0; rows->input_names && j < rows->n_in; j++)
        free(rows->input_names[j]);
    free(rows->input_names);
    free(rows->x);
    free(rows->y);
    free(rows->labels);
    memset(rows, 0, sizeof *rows);
}

int cli_rows_fit_standardization(clmlp_net *net, const cli_rows *rows)
{
    size_t n_in = rows->n_in;
    if (clmlp_layer_size(net, 0) != n_in)
        return cli_error(CLI_RUNTIME, "the data has %zu input columns, the net takes n_0 = %zu", n_in,
                         clmlp_layer_size(net, 0));
    if (rows->count == 0)
        return cli_error(CLI_RUNTIME, "no rows to standardize with");
    double *mean = clmlp_alloc_array(n_in, sizeof *mean), *std = clmlp_alloc_array(n_in, sizeof *std);
    int rc = CLI_OK;
    if (!mean || !std)
        rc = cli_error(CLI_RUNTIME, "out of memory");
    for (size_t j = 0; rc == CLI_OK && j < n_in; j++) {
        double sum = 0, sq = 0;
        for (size_t i = 0; i < rows->count; i++)
            sum += rows->x[i * n_in + j];
        mean[j] = sum / (double)rows->count;
        for (size_t i = 0; i < rows->count; i++) {
            double d = rows->x[i * n_in + j] - mean[j];
            sq += d * d;
        }
        std[j] = sqrt(sq / (double)rows->count); /* of the population, as scikit-learn's StandardScaler */
        if (!isfinite(mean[j]) || !isfinite(std[j]))
            rc = cli_error(CLI_RUNTIME, "input %s: its mean or standard deviation overflows",
                           rows->input_names ? rows->input_names[j] : "?");
        else if (std[j] <= 1e-12 * fabs(mean[j]) || std[j] == 0)
            std[j] = 1; /* a constant column: only centred */
    }
    if (rc == CLI_OK && clmlp_set_standardization(net, mean, std) != CLMLP_OK)
        rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    free(mean);
    free(std);
    return rc;
}

int cli_rows_dataset(clmlp_net *net, cli_rows *rows, clmlp_target target, clmlp_dataset **out)
{
    size_t n_0 = clmlp_layer_size(net, 0), n_L = clmlp_layer_size(net, clmlp_num_layers(net));
    *out = NULL;
    if (rows->n_in != n_0)
        return cli_error(CLI_RUNTIME, "the data has %zu input columns, the net takes n_0 = %zu%s", rows->n_in, n_0,
                         rows->labels || rows->y ? "" : " (is a label or target column among them?)");
    if (!rows->labels && !rows->y)
        return cli_error(CLI_USAGE, "no label or target column: give --label-column or --target-columns");
    if (rows->labels && rows->classes > n_L) {
        size_t i = 0;
        while (rows->labels[i] < n_L)
            i++;
        return cli_error(CLI_RUNTIME,
                         "data row %zu (from 0) has label %u, but the net has n_L = %zu outputs (classes 0..%zu)", i,
                         rows->labels[i], n_L, n_L - 1);
    }
    if (rows->y && rows->n_out != n_L)
        return cli_error(CLI_RUNTIME, "the data has %zu target columns, the net has n_L = %zu outputs", rows->n_out,
                         n_L);
    clmlp_status s = clmlp_standardize(net, rows->x, rows->count);
    if (s == CLMLP_OK)
        s = rows->labels ? clmlp_dataset_from_labels(net, rows->x, rows->labels, rows->count, target, out)
                         : clmlp_dataset_from_arrays(net, rows->x, rows->y, rows->count, out);
    if (s != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    return CLI_OK;
}
