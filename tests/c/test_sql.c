/*
 * test_sql.c: SQL from C. Prepared statements (binds of every type, 1-based indexes, step
 * executing on the first call, strict typed getters, borrowed text with embedded NULs,
 * reset keeping bindings and seeing new writes, clear_bindings, stats), the JSON forms
 * (cidb_tenant_query_json byte for byte, cidb_tenant_explain text/JSON/ANALYZE), DDL through
 * cidb_engine_execute and through a statement, cidb_engine_indexes_json and
 * cidb_engine_check_index, and the status plus message of bad SQL, bad binds and use after
 * close. Query patterns on generated data are in test_sql_patterns.c.
 */
#include "harness.h"
#include "sqlrows.h"

#include <math.h>

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *tenant;
} fixture;

#define C1                                                                                           \
  "{\"id\":\"c1\",\"email\":\"ann@example.com\",\"name\":\"Ann\",\"department\":\"sales\","         \
  "\"status\":\"active\",\"created_at\":1000,\"updated_at\":1000,\"attributes\":{\"tier\":\"gold\"," \
  "\"n\":1}}"
#define C2 "{\"id\":\"c2\",\"name\":\"x\\u0000y\",\"department\":\"sales\",\"status\":\"churned\",\"created_at\":2000}"
#define C3 "{\"id\":\"c3\",\"email\":\"cy@example.com\",\"department\":\"support\",\"created_at\":3000}"

static fixture fx_open(void) {
  fixture f = {h_tempdir(), NULL, NULL};
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, "acme", &f.tenant));
  CHECK_OK(cidb_tenant_upsert_customers(f.tenant, "[" C1 "," C2 "," C3 "]"));
  CHECK_OK(cidb_tenant_add_scores(
      f.tenant, "[{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.25,\"confidence\":0.5,\"created_at\":10},"
                "{\"customer_id\":\"c2\",\"score_type\":\"churn\",\"score\":0.75,\"confidence\":1,\"created_at\":20}]"));
  return f;
}

static void fx_close(fixture *f) {
  cidb_tenant_free(f->tenant);
  CHECK_OK(cidb_engine_close(f->engine));
  cidb_engine_free(f->engine);
  h_rmtree(f->dir);
}

static bool step(cidb_stmt *s) {
  bool has_row = false;
  CHECK_OK(cidb_stmt_step(s, &has_row));
  return has_row;
}

