/*
 * canary_leak.c: a deliberately wrong program. It forgets to release a JSON string that
 * cidb returned. tests/c/run.sh expects AddressSanitizer and Valgrind to FAIL it, which
 * proves they see allocations made inside the Rust library (so a clean run means
 * something).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cidb.h"

int main(void) {
  char tmpl[] = "/tmp/cidb-canary-XXXXXX";
  char *dir = mkdtemp(tmpl);
  cidb_engine *e = NULL;
  char *stats = NULL;
  if (!dir || cidb_engine_open(dir, &e) != CIDB_OK) return 2;
  if (cidb_engine_stats(e, &stats) != CIDB_OK) return 2;
  stats = NULL; /* the leak: the string is lost without cidb_string_free */
  cidb_engine_free(e);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 2;
}
