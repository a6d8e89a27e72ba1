/*
 * Reporting for `clmlp train`: a CSV of the epochs, the SVG plot (svg_plot.c), JSON
 * lines and a progress bar for terminals. Files are written through a
 * temporary file in the same directory, fsync and rename, so a reader never sees half a
 * file and an interrupted run leaves the previous one in place; what is not a regular
 * file (a device node, a FIFO) is never replaced.
 */
#define _DEFAULT_SOURCE /* struct winsize and TIOCGWINSZ beside POSIX */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "clock.h"
#include "svg_plot.h"

/* ---- atomic file writes ---- */

typedef struct {
    const report_row *rows;
    size_t n;
    const char *title;
} doc;

/* Rows of epochs without validation as report_rows (a new array to free; NULL for none
 * or when out of memory, errno ENOMEM then). */
static report_row *widen(const report_epoch *rows, size_t n, int *failed)
{
    *failed = 0;
    if (!n)
        return NULL;
    report_row *wide = calloc(n, sizeof *wide);
    if (!wide) {
        errno = ENOMEM;
        *failed = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        wide[i].e = rows[i];
    return wide;
}

/* Through a temporary file and a rename (src/atomic_file.h): never over what is not a
 * regular file. Syncing the directory is best effort here: the file is complete, and a
 * crash that undoes the rename loses nothing a rerun would not rewrite. */
static int write_atomic(const char *path, clmlp_atomic_emit emit, doc *d)
{
    return clmlp_atomic_write(path, emit, d, NULL) >= 0 ? 0 : -1;
}

/* ---- CSV ---- */

static const char csv_header[] = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,samples_per_s,seconds,lr";
static const char csv_val_header[] = ",val_loss,val_accuracy";

static int emit_csv(FILE *f, void *user)
{
    const doc *d = user;
    int val = 0;
    for (size_t i = 0; i < d->n; i++)
        val |= d->rows[i].has_val;
    fprintf(f, "%s%s\n", csv_header, val ? csv_val_header : "");
    for (size_t i = 0; i < d->n; i++) {
        const report_row *w = &d->rows[i];
        const report_epoch *r = &w->e;
        fprintf(f, "%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g", r->epoch, r->train_loss, r->train_accuracy, r->test_loss,
                r->test_accuracy, r->samples_per_s, r->seconds, r->lr);
        if (val)
            fprintf(f, ",%.9g,%.9g", w->has_val ? w->val_loss : NAN, w->has_val ? w->val_accuracy : NAN);
        fputc('\n', f);
    }
    return 0; /* stdio's errors are found after the flush */
}

int report_write_metrics(const char *path, const report_row *rows, size_t n)
{
    if (!path || (n && !rows)) {
        errno = EINVAL;
        return -1;
    }
    doc d = {rows, n, NULL};
    return write_atomic(path, emit_csv, &d);
}

int report_write_csv(const char *path, const report_epoch *rows, size_t n)
{
    if (!path || (n && !rows)) {
        errno = EINVAL;
        return -1;
    }
    int failed;
    report_row *wide = widen(rows, n, &failed);
    int rc = failed ? -1 : report_write_metrics(path, wide, n);
    int saved = errno;
    free(wide);
    errno = saved;
    return rc;
}

/* Reading a metrics file back (clmlp train --resume continues it). */

enum {
    COL_EPOCH,
    COL_TRAIN_LOSS,
    COL_TRAIN_ACC,
    COL_TEST_LOSS,
    COL_TEST_ACC,
    COL_RATE,
    COL_SECONDS,
    COL_LR,
    COL_VAL_LOSS,
    COL_VAL_ACC,
    COL_COUNT,
    COL_OTHER = -1
};

static const char *const column_names[COL_COUNT] = {"epoch",         "train_loss",    "train_accuracy", "test_loss",
                                                    "test_accuracy", "samples_per_s", "seconds",        "lr",
                                                    "val_loss",      "val_accuracy"};

/* Splits line (its end of line removed) at commas in place; the number of fields, or
 * max + 1 when there are more. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    size_t n = 0;
    for (char *p = line;; p++) {
        if (n == max)
            return max + 1;
        fields[n++] = p;
        p = strchr(p, ',');
        if (!p)
            return n;
        *p = '\0';
    }
}

static int read_value(const char *text, double *v)
{
    if (*text == '\0') {
        *v = NAN;
        return 1;
    }
    char *end;
    *v = strtod(text, &end);
    return end != text && *end == '\0';
}

int report_read_metrics(const char *path, report_row **rows_out, size_t *n_out, size_t *line_out)
{
    enum { MAX_FIELDS = 64 };
    *rows_out = NULL;
    *n_out = 0;
    size_t line_no = 0;
    if (line_out)
        *line_out = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL, *fields[MAX_FIELDS];
    size_t cap = 0, n = 0, room = 0;
    int map[MAX_FIELDS], has[COL_COUNT] = {0}, ok = 1;
    report_row *rows = NULL;
    size_t n_fields = 0;
    while (ok && getline(&line, &cap, f) >= 0) {
        line_no++;
        size_t k = split_fields(line, fields, MAX_FIELDS);
        if (line_no == 1) { /* the header: which column is what */
            n_fields = k;
            ok = k <= MAX_FIELDS;
            for (size_t j = 0; ok && j < k; j++) {
                map[j] = COL_OTHER;
                for (int c = 0; c < COL_COUNT; c++)
                    if (strcmp(fields[j], column_names[c]) == 0 && !has[c])
                        map[j] = c, has[c] = 1;
            }
            ok = ok && has[COL_EPOCH];
            continue;
        }
        if (k == 1 && fields[0][0] == '\0')
            continue; /* a blank line */
        if (k != n_fields) {
            ok = 0;
            break;
        }
        if (n == room) {
            size_t more = room ? 2 * room : 64;
            report_row *grown = realloc(rows, more * sizeof *rows);
            if (!grown) {
                free(line);
                free(rows);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            rows = grown, room = more;
        }
        double v[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++)
            v[c] = NAN;
        for (size_t j = 0; ok && j < k; j++)
            if (map[j] != COL_OTHER)
                ok = read_value(fields[j], &v[map[j]]);
        if (!ok || !(v[COL_EPOCH] >= 1 && v[COL_EPOCH] <= 1e15 && v[COL_EPOCH] == floor(v[COL_EPOCH]))) {
            ok = 0;
            break;
        }
        report_row *r = &rows[n++];
        *r = (report_row){.e = {.epoch = (size_t)v[COL_EPOCH],
                                .train_loss = v[COL_TRAIN_LOSS],
                                .train_accuracy = v[COL_TRAIN_ACC],
                                .test_loss = v[COL_TEST_LOSS],
                                .test_accuracy = v[COL_TEST_ACC],
                                .samples_per_s = v[COL_RATE],
                                .seconds = v[COL_SECONDS],
                                .lr = v[COL_LR]},
                          .val_loss = v[COL_VAL_LOSS],
                          .val_accuracy = v[COL_VAL_ACC]};
        r->has_val = has[COL_VAL_LOSS] && (isfinite(r->val_loss) || isfinite(r->val_accuracy));
        r->no_test = isnan(r->e.test_loss) && isnan(r->e.test_accuracy);
    }
    int read_error = ferror(f);
    free(line);
    fclose(f);
    if (ok && line_no == 0)
        ok = 0; /* not even a header */
    if (!ok || read_error) {
        free(rows);
        if (line_out)
            *line_out = line_no;
        errno = read_error ? EIO : EINVAL;
        return -1;
    }
    *rows_out = n ? rows : NULL;
    if (!n)
        free(rows);
    *n_out = n;
    return 0;
}

