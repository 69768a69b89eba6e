/*
 * test_admin.c: configuration, monitoring and backup from C. cidb_config_json reports each
 * setting with its source (profile, TOML file, CIDB_* environment); cidb_engine_open_with
 * applies them (a file's max_content_bytes changes what a write accepts); bad profiles,
 * files, keys and values are CIDB_CONFIG. The monitor exports JSON and Prometheus text and
 * takes and removes alert callbacks. A backup taken from an open engine opens as a
 * database holding the same rows and contexts.
 * Run by tests/c/run.sh (plain, ASan and Valgrind builds).
 */
#include "harness.h"

#include <stdint.h>

/* Writes `text` to `dir/name` and returns the path in `buf`. */
static const char *write_file(char *buf, size_t len, const char *dir, const char *name, const char *text) {
  snprintf(buf, len, "%s/%s", dir, name);
  FILE *fp = fopen(buf, "w");
  CHECK(fp != NULL);
  if (fp) {
    fputs(text, fp);
    fclose(fp);
  }
  return buf;
}

/* Checks the config JSON has `{"key":K,"value":V,"source":S}`. */
static void check_setting(const char *json, const char *key, const char *value, const char *source) {
  char want[4400];
  snprintf(want, sizeof want, "{\"key\":\"%s\",\"value\":\"%s\",\"source\":\"%s\"}", key, value, source);
  if (!json || !strstr(json, want)) {
    fprintf(stderr, "  config %s\n    lacks %s\n", json ? json : "(NULL)", want);
    h_case_failed = 1;
  }
}

