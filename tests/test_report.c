/*
 * apps/report.c, the reporting of `clmlp train`: CSV files that read back to the same
 * numbers (NaN and infinities included), SVG plots that are well-formed XML for 0, 1 and
 * many epochs, flat lines, NaN and hostile titles, JSON lines with null for non-finite
 * values, no temporary file left behind on success or failure, -1 with errno for paths
 * that cannot be written, and a progress bar that stays silent off a terminal. Files go
 * into a fresh temporary directory that is removed at the end. The XML and JSON checks
 * use python3 when it is installed and are skipped otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three headers above first */
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "tmp_dir.h"

/* ---- the temporary directory ---- */

static int have_python;

static int make_tmp_dir(void **state)
{
    (void)state;
    have_python = system("python3 -c 'import xml.dom.minidom, json' >/dev/null 2>&1") == 0;
    if (!have_python)
        fprintf(stderr, "note: no python3, XML and JSON parse checks skipped\n");
    return test_tmp_dir_create("clmlp_test_report");
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    return test_tmp_dir_remove();
}

/* Files in dir whose name holds ".tmp." (what report.c's temporary files are called). */
static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            count++;
    closedir(d);
    return count;
}

static int python_ok(const char *script, const char *file)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 -c \"%s\" '%s'", script, file);
    return system(cmd) == 0;
}

/* ---- the data: every value has at most 9 significant digits, so %.9g is exact ---- */

static void five_rows(report_epoch r[5])
{
    r[0] = (report_epoch){1, 2.30258509, 0.1125, 1.98765432, 0.4375, 41234.5, 1.45500002, 0.1};
    r[1] = (report_epoch){2, 0.812345678, 0.7125, 0.734567891, 0.78125, 52000, 1.25, 0.05};
    r[2] = (report_epoch){3, NAN, 0.8, 0.61, NAN, 1e-300, 1.5e+300, 0.025};
    r[3] = (report_epoch){4, 0.5, INFINITY, -INFINITY, 0.890000001, 0, 1.0625, 1.25e-5};
    r[4] = (report_epoch){5, 0.45, 0.875, 0.4, 0.9, 60000, 1.0000001, 0.0125};
}

static int same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* ---- CSV ---- */

static void check_csv(const char *path, const report_epoch *rows, size_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "epoch,train_loss,train_accuracy,test_loss,test_accuracy,samples_per_s,"
                              "seconds,lr\n");
    for (size_t i = 0; i < n; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *p = line, *end;
        unsigned long long epoch = strtoull(p, &end, 10);
        assert_true(end > p && *end == ',');
        assert_int_equal(epoch, rows[i].epoch);
        const double want[7] = {rows[i].train_loss,    rows[i].train_accuracy, rows[i].test_loss, rows[i].test_accuracy,
                                rows[i].samples_per_s, rows[i].seconds,        rows[i].lr};
        for (int k = 0; k < 7; k++) {
            p = end + 1;
            double v = strtod(p, &end);
            assert_true(end > p);
            assert_true(*end == (k < 6 ? ',' : '\n'));
            if (!same(v, want[k]))
                fail_msg("row %zu column %d: read %.17g, wrote %.17g", i, k + 1, v, want[k]);
        }
    }
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
}

static void test_csv_round_trip(void **state)
{
    (void)state;
    report_epoch rows[5];
    five_rows(rows);
    const size_t counts[] = {0, 1, 5};
    for (size_t c = 0; c < 3; c++) {
        assert_int_equal(report_write_csv(test_tmp_path("metrics.csv"), rows, counts[c]), 0);
        check_csv(test_tmp_path("metrics.csv"), rows, counts[c]);
    }
    /* A new file has the one policy of atomic_file.h, 0644 minus the umask (not mkstemp's
     * 0600). */
    struct stat st;
    assert_int_equal(stat(test_tmp_path("metrics.csv"), &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0644 & ~mask);
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
}

/* ---- SVG ---- */

static void check_svg(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[64 * 1024];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    assert_true(len > 0 && len < sizeof buf - 1);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "</svg>\n"));
    /* Non-finite values are skipped, never written as coordinates. */
    assert_null(strstr(buf, "nan"));
    assert_null(strstr(buf, "inf"));
    if (have_python && !python_ok("import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", path))
        fail_msg("%s is not well-formed XML", path);
}

