/*
 * test_context.c: conversation contexts from C. Entries merge in timestamp order (ties keep
 * arrival order), only the newest max_history stay, the TTL resets on every update, an
 * expired context reads as CIDB_NOT_FOUND and counts as empty for the next update, the
 * sweep deletes expired ones, deletes report whether a live one existed, and bad input
 * (ttl <= 0, max_history 0, bad JSON, bad role) gets its status. Also concurrent updates
 * of one conversation from several threads: none is lost.
 * Run by tests/c/run.sh (plain, ASan and Valgrind builds).
 */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *tenant;
} fixture;

static fixture fx_open(void) {
  fixture f = {h_tempdir(), NULL, NULL};
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, "acme", &f.tenant));
  return f;
}

static void fx_close(fixture *f) {
  cidb_tenant_free(f->tenant);
  CHECK_OK(cidb_engine_close(f->engine));
  cidb_engine_free(f->engine);
  h_rmtree(f->dir);
}

#define E(role, content, ts) "{\"role\":\"" role "\",\"content\":\"" content "\",\"timestamp\":" #ts ",\"metadata\":{}}"
#define HOUR 3600000

/* The number after `"key":` in `json`, or -1. */
static long long json_int(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = json ? strstr(json, pat) : NULL;
  return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* Checks `json` holds exactly `entries` (a JSON array text) as its entries, then frees it. */
#define CHECK_ENTRIES(json, entries)                                                        \
  do {                                                                                      \
    char *j_ = (json);                                                                      \
    const char *want_ = "\"entries\":" entries ",";                                         \
    if (!j_ || !strstr(j_, want_)) {                                                        \
      fprintf(stderr, "  %s:%d: context %s\n    lacks %s\n", __FILE__, __LINE__,            \
              j_ ? j_ : "(NULL)", want_);                                                   \
      h_case_failed = 1;                                                                    \
    }                                                                                       \
    cidb_string_free(j_);                                                                   \
  } while (0)

static void test_context_merges_trims_and_keeps_the_ttl(void) {
  fixture f = fx_open();
  char *json = NULL;
  /* Entries arrive out of order; equal timestamps keep arrival order. */
  CHECK_OK(cidb_tenant_update_context(f.tenant, "v1",
                                      "[" E("user", "a", 10) "," E("assistant", "c", 30) "," E("user", "b", 20) ","
                                      E("tool", "b2", 20) "]",
                                      HOUR, 10, &json));
  CHECK(json && strncmp(json, "{\"conversation_id\":\"v1\",", 24) == 0);
  CHECK(json_int(json, "expires_at") - json_int(json, "updated_at") == HOUR);
  CHECK_ENTRIES(json, "[" E("user", "a", 10) "," E("user", "b", 20) "," E("tool", "b2", 20) "," E("assistant", "c", 30) "]");

  /* Merge two more and keep the newest 3. */
  CHECK_OK(cidb_tenant_update_context(f.tenant, "v1", "[" E("user", "d", 40) "," E("agent", "bb", 25) "]", HOUR, 3,
                                      &json));
  CHECK_ENTRIES(json, "[" E("agent", "bb", 25) "," E("assistant", "c", 30) "," E("user", "d", 40) "]");
  CHECK_OK(cidb_tenant_get_context(f.tenant, "v1", &json));
  CHECK_ENTRIES(json, "[" E("agent", "bb", 25) "," E("assistant", "c", 30) "," E("user", "d", 40) "]");

  /* An empty update only resets the TTL; metadata round-trips. */
  CHECK_OK(cidb_tenant_update_context(f.tenant, "v2", "[{\"role\":\"system\",\"content\":\"s\",\"timestamp\":1,"
                                                      "\"metadata\":{\"lang\":\"de\"}}]",
                                      1000, 5, &json));
  CHECK(json && strstr(json, "\"metadata\":{\"lang\":\"de\"}"));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_update_context(f.tenant, "v2", "[]", 2 * HOUR, 5, &json));
  CHECK(json_int(json, "expires_at") - json_int(json, "updated_at") == 2 * HOUR);
  CHECK(json && strstr(json, "\"content\":\"s\""));
  cidb_string_free(json);

  /* Another tenant does not see it. */
  cidb_tenant *other = NULL;
  CHECK_OK(cidb_engine_tenant(f.engine, "globex", &other));
  CHECK_FAILS(cidb_tenant_get_context(other, "v1", &json), CIDB_NOT_FOUND, "no live context");
  cidb_tenant_free(other);

  bool existed = false;
  CHECK_OK(cidb_tenant_delete_context(f.tenant, "v1", &existed));
  CHECK(existed);
  json = (char *)0x1;
  CHECK_FAILS(cidb_tenant_get_context(f.tenant, "v1", &json), CIDB_NOT_FOUND, "\"v1\"");
  CHECK(json == NULL);
  CHECK_OK(cidb_tenant_delete_context(f.tenant, "v1", &existed));
  CHECK(!existed);
  fx_close(&f);
}