/* ---- SVG (svg_plot.c) ---- */

static int emit_svg(FILE *f, void *user)
{
    const doc *d = user;
    return svg_plot_write(f, d->rows, d->n, d->title);
}

int report_write_plot(const char *path, const report_row *rows, size_t n, const char *title)
{
    if (!path || (n && !rows)) {
        errno = EINVAL;
        return -1;
    }
    doc d = {rows, n, title};
    return write_atomic(path, emit_svg, &d);
}

int report_write_svg(const char *path, const report_epoch *rows, size_t n, const char *title)
{
    if (!path || (n && !rows)) {
        errno = EINVAL;
        return -1;
    }
    int failed;
    report_row *wide = widen(rows, n, &failed);
    int rc = failed ? -1 : report_write_plot(path, wide, n, title);
    int saved = errno;
    free(wide);
    errno = saved;
    return rc;
}

/* ---- JSON lines ---- */

void report_json_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.9g", v);
    else
        fputs("null", out);
}

void report_json_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_number(FILE *out, const char *key, double v)
{
    fprintf(out, ",\"%s\":", key);
    report_json_number(out, v);
}

void report_print_json(FILE *out, const report_epoch *row)
{
    report_row wide = {.e = *row};
    report_print_row_json(out, &wide);
}

void report_print_row_json(FILE *out, const report_row *w)
{
    const report_epoch *row = &w->e;
    fprintf(out, "{\"epoch\":%zu", row->epoch);
    json_number(out, "train_loss", row->train_loss);
    json_number(out, "train_accuracy", row->train_accuracy);
    if (w->has_val) {
        json_number(out, "val_loss", w->val_loss);
        json_number(out, "val_accuracy", w->val_accuracy);
    }
    if (!w->no_test) {
        json_number(out, "test_loss", row->test_loss);
        json_number(out, "test_accuracy", row->test_accuracy);
    }
    json_number(out, "samples_per_s", row->samples_per_s);
    json_number(out, "seconds", row->seconds);
    json_number(out, "lr", row->lr);
    fputs("}\n", out);
    fflush(out); /* a reader of the pipe sees each epoch when it ends */
}

/* ---- progress bar ---- */

enum { BAR_MIN = 10, BAR_MAX = 30 };
#define REDRAW_INTERVAL 0.1 /* seconds: at most ~10 redraws a second */

