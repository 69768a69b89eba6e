/*
 * test_feed.c: the change feed from C. Subscriptions call a C function on a cidb delivery
 * thread for each committed change, in commit order, with the caller's user_data; filters
 * select tables and operations; a slow callback with a small queue (feed_queue_capacity = 4
 * from a TOML file) gets the events that fit, then one "missed" notice, and events_since
 * resumes from it; a callback may free its own subscription; cidb_subscription_free and
 * cidb_engine_close return only when no callback is running. Bad inputs are named.
 * Run by tests/c/run.sh (plain, ASan and Valgrind builds).
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define MAX_ITEMS 64

/* What a callback saw; user_data of every subscription in this file. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *items[MAX_ITEMS];
  int n;
  pthread_t main_thread;
  int on_main_thread;  /* calls made on the subscribing thread (must stay 0) */
  int block_first;     /* first call waits until `released` */
  int released;
  int sleep_ms;        /* every call sleeps this long before returning */
  int finished;        /* calls that returned */
  int free_self_at;    /* free `self` from inside the call with this number */
  cidb_subscription *self;
} sink;

static void sink_init(sink *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->main_thread = pthread_self();
}

static void sink_destroy(sink *s) {
  for (int i = 0; i < s->n; i++) free(s->items[i]);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
}

static void on_delivery(const char *json, void *user_data) {
  sink *s = (sink *)user_data;
  pthread_mutex_lock(&s->mu);
  int k = s->n < MAX_ITEMS ? s->n++ : s->n;
  if (k < MAX_ITEMS) s->items[k] = strdup(json);
  if (pthread_equal(pthread_self(), s->main_thread)) s->on_main_thread++;
  pthread_cond_broadcast(&s->cv);
  if (s->block_first && k == 0)
    while (!s->released) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  if (s->sleep_ms) usleep((useconds_t)s->sleep_ms * 1000);
  if (s->free_self_at && k + 1 == s->free_self_at) cidb_subscription_free(s->self);
  pthread_mutex_lock(&s->mu);
  s->finished++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits up to 10 s (generous for Valgrind) until `*counter >= want`; returns *counter. */
static int sink_wait(sink *s, const int *counter, int want) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&s->mu);
  while (*counter < want)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) break;
  int got = *counter;
  pthread_mutex_unlock(&s->mu);
  return got;
}

static int sink_count(sink *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->n;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* Lets a callback blocked by `block_first` return. */
static void release(sink *s) {
  pthread_mutex_lock(&s->mu);
  s->released = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* The number after `"key":` in `json`, or -1. */
static long long json_int(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = json ? strstr(json, pat) : NULL;
  return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void upsert(cidb_tenant *t, const char *id) {
  char json[128];
  snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
  CHECK_OK(cidb_tenant_upsert_customer(t, json));
}

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *acme;
} fixture;

static fixture fx_open(void) {
  fixture f = {h_tempdir(), NULL, NULL};
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, "acme", &f.acme));
  return f;
}

static void fx_close(fixture *f) {
  cidb_tenant_free(f->acme);
  CHECK_OK(cidb_engine_close(f->engine));
  cidb_engine_free(f->engine);
  h_rmtree(f->dir);
}

static void test_tenant_subscription_gets_its_writes_in_order(void) {
  fixture f = fx_open();
  cidb_tenant *other = NULL;
  CHECK_OK(cidb_engine_tenant(f.engine, "globex", &other));
  sink s;
  sink_init(&s);
  cidb_subscription *sub = NULL;
  CHECK_OK(cidb_tenant_subscribe(f.acme, "{\"tables\":[\"customers\"]}", on_delivery, &s, &sub));
  CHECK(sub != NULL);

  upsert(f.acme, "c1");
  upsert(other, "not-mine"); /* another tenant: not delivered */
  CHECK_OK(cidb_tenant_add_score(f.acme, "{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.5,"
                                         "\"confidence\":0.5,\"created_at\":1}")); /* filtered out */
  upsert(f.acme, "c2");
  upsert(f.acme, "c3");
  CHECK_OK(cidb_tenant_upsert_customer(f.acme, "{\"id\":\"c1\",\"name\":\"Ann\"}")); /* update */
  bool existed = false;
  CHECK_OK(cidb_tenant_delete_customer(f.acme, "c2", &existed));

  CHECK(sink_wait(&s, &s.n, 5) == 5);
  const char *want[5][2] = {{"c1", "insert"}, {"c2", "insert"}, {"c3", "insert"}, {"c1", "update"}, {"c2", "delete"}};
  long long last_seq = 0;
  for (int i = 0; i < 5 && i < s.n; i++) {
    const char *j = s.items[i];
    char key[64], op[64];
    snprintf(key, sizeof key, "\"key\":\"%s\"", want[i][0]);
    snprintf(op, sizeof op, "\"op\":\"%s\"", want[i][1]);
    CHECK(strncmp(j, "{\"event\":{\"seq\":", 16) == 0);
    CHECK(strstr(j, key) && strstr(j, op) && strstr(j, "\"tenant\":\"acme\"") && strstr(j, "\"table\":\"customers\""));
    long long seq = json_int(j, "seq");
    CHECK(seq > last_seq); /* commit order */
    last_seq = seq;
    if (h_case_failed) fprintf(stderr, "  delivery %d: %s\n", i, j);
  }
  CHECK(s.items[3] && strstr(s.items[3], "\"name\":\"Ann\"") && strstr(s.items[3], "\"old\":{")); /* update has old */
  CHECK(s.items[4] && strstr(s.items[4], "\"new\":null"));                                       /* delete has no new */
  CHECK(s.on_main_thread == 0); /* delivered on a cidb thread */

  /* After free returns nothing more is delivered. */
  cidb_subscription_free(sub);
  upsert(f.acme, "c9");
  CHECK(sink_count(&s) == 5);
  sink_destroy(&s);
  cidb_tenant_free(other);
  fx_close(&f);
}