static void test_svg_shapes(void **state)
{
    (void)state;
    report_epoch rows[5];
    five_rows(rows);
    const char *title = "run <1> & \"fast\" 'lr' \x01\xff caf\xc3\xa9";
    const size_t counts[] = {0, 1, 5};
    for (size_t c = 0; c < 3; c++) {
        assert_int_equal(report_write_svg(test_tmp_path("plot.svg"), rows, counts[c], title), 0);
        check_svg(test_tmp_path("plot.svg"));
    }
    /* One point: drawn as markers, since a one-point line shows nothing. */
    assert_int_equal(report_write_svg(test_tmp_path("one.svg"), rows, 1, NULL), 0);
    check_svg(test_tmp_path("one.svg"));
    FILE *f = fopen(test_tmp_path("one.svg"), "r");
    assert_non_null(f);
    char buf[64 * 1024];
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "<circle"));

    /* Flat lines, all-NaN series and infinite values must not break the scales. */
    report_epoch flat[4];
    for (size_t i = 0; i < 4; i++)
        flat[i] = (report_epoch){i + 1, 0.5, 1, 0.5, 1, 100, 1, 0.1};
    assert_int_equal(report_write_svg(test_tmp_path("flat.svg"), flat, 4, "flat"), 0);
    check_svg(test_tmp_path("flat.svg"));
    for (size_t i = 0; i < 4; i++)
        flat[i] = (report_epoch){i + 1, NAN, INFINITY, -INFINITY, NAN, 0, 0, 0};
    assert_int_equal(report_write_svg(test_tmp_path("nan.svg"), flat, 4, ""), 0);
    check_svg(test_tmp_path("nan.svg"));
    flat[0] = (report_epoch){1, 0, 0, 0, 0, 0, 0, 0};
    flat[1] = (report_epoch){2, 1e308, 1, -1e308, 0, 0, 0, 0};
    assert_int_equal(report_write_svg(test_tmp_path("huge.svg"), flat, 2, "huge"), 0);
    check_svg(test_tmp_path("huge.svg"));

    /* Many epochs (fewer markers, ticks spaced out). */
    report_epoch many[200];
    for (size_t i = 0; i < 200; i++) {
        double t = (double)i / 200;
        many[i] = (report_epoch){
            i + 1, 2 * exp(-5 * t), 1 - 0.9 * exp(-5 * t), 2.1 * exp(-4 * t), 1 - 0.92 * exp(-4 * t), 5e4, 1, 0.1};
    }
    assert_int_equal(report_write_svg(test_tmp_path("many.svg"), many, 200, "200 epochs"), 0);
    check_svg(test_tmp_path("many.svg"));
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
}

/* ---- failures ---- */

static void test_unwritable_paths(void **state)
{
    (void)state;
    report_epoch rows[5];
    five_rows(rows);
    errno = 0;
    assert_int_equal(report_write_csv(test_tmp_path("no/such/dir/metrics.csv"), rows, 5), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(report_write_svg(test_tmp_path("no/such/dir/plot.svg"), rows, 5, "x"), -1);
    assert_int_equal(errno, ENOENT);

    /* The rename fails when the path is a non-empty directory: the temporary file that
     * was already written must be removed. */
    assert_int_equal(mkdir(test_tmp_path("a_dir"), 0700), 0);
    assert_int_equal(mkdir(test_tmp_path("a_dir/inside"), 0700), 0);
    errno = 0;
    assert_int_equal(report_write_csv(test_tmp_path("a_dir"), rows, 5), -1);
    assert_true(errno != 0);
    errno = 0;
    assert_int_equal(report_write_svg(test_tmp_path("a_dir"), rows, 5, "x"), -1);
    assert_true(errno != 0);
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
    assert_int_equal(rmdir(test_tmp_path("a_dir/inside")), 0);
    assert_int_equal(rmdir(test_tmp_path("a_dir")), 0);
}

/* ---- JSON lines ---- */

static void test_json_line(void **state)
{
    (void)state;
    report_epoch rows[5];
    five_rows(rows);
    const char *path = test_tmp_path("lines.jsonl");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < 5; i++)
        report_print_json(f, &rows[i]);
    fclose(f);

    f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "{\"epoch\":1,\"train_loss\":2.30258509,\"train_accuracy\":0.1125,"
                              "\"test_loss\":1.98765432,\"test_accuracy\":0.4375,"
                              "\"samples_per_s\":41234.5,\"seconds\":1.45500002,\"lr\":0.1}\n");
    int lines = 1;
    while (fgets(line, sizeof line, f)) {
        lines++;
        assert_null(strstr(line, "nan"));
        assert_null(strstr(line, "inf"));
    }
    fclose(f);
    assert_int_equal(lines, 5);

    /* Every line parses, keys in the struct's order, non-finite values as null. */
    if (have_python && !python_ok("import json, sys, math\n"
                                  "rows = [json.loads(l) for l in open(sys.argv[1])]\n"
                                  "keys = ['epoch', 'train_loss', 'train_accuracy', 'test_loss', "
                                  "'test_accuracy', 'samples_per_s', 'seconds', 'lr']\n"
                                  "assert all(list(r) == keys for r in rows), rows\n"
                                  "assert rows[2]['train_loss'] is None and rows[2]['test_accuracy'] is None\n"
                                  "assert rows[3]['train_accuracy'] is None and rows[3]['test_loss'] is None\n"
                                  "assert rows[2]['seconds'] == 1.5e300 and rows[3]['lr'] == 1.25e-5\n",
                                  path))
        fail_msg("the JSON lines in %s do not parse as expected", path);
}

/* ---- progress and clock ---- */

static void test_progress_off_terminal(void **state)
{
    (void)state;
    FILE *f = fopen(test_tmp_path("progress.txt"), "w+");
    assert_non_null(f);
    report_progress p;
    report_progress_start(&p, f);
    assert_false(p.is_tty);
    for (size_t done = 0; done <= 1000; done += 100)
        report_progress_update(&p, 1, done, 1000, 0.25);
    report_progress_done(&p);
    assert_int_equal(ftell(f), 0);
    fclose(f);
}

static void test_clock(void **state)
{
    (void)state;
    double a = report_now();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double b = report_now();
    assert_true(a > 0);
    assert_true(b - a >= 0.019 && b - a < 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_round_trip),        cmocka_unit_test(test_svg_shapes),
        cmocka_unit_test(test_unwritable_paths),      cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_progress_off_terminal), cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
