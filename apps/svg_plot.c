/* The training plot: loss and accuracy per epoch, train and test, as a self-contained
 * SVG (axes, ticks, legend, title), drawn here without a plotting library. */
#include "svg_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const report_row *rows;
    size_t n;
    const char *title;
} doc;

enum { SVG_W = 1000, SVG_H = 470, PANEL_W = 500 };
enum { PLOT_TOP = 115, PLOT_BOTTOM = SVG_H - 65, PLOT_LEFT = 80, PLOT_RIGHT = 475 };
/* Data and ticks stay this far inside the axes, so markers do not sit on them. */
enum { INSET = 8, MARKER_MAX_POINTS = 40, MAX_TICKS = 40 };

static const char color_train[] = "#1f77b4", color_test[] = "#e6550d", color_val[] = "#2ca02c";

/* Writes s as XML character data: markup characters escaped, control characters that XML
 * 1.0 forbids dropped, and bytes that are not UTF-8 replaced so the file stays parseable. */
static void xml_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t extra = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : 0;
        if (c >= 0x80) {
            size_t k = 1;
            while (k <= extra && (p[k] & 0xC0) == 0x80)
                k++;
            /* Overlong 3/4-byte forms, surrogates and > U+10FFFF are not UTF-8 either. */
            int bad = extra == 0 || k <= extra || (c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) ||
                      (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90) ||
                      (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF));
            if (bad) {
                fputs("\xEF\xBF\xBD", f); /* U+FFFD */
                p++;
            } else {
                fwrite(p, 1, extra + 1, f);
                p += extra + 1;
            }
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (c >= 0x20 || c == '\t')
                fputc((int)c, f);
            else if (c == '\n' || c == '\r')
                fputc(' ', f);
        }
        p++;
    }
}

/* 1, 2 or 5 times a power of ten, near raw. */
static double nice_step(double raw)
{
    if (!(raw > 0) || !isfinite(raw))
        return 1;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

typedef struct {
    double lo, hi, step; /* the axis spans [lo, hi]; ticks at multiples of step in it */
} axis;

/* A y axis over [lo, hi] widened to whole ticks; a flat range is widened first so the
 * scale never divides by zero. Without finite data it spans [0, empty_hi]. */
static axis y_axis(double lo, double hi, double empty_hi)
{
    if (!(lo <= hi))
        lo = 0, hi = empty_hi;
    if (lo == hi) {
        double pad = fabs(lo) * 0.05;
        if (!(pad > 0))
            pad = 1;
        lo -= pad, hi += pad;
    }
    /* Dividing before subtracting keeps huge ranges finite. */
    axis a = {lo, hi, nice_step(hi / 5 - lo / 5)};
    double l = floor(lo / a.step) * a.step, h = ceil(hi / a.step) * a.step;
    if (isfinite(l) && isfinite(h) && h > l)
        a.lo = l, a.hi = h;
    return a;
}

/* Epochs are whole numbers: integer steps, and the range is exactly the data's. */
static axis x_axis(const doc *d)
{
    if (d->n == 0)
        return (axis){0.5, 1.5, 1};
    double lo = (double)d->rows[0].e.epoch, hi = lo;
    for (size_t i = 1; i < d->n; i++) {
        double e = (double)d->rows[i].e.epoch;
        lo = e < lo ? e : lo;
        hi = e > hi ? e : hi;
    }
    if (lo == hi)
        return (axis){lo - 0.5, hi + 0.5, 1};
    double step = nice_step((hi - lo) / 6);
    return (axis){lo, hi, step < 1 ? 1 : step};
}

static double scale(double v, axis a, double from, double to)
{
    double span = a.hi - a.lo;
    if (!(span > 0) || !isfinite(span))
        return (from + to) / 2;
    return from + (v - a.lo) / span * (to - from);
}

/* Enough decimals to tell neighbouring ticks apart, and no "-0". */
static void tick_label(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-6)
        v = 0;
    if (step >= 1e-4 && fabs(v) < 1e7) {
        int decimals = (int)-floor(log10(step) + 1e-9);
        snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, v);
    } else {
        double big = fmax(fabs(v), step);
        int digits = (int)ceil(log10(big / step) + 1e-9) + 1;
        snprintf(buf, size, "%.*g", digits < 1 ? 1 : digits > 17 ? 17 : digits, v);
    }
}

typedef struct {
    const char *name, *color;
    double (*get)(const report_row *r);
} series;

