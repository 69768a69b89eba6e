/*
 * test_import.c: bulk import from C. CSV and JSON Lines text from memory and files land in
 * the right store of the right tenant; each bad row is reported with its line, kind and
 * reason while the valid rows land; options (batch size, delimiter, unknown columns) act;
 * bad arguments, an unknown or derived table, an unknown format, SQLite files (this library
 * is built without the `sqlite` feature) and a closed engine fail with their statuses.
 * Run by tests/c/run.sh (plain, ASan and Valgrind builds).
 */
#include "harness.h"

static const char *CSV =
    "id,department,status,created_at\n"
    "c1,sales,active,2024-05-01T12:00:00Z\n"
    ",sales,active,1714564800000\n" /* line 3: empty id */
    "c2,legal,trial,1714564800000\n";

static void test_buffer_csv_lands_valid_rows_and_reports_bad_ones(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  cidb_tenant *acme = NULL, *other = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &acme));
  CHECK_OK(cidb_engine_tenant(e, "other", &other));
  char *report = NULL;
  CHECK_OK(cidb_tenant_import_buffer(acme, "customers", "csv", (const uint8_t *)CSV, strlen(CSV), NULL, &report));
  CHECK(report && strstr(report, "\"imported\":2,\"rejected\":1,"));
  CHECK(report && strstr(report, "{\"line\":3,\"kind\":\"invalid_id\",\"reason\":\"customer id is empty\"}"));
  cidb_string_free(report);
  char *json = NULL;
  CHECK_OK(cidb_tenant_get_customer(acme, "c2", &json));
  CHECK(json && strstr(json, "\"department\":\"legal\"") && strstr(json, "\"created_at\":1714564800000"));
  cidb_string_free(json);
  uint64_t n = 99;
  CHECK_OK(cidb_tenant_count_customers(other, &n));
  CHECK(n == 0); /* nothing leaked into another tenant */

  /* Options: a tab delimiter, batches of one row, an unknown column skipped with a note. */
  const char *tsv = "id\tdepartment\tshoe_size\nt1\tops\t42\nt2\tops\t43\n";
  CHECK_OK(cidb_tenant_import_buffer(acme, "customers", "csv", (const uint8_t *)tsv, strlen(tsv),
                                     "{\"delimiter\":\"\\t\",\"batch_size\":1,\"ignore_unknown_columns\":true}", &report));
  CHECK(report && strstr(report, "\"imported\":2,") && strstr(report, "\"batches\":2,") && strstr(report, "shoe_size"));
  cidb_string_free(report);
  /* Without ignore_unknown_columns the same header fails before anything is written. */
  CHECK_FAILS(cidb_tenant_import_buffer(acme, "customers", "csv", (const uint8_t *)tsv, strlen(tsv), "{\"delimiter\":\"\\t\"}", &report),
              CIDB_UNKNOWN_COLUMN, "shoe_size");
  CHECK(report == NULL);
  CHECK_OK(cidb_tenant_count_customers(acme, &n));
  CHECK(n == 4);
  cidb_tenant_free(other);
  cidb_tenant_free(acme);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_jsonl_file_of_scores_keeps_latest_and_rejects_out_of_range(void) {
  char *dir = h_tempdir();
  char path[4200];
  snprintf(path, sizeof path, "%s/scores.jsonl", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs("{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.2,\"confidence\":0.9,\"created_at\":1000}\n", f);
  fputs("{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":1.7,\"confidence\":0.9,\"created_at\":3000}\n", f);
  fputs("\n", f);
  fputs("{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.8,\"confidence\":0.9,\"created_at\":2000}\n", f);
  fclose(f);
  char dbdir[4200];
  snprintf(dbdir, sizeof dbdir, "%s/db", dir);
  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_open(dbdir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  char *report = NULL;
  CHECK_OK(cidb_tenant_import_file(t, "customer_scores", path, NULL, NULL, &report));
  CHECK(report && strstr(report, "\"imported\":2,\"rejected\":1,"));
  CHECK(report && strstr(report, "\"line\":2,\"kind\":\"invalid_score\""));
  cidb_string_free(report);
  char *json = NULL;
  CHECK_OK(cidb_tenant_latest_score(t, "c1", "churn", &json));
  CHECK(json && strstr(json, "\"score\":0.8"));
  cidb_string_free(json);
  /* The format named explicitly wins over the file name. */
  CHECK_FAILS(cidb_tenant_import_file(t, "customer_scores", path, "csv", NULL, &report), CIDB_UNKNOWN_COLUMN, "customer_scores has");
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_bad_arguments_are_named(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  char *report = NULL;
  const uint8_t *csv = (const uint8_t *)CSV;
  size_t len = strlen(CSV);
  CHECK_FAILS(cidb_tenant_import_buffer(t, "latest_scores", "csv", csv, len, NULL, &report), CIDB_INVALID_INPUT, "derives");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "people", "csv", csv, len, NULL, &report), CIDB_UNKNOWN_TABLE, "people");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "xml", csv, len, NULL, &report), CIDB_INVALID_INPUT, "xml");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "sqlite", csv, len, NULL, &report), CIDB_INVALID_INPUT, "buffer");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", NULL, 5, NULL, &report), CIDB_INVALID_INPUT, "data");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", csv, len, "{\"batch_size\":0}", &report), CIDB_INVALID_INPUT, "batch_size");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", csv, len, "{\"colour\":1}", &report), CIDB_INVALID_INPUT, "colour");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", csv, len, "[1]", &report), CIDB_INVALID_INPUT, "object");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", csv, len, "{\"delimiter\":\"ab\"}", &report), CIDB_INVALID_INPUT, "delimiter");
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", csv, len, NULL, NULL), CIDB_INVALID_INPUT, "out_report_json");
  CHECK_FAILS(cidb_tenant_import_buffer(NULL, "customers", "csv", csv, len, NULL, &report), CIDB_INVALID_INPUT, "tenant");
  CHECK_FAILS(cidb_tenant_import_file(t, "customers", "/nonexistent/c.csv", NULL, NULL, &report), CIDB_INVALID_INPUT, "cannot open");
  CHECK_FAILS(cidb_tenant_import_file(t, "customers", "/tmp/c.unknown", NULL, NULL, &report), CIDB_INVALID_INPUT, "format");
  CHECK_FAILS(cidb_tenant_import_file(t, "customers", "/tmp/c.sqlite", NULL, NULL, &report), CIDB_UNSUPPORTED, "sqlite");
  CHECK_FAILS(cidb_tenant_import_file(t, "customers", NULL, NULL, NULL, &report), CIDB_INVALID_INPUT, "path");
  CHECK(report == NULL);
  uint64_t n = 99;
  CHECK_OK(cidb_tenant_count_customers(t, &n));
  CHECK(n == 0);
  CHECK_OK(cidb_engine_close(e));
  CHECK_FAILS(cidb_tenant_import_buffer(t, "customers", "csv", csv, len, NULL, &report), CIDB_CLOSED, "closed");
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

int main(void) {
  RUN(test_buffer_csv_lands_valid_rows_and_reports_bad_ones);
  RUN(test_jsonl_file_of_scores_keeps_latest_and_rejects_out_of_range);
  RUN(test_bad_arguments_are_named);
  return h_finish("test_import");
}