static void test_expired_contexts_read_as_absent_and_are_swept(void) {
  fixture f = fx_open();
  char *json = NULL;
  CHECK_OK(cidb_tenant_update_context(f.tenant, "short", "[" E("user", "x", 1) "]", 1, 10, &json));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_update_context(f.tenant, "again", "[" E("user", "old", 1) "]", 1, 10, &json));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_update_context(f.tenant, "long", "[" E("user", "y", 1) "]", HOUR, 10, &json));
  cidb_string_free(json);
  usleep(20 * 1000);

  CHECK_FAILS(cidb_tenant_get_context(f.tenant, "short", &json), CIDB_NOT_FOUND, "no live context");
  /* An expired context counts as empty: the old entry is gone after the next update. */
  CHECK_OK(cidb_tenant_update_context(f.tenant, "again", "[" E("user", "new", 2) "]", HOUR, 10, &json));
  CHECK_ENTRIES(json, "[" E("user", "new", 2) "]");

  uint64_t removed = 99;
  CHECK_OK(cidb_engine_sweep_expired(f.engine, &removed));
  CHECK(removed == 1); /* "short"; "again" was renewed, "long" is live */
  CHECK_OK(cidb_engine_sweep_expired(f.engine, &removed));
  CHECK(removed == 0);
  bool existed = true;
  CHECK_OK(cidb_tenant_delete_context(f.tenant, "short", &existed));
  CHECK(!existed);
  CHECK_OK(cidb_tenant_get_context(f.tenant, "long", &json));
  CHECK_ENTRIES(json, "[" E("user", "y", 1) "]");
  fx_close(&f);
}

