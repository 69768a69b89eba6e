/*
 * test_cache.c: the tenant key-value cache from C. Binary values with embedded NULs round
 * trip in each tier's size class (memory, L2, L3) and empty; delete reports existence;
 * tenants do not see each other's keys; TTLs expire; every error status (bad key, value too
 * large, bad TTL, NULL arguments, miss, closed). get_or_set with a C fill callback: runs
 * once, then hits; its failure status passes through; a stale or foreign sink is refused;
 * a nested get_or_set of the key being filled is refused instead of deadlocking; threads
 * racing on one key run the callback once. Cache statistics JSON.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *a, *b;
} fixture;

static fixture fx_open(void) {
  fixture f = {h_tempdir(), NULL, NULL, NULL};
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, "a", &f.a));
  CHECK_OK(cidb_engine_tenant(f.engine, "b", &f.b));
  return f;
}

static void fx_close(fixture *f) {
  cidb_tenant_free(f->a);
  cidb_tenant_free(f->b);
  if (f->engine) CHECK_OK(cidb_engine_close(f->engine));
  cidb_engine_free(f->engine);
  h_rmtree(f->dir);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Bytes with NULs and every byte value; `seed` varies them. */
static uint8_t *pattern_bytes(size_t len, unsigned seed) {
  uint8_t *p = (uint8_t *)malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)(i % 3 == 0 ? 0 : (i * 31 + seed) & 0xFF);
  return p;
}

/* Checks get(key) returns exactly `want` (len bytes), then frees the copy. */
static void check_get(cidb_tenant *t, const char *key, const uint8_t *want, size_t len) {
  uint8_t *data = (uint8_t *)0x1;
  size_t got = 99;
  CHECK_OK(cidb_tenant_cache_get(t, key, &data, &got));
  CHECK(got == len);
  CHECK(len == 0 ? data == NULL : (data != NULL && got == len && memcmp(data, want, len) == 0));
  cidb_bytes_free(data, got);
}

/* The number after "<field>": inside "<tier>":{...} of the stats JSON. */
static long long tier_field(const char *json, const char *tier, const char *field) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\":{", tier);
  const char *p = json ? strstr(json, key) : NULL;
  snprintf(key, sizeof key, "\"%s\":", field);
  p = p ? strstr(p, key) : NULL;
  return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void test_binary_round_trip_in_every_tier(void) {
  fixture f = fx_open();
  static const size_t sizes[] = {1, 100, 9000, 20000, 150000};
  char key[32];
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint8_t *v = pattern_bytes(sizes[k], (unsigned)k);
    snprintf(key, sizeof key, "blob-%zu", sizes[k]);
    CHECK_OK(cidb_tenant_cache_set(f.a, key, v, sizes[k], 0));
    check_get(f.a, key, v, sizes[k]);
    free(v);
  }
  char *stats = NULL;
  CHECK_OK(cidb_engine_cache_stats_json(f.engine, &stats));
  CHECK(tier_field(stats, "l1", "entries") >= 3);
  CHECK(tier_field(stats, "l2", "entries") == 1); /* 20000 bytes */
  CHECK(tier_field(stats, "l3", "entries") == 1); /* 150000 bytes */
  CHECK(tier_field(stats, "l1", "hits") >= 3);
  CHECK(stats && strstr(stats, "\"hourly\":[") && strstr(stats, "\"warnings\":[]"));
  cidb_string_free(stats);

  /* Empty values: NULL allowed in, NULL comes out. */
  CHECK_OK(cidb_tenant_cache_set(f.a, "empty", NULL, 0, 0));
  check_get(f.a, "empty", NULL, 0);
  /* Overwrite, then the other tenant does not see it. */
  CHECK_OK(cidb_tenant_cache_set(f.a, "k", (const uint8_t *)"one\0two", 7, 0));
  CHECK_OK(cidb_tenant_cache_set(f.a, "k", (const uint8_t *)"\0\0\0", 3, 60000));
  check_get(f.a, "k", (const uint8_t *)"\0\0\0", 3);
  uint8_t *data = (uint8_t *)0x1;
  size_t len = 99;
  CHECK_FAILS(cidb_tenant_cache_get(f.b, "k", &data, &len), CIDB_NOT_FOUND, "\"k\"");
  CHECK(data == NULL && len == 0);

  bool existed = false;
  CHECK_OK(cidb_tenant_cache_delete(f.b, "k", &existed));
  CHECK(!existed);
  CHECK_OK(cidb_tenant_cache_delete(f.a, "k", &existed));
  CHECK(existed);
  CHECK_OK(cidb_tenant_cache_delete(f.a, "k", &existed));
  CHECK(!existed);
  CHECK_FAILS(cidb_tenant_cache_get(f.a, "k", &data, &len), CIDB_NOT_FOUND, "no cache entry");
  cidb_bytes_free(NULL, 0);
  fx_close(&f);
}