static void test_prepare_bind_step_and_typed_getters(void) {
  fixture f = fx_open();
  cidb_stmt *s = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant,
                               "SELECT id, email, created_at, attributes FROM customers WHERE department = ? ORDER BY id",
                               &s));
  size_t n = 0;
  CHECK_OK(cidb_stmt_param_count(s, &n));
  CHECK(n == 1);
  CHECK_OK(cidb_stmt_column_count(s, &n));
  CHECK(n == 4);
  const char *name = NULL;
  CHECK_OK(cidb_stmt_column_name(s, 3, &name));
  CHECK(name && strcmp(name, "attributes") == 0);
  CHECK_FAILS(cidb_stmt_column_name(s, 4, &name), CIDB_INVALID_PARAMETER, "column index 4 is out of range");
  CHECK(name == NULL);

  bool has_row = true;
  CHECK_FAILS(cidb_stmt_step(s, &has_row), CIDB_INVALID_PARAMETER, "parameter 1 of 1 is not bound");
  CHECK(!has_row);
  CHECK_FAILS(cidb_stmt_bind_text(s, 0, "sales", -1), CIDB_INVALID_PARAMETER, "parameter index 0 is out of range");
  CHECK_FAILS(cidb_stmt_bind_int64(s, 2, 1), CIDB_INVALID_PARAMETER, "numbered 1..=1");
  char *stats = (char *)0x1;
  CHECK_FAILS(cidb_stmt_stats_json(s, &stats), CIDB_NOT_FOUND, "not been executed");
  CHECK(stats == NULL);
  CHECK_OK(cidb_stmt_bind_text(s, 1, "sales", -1));

  /* Getters before the first step: no current row. */
  int64_t i = 7;
  CHECK_FAILS(cidb_stmt_column_int64(s, 2, &i), CIDB_INVALID_INPUT, "no current row");

  CHECK(step(s));
  cidb_value_type ty;
  const char *text = NULL;
  size_t len = 0;
  double d = 0;
  CHECK_OK(cidb_stmt_column_type(s, 0, &ty));
  CHECK(ty == CIDB_VALUE_TEXT);
  CHECK_OK(cidb_stmt_column_text(s, 0, &text, &len));
  CHECK(len == 2 && strcmp(text, "c1") == 0);
  const char *again = NULL;
  CHECK_OK(cidb_stmt_column_text(s, 0, &again, NULL)); /* out_len may be NULL; same buffer */
  CHECK(again == text);
  CHECK_OK(cidb_stmt_column_type(s, 2, &ty));
  CHECK(ty == CIDB_VALUE_INTEGER);
  CHECK_OK(cidb_stmt_column_int64(s, 2, &i));
  CHECK(i == 1000);
  CHECK_OK(cidb_stmt_column_double(s, 2, &d)); /* INTEGER reads as double */
  CHECK(d == 1000.0);
  CHECK_OK(cidb_stmt_column_type(s, 3, &ty));
  CHECK(ty == CIDB_VALUE_JSON);
  CHECK_OK(cidb_stmt_column_text(s, 3, &text, &len));
  CHECK(strcmp(text, "{\"n\":1,\"tier\":\"gold\"}") == 0 && len == strlen(text));
  /* Strict getters. */
  CHECK_FAILS(cidb_stmt_column_int64(s, 0, &i), CIDB_TYPE_MISMATCH, "column 0 (id) is TEXT");
  CHECK(i == 0);
  CHECK_FAILS(cidb_stmt_column_double(s, 3, &d), CIDB_TYPE_MISMATCH, "JSON");
  CHECK_FAILS(cidb_stmt_column_text(s, 2, &text, &len), CIDB_TYPE_MISMATCH, "INTEGER");
  CHECK(text == NULL && len == 0);
  CHECK_FAILS(cidb_stmt_column_type(s, 9, &ty), CIDB_INVALID_PARAMETER, "numbered 0..=3");
  /* Binding while running needs a reset first. */
  CHECK_FAILS(cidb_stmt_bind_text(s, 1, "support", -1), CIDB_INVALID_PARAMETER, "cidb_stmt_reset");

  CHECK(step(s)); /* c2: email NULL */
  CHECK_OK(cidb_stmt_column_type(s, 1, &ty));
  CHECK(ty == CIDB_VALUE_NULL);
  CHECK_FAILS(cidb_stmt_column_text(s, 1, &text, &len), CIDB_TYPE_MISMATCH, "column 1 (email) is NULL");
  CHECK_FAILS(cidb_stmt_column_int64(s, 1, &i), CIDB_TYPE_MISMATCH, "NULL");
  CHECK(!step(s));
  CHECK(!step(s)); /* stays done until reset */
  CHECK_FAILS(cidb_stmt_column_type(s, 0, &ty), CIDB_INVALID_INPUT, "no current row");

  CHECK_OK(cidb_stmt_stats_json(s, &stats));
  CHECK(stats && strstr(stats, "\"rows_returned\":2") && strstr(stats, "\"tables\":[\"customers\"]"));
  cidb_string_free(stats);

  /* Reset keeps the binding and re-executes, seeing a write made since. */
  CHECK_OK(cidb_tenant_upsert_customer(f.tenant, "{\"id\":\"c0\",\"department\":\"sales\"}"));
  CHECK_OK(cidb_stmt_reset(s));
  CHECK(step(s));
  CHECK_OK(cidb_stmt_column_text(s, 0, &text, &len));
  CHECK(strcmp(text, "c0") == 0);
  /* Reset mid-way, then rebind. */
  CHECK_OK(cidb_stmt_reset(s));
  CHECK_OK(cidb_stmt_bind_text(s, 1, "supportXYZ", 7)); /* length, not NUL */
  CHECK(step(s));
  CHECK_OK(cidb_stmt_column_text(s, 0, &text, &len));
  CHECK(strcmp(text, "c3") == 0);
  CHECK(!step(s));

  /* clear_bindings: the next execution needs new binds. */
  CHECK_OK(cidb_stmt_clear_bindings(s));
  CHECK_OK(cidb_stmt_reset(s));
  CHECK_FAILS(cidb_stmt_step(s, &has_row), CIDB_INVALID_PARAMETER, "parameter 1 of 1 is not bound");
  CHECK_OK(cidb_stmt_bind_null(s, 1));
  CHECK(!step(s)); /* department = NULL matches nothing */
  cidb_stmt_free(s);
  cidb_stmt_free(NULL);
  fx_close(&f);
}