static void test_bad_context_input_gets_its_status(void) {
  fixture f = fx_open();
  cidb_tenant *t = f.tenant;
  char *json = (char *)0x1;
  const char *one = "[" E("user", "x", 1) "]";
  CHECK_FAILS(cidb_tenant_update_context(t, "v", one, 0, 10, &json), CIDB_INVALID_TTL,
              "ttl_ms must be greater than zero, got 0");
  CHECK(json == NULL);
  CHECK_FAILS(cidb_tenant_update_context(t, "v", one, -5, 10, &json), CIDB_INVALID_TTL, "got -5");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", one, HOUR, 0, &json), CIDB_INVALID_INPUT, "max_history");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", "{}", HOUR, 10, &json), CIDB_INVALID_INPUT,
              "entries_json must be a JSON array");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", "[", HOUR, 10, &json), CIDB_INVALID_INPUT,
              "entries_json is not valid JSON");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", "[" E("bot", "x", 1) "]", HOUR, 10, &json), CIDB_INVALID_ROLE,
              "entries_json[0]");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", "[" E("user", "x", -1) "]", HOUR, 10, &json),
              CIDB_INVALID_TIMESTAMP, "timestamp");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", "[{\"role\":\"user\",\"content\":\"x\",\"timestamp\":1,\"ts\":1}]",
                                         HOUR, 10, &json),
              CIDB_INVALID_INPUT, "unknown field `ts`");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", "[{\"role\":\"user\",\"content\":\"x\",\"timestamp\":1,"
                                                 "\"metadata\":[]}]",
                                         HOUR, 10, &json),
              CIDB_INVALID_ATTRIBUTES, "metadata");
  CHECK_FAILS(cidb_tenant_update_context(t, "", one, HOUR, 10, &json), CIDB_INVALID_ID, "conversation_id");
  CHECK_FAILS(cidb_tenant_get_context(t, "", &json), CIDB_INVALID_ID, "conversation_id");

  CHECK_FAILS(cidb_tenant_update_context(NULL, "v", one, HOUR, 10, &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_update_context(t, NULL, one, HOUR, 10, &json), CIDB_INVALID_INPUT,
              "conversation_id is NULL");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", NULL, HOUR, 10, &json), CIDB_INVALID_INPUT, "entries_json is NULL");
  CHECK_FAILS(cidb_tenant_update_context(t, "v", one, HOUR, 10, NULL), CIDB_INVALID_INPUT,
              "out_context_json is NULL");
  CHECK_FAILS(cidb_tenant_get_context(NULL, "v", &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_get_context(t, NULL, &json), CIDB_INVALID_INPUT, "conversation_id is NULL");
  CHECK_FAILS(cidb_tenant_get_context(t, "v", NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  bool b = false;
  CHECK_FAILS(cidb_tenant_delete_context(NULL, "v", &b), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_delete_context(t, NULL, &b), CIDB_INVALID_INPUT, "conversation_id is NULL");
  CHECK_FAILS(cidb_tenant_delete_context(t, "v", NULL), CIDB_INVALID_INPUT, "out_existed is NULL");
  uint64_t n = 0;
  CHECK_FAILS(cidb_engine_sweep_expired(NULL, &n), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_sweep_expired(f.engine, NULL), CIDB_INVALID_INPUT, "out_removed is NULL");
  /* Nothing above was written. */
  CHECK_FAILS(cidb_tenant_get_context(t, "v", &json), CIDB_NOT_FOUND, "no live context");

  CHECK_OK(cidb_engine_close(f.engine));
  CHECK_STATUS(cidb_tenant_update_context(t, "v", one, HOUR, 10, &json), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_update_context(t, "v", one, 0, 0, &json), CIDB_CLOSED); /* closed comes first */
  CHECK_STATUS(cidb_tenant_get_context(t, "v", &json), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_delete_context(t, "v", &b), CIDB_CLOSED);
  CHECK_FAILS(cidb_engine_sweep_expired(f.engine, &n), CIDB_CLOSED, "closed");
  fx_close(&f);
}

#define THREADS 6
#define UPDATES 15

typedef struct {
  cidb_tenant *tenant;
  int index;
  int failures;
} updater;

static void *update_many(void *arg) {
  updater *u = (updater *)arg;
  for (int k = 0; k < UPDATES; k++) {
    char entries[256];
    snprintf(entries, sizeof entries, "[{\"role\":\"user\",\"content\":\"t%d-%d\",\"timestamp\":%d}]", u->index, k,
             u->index * 100 + k);
    char *json = NULL;
    if (cidb_tenant_update_context(u->tenant, "shared", entries, HOUR, THREADS * UPDATES, &json) != CIDB_OK)
      u->failures++;
    cidb_string_free(json);
  }
  return NULL;
}

static void test_concurrent_updates_of_one_conversation_lose_nothing(void) {
  fixture f = fx_open();
  pthread_t threads[THREADS];
  updater us[THREADS];
  for (int i = 0; i < THREADS; i++) {
    us[i] = (updater){f.tenant, i, 0};
    pthread_create(&threads[i], NULL, update_many, &us[i]);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    CHECK(us[i].failures == 0);
  }
  char *json = NULL;
  CHECK_OK(cidb_tenant_get_context(f.tenant, "shared", &json));
  CHECK(json && h_count(json, "\"role\":\"user\"") == THREADS * UPDATES);
  CHECK(json && strstr(json, "\"content\":\"t0-0\"") && strstr(json, "\"content\":\"t5-14\""));
  cidb_string_free(json);
  fx_close(&f);
}

int main(void) {
  RUN(test_context_merges_trims_and_keeps_the_ttl);
  RUN(test_expired_contexts_read_as_absent_and_are_swept);
  RUN(test_bad_context_input_gets_its_status);
  RUN(test_concurrent_updates_of_one_conversation_lose_nothing);
  return h_finish("test_context");
}