static void test_values_survive_reopen(void) {
  fixture f = fx_open();
  uint8_t *v = pattern_bytes(30000, 7);
  CHECK_OK(cidb_tenant_cache_set(f.a, "persistent", v, 30000, 0)); /* L2: on disk */
  CHECK_OK(cidb_engine_close(f.engine));
  cidb_engine_free(f.engine);
  cidb_tenant_free(f.a);
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, "a", &f.a));
  check_get(f.a, "persistent", v, 30000);
  free(v);
  fx_close(&f);
}

static void test_ttl_expires(void) {
  fixture f = fx_open();
  uint8_t *big = pattern_bytes(20000, 1);
  CHECK_OK(cidb_tenant_cache_set(f.a, "short", (const uint8_t *)"x", 1, 2000));
  CHECK_OK(cidb_tenant_cache_set(f.a, "short-l2", big, 20000, 2000));
  CHECK_OK(cidb_tenant_cache_set(f.a, "long", (const uint8_t *)"y", 1, INT64_MAX));
  check_get(f.a, "short", (const uint8_t *)"x", 1);
  check_get(f.a, "short-l2", big, 20000);
  sleep_ms(2600);
  uint8_t *data = NULL;
  size_t len = 0;
  CHECK_STATUS(cidb_tenant_cache_get(f.a, "short", &data, &len), CIDB_NOT_FOUND);
  CHECK_STATUS(cidb_tenant_cache_get(f.a, "short-l2", &data, &len), CIDB_NOT_FOUND);
  check_get(f.a, "long", (const uint8_t *)"y", 1);
  bool existed = true;
  CHECK_OK(cidb_tenant_cache_delete(f.a, "short", &existed));
  CHECK(!existed); /* expired counts as absent */
  free(big);
  fx_close(&f);
}