int report_terminal_columns(FILE *out)
{
    struct winsize ws;
    if (out && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *env = getenv("COLUMNS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v <= 100000)
            return (int)v;
    }
    return 80;
}

/* m:ss, or h:mm:ss from an hour on; "-:--" when unknown. */
static void format_duration(char *buf, size_t size, double seconds)
{
    if (!(seconds >= 0) || seconds > 1e8) {
        snprintf(buf, size, "-:--");
        return;
    }
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

size_t report_progress_format(char *buf, size_t size, int columns, size_t epoch, size_t done, size_t total,
                              double running_loss, double elapsed)
{
    /* The optional parts in the order they are shown, and the order they go when the
     * terminal is too narrow (the bar goes after them, the percentage last). */
    enum { PERCENT, COUNTS, RATE, LOSS, ELAPSED, ETA, PARTS };
    static const int drop_order[PARTS - 1] = {COUNTS, RATE, LOSS, ELAPSED, ETA};
    char part[PARTS][64], head[48], t[40];
    if (done > total)
        done = total;
    double frac = total ? (double)done / (double)total : 1;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    snprintf(head, sizeof head, "epoch %zu", epoch);
    snprintf(part[PERCENT], sizeof part[PERCENT], " %3d%%", (int)(frac * 100));
    snprintf(part[COUNTS], sizeof part[COUNTS], " %zu/%zu", done, total);
    snprintf(part[RATE], sizeof part[RATE], "  %.0f samples/s", rate);
    snprintf(part[LOSS], sizeof part[LOSS], "  loss %.4f", running_loss);
    format_duration(t, sizeof t, elapsed);
    snprintf(part[ELAPSED], sizeof part[ELAPSED], "  %s", t);
    format_duration(t, sizeof t, done ? elapsed * (double)(total - done) / (double)done : -1);
    snprintf(part[ETA], sizeof part[ETA], "  ETA %s", t);

    size_t width = columns > 1 ? (size_t)columns - 1 : 0, len = strlen(head);
    int shown[PARTS];
    for (int k = 0; k < PARTS; k++)
        shown[k] = 1;
    size_t bar = 0; /* the bar's inner width; 0: no bar */
    for (int dropped = 0;; dropped++) {
        size_t used = len;
        for (int k = 0; k < PARTS; k++)
            used += shown[k] ? strlen(part[k]) : 0;
        if (used + 3 + BAR_MIN <= width) { /* " [" bar "]" */
            bar = width - used - 3;
            bar = bar > BAR_MAX ? BAR_MAX : bar;
            break;
        }
        if (dropped == PARTS - 1) { /* no room for a bar: the head, and the percentage if it fits */
            shown[PERCENT] = len + strlen(part[PERCENT]) <= width;
            break;
        }
        shown[drop_order[dropped]] = 0;
    }
    char line[512];
    size_t n = (size_t)snprintf(line, sizeof line, "%s", head);
    if (bar) {
        size_t fill = (size_t)(frac * (double)bar);
        n += (size_t)snprintf(line + n, sizeof line - n, " [");
        for (size_t i = 0; i < bar; i++)
            line[n++] = i < fill ? '#' : '.';
        line[n++] = ']';
        line[n] = '\0';
    }
    for (int k = 0; k < PARTS; k++)
        if (shown[k] && n < sizeof line)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s", part[k]);
    if (n > sizeof line - 1)
        n = sizeof line - 1;
    if (n > width)
        n = width; /* a terminal narrower than the head */
    line[n] = '\0';
    snprintf(buf, size, "%s", line);
    return n < size ? n : size - 1;
}

void report_progress_start(report_progress *p, FILE *out)
{
    p->out = out;
    p->is_tty = out && isatty(fileno(out));
    p->start = report_now();
    p->last_draw = -1; /* nothing drawn yet */
}

void report_progress_update(report_progress *p, size_t epoch, size_t done, size_t total, double running_loss)
{
    if (!p->is_tty)
        return;
    double now = report_now();
    /* The last step is always drawn so the bar ends at 100%. */
    if (p->last_draw >= 0 && now - p->last_draw < REDRAW_INTERVAL && done < total)
        return;
    p->last_draw = now;
    char line[512];
    report_progress_format(line, sizeof line, report_terminal_columns(p->out), epoch, done, total, running_loss,
                           now - p->start);
    /* \033[K erases what a longer previous line left to the right. */
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
}

void report_progress_done(report_progress *p)
{
    if (p->is_tty && p->last_draw >= 0) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    /* Restarting the clock lets one start serve several epochs as well as one per epoch. */
    p->start = report_now();
    p->last_draw = -1;
}

double report_now(void) { return clmlp_seconds(); }

void report_print_profile(FILE *out, const clmlp_kernel_profile *k, size_t n, double epoch_seconds)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += k[i].seconds;
    fprintf(out, "  kernel profile: %.3f s on the device in %.3f s (%.0f %%)\n", total, epoch_seconds,
            epoch_seconds > 0 ? 100 * total / epoch_seconds : 0.0);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-20s %10llu launches %10.3f s %6.1f %%\n", k[i].kernel, (unsigned long long)k[i].launches,
                k[i].seconds, total > 0 ? 100 * k[i].seconds / total : 0.0);
}
