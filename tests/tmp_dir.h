/* A suite's scratch directory under /tmp, shared by the tests that write files. */
#ifndef CLMLP_TEST_TMP_DIR_H
#define CLMLP_TEST_TMP_DIR_H

/* Creates /tmp/<prefix>_XXXXXX (mkdtemp); 0 on success. */
int test_tmp_dir_create(const char *prefix);
/* Its path. */
const char *test_tmp_dir(void);
/* dir/name (valid until the next call). */
const char *test_tmp_path(const char *name);
/* Removes what it holds (files and empty directories) and the directory; 0 on success. */
int test_tmp_dir_remove(void);

#endif