static void test_engine_subscription_sees_every_tenant_and_filters_ops(void) {
  fixture f = fx_open();
  cidb_tenant *other = NULL;
  CHECK_OK(cidb_engine_tenant(f.engine, "globex", &other));
  sink all, deletes;
  sink_init(&all);
  sink_init(&deletes);
  cidb_subscription *a = NULL, *d = NULL;
  CHECK_OK(cidb_engine_subscribe(f.engine, NULL, on_delivery, &all, &a));
  CHECK_OK(cidb_engine_subscribe(f.engine, "{\"ops\":[\"delete\"]}", on_delivery, &deletes, &d));
  upsert(f.acme, "a1");
  upsert(other, "g1");
  bool existed = false;
  CHECK_OK(cidb_tenant_delete_customer(other, "g1", &existed));
  char *ctx = NULL;
  CHECK_OK(cidb_tenant_update_context(f.acme, "v1", "[]", 60000, 10, &ctx));
  cidb_string_free(ctx);

  CHECK(sink_wait(&all, &all.n, 4) == 4);
  CHECK(sink_wait(&deletes, &deletes.n, 1) == 1);
  CHECK(all.items[0] && strstr(all.items[0], "\"tenant\":\"acme\"") && strstr(all.items[0], "\"key\":\"a1\""));
  CHECK(all.items[1] && strstr(all.items[1], "\"tenant\":\"globex\"") && strstr(all.items[1], "\"op\":\"insert\""));
  CHECK(all.items[2] && strstr(all.items[2], "\"tenant\":\"globex\"") && strstr(all.items[2], "\"op\":\"delete\""));
  CHECK(all.items[3] && strstr(all.items[3], "\"table\":\"conversation_context\""));
  CHECK(deletes.items[0] && strstr(deletes.items[0], "\"key\":\"g1\"") && strstr(deletes.items[0], "\"op\":\"delete\""));
  cidb_subscription_free(a);
  cidb_subscription_free(d);
  CHECK(sink_count(&deletes) == 1);

  /* The log holds the same events for both tenants; the tenant form keeps its own. */
  char *json = NULL;
  CHECK_OK(cidb_engine_events_since(f.engine, 0, 0, &json));
  CHECK(json && h_count(json, "\"seq\":") == 4);
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_events_since(other, 0, 0, &json));
  CHECK(json && h_count(json, "\"seq\":") == 2 && !strstr(json, "\"acme\""));
  cidb_string_free(json);
  CHECK_OK(cidb_engine_events_since(f.engine, 1u << 30, 0, &json));
  CHECK_JSON(json, "[]");

  sink_destroy(&all);
  sink_destroy(&deletes);
  cidb_tenant_free(other);
  fx_close(&f);
}