static double get_train_loss(const report_row *r) { return r->e.train_loss; }
static double get_test_loss(const report_row *r) { return r->e.test_loss; }
static double get_train_acc(const report_row *r) { return 100 * r->e.train_accuracy; }
static double get_test_acc(const report_row *r) { return 100 * r->e.test_accuracy; }
static double get_val_loss(const report_row *r) { return r->has_val ? r->val_loss : NAN; }
static double get_val_acc(const report_row *r) { return r->has_val ? 100 * r->val_accuracy : NAN; }

/* Lines through the finite points, broken where a value is NaN or infinite; markers
 * on every point when there are few, else only on points that no line reaches. */
static void draw_series(FILE *f, const doc *d, const series *s, axis xa, axis ya, double x0)
{
    double left = x0 + PLOT_LEFT + INSET, right = x0 + PLOT_RIGHT - INSET;
    double bottom = PLOT_BOTTOM - INSET, top = PLOT_TOP + INSET;
    size_t finite = 0;
    int open = 0;
    for (size_t i = 0; i < d->n; i++) {
        double v = s->get(&d->rows[i]);
        if (!isfinite(v)) {
            if (open)
                fputs("\"/>\n", f);
            open = 0;
            continue;
        }
        finite++;
        if (!open)
            fprintf(f,
                    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                    "stroke-linejoin=\"round\" points=\"",
                    s->color);
        fprintf(f, "%s%.2f,%.2f", open ? " " : "", scale((double)d->rows[i].e.epoch, xa, left, right),
                scale(v, ya, bottom, top));
        open = 1;
    }
    if (open)
        fputs("\"/>\n", f);
    for (size_t i = 0; i < d->n; i++) {
        double v = s->get(&d->rows[i]);
        if (!isfinite(v))
            continue;
        int alone =
            (i == 0 || !isfinite(s->get(&d->rows[i - 1]))) && (i + 1 == d->n || !isfinite(s->get(&d->rows[i + 1])));
        if (finite <= MARKER_MAX_POINTS || alone)
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"%s\"/>\n",
                    scale((double)d->rows[i].e.epoch, xa, left, right), scale(v, ya, bottom, top), s->color);
    }
}

static void draw_panel(FILE *f, const doc *d, double x0, const char *heading, const char *y_title, double empty_hi,
                       const series *s, int n_series)
{
    double left = x0 + PLOT_LEFT, right = x0 + PLOT_RIGHT, mid = (left + right) / 2;
    double bottom = PLOT_BOTTOM - INSET, top = PLOT_TOP + INSET;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < d->n; i++)
        for (int k = 0; k < n_series; k++) {
            double v = s[k].get(&d->rows[i]);
            if (isfinite(v)) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    int has_data = lo <= hi;
    axis ya = y_axis(lo, hi, empty_hi), xa = x_axis(d);
    char label[64];

    fprintf(f,
            "<g>\n<text x=\"%.1f\" y=\"72\" text-anchor=\"middle\" font-size=\"15\" "
            "font-weight=\"bold\">",
            mid);
    xml_text(f, heading);
    fputs("</text>\n", f);

    /* Legend above the plot, so it never covers a line. */
    for (int k = 0; k < n_series; k++) {
        double lx = left + 10 + k * (n_series > 2 ? 120 : 150);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"92\" x2=\"%.1f\" y2=\"92\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n",
                lx, lx + 24, s[k].color);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"92\" r=\"3.5\" fill=\"%s\"/>\n", lx + 12, s[k].color);
        fprintf(f, "<text x=\"%.1f\" y=\"96\">", lx + 30);
        xml_text(f, s[k].name);
        fputs("</text>\n", f);
    }

    /* Grid and tick labels on y. */
    for (int k = 0; k <= MAX_TICKS; k++) {
        double v = ya.lo + k * ya.step;
        if (v > ya.hi + ya.step * 1e-6)
            break;
        double y = scale(v, ya, bottom, top);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#e0e0e0\"/>\n", left, y, right, y);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#000\"/>\n", left - 5, y, left, y);
        tick_label(label, sizeof label, v, ya.step);
        fprintf(f, "<text x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\" font-size=\"11\">%s</text>\n", left - 8, y + 4,
                label);
    }
    /* Ticks on x: multiples of the step inside the range, and the first epoch when no
     * multiple is near it. */
    double first = ceil(xa.lo / xa.step - 1e-9) * xa.step;
    int first_epoch = d->n && first - xa.lo >= 0.4 * xa.step;
    for (int k = -first_epoch; k <= MAX_TICKS; k++) {
        double v = k < 0 ? xa.lo : first + k * xa.step;
        if (v > xa.hi + 1e-9)
            break;
        double x = scale(v, xa, left + INSET, right - INSET);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#000\"/>\n", x, PLOT_BOTTOM, x,
                PLOT_BOTTOM + 5);
        fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.0f</text>\n", x,
                PLOT_BOTTOM + 19, v);
    }
    /* Axes last among the guides, so grid lines do not cover them. */
    fprintf(f, "<path d=\"M%.1f %d V%d H%.1f\" fill=\"none\" stroke=\"#000\"/>\n", left, PLOT_TOP, PLOT_BOTTOM, right);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n", mid, PLOT_BOTTOM + 42);
    double ty = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">",
            x0 + 20, ty, x0 + 20, ty);
    xml_text(f, y_title);
    fputs("</text>\n", f);

    if (has_data) {
        for (int k = 0; k < n_series; k++)
            draw_series(f, d, &s[k], xa, ya, x0);
    } else {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">no data"
                "</text>\n",
                mid, ty);
    }
    fputs("</g>\n", f);
}

