/* A minimal program using cidb through CMake (or pkg-config): open a database, write a
 * customer, read it back, print it. Usage: cidb_example DIR */
#include <stdio.h>

#include "cidb.h"

static int fail(const char *what, cidb_status st) {
  fprintf(stderr, "%s failed: %s: %s\n", what, cidb_status_name(st), cidb_last_error_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  cidb_engine *engine = NULL;
  cidb_tenant *tenant = NULL;
  char *json = NULL;
  cidb_status st;
  if ((st = cidb_engine_open(argv[1], &engine)) != CIDB_OK) return fail("open", st);
  if ((st = cidb_engine_tenant(engine, "example", &tenant)) != CIDB_OK) return fail("tenant", st);
  if ((st = cidb_tenant_upsert_customer(tenant, "{\"id\":\"c1\",\"name\":\"Ann\"}")) != CIDB_OK)
    return fail("upsert", st);
  if ((st = cidb_tenant_get_customer(tenant, "c1", &json)) != CIDB_OK) return fail("get", st);
  printf("cidb %s: %s\n", cidb_version(), json);
  cidb_string_free(json);
  cidb_tenant_free(tenant);
  st = cidb_engine_close(engine);
  cidb_engine_free(engine);
  return st == CIDB_OK ? 0 : fail("close", st);
}