static void test_slow_callback_gets_missed_notice_and_events_since_resumes(void) {
  char *dir = h_tempdir();
  char toml[4200], db[4200];
  snprintf(toml, sizeof toml, "%s/cidb.toml", dir);
  snprintf(db, sizeof db, "%s/db", dir);
  FILE *fp = fopen(toml, "w");
  CHECK(fp != NULL);
  if (fp) {
    fputs("# a small subscriber queue\nfeed_queue_capacity = 4\n", fp);
    fclose(fp);
  }
  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_open_with(db, NULL, toml, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));

  sink s;
  sink_init(&s);
  s.block_first = 1;
  cidb_subscription *sub = NULL;
  CHECK_OK(cidb_tenant_subscribe(t, NULL, on_delivery, &s, &sub));
  upsert(t, "c0");
  CHECK(sink_wait(&s, &s.n, 1) == 1); /* the callback holds c0 and blocks */
  char id[16];
  for (int i = 1; i <= 10; i++) {
    snprintf(id, sizeof id, "c%d", i);
    upsert(t, id); /* never waits for the blocked subscriber */
  }
  release(&s);

  /* c0, then c1..c4 (the queue held 4), then the notice for c5..c10. */
  CHECK(sink_wait(&s, &s.n, 6) == 6);
  for (int i = 1; i <= 4 && i < s.n; i++) {
    char key[32];
    snprintf(key, sizeof key, "\"key\":\"c%d\"", i);
    CHECK(strstr(s.items[i], key) != NULL);
  }
  const char *notice = s.n >= 6 ? s.items[5] : NULL;
  CHECK(notice && strncmp(notice, "{\"missed\":{\"count\":6,\"from_seq\":", 32) == 0);
  long long from = json_int(notice, "from_seq");
  CHECK(from > json_int(s.items[4], "seq"));

  /* Resume from the notice: exactly the six missed events, c5 first. */
  char *json = NULL;
  CHECK_OK(cidb_tenant_events_since(t, (uint64_t)from, 0, &json));
  CHECK(json && h_count(json, "\"seq\":") == 6 && json_int(json, "seq") == from);
  CHECK(json && strstr(json, "\"key\":\"c5\"") && strstr(json, "\"key\":\"c10\"") && !strstr(json, "\"key\":\"c4\""));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_events_since(t, (uint64_t)from, 2, &json)); /* limit */
  CHECK(json && h_count(json, "\"seq\":") == 2 && strstr(json, "\"key\":\"c6\"") && !strstr(json, "\"key\":\"c7\""));
  cidb_string_free(json);
  usleep(50 * 1000);
  CHECK(sink_count(&s) == 6); /* nothing after the notice */

  cidb_subscription_free(sub);
  sink_destroy(&s);
  cidb_tenant_free(t);
  CHECK_OK(cidb_engine_close(e));
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void *release_later(void *arg) {
  usleep(150 * 1000);
  release((sink *)arg);
  return NULL;
}

static void test_callback_may_free_its_own_subscription(void) {
  fixture f = fx_open();
  sink s;
  sink_init(&s);
  s.block_first = 1;
  s.free_self_at = 2;
  CHECK_OK(cidb_tenant_subscribe(f.acme, NULL, on_delivery, &s, &s.self));
  for (int i = 0; i < 5; i++) upsert(f.acme, i % 2 ? "x" : "y");
  release(&s); /* four deliveries are queued behind the first */
  CHECK(sink_wait(&s, &s.finished, 2) == 2);
  usleep(100 * 1000); /* the three still queued are dropped, not delivered */
  CHECK(sink_count(&s) == 2);
  sink_destroy(&s);
  fx_close(&f);
}

/* The first callback blocks until a helper thread releases it; meanwhile `stop` (free or
 * close) runs on this thread. It must return only after that callback returned, and the
 * two deliveries queued behind it must never be made. */
static void stop_while_running(fixture *f, int by_close) {
  sink s;
  sink_init(&s);
  s.block_first = 1;
  cidb_subscription *sub = NULL;
  CHECK_OK(cidb_tenant_subscribe(f->acme, NULL, on_delivery, &s, &sub));
  upsert(f->acme, "c1");
  upsert(f->acme, "c2");
  upsert(f->acme, "c3");
  CHECK(sink_wait(&s, &s.n, 1) == 1); /* blocked in the first callback */
  pthread_t releaser;
  pthread_create(&releaser, NULL, release_later, &s);
  if (by_close)
    CHECK_OK(cidb_engine_close(f->engine));
  else
    cidb_subscription_free(sub);
  pthread_mutex_lock(&s.mu);
  CHECK(s.finished == 1); /* it waited for the running callback */
  pthread_mutex_unlock(&s.mu);
  pthread_join(releaser, NULL);
  usleep(100 * 1000);
  CHECK(sink_count(&s) == 1); /* c2 and c3 were dropped */
  if (by_close) cidb_subscription_free(sub); /* still released after close */
  sink_destroy(&s);
}

