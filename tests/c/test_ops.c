/*
 * test_ops.c: the operations layer from C. A workload run through the SQL API on a column
 * no seed index covers (customers.name) makes cidb_engine_advise_json recommend an index on
 * it; cidb_engine_advise_apply_json builds it (EXPLAIN then uses it) and the next advice no
 * longer asks for it. After a seed index is dropped and its workload runs,
 * cidb_engine_optimize_json builds a replacement. Health reports a healthy engine; the
 * metrics come as JSON and Prometheus text with the rows stored. Bad gain thresholds, NULL
 * arguments and a closed engine fail with their statuses and messages.
 * Run by tests/c/run.sh (plain, ASan and Valgrind builds).
 */
#include "harness.h"

#include <math.h>

#define CUSTOMERS 400

/* An engine with CUSTOMERS customers in tenant "acme" (names n0..n399, 8 departments). */
static cidb_engine *open_loaded(const char *dir, cidb_tenant **out_tenant) {
  cidb_engine *e = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", out_tenant));
  static const char *depts[] = {"sales", "hr", "legal", "ops", "it", "finance", "support", "marketing"};
  static const char *statuses[] = {"active", "trial", "churned"};
  size_t cap = CUSTOMERS * 160 + 16, len = 0;
  char *batch = malloc(cap);
  CHECK(batch != NULL);
  if (!batch) return e;
  len += (size_t)snprintf(batch + len, cap - len, "[");
  for (int i = 0; i < CUSTOMERS; i++) {
    len += (size_t)snprintf(batch + len, cap - len,
                            "%s{\"id\":\"c%03d\",\"name\":\"n%d\",\"department\":\"%s\",\"status\":\"%s\","
                            "\"created_at\":%d,\"updated_at\":%d}",
                            i ? "," : "", i, i, depts[i % 8], statuses[i % 3], 1000 + i, 1000 + i);
  }
  snprintf(batch + len, cap - len, "]");
  CHECK_OK(cidb_tenant_upsert_customers(*out_tenant, batch));
  free(batch);
  CHECK_OK(cidb_engine_execute(e, "ANALYZE", NULL));
  return e;
}

/* Runs `sql` with `params_json` through the SQL API and checks it returned `rows` rows
 * (each row starts with a customer id, "c..."). */
static void query_rows(cidb_tenant *t, const char *sql, const char *params_json, int rows) {
  char *json = NULL;
  CHECK_OK(cidb_tenant_query_json(t, sql, params_json, &json));
  CHECK(json && h_count(json, "[\"c") == rows);
  cidb_string_free(json);
}

static const char *BY_NAME = "SELECT id, department FROM customers WHERE name = ?";