static void test_text_with_nul_bytes_and_bad_text(void) {
  fixture f = fx_open();
  cidb_stmt *s = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant, "SELECT id, name FROM customers WHERE name = ?", &s));
  CHECK_OK(cidb_stmt_bind_text(s, 1, "x\0y", 3));
  CHECK(step(s));
  const char *text = NULL;
  size_t len = 0;
  CHECK_OK(cidb_stmt_column_text(s, 1, &text, &len));
  CHECK(len == 3 && memcmp(text, "x\0y", 4) == 0); /* NUL-terminated after the 3 bytes */
  CHECK(!step(s));
  CHECK_OK(cidb_stmt_reset(s));
  CHECK_FAILS(cidb_stmt_bind_text(s, 1, "a\xff", -1), CIDB_INVALID_INPUT, "not valid UTF-8");
  CHECK_FAILS(cidb_stmt_bind_text(s, 1, "ab\xc3", 3), CIDB_INVALID_INPUT, "offset 2");
  CHECK_FAILS(cidb_stmt_bind_text(s, 1, NULL, 0), CIDB_INVALID_INPUT, "cidb_stmt_bind_null");
  CHECK_OK(cidb_stmt_bind_text(s, 1, "", 0));
  CHECK(!step(s));
  cidb_stmt_free(s);
  fx_close(&f);
}

static void test_numeric_json_and_null_binds(void) {
  fixture f = fx_open();
  cidb_stmt *s = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant, "SELECT customer_id, score FROM customer_scores WHERE score > ? ORDER BY score LIMIT ?",
                               &s));
  CHECK_FAILS(cidb_stmt_bind_double(s, 1, NAN), CIDB_INVALID_PARAMETER, "NaN");
  CHECK_OK(cidb_stmt_bind_double(s, 1, 0.5));
  CHECK_OK(cidb_stmt_bind_int64(s, 2, 10));
  CHECK(step(s));
  double d = 0;
  CHECK_OK(cidb_stmt_column_double(s, 1, &d));
  CHECK(d == 0.75);
  CHECK(!step(s));
  /* A REAL for LIMIT is reported by step, naming the parameter. */
  CHECK_OK(cidb_stmt_reset(s));
  CHECK_OK(cidb_stmt_bind_double(s, 2, 2.5));
  bool has_row = true;
  CHECK_FAILS(cidb_stmt_step(s, &has_row), CIDB_TYPE_MISMATCH, "LIMIT");
  /* The failed execution leaves the statement ready: fix the bind and step. */
  CHECK_OK(cidb_stmt_bind_int64(s, 2, 1));
  CHECK_OK(cidb_stmt_bind_int64(s, 1, 0)); /* INTEGER where REAL is compared: fine */
  CHECK(step(s));
  CHECK(!step(s));
  cidb_stmt_free(s);

  CHECK_OK(cidb_tenant_prepare(f.tenant, "SELECT id FROM customers WHERE created_at > ?", &s));
  CHECK_OK(cidb_stmt_bind_text(s, 1, "yesterday", -1));
  CHECK_FAILS(cidb_stmt_step(s, &has_row), CIDB_TYPE_MISMATCH, "parameter 1");
  cidb_stmt_free(s);

  /* JSON binds are normalised to the stored compact form. */
  CHECK_OK(cidb_tenant_prepare(f.tenant, "SELECT id FROM customers WHERE attributes = ?", &s));
  CHECK_FAILS(cidb_stmt_bind_json(s, 1, "{\"tier\":", -1), CIDB_INVALID_INPUT, "not valid JSON");
  CHECK_OK(cidb_stmt_bind_json(s, 1, "{ \"tier\" : \"gold\", \"n\" : 1 }", -1));
  CHECK(step(s));
  const char *text = NULL;
  CHECK_OK(cidb_stmt_column_text(s, 0, &text, NULL));
  CHECK(strcmp(text, "c1") == 0);
  CHECK(!step(s));
  cidb_stmt_free(s);
  fx_close(&f);
}