static void test_every_error_status(void) {
  fixture f = fx_open();
  uint8_t *data = NULL;
  size_t len = 0;
  bool existed;
  char long_key[1100];
  memset(long_key, 'k', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = 0;
  CHECK_FAILS(cidb_tenant_cache_set(f.a, "", (const uint8_t *)"x", 1, 0), CIDB_INVALID_CACHE_KEY, "empty");
  CHECK_FAILS(cidb_tenant_cache_set(f.a, long_key, (const uint8_t *)"x", 1, 0), CIDB_INVALID_CACHE_KEY, "1099 bytes");
  CHECK_FAILS(cidb_tenant_cache_get(f.a, "", &data, &len), CIDB_INVALID_CACHE_KEY, "empty");
  CHECK_FAILS(cidb_tenant_cache_delete(f.a, long_key, &existed), CIDB_INVALID_CACHE_KEY, "limit");
  size_t too_big = (16u << 20) + 1;
  uint8_t *huge = (uint8_t *)calloc(too_big, 1);
  CHECK_FAILS(cidb_tenant_cache_set(f.a, "huge", huge, too_big, 0), CIDB_VALUE_TOO_LARGE, "16777217 bytes");
  free(huge);
  CHECK_FAILS(cidb_tenant_cache_set(f.a, "k", (const uint8_t *)"x", 1, -1), CIDB_INVALID_TTL, "got -1");
  CHECK_FAILS(cidb_tenant_cache_set(f.a, "k", NULL, 5, 0), CIDB_INVALID_INPUT, "value is NULL but its length is 5");
  CHECK_FAILS(cidb_tenant_cache_set(f.a, NULL, (const uint8_t *)"x", 1, 0), CIDB_INVALID_INPUT, "key is NULL");
  CHECK_FAILS(cidb_tenant_cache_set(f.a, "k\xff", (const uint8_t *)"x", 1, 0), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_cache_get(f.a, "k", NULL, &len), CIDB_INVALID_INPUT, "out_data is NULL");
  CHECK_FAILS(cidb_tenant_cache_get(f.a, "k", &data, NULL), CIDB_INVALID_INPUT, "out_len is NULL");
  CHECK_FAILS(cidb_tenant_cache_delete(f.a, "k", NULL), CIDB_INVALID_INPUT, "out_existed is NULL");
  CHECK_FAILS(cidb_tenant_cache_get(f.a, "k", &data, &len), CIDB_NOT_FOUND, "no cache entry for key \"k\"");
  CHECK_FAILS(cidb_engine_cache_stats_json(NULL, NULL), CIDB_INVALID_INPUT, "out_json is NULL");

  CHECK_OK(cidb_tenant_cache_set(f.a, "k", (const uint8_t *)"x", 1, 0));
  CHECK_OK(cidb_engine_close(f.engine));
  char *json = NULL;
  CHECK_FAILS(cidb_tenant_cache_set(f.a, "k", (const uint8_t *)"x", 1, 0), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_tenant_cache_get(f.a, "k", &data, &len), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_tenant_cache_delete(f.a, "k", &existed), CIDB_CLOSED, "closed");
  CHECK_FAILS(cidb_engine_cache_stats_json(f.engine, &json), CIDB_CLOSED, "closed");
  CHECK(json == NULL && data == NULL && len == 0);
  fx_close(&f);
}

/* ---- get_or_set ----------------------------------------------------------------------- */

typedef struct {
  atomic_int calls;
  int status;        /* what the callback returns */
  int set_times;     /* how many times it calls cidb_cache_sink_set */
  size_t len;        /* the value's length */
  cidb_tenant *nest; /* when set: try get_or_set of the same key inside, and of another key */
  cidb_status nested_same, nested_other, foreign_thread;
  cidb_cache_sink *kept; /* the sink, kept to misuse after the call */
  long sleep_ms;
} fill_ctx;

static void *set_from_other_thread(void *arg) {
  fill_ctx *c = (fill_ctx *)arg;
  c->foreign_thread = cidb_cache_sink_set(c->kept, (const uint8_t *)"z", 1);
  return NULL;
}

static int simple_fill(const char *key, cidb_cache_sink *sink, void *user_data) {
  (void)key;
  return cidb_cache_sink_set(sink, (const uint8_t *)user_data, 2);
}

static int fill(const char *key, cidb_cache_sink *sink, void *user_data) {
  fill_ctx *c = (fill_ctx *)user_data;
  atomic_fetch_add(&c->calls, 1);
  c->kept = sink;
  if (c->sleep_ms) sleep_ms(c->sleep_ms);
  if (c->nest) {
    uint8_t *d = NULL;
    size_t n = 0;
    c->nested_same = cidb_tenant_cache_get_or_set(c->nest, key, fill, c, 0, &d, &n);
    c->nested_other = cidb_tenant_cache_get_or_set(c->nest, "other-key", simple_fill, "ok", 0, &d, &n);
    cidb_bytes_free(d, n);
    pthread_t th;
    pthread_create(&th, NULL, set_from_other_thread, c);
    pthread_join(th, NULL);
  }
  for (int i = 0; i < c->set_times; i++) {
    uint8_t *v = pattern_bytes(c->len, (unsigned)i);
    cidb_status st = cidb_cache_sink_set(sink, v, c->len);
    free(v);
    if (st != CIDB_OK) return st;
  }
  return c->status;
}

static void test_get_or_set_runs_the_callback_once(void) {
  fixture f = fx_open();
  fill_ctx c = {0};
  c.status = CIDB_OK;
  c.set_times = 2; /* the last set wins */
  c.len = 300;
  uint8_t *data = NULL;
  size_t len = 0;
  CHECK_OK(cidb_tenant_cache_get_or_set(f.a, "computed", fill, &c, 0, &data, &len));
  uint8_t *want = pattern_bytes(300, 1);
  CHECK(atomic_load(&c.calls) == 1 && len == 300 && data && memcmp(data, want, 300) == 0);
  cidb_bytes_free(data, len);
  CHECK_OK(cidb_tenant_cache_get_or_set(f.a, "computed", fill, &c, 0, &data, &len));
  CHECK(atomic_load(&c.calls) == 1 && len == 300 && data && memcmp(data, want, 300) == 0);
  cidb_bytes_free(data, len);
  check_get(f.a, "computed", want, 300);
  free(want);

  /* A stale sink is refused (and nothing is written to freed memory). */
  CHECK_FAILS(cidb_cache_sink_set(c.kept, (const uint8_t *)"x", 1), CIDB_INVALID_INPUT, "only valid during that call");
  CHECK_FAILS(cidb_cache_sink_set(NULL, (const uint8_t *)"x", 1), CIDB_INVALID_INPUT, "sink");

  /* An empty value is a value. */
  fill_ctx e = {0};
  e.set_times = 1;
  CHECK_OK(cidb_tenant_cache_get_or_set(f.a, "empty", fill, &e, 5000, &data, &len));
  CHECK(data == NULL && len == 0 && atomic_load(&e.calls) == 1);
  check_get(f.a, "empty", NULL, 0);
  fx_close(&f);
}

static void test_get_or_set_failures(void) {
  fixture f = fx_open();
  uint8_t *data = (uint8_t *)0x1;
  size_t len = 9;
  fill_ctx c = {0};
  c.status = CIDB_UNAVAILABLE;
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", fill, &c, 0, &data, &len), CIDB_UNAVAILABLE,
              "the fill callback failed with CIDB_UNAVAILABLE");
  CHECK(data == NULL && len == 0);
  CHECK_STATUS(cidb_tenant_cache_get(f.a, "k", &data, &len), CIDB_NOT_FOUND); /* nothing stored */
  c.status = 999;
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", fill, &c, 0, &data, &len), CIDB_INTERNAL, "999");
  c.status = CIDB_OK; /* ... but no value */
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", fill, &c, 0, &data, &len), CIDB_INVALID_INPUT,
              "without calling cidb_cache_sink_set");
  c.set_times = 1;
  c.len = (16u << 20) + 1;
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", fill, &c, 0, &data, &len), CIDB_VALUE_TOO_LARGE, "limit");
  CHECK(atomic_load(&c.calls) == 4);
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", NULL, &c, 0, &data, &len), CIDB_INVALID_INPUT, "fill_cb is NULL");
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", fill, &c, -5, &data, &len), CIDB_INVALID_TTL, "-5");
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "", fill, &c, 0, &data, &len), CIDB_INVALID_CACHE_KEY, "empty");
  CHECK(atomic_load(&c.calls) == 4);

  /* Inside the callback: the same key is refused, another key works, another thread's
   * use of the sink is refused; the outer call still succeeds. */
  fill_ctx n = {0};
  n.set_times = 1;
  n.len = 4;
  n.nest = f.a;
  CHECK_OK(cidb_tenant_cache_get_or_set(f.a, "outer", fill, &n, 0, &data, &len));
  CHECK(len == 4 && atomic_load(&n.calls) == 1);
  cidb_bytes_free(data, len);
  CHECK(n.nested_same == CIDB_INVALID_INPUT);
  CHECK(n.nested_other == CIDB_OK);
  CHECK(n.foreign_thread == CIDB_INVALID_INPUT);
  check_get(f.a, "other-key", (const uint8_t *)"ok", 2);

  CHECK_OK(cidb_engine_close(f.engine));
  CHECK_FAILS(cidb_tenant_cache_get_or_set(f.a, "k", fill, &c, 0, &data, &len), CIDB_CLOSED, "closed");
  fx_close(&f);
}