static void test_advisor_recommends_builds_and_stops_recommending(void) {
  char *dir = h_tempdir();
  cidb_tenant *t = NULL;
  cidb_engine *e = open_loaded(dir, &t);
  char *json = NULL;

  /* No statement recorded yet: nothing to recommend, nothing called unused. */
  CHECK_OK(cidb_engine_advise_json(e, &json));
  CHECK(json && strstr(json, "\"recommendations\":[]") && strstr(json, "\"unused_indexes\":[]") &&
        strstr(json, "\"queries_considered\":0"));
  cidb_string_free(json);

  char params[32];
  for (int i = 0; i < 30; i++) {
    snprintf(params, sizeof params, "[\"n%d\"]", i * 13);
    query_rows(t, BY_NAME, params, 1);
  }
  CHECK_OK(cidb_engine_advise_json(e, &json));
  CHECK(json && strstr(json, "\"table\":\"customers\",\"columns\":[\"name\"") &&
        strstr(json, "\"create_sql\":\"CREATE INDEX CONCURRENTLY ") &&
        strstr(json, "\"query\":\"SELECT id, department FROM customers WHERE name = ?\",\"calls\":30,") &&
        strstr(json, "\"plan_before\":\"SCAN customers"));
  /* The seed indexes this workload never read are reported as unused. */
  CHECK(json && strstr(json, "\"unused_indexes\":[{\"name\":\"idx_"));
  cidb_string_free(json);

  /* min_gain 1.0: no estimate saves everything, so nothing is built. */
  CHECK_OK(cidb_engine_advise_apply_json(e, 1.0, &json));
  CHECK(json && strcmp(json, "[]") == 0);
  cidb_string_free(json);

  CHECK_OK(cidb_engine_advise_apply_json(e, 0.5, &json));
  CHECK(json && json[0] == '[' && strstr(json, "\"table\":\"customers\",\"columns\":[\"name\""));
  /* The name of the index built, from `[{"name":"..."`. */
  char index[128] = "";
  const char *p = json ? strstr(json, "[{\"name\":\"") : NULL;
  CHECK(p != NULL);
  if (p) sscanf(p + 10, "%127[^\"]", index);
  cidb_string_free(json);
  CHECK(strncmp(index, "idx_customers_", 14) == 0);

  /* EXPLAIN now searches by the new index, and the query still finds its row. */
  CHECK_OK(cidb_tenant_explain(t, BY_NAME, "[\"n26\"]", false, false, &json));
  CHECK(json && index[0] && strstr(json, index) && strstr(json, "SEARCH customers"));
  cidb_string_free(json);
  query_rows(t, BY_NAME, "[\"n26\"]", 1);
  CHECK_OK(cidb_engine_indexes_json(e, &json));
  CHECK(json && index[0] && strstr(json, index));
  cidb_string_free(json);

  /* Advice no longer asks for an index on name. */
  CHECK_OK(cidb_engine_advise_json(e, &json));
  CHECK(json && !strstr(json, "\"columns\":[\"name\"") && strstr(json, "\"recommendations\":[]"));
  cidb_string_free(json);

  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_optimize_rebuilds_a_dropped_seed_index(void) {
  char *dir = h_tempdir();
  cidb_tenant *t = NULL;
  cidb_engine *e = open_loaded(dir, &t);
  char *json = NULL;
  CHECK_OK(cidb_engine_execute(e, "DROP INDEX idx_customers_department_status_created_at", NULL));
  static const char *depts[] = {"sales", "hr", "legal", "ops"};
  char params[64];
  for (int i = 0; i < 24; i++) {
    snprintf(params, sizeof params, "[\"%s\",\"trial\"]", depts[i % 4]);
    CHECK_OK(cidb_tenant_query_json(t, "SELECT id FROM customers WHERE department = ? AND status = ? ORDER BY created_at",
                                    params, &json));
    cidb_string_free(json);
  }
  /* Above the threshold of every recommendation: reported as skipped, nothing built. */
  CHECK_OK(cidb_engine_optimize_json(e, 1.0, &json));
  CHECK(json && strstr(json, "\"analyze_ms\":"));
  CHECK(json && strstr(json, "\"applied\":[],\"skipped\":[{\"name\":\"idx_customers_"));
  cidb_string_free(json);

  CHECK_OK(cidb_engine_optimize_json(e, 0.5, &json));
  CHECK(json && strstr(json, "\"applied\":[{\"name\":\"idx_customers_") && strstr(json, "\"failed\":[]") &&
        strstr(json, "\"warmed\":") && strstr(json, "\"elapsed_ms\":"));
  const char *cols = json ? strstr(json, "\"columns\":[") : NULL;
  CHECK(cols && strstr(cols, "\"department\"") && strstr(cols, "\"status\"") && strstr(cols, "]") > strstr(cols, "\"department\""));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_explain(t, "SELECT id FROM customers WHERE department = ? AND status = ? ORDER BY created_at",
                               "[\"hr\",\"trial\"]", false, false, &json));
  CHECK(json && strstr(json, "SEARCH customers USING ") && strstr(json, "INDEX idx_customers_"));
  cidb_string_free(json);
  /* Nothing left to build. */
  CHECK_OK(cidb_engine_optimize_json(e, 0.5, &json));
  CHECK(json && strstr(json, "\"applied\":[],\"skipped\":[],\"failed\":[]"));
  cidb_string_free(json);

  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_health_and_metrics(void) {
  char *dir = h_tempdir();
  cidb_tenant *t = NULL;
  cidb_engine *e = open_loaded(dir, &t);
  char *json = NULL;
  query_rows(t, BY_NAME, "[\"n7\"]", 1);

  CHECK_OK(cidb_engine_health_json(e, &json));
  const char *healthy = "{\"healthy\":true,\"status\":\"ok\",\"storage_writable\":true,";
  CHECK(json && strncmp(json, healthy, strlen(healthy)) == 0 &&
        strstr(json, "\"cache_open\":true") && strstr(json, "\"problems\":[]") &&
        strstr(json, "{\"index\":\"idx_customers_department_status_created_at\",\"rows_checked\":64,"));
  cidb_string_free(json);

  CHECK_OK(cidb_engine_metrics_json(e, &json));
  CHECK(json && strncmp(json, "{\"engine\":{", 11) == 0 && strstr(json, "\"customers\":400") &&
        strstr(json, "\"cache\":{") && strstr(json, "\"monitor\":{\"fingerprints\":[") &&
        strstr(json, "\"query\":\"SELECT id, department FROM customers WHERE name = ?\"") &&
        strstr(json, "\"index_usage\":["));
  cidb_string_free(json);

  CHECK_OK(cidb_engine_metrics_prometheus(e, &json));
  CHECK(json && strstr(json, "# TYPE cidb_rows gauge\n") && strstr(json, "\ncidb_rows{table=\"customers\"} 400\n") &&
        strstr(json, "# TYPE cidb_commits_total counter\n") &&
        strstr(json, "# TYPE cidb_statement_calls_total counter\n"));
  CHECK(json && h_count(json, "# TYPE cidb_rows ") == 1);
  cidb_string_free(json);

  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_bad_arguments_and_closed_engine(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  char *json = (char *)0x1;
  const double bad[] = {NAN, -0.01, 1.01, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json = (char *)0x1;
    CHECK_FAILS(cidb_engine_advise_apply_json(e, bad[i], &json), CIDB_INVALID_INPUT,
                "min_gain must be a fraction between 0 and 1");
    CHECK(json == NULL);
    CHECK_FAILS(cidb_engine_optimize_json(e, bad[i], &json), CIDB_INVALID_INPUT, "min_gain must be a fraction");
  }
  CHECK_FAILS(cidb_engine_advise_apply_json(e, -0.5, &json), CIDB_INVALID_INPUT, "got -0.5");

  CHECK_FAILS(cidb_engine_advise_json(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_advise_json(e, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_advise_apply_json(NULL, 0.5, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_advise_apply_json(e, 0.5, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_health_json(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_health_json(e, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_optimize_json(NULL, 0.5, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_optimize_json(e, 0.5, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_metrics_json(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_metrics_json(e, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_metrics_prometheus(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_metrics_prometheus(e, NULL), CIDB_INVALID_INPUT, "out_text is NULL");

  CHECK_OK(cidb_engine_close(e));
  json = (char *)0x1;
  CHECK_FAILS(cidb_engine_advise_json(e, &json), CIDB_CLOSED, "closed");
  CHECK(json == NULL);
  CHECK_FAILS(cidb_engine_advise_apply_json(e, 0.5, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_health_json(e, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_optimize_json(e, 0.5, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_metrics_json(e, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_metrics_prometheus(e, &json), CIDB_CLOSED, "closed");
  CHECK(json == NULL);
  cidb_engine_free(e);
  h_rmtree(dir);
}

int main(void) {
  RUN(test_advisor_recommends_builds_and_stops_recommending);
  RUN(test_optimize_rebuilds_a_dropped_seed_index);
  RUN(test_health_and_metrics);
  RUN(test_bad_arguments_and_closed_engine);
  return h_finish("test_ops");
}