static void test_query_json_matches_the_statement(void) {
  fixture f = fx_open();
  char *json = NULL;
  CHECK_OK(cidb_tenant_query_json(f.tenant, "SELECT id, email, created_at, attributes FROM customers WHERE id <= ? ORDER BY id",
                                  "[\"c2\"]", &json));
  CHECK_JSON(json, "{\"columns\":[\"id\",\"email\",\"created_at\",\"attributes\"],\"rows\":["
                   "[\"c1\",\"ann@example.com\",1000,{\"n\":1,\"tier\":\"gold\"}],[\"c2\",null,2000,{}]]}");
  CHECK_OK(cidb_tenant_query_json(f.tenant, "SELECT score, COUNT(*) FROM customer_scores GROUP BY score ORDER BY score", NULL,
                                  &json));
  CHECK_JSON(json, "{\"columns\":[\"score\",\"COUNT(*)\"],\"rows\":[[0.25,1],[0.75,1]]}");
  CHECK_OK(cidb_tenant_query_json(f.tenant, "SELECT name FROM customers WHERE id = ?", "[\"c2\"]", &json));
  CHECK_JSON(json, "{\"columns\":[\"name\"],\"rows\":[[\"x\\u0000y\"]]}");

  /* The same SQL through a statement gives the same cells, types included. */
  const char *sql = "SELECT * FROM customers WHERE created_at >= ? ORDER BY created_at";
  cidb_stmt *s = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant, sql, &s));
  CHECK_OK(cidb_stmt_bind_int64(s, 1, 1500));
  sr_table a, b;
  CHECK_OK(sr_from_stmt(s, &a));
  CHECK_OK(cidb_tenant_query_json(f.tenant, sql, "[1500]", &json));
  CHECK(json && sr_from_json(json, &b) == 0);
  char why[512];
  if (sr_diff(&a, &b, why, sizeof why)) {
    fprintf(stderr, "  statement vs query_json: %s\n", why);
    h_case_failed = 1;
  }
  CHECK(a.nrows == 2 && a.ncols == 9);
  sr_free(&a);
  sr_free(&b);
  cidb_string_free(json);
  cidb_stmt_free(s);

  json = (char *)0x1;
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT id FROM customers WHERE id = ?", "[true]", &json),
              CIDB_INVALID_PARAMETER, "params_json[0] is the boolean true");
  CHECK(json == NULL);
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT id FROM customers WHERE id = ?", "{\"a\":1}", &json),
              CIDB_INVALID_INPUT, "params_json must be a JSON array");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT id FROM customers WHERE id = ?", NULL, &json),
              CIDB_INVALID_PARAMETER, "0 were given");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT id FROM customers", "[1, 2]", &json), CIDB_INVALID_PARAMETER,
              "2 were given");
  fx_close(&f);
}

static void test_explain_text_json_and_analyze(void) {
  fixture f = fx_open();
  const char *sql = "SELECT * FROM customers WHERE email = ?";
  char *text = NULL;
  CHECK_OK(cidb_tenant_explain(f.tenant, sql, "[\"ann@example.com\"]", false, false, &text));
  /* Three rows: a scan is cheapest (test_sql_patterns.c checks index choice on real data). */
  const char *head = "QUERY PLAN\n`--SCAN customers  [est rows=";
  CHECK(text && strncmp(text, head, strlen(head)) == 0 && !strstr(text, "actual"));
  cidb_string_free(text);
  CHECK_OK(cidb_tenant_explain(f.tenant, sql, "[\"ann@example.com\"]", true, false, &text));
  CHECK(text && strstr(text, "actual rows=1 examined=") && strstr(text, "-- 1 rows in "));
  cidb_string_free(text);
  CHECK_OK(cidb_tenant_explain(f.tenant, sql, "[\"ann@example.com\"]", false, true, &text));
  CHECK(text && strncmp(text, "{\"est_cost\":", 12) == 0 &&
        strstr(text, "\"detail\":\"SCAN customers\"") && !strstr(text, "actual_rows"));
  cidb_string_free(text);
  CHECK_OK(cidb_tenant_explain(f.tenant, sql, "[\"nobody@example.com\"]", true, true, &text));
  CHECK(text && strstr(text, "\"actual_rows\":0") && strstr(text, "\"time_ns\":"));
  cidb_string_free(text);
  /* EXPLAIN text inside the SQL works too, and through a statement as rows. */
  CHECK_OK(cidb_tenant_explain(f.tenant, "EXPLAIN QUERY PLAN SELECT id FROM customers ORDER BY name", NULL, false, false, &text));
  CHECK(text && strstr(text, "SCAN customers") && strstr(text, "USE TEMP B-TREE FOR ORDER BY"));
  cidb_string_free(text);
  cidb_stmt *s = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant, "EXPLAIN QUERY PLAN SELECT id FROM customers ORDER BY name", &s));
  const char *name = NULL, *line = NULL;
  CHECK_OK(cidb_stmt_column_name(s, 0, &name));
  CHECK(strcmp(name, "plan") == 0);
  CHECK(step(s));
  CHECK_OK(cidb_stmt_column_text(s, 0, &line, NULL));
  CHECK(strcmp(line, "QUERY PLAN") == 0);
  CHECK(step(s));
  CHECK_OK(cidb_stmt_column_text(s, 0, &line, NULL));
  CHECK(strstr(line, "SCAN customers") != NULL);
  cidb_stmt_free(s);
  text = (char *)0x1;
  CHECK_FAILS(cidb_tenant_explain(f.tenant, "DROP INDEX idx_customers_email_partial", NULL, false, false, &text),
              CIDB_INVALID_INPUT, "SELECT");
  CHECK(text == NULL);
  fx_close(&f);
}