static void test_free_and_close_wait_for_a_running_callback(void) {
  fixture f = fx_open();
  stop_while_running(&f, 0);
  stop_while_running(&f, 1);

  /* Closed: new subscriptions and log reads report it. */
  sink s;
  sink_init(&s);
  cidb_subscription *late = (cidb_subscription *)0x1;
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, NULL, on_delivery, &s, &late), CIDB_CLOSED, "closed");
  CHECK(late == NULL);
  CHECK_STATUS(cidb_engine_subscribe(f.engine, NULL, on_delivery, &s, &late), CIDB_CLOSED);
  char *json = (char *)0x1;
  CHECK_STATUS(cidb_tenant_events_since(f.acme, 0, 0, &json), CIDB_CLOSED);
  CHECK(json == NULL);
  CHECK_STATUS(cidb_engine_events_since(f.engine, 0, 0, &json), CIDB_CLOSED);
  cidb_subscription_free(NULL);
  sink_destroy(&s);
  fx_close(&f);
}

/* Closing one engine stops its own subscriptions only. */
static void test_close_leaves_other_engines_subscriptions_alone(void) {
  fixture a = fx_open(), b = fx_open();
  sink sa, sb;
  sink_init(&sa);
  sink_init(&sb);
  cidb_subscription *suba = NULL, *subb = NULL;
  CHECK_OK(cidb_tenant_subscribe(a.acme, NULL, on_delivery, &sa, &suba));
  CHECK_OK(cidb_engine_subscribe(b.engine, NULL, on_delivery, &sb, &subb));
  CHECK_OK(cidb_engine_close(a.engine));
  upsert(b.acme, "b1");
  CHECK(sink_wait(&sb, &sb.n, 1) == 1);
  CHECK(sb.items[0] && strstr(sb.items[0], "\"key\":\"b1\""));
  CHECK(sink_count(&sa) == 0);
  cidb_subscription_free(suba);
  cidb_subscription_free(subb);
  sink_destroy(&sa);
  sink_destroy(&sb);
  fx_close(&a);
  fx_close(&b);
}

static void test_bad_subscription_arguments_are_named(void) {
  fixture f = fx_open();
  sink s;
  sink_init(&s);
  cidb_subscription *sub = (cidb_subscription *)0x1;
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, NULL, NULL, &s, &sub), CIDB_INVALID_INPUT, "cb is NULL");
  CHECK(sub == NULL);
  CHECK_FAILS(cidb_engine_subscribe(f.engine, NULL, NULL, &s, &sub), CIDB_INVALID_INPUT, "cb is NULL");
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, "{", on_delivery, &s, &sub), CIDB_INVALID_INPUT,
              "filter_json is not valid JSON");
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, "[]", on_delivery, &s, &sub), CIDB_INVALID_INPUT, "must be a JSON object");
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, "{\"tables\":[\"customer\"]}", on_delivery, &s, &sub), CIDB_INVALID_INPUT,
              "unknown table \"customer\"");
  CHECK_FAILS(cidb_engine_subscribe(f.engine, "{\"ops\":[\"upsert\"]}", on_delivery, &s, &sub), CIDB_INVALID_INPUT,
              "upsert");
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, "{\"op\":[]}", on_delivery, &s, &sub), CIDB_INVALID_INPUT,
              "unknown field `op`");
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, "{\"tables\":[\"\xff\"]}", on_delivery, &s, &sub), CIDB_INVALID_INPUT,
              "filter_json is not valid UTF-8");
  CHECK_FAILS(cidb_tenant_subscribe(NULL, NULL, on_delivery, &s, &sub), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_engine_subscribe(NULL, NULL, on_delivery, &s, &sub), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_tenant_subscribe(f.acme, NULL, on_delivery, &s, NULL), CIDB_INVALID_INPUT, "out_sub is NULL");
  CHECK_FAILS(cidb_engine_subscribe(f.engine, NULL, on_delivery, &s, NULL), CIDB_INVALID_INPUT, "out_sub is NULL");
  char *json = NULL;
  CHECK_FAILS(cidb_tenant_events_since(NULL, 0, 0, &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_events_since(f.acme, 0, 0, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_engine_events_since(NULL, 0, 0, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_events_since(f.engine, 0, 0, NULL), CIDB_INVALID_INPUT, "out_json is NULL");

  upsert(f.acme, "c1");
  CHECK(sink_count(&s) == 0); /* no failed subscription was left behind */
  sink_destroy(&s);
  fx_close(&f);
}

int main(void) {
  RUN(test_tenant_subscription_gets_its_writes_in_order);
  RUN(test_engine_subscription_sees_every_tenant_and_filters_ops);
  RUN(test_slow_callback_gets_missed_notice_and_events_since_resumes);
  RUN(test_callback_may_free_its_own_subscription);
  RUN(test_free_and_close_wait_for_a_running_callback);
  RUN(test_close_leaves_other_engines_subscriptions_alone);
  RUN(test_bad_subscription_arguments_are_named);
  return h_finish("test_feed");
}