#define RACERS 6

typedef struct {
  cidb_tenant *t;
  fill_ctx *ctx;
  cidb_status st;
  uint8_t *data;
  size_t len;
} racer;

static void *race(void *arg) {
  racer *r = (racer *)arg;
  r->st = cidb_tenant_cache_get_or_set(r->t, "shared", fill, r->ctx, 0, &r->data, &r->len);
  return NULL;
}

static void test_get_or_set_from_threads_fills_once(void) {
  fixture f = fx_open();
  fill_ctx c = {0};
  c.set_times = 1;
  c.len = 5000;
  c.sleep_ms = 200;
  racer rs[RACERS];
  pthread_t th[RACERS];
  for (int i = 0; i < RACERS; i++) {
    rs[i] = (racer){f.a, &c, CIDB_INTERNAL, NULL, 0};
    CHECK(pthread_create(&th[i], NULL, race, &rs[i]) == 0);
  }
  uint8_t *want = pattern_bytes(5000, 0);
  for (int i = 0; i < RACERS; i++) {
    pthread_join(th[i], NULL);
    CHECK(rs[i].st == CIDB_OK && rs[i].len == 5000 && rs[i].data && memcmp(rs[i].data, want, 5000) == 0);
    cidb_bytes_free(rs[i].data, rs[i].len);
  }
  CHECK(atomic_load(&c.calls) == 1);
  free(want);
  fx_close(&f);
}

int main(void) {
  RUN(test_binary_round_trip_in_every_tier);
  RUN(test_values_survive_reopen);
  RUN(test_ttl_expires);
  RUN(test_every_error_status);
  RUN(test_get_or_set_runs_the_callback_once);
  RUN(test_get_or_set_failures);
  RUN(test_get_or_set_from_threads_fills_once);
  return h_finish("test_cache");
}