int svg_plot_write(FILE *f, const report_row *rows, size_t n, const char *title_or_null)
{
    const doc document = {rows, n, title_or_null}, *d = &document;
    const char *title = d->title && *d->title ? d->title : "clmlp training";
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
            "font-size=\"12\">\n<title>",
            SVG_W, SVG_H, SVG_W, SVG_H);
    xml_text(f, title);
    fprintf(f,
            "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
            "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"18\">",
            SVG_W, SVG_H, SVG_W / 2);
    xml_text(f, title);
    fputs("</text>\n", f);

    /* The numbers a reader looks for first, under the title. */
    fprintf(f, "<text x=\"%d\" y=\"48\" text-anchor=\"middle\" fill=\"#555\">%zu epoch%s", SVG_W / 2, d->n,
            d->n == 1 ? "" : "s");
    /* With a validation set the test set is evaluated once, after the epoch whose model
     * was kept: the summary names that epoch, and the test series is that one point. */
    int has_val = 0, has_test = 0;
    size_t best = d->n, tested = d->n;
    for (size_t i = 0; i < d->n; i++) {
        const report_row *r = &d->rows[i];
        has_val |= r->has_val;
        if (isfinite(r->e.test_loss) || isfinite(r->e.test_accuracy))
            has_test = 1, tested = i;
        if (r->has_val && isfinite(r->val_loss) && (best == d->n || r->val_loss < d->rows[best].val_loss))
            best = i;
    }
    if (d->n && !has_val) {
        const report_epoch *last = &d->rows[d->n - 1].e;
        if (isfinite(last->test_accuracy))
            fprintf(f, ", final test accuracy %.2f%%", 100 * last->test_accuracy);
        if (isfinite(last->test_loss))
            fprintf(f, ", final test loss %.4g", last->test_loss);
    } else if (d->n) {
        if (best < d->n)
            fprintf(f, ", best validation loss %.4g (epoch %zu)", d->rows[best].val_loss, d->rows[best].e.epoch);
        if (tested < d->n && isfinite(d->rows[tested].e.test_accuracy))
            fprintf(f, ", test accuracy %.2f%% (epoch %zu)", 100 * d->rows[tested].e.test_accuracy,
                    d->rows[tested].e.epoch);
    }
    fputs("</text>\n", f);

    series loss[3] = {{"train loss", color_train, get_train_loss}},
           acc[3] = {{"train accuracy", color_train, get_train_acc}};
    int n_series = 1;
    if (has_val) {
        loss[n_series] = (series){"validation loss", color_val, get_val_loss};
        acc[n_series++] = (series){"validation accuracy", color_val, get_val_acc};
    }
    if (has_test || !has_val) {
        loss[n_series] = (series){"test loss", color_test, get_test_loss};
        acc[n_series++] = (series){"test accuracy", color_test, get_test_acc};
    }
    if (n_series == 3) /* short names, so that three fit above a panel */
        for (int k = 0; k < 3; k++)
            loss[k].name = acc[k].name = k == 0 ? "train" : k == 1 ? "validation" : "test";
    draw_panel(f, d, 0, "Loss", "loss (mean per sample)", 1, loss, n_series);
    draw_panel(f, d, PANEL_W, "Accuracy", "accuracy (%)", 100, acc, n_series);
    fputs("</svg>\n", f);
    return 0;
}