static void test_config_json_reports_values_and_sources(void) {
  char *dir = h_tempdir();
  char toml[4200], src[4300];
  write_file(toml, sizeof toml, dir, "cidb.toml", "feed_queue_capacity = 4\nl1_max_items = 123\n");
  snprintf(src, sizeof src, "file:%s", toml);
  char *json = NULL;

  CHECK_OK(cidb_config_json(NULL, NULL, &json));
  CHECK(json && json[0] == '[' && h_count(json, "\"key\":") == 32);
  check_setting(json, "monitor_redact_examples", "false", "profile:development");
  check_setting(json, "profile", "development", "default");
  check_setting(json, "l1_max_items", "1000", "profile:development");
  check_setting(json, "feed_queue_capacity", "10000", "profile:development");
  cidb_string_free(json);

  setenv("CIDB_SWEEP_INTERVAL_MS", "250", 1);
  CHECK_OK(cidb_config_json("production", toml, &json));
  unsetenv("CIDB_SWEEP_INTERVAL_MS");
  check_setting(json, "profile", "production", "argument");
  check_setting(json, "l1_max_items", "123", src);
  check_setting(json, "feed_queue_capacity", "4", src);
  check_setting(json, "sweep_interval_ms", "250", "env:CIDB_SWEEP_INTERVAL_MS");
  check_setting(json, "breaker_threshold", "5", "profile:production");
  cidb_string_free(json);

  json = (char *)0x1;
  CHECK_FAILS(cidb_config_json("staging", NULL, &json), CIDB_CONFIG, "unknown profile \"staging\"");
  CHECK(json == NULL);
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/nope.toml", dir);
  CHECK_FAILS(cidb_config_json(NULL, missing, &json), CIDB_CONFIG, "cannot read");
  char bad[4200];
  write_file(bad, sizeof bad, dir, "bad.toml", "colour = 1\n");
  CHECK_FAILS(cidb_config_json(NULL, bad, &json), CIDB_CONFIG, "colour");
  write_file(bad, sizeof bad, dir, "bad.toml", "not toml [");
  CHECK_FAILS(cidb_config_json(NULL, bad, &json), CIDB_CONFIG, "not valid TOML");
  setenv("CIDB_L1_MAX_ITEMS", "lots", 1);
  CHECK_FAILS(cidb_config_json(NULL, NULL, &json), CIDB_CONFIG, "env:CIDB_L1_MAX_ITEMS");
  unsetenv("CIDB_L1_MAX_ITEMS");
  CHECK_FAILS(cidb_config_json("dev\xff", NULL, &json), CIDB_INVALID_INPUT, "profile is not valid UTF-8");
  CHECK_FAILS(cidb_config_json(NULL, "", &json), CIDB_INVALID_INPUT, "config_toml_path is empty");
  CHECK_FAILS(cidb_config_json(NULL, NULL, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  h_rmtree(dir);
}

static void test_open_with_applies_the_configuration(void) {
  char *dir = h_tempdir();
  char toml[4200], db[4200];
  write_file(toml, sizeof toml, dir, "cidb.toml", "max_content_bytes = 10\n");
  snprintf(db, sizeof db, "%s/db", dir);
  cidb_engine *e = (cidb_engine *)0x1;
  CHECK_FAILS(cidb_engine_open_with(db, "staging", NULL, &e), CIDB_CONFIG, "unknown profile");
  CHECK(e == NULL);
  CHECK_FAILS(cidb_engine_open_with(NULL, NULL, NULL, &e), CIDB_INVALID_INPUT, "dir is NULL");
  CHECK_FAILS(cidb_engine_open_with("", NULL, NULL, &e), CIDB_INVALID_INPUT, "dir is empty");
  CHECK_FAILS(cidb_engine_open_with(db, NULL, NULL, NULL), CIDB_INVALID_INPUT, "out_engine is NULL");

  CHECK_OK(cidb_engine_open_with(db, "production", toml, &e));
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  uint64_t id = 0;
  CHECK_OK(cidb_tenant_append_message(t, "{\"customer_id\":\"c\",\"conversation_id\":\"v\",\"role\":\"user\","
                                         "\"timestamp\":1,\"content\":\"0123456789\"}",
                                      &id));
  CHECK_FAILS(cidb_tenant_append_message(t, "{\"customer_id\":\"c\",\"conversation_id\":\"v\",\"role\":\"user\","
                                            "\"timestamp\":1,\"content\":\"0123456789a\"}",
                                         &id),
              CIDB_CONTENT_TOO_LARGE, "maximum is 10");
  cidb_engine *second = (cidb_engine *)0x1;
  CHECK_FAILS(cidb_engine_open_with(db, NULL, NULL, &second), CIDB_ALREADY_OPEN, "already open");
  CHECK(second == NULL);
  cidb_tenant_free(t);
  CHECK_OK(cidb_engine_close(e));
  cidb_engine_free(e);

  /* The default configuration (1 MiB) accepts the same message after a reopen. */
  CHECK_OK(cidb_engine_open_with(db, NULL, NULL, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  CHECK_OK(cidb_tenant_append_message(t, "{\"customer_id\":\"c\",\"conversation_id\":\"v\",\"role\":\"user\","
                                         "\"timestamp\":1,\"content\":\"0123456789a\"}",
                                      &id));
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void on_alert(const char *alert_json, void *user_data) {
  (void)alert_json;
  ++*(int *)user_data;
}

static void test_monitor_exports_and_alert_callbacks(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  int calls = 0;
  uint64_t id1 = 0, id2 = 0;
  CHECK_OK(cidb_engine_on_alert(e, on_alert, &calls, &id1));
  CHECK_OK(cidb_engine_on_alert(e, on_alert, &calls, &id2));
  CHECK(id1 > 0 && id2 > 0 && id1 != id2);

  /* Some fast-path calls (fast paths do not report to the monitor yet: no fingerprints). */
  CHECK_OK(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\"}"));
  char *json = NULL;
  CHECK_OK(cidb_tenant_get_customer(t, "c1", &json));
  cidb_string_free(json);
  CHECK_OK(cidb_engine_monitor_json(e, &json));
  CHECK(json && strncmp(json, "{\"fingerprints\":[", 17) == 0 && strstr(json, "\"evicted_fingerprints\":0,") &&
        strstr(json, "\"slow_queries\":[") && strstr(json, "\"alerts\":[],\"alerts_fired\":0,\"warnings\":[]}"));
  cidb_string_free(json);
  CHECK_OK(cidb_engine_prometheus(e, &json));
  CHECK(json && strstr(json, "# TYPE cidb_statement_calls_total counter\n") &&
        strstr(json, "# TYPE cidb_statement_latency_seconds summary\n") && strstr(json, "\ncidb_alerts_total 0\n"));
  cidb_string_free(json);
  CHECK(calls == 0);

  CHECK_OK(cidb_engine_remove_alert_callback(e, id1));
  CHECK_FAILS(cidb_engine_remove_alert_callback(e, id1), CIDB_NOT_FOUND, "no alert callback with id");
  CHECK_FAILS(cidb_engine_remove_alert_callback(e, 987654), CIDB_NOT_FOUND, "987654");
  uint64_t id = 7;
  CHECK_FAILS(cidb_engine_on_alert(e, NULL, &calls, &id), CIDB_INVALID_INPUT, "cb is NULL");
  CHECK(id == 0);
  CHECK_FAILS(cidb_engine_on_alert(NULL, on_alert, &calls, &id), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_on_alert(e, on_alert, &calls, NULL), CIDB_INVALID_INPUT, "out_id is NULL");
  CHECK_FAILS(cidb_engine_remove_alert_callback(NULL, 1), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_monitor_json(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_monitor_json(e, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_prometheus(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_prometheus(e, NULL), CIDB_INVALID_INPUT, "out_text is NULL");

  /* Close removes id2; everything then reports CIDB_CLOSED. */
  CHECK_OK(cidb_engine_close(e));
  CHECK_STATUS(cidb_engine_remove_alert_callback(e, id2), CIDB_CLOSED);
  CHECK_STATUS(cidb_engine_on_alert(e, on_alert, &calls, &id), CIDB_CLOSED);
  json = (char *)0x1;
  CHECK_STATUS(cidb_engine_monitor_json(e, &json), CIDB_CLOSED);
  CHECK(json == NULL);
  CHECK_STATUS(cidb_engine_prometheus(e, &json), CIDB_CLOSED);
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_backup_opens_as_a_copy(void) {
  char *dir = h_tempdir();
  char db[4200], copy[4200];
  snprintf(db, sizeof db, "%s/db", dir);
  snprintf(copy, sizeof copy, "%s/copy", dir);
  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_open(db, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  CHECK_OK(cidb_tenant_upsert_customers(t, "[{\"id\":\"c1\",\"name\":\"Ann\"},{\"id\":\"c2\"}]"));
  char *json = NULL;
  CHECK_OK(cidb_tenant_update_context(t, "v1", "[{\"role\":\"user\",\"content\":\"kept\",\"timestamp\":5}]", 3600000,
                                      10, &json));
  cidb_string_free(json);

  CHECK_OK(cidb_engine_backup(e, copy, &json));
  CHECK(json && strncmp(json, "{\"tables\":", 10) == 0 && strstr(json, "\"entries\":") && strstr(json, "\"bytes\":"));
  cidb_string_free(json);
  /* Writes after the backup do not reach the copy. */
  CHECK_OK(cidb_tenant_upsert_customer(t, "{\"id\":\"c3\"}"));
  json = (char *)0x1;
  CHECK_FAILS(cidb_engine_backup(e, copy, &json), CIDB_ALREADY_EXISTS, "already holds a database");
  CHECK(json == NULL);
  CHECK_FAILS(cidb_engine_backup(NULL, copy, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_backup(e, NULL, &json), CIDB_INVALID_INPUT, "dest_dir is NULL");
  CHECK_FAILS(cidb_engine_backup(e, "", &json), CIDB_INVALID_INPUT, "dest_dir is empty");
  CHECK_FAILS(cidb_engine_backup(e, copy, NULL), CIDB_INVALID_INPUT, "out_report_json is NULL");

  cidb_engine *c = NULL;
  cidb_tenant *ct = NULL;
  CHECK_OK(cidb_engine_open(copy, &c)); /* while the original is still open */
  CHECK_OK(cidb_engine_tenant(c, "acme", &ct));
  uint64_t n = 0;
  CHECK_OK(cidb_tenant_count_customers(ct, &n));
  CHECK(n == 2);
  CHECK_OK(cidb_tenant_get_customer(ct, "c1", &json));
  CHECK(json && strstr(json, "\"name\":\"Ann\""));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_get_context(ct, "v1", &json));
  CHECK(json && strstr(json, "\"content\":\"kept\""));
  cidb_string_free(json);
  cidb_tenant_free(ct);
  cidb_engine_free(c);

  CHECK_OK(cidb_engine_close(e));
  CHECK_FAILS(cidb_engine_backup(e, copy, &json), CIDB_CLOSED, "closed");
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

int main(void) {
  RUN(test_config_json_reports_values_and_sources);
  RUN(test_open_with_applies_the_configuration);
  RUN(test_monitor_exports_and_alert_callbacks);
  RUN(test_backup_opens_as_a_copy);
  return h_finish("test_admin");
}