static void test_ddl_indexes_and_check(void) {
  fixture f = fx_open();
  char *json = NULL;
  CHECK_OK(cidb_engine_indexes_json(f.engine, &json));
  CHECK(json && h_count(json, "\"name\":\"idx_") == 7 &&
        strstr(json, "{\"name\":\"idx_customers_email_partial\",\"table\":\"customers\",\"columns\":[\"email\"],"
                     "\"unique\":false,\"predicate\":\"email IS NOT NULL\",\"ready\":true,\"entries\":2}"));
  cidb_string_free(json);

  /* DDL through a statement: no columns, runs on the first step. */
  cidb_stmt *s = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant, "CREATE INDEX idx_name ON customers(name)", &s));
  size_t n = 9;
  CHECK_OK(cidb_stmt_column_count(s, &n));
  CHECK(n == 0);
  CHECK(!step(s));
  cidb_stmt_free(s);
  CHECK_OK(cidb_engine_check_index(f.engine, "idx_name", &json));
  CHECK_JSON(json, "{\"entries\":3,\"exact\":true,\"expected\":3,\"extra\":0,\"missing\":0,\"stale\":0}");
  CHECK_FAILS(cidb_engine_execute(f.engine, "CREATE INDEX idx_name ON customers(name)", NULL), CIDB_ALREADY_EXISTS,
              "idx_name");
  CHECK_OK(cidb_engine_execute(f.engine, "CREATE INDEX IF NOT EXISTS idx_name ON customers(name)", NULL));
  CHECK_OK(cidb_engine_execute(f.engine, "ANALYZE", &json));
  CHECK_JSON(json, "{\"columns\":[],\"rows\":[]}");
  CHECK_OK(cidb_engine_execute(f.engine, "DROP INDEX idx_name", &json));
  CHECK_JSON(json, "{\"columns\":[],\"rows\":[]}");
  CHECK_FAILS(cidb_engine_execute(f.engine, "DROP INDEX idx_name", NULL), CIDB_NOT_FOUND, "idx_name");
  json = (char *)0x1;
  CHECK_FAILS(cidb_engine_check_index(f.engine, "idx_name", &json), CIDB_NOT_FOUND, "no such index: idx_name");
  CHECK(json == NULL);
  CHECK_FAILS(cidb_engine_execute(f.engine, "SELECT * FROM customers", &json), CIDB_INVALID_INPUT, "Tenant::query");
  CHECK_FAILS(cidb_engine_execute(f.engine, "CREATE INDEX i ON nope(a)", NULL), CIDB_UNKNOWN_TABLE, "nope");
  CHECK_FAILS(cidb_engine_execute(f.engine, "CREATE INDEX i ON customers(nope)", NULL), CIDB_UNKNOWN_COLUMN, "nope");
  fx_close(&f);
}

