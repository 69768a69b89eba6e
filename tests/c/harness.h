/*
 * A tiny test harness for the C tests of cidb: CHECK macros that report the status name
 * and the thread's last error, named test cases, and a summary line that tests/c/run.sh
 * reads ("RESULT <program> passed=N failed=M"). Also temporary directories.
 */
#ifndef CIDB_TEST_HARNESS_H
#define CIDB_TEST_HARNESS_H

#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidb.h"

static volatile int h_case_failed;
static int h_passed, h_failed;

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, \
              #cond, cidb_last_error_message());                                           \
      h_case_failed = 1;                                                                   \
    }                                                                                      \
  } while (0)

/* Checks `expr` returns `want`; on failure prints both names and the last error. */
#define CHECK_STATUS(expr, want)                                                         \
  do {                                                                                   \
    cidb_status st_ = (expr);                                                            \
    if (st_ != (want)) {                                                                 \
      fprintf(stderr, "  %s:%d: %s returned %s, want %s (last error: %s)\n", __FILE__,  \
              __LINE__, #expr, cidb_status_name(st_), cidb_status_name(want),            \
              cidb_last_error_message());                                                \
      h_case_failed = 1;                                                                 \
    }                                                                                    \
  } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, CIDB_OK)

/* Checks `expr` fails with `want` and the last error message contains `text`. */
#define CHECK_FAILS(expr, want, text)                                                      \
  do {                                                                                     \
    CHECK_STATUS(expr, want);                                                              \
    if (!strstr(cidb_last_error_message(), (text))) {                                      \
      fprintf(stderr, "  %s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__,    \
              __LINE__, cidb_last_error_message(), (text));                                \
      h_case_failed = 1;                                                                   \
    }                                                                                      \
  } while (0)

/* Checks a string returned by cidb equals `want`, then releases it. */
#define CHECK_JSON(got, want)                                                         \
  do {                                                                                \
    char *g_ = (got);                                                                 \
    if (!g_ || strcmp(g_, (want)) != 0) {                                             \
      fprintf(stderr, "  %s:%d: got  %s\n  %*s  want %s\n", __FILE__, __LINE__,      \
              g_ ? g_ : "(NULL)", (int)strlen(__FILE__) + 4, "", (want));             \
      h_case_failed = 1;                                                              \
    }                                                                                 \
    cidb_string_free(g_);                                                             \
  } while (0)

static void h_run(const char *name, void (*fn)(void)) {
  h_case_failed = 0;
  fn();
  if (h_case_failed) {
    h_failed++;
    printf("FAIL %s\n", name);
  } else {
    h_passed++;
    printf("ok   %s\n", name);
  }
  fflush(stdout);
}
#define RUN(fn) h_run(#fn, fn)

static int h_finish(const char *program) {
  printf("RESULT %s passed=%d failed=%d\n", program, h_passed, h_failed);
  return h_failed ? 1 : 0;
}

/* Number of non-overlapping occurrences of `needle` in `hay`. */
static inline int h_count(const char *hay, const char *needle) {
  int n = 0;
  size_t len = strlen(needle);
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len) n++;
  return n;
}

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the path with h_rmtree. */
static char *h_tempdir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/cidb-c-test-XXXXXX", base && *base ? base : "/tmp");
  char *dir = mkdtemp(tmpl);
  if (!dir) {
    perror("mkdtemp");
    exit(2);
  }
  return strdup(dir);
}

static int h_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Removes `dir` and everything in it, and frees the path. */
static void h_rmtree(char *dir) {
  nftw(dir, h_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

#endif /* CIDB_TEST_HARNESS_H */