/* Each bad statement fails the same way through prepare, query_json and explain. */
static void test_bad_sql_gives_status_and_message(void) {
  fixture f = fx_open();
  static const struct {
    const char *sql;
    cidb_status status;
    const char *text;
  } cases[] = {
      {"SELEC * FROM customers", CIDB_SQL_SYNTAX, "SELEC"},
      {"SELECT * FROM customers WHERE", CIDB_SQL_SYNTAX, "Line: 1"},
      {"", CIDB_SQL_SYNTAX, "empty"},
      {"SELECT * FROM nope", CIDB_UNKNOWN_TABLE, "nope"},
      {"SELECT nope FROM customers", CIDB_UNKNOWN_COLUMN, "nope"},
      {"SELECT * FROM customers c WHERE c.score > 1", CIDB_UNKNOWN_COLUMN, "c.score"},
      {"SELECT * FROM customers WHERE name LIKE 'a%'", CIDB_UNSUPPORTED, "LIKE"},
      {"SELECT DISTINCT status FROM customers", CIDB_UNSUPPORTED, "DISTINCT"},
      {"INSERT INTO customers (id) VALUES ('x')", CIDB_UNSUPPORTED, "INSERT"},
      {"SELECT * FROM customers WHERE created_at = 'yesterday'", CIDB_TYPE_MISMATCH, "created_at"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    cidb_stmt *s = (cidb_stmt *)0x1;
    CHECK_FAILS(cidb_tenant_prepare(f.tenant, cases[k].sql, &s), cases[k].status, cases[k].text);
    CHECK(s == NULL);
    char *out = NULL;
    CHECK_FAILS(cidb_tenant_query_json(f.tenant, cases[k].sql, NULL, &out), cases[k].status, cases[k].text);
    if (cases[k].status != CIDB_UNSUPPORTED || strncmp(cases[k].sql, "SELECT", 6) == 0)
      CHECK_FAILS(cidb_tenant_explain(f.tenant, cases[k].sql, NULL, false, false, &out), cases[k].status, cases[k].text);
    CHECK(out == NULL);
  }
  fx_close(&f);
}

static void test_null_arguments_and_use_after_close(void) {
  fixture f = fx_open();
  cidb_stmt *s = NULL;
  size_t n;
  bool b;
  CHECK_FAILS(cidb_tenant_prepare(f.tenant, NULL, &s), CIDB_INVALID_INPUT, "sql is NULL");
  CHECK_FAILS(cidb_tenant_prepare(NULL, "SELECT id FROM customers", &s), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_prepare(f.tenant, "SELECT id FROM customers", NULL), CIDB_INVALID_INPUT, "out_stmt is NULL");
  CHECK_FAILS(cidb_stmt_step(NULL, &b), CIDB_INVALID_INPUT, "stmt is NULL");
  CHECK_FAILS(cidb_stmt_column_count(NULL, &n), CIDB_INVALID_INPUT, "stmt is NULL");
  CHECK_FAILS(cidb_stmt_reset(NULL), CIDB_INVALID_INPUT, "stmt is NULL");
  CHECK_FAILS(cidb_stmt_clear_bindings(NULL), CIDB_INVALID_INPUT, "stmt is NULL");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT id FROM customers", NULL, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_indexes_json(NULL, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_OK(cidb_tenant_prepare(f.tenant, "SELECT id FROM customers WHERE id = ?", &s));
  CHECK_FAILS(cidb_stmt_step(s, NULL), CIDB_INVALID_INPUT, "out_has_row is NULL");
  CHECK_OK(cidb_stmt_bind_text(s, 1, "c1", -1));

  /* A statement outlives its engine: calls then report CIDB_CLOSED. */
  cidb_stmt *ddl = NULL;
  CHECK_OK(cidb_tenant_prepare(f.tenant, "ANALYZE", &ddl));
  CHECK_OK(cidb_engine_close(f.engine));
  CHECK_FAILS(cidb_stmt_step(s, &b), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_stmt_step(ddl, &b), CIDB_CLOSED, "closed");
  cidb_stmt *s2 = NULL;
  CHECK_FAILS(cidb_tenant_prepare(f.tenant, "SELECT id FROM customers", &s2), CIDB_CLOSED, "closed");
  char *json = NULL;
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT id FROM customers", NULL, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_tenant_explain(f.tenant, "SELECT id FROM customers", NULL, false, false, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_execute(f.engine, "ANALYZE", &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_indexes_json(f.engine, &json), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_check_index(f.engine, "idx_customers_email_partial", &json), CIDB_CLOSED, "closed");
  cidb_engine_free(f.engine);
  f.engine = NULL;
  CHECK_FAILS(cidb_stmt_step(s, &b), CIDB_CLOSED, "closed");
  cidb_stmt_free(s);
  cidb_stmt_free(ddl);
  cidb_tenant_free(f.tenant);
  h_rmtree(f.dir);
}

int main(void) {
  RUN(test_prepare_bind_step_and_typed_getters);
  RUN(test_text_with_nul_bytes_and_bad_text);
  RUN(test_numeric_json_and_null_binds);
  RUN(test_query_json_matches_the_statement);
  RUN(test_explain_text_json_and_analyze);
  RUN(test_ddl_indexes_and_check);
  RUN(test_bad_sql_gives_status_and_message);
  RUN(test_null_arguments_and_use_after_close);
  return h_finish("test_sql");
}
