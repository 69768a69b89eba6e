/*
 * test_threads.c: several POSIX threads share one cidb_engine (and one cidb_tenant
 * handle). Proves concurrent writes all land exactly once, message ids stay unique, each
 * thread sees only its own last error, and closing the engine while threads write gives
 * every writer either CIDB_OK (durable: visible after reopen) or CIDB_CLOSED, nothing else.
 */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define THREADS 8
#define PER_THREAD 40

typedef struct {
  int index;
  cidb_engine *engine;
  cidb_tenant *shared; /* one handle used by every thread */
  pthread_barrier_t *start;
  uint64_t ids[PER_THREAD];
  int failures;
  char failure[512];
} worker;

static void note(worker *w, const char *what, cidb_status st) {
  if (w->failures++ == 0)
    snprintf(w->failure, sizeof w->failure, "thread %d: %s -> %s (%s)", w->index, what, cidb_status_name(st),
             cidb_last_error_message());
}

static void *work(void *arg) {
  worker *w = (worker *)arg;
  cidb_tenant *own = NULL;
  char name[64], json[512], id[64], missing[64];
  snprintf(name, sizeof name, "tenant-%d", w->index);
  cidb_status st = cidb_engine_tenant(w->engine, name, &own);
  if (st != CIDB_OK) note(w, "tenant", st);
  pthread_barrier_wait(w->start);
  for (int k = 0; k < PER_THREAD && own; k++) {
    snprintf(id, sizeof id, "t%d-c%d", w->index, k);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"department\":\"d%d\",\"created_at\":%d}", id, w->index, k);
    if ((st = cidb_tenant_upsert_customer(w->shared, json)) != CIDB_OK) note(w, "upsert", st);

    snprintf(json, sizeof json,
             "{\"customer_id\":\"%s\",\"score_type\":\"churn\",\"score\":0.5,\"confidence\":0.5,\"created_at\":%d}",
             id, k);
    if ((st = cidb_tenant_add_score(w->shared, json)) != CIDB_OK) note(w, "add_score", st);

    snprintf(json, sizeof json,
             "{\"customer_id\":\"c\",\"conversation_id\":\"conv\",\"role\":\"user\",\"timestamp\":%d,"
             "\"content\":\"m%d\"}",
             k, k);
    if ((st = cidb_tenant_append_message(own, json, &w->ids[k])) != CIDB_OK) note(w, "append", st);

    char *got = NULL;
    if ((st = cidb_tenant_get_customer(w->shared, id, &got)) != CIDB_OK || !strstr(got, id)) note(w, "get", st);
    cidb_string_free(got);

    /* The last error is per thread: this thread's miss names this thread's id, even though
     * the other threads fail their own lookups at the same time. */
    snprintf(missing, sizeof missing, "missing-%d-%d", w->index, k);
    if ((st = cidb_tenant_get_customer(w->shared, missing, &got)) != CIDB_NOT_FOUND) note(w, "miss", st);
    sched_yield();
    if (!strstr(cidb_last_error_message(), missing)) note(w, "last error of another thread", st);
  }
  cidb_tenant_free(own);
  return NULL;
}

static void test_threads_share_one_engine(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  cidb_tenant *shared = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "shared", &shared));
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, THREADS);
  static worker ws[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&ws[i], 0, sizeof ws[i]);
    ws[i].index = i;
    ws[i].engine = e;
    ws[i].shared = shared;
    ws[i].start = &start;
    CHECK(pthread_create(&th[i], NULL, work, &ws[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&start);

  uint64_t all_ids[THREADS * PER_THREAD];
  int n_ids = 0;
  for (int i = 0; i < THREADS; i++) {
    if (ws[i].failures) {
      fprintf(stderr, "  %d failures, first: %s\n", ws[i].failures, ws[i].failure);
      h_case_failed = 1;
    }
    for (int k = 0; k < PER_THREAD; k++) {
      if (k > 0) CHECK(ws[i].ids[k] > ws[i].ids[k - 1]); /* a thread's own appends are ordered */
      all_ids[n_ids++] = ws[i].ids[k];
    }
  }
  for (int a = 0; a < n_ids; a++)
    for (int b = a + 1; b < n_ids; b++)
      if (all_ids[a] == all_ids[b]) {
        fprintf(stderr, "  message id %llu assigned twice\n", (unsigned long long)all_ids[a]);
        h_case_failed = 1;
      }

  uint64_t count = 0;
  CHECK_OK(cidb_tenant_count_customers(shared, &count));
  CHECK(count == THREADS * PER_THREAD);
  char *stats = NULL;
  CHECK_OK(cidb_engine_stats(e, &stats));
  char want[128];
  snprintf(want, sizeof want, "\"customers\":%d,\"scores\":%d,\"latest_scores\":%d,\"messages\":%d",
           THREADS * PER_THREAD, THREADS * PER_THREAD, THREADS * PER_THREAD, THREADS * PER_THREAD);
  CHECK(stats && strstr(stats, want));
  CHECK(stats && strstr(stats, "\"failed_writes\":0"));
  cidb_string_free(stats);

  /* Each thread's tenant holds exactly its own messages. */
  for (int i = 0; i < THREADS; i++) {
    char name[64], *json = NULL;
    cidb_tenant *t = NULL;
    snprintf(name, sizeof name, "tenant-%d", i);
    CHECK_OK(cidb_engine_tenant(e, name, &t));
    CHECK_OK(cidb_tenant_messages_for_conversation(t, "conv", &json));
    CHECK(json && h_count(json, "\"id\":") == PER_THREAD);
    cidb_string_free(json);
    cidb_tenant_free(t);
  }
  cidb_tenant_free(shared);
  CHECK_OK(cidb_engine_close(e));
  cidb_engine_free(e);
  h_rmtree(dir);
}

typedef struct {
  int index;
  cidb_tenant *tenant;
  long ok;
  int other; /* statuses other than OK and CLOSED */
  cidb_status other_status;
} closer_worker;

static void *write_until_closed(void *arg) {
  closer_worker *w = (closer_worker *)arg;
  char json[128];
  for (long k = 0;; k++) {
    snprintf(json, sizeof json, "{\"id\":\"w%d-%ld\"}", w->index, k);
    cidb_status st = cidb_tenant_upsert_customer(w->tenant, json);
    if (st == CIDB_OK)
      w->ok++;
    else if (st == CIDB_CLOSED)
      break;
    else {
      w->other++;
      w->other_status = st;
      break;
    }
  }
  return NULL;
}

static void test_close_while_threads_write(void) {
  enum { WRITERS = 4 };
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  closer_worker ws[WRITERS];
  pthread_t th[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    ws[i] = (closer_worker){i, t, 0, 0, CIDB_OK};
    CHECK(pthread_create(&th[i], NULL, write_until_closed, &ws[i]) == 0);
  }
  /* Let the writers get going (some writes land), then close under them. */
  for (int spins = 0; spins < 2000; spins++) {
    long done = 0;
    for (int i = 0; i < WRITERS; i++) done += __atomic_load_n(&ws[i].ok, __ATOMIC_RELAXED);
    if (done >= 20) break;
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  CHECK_OK(cidb_engine_close(e));
  long ok = 0;
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(th[i], NULL);
    ok += ws[i].ok;
    if (ws[i].other) {
      fprintf(stderr, "  writer %d got %s\n", i, cidb_status_name(ws[i].other_status));
      h_case_failed = 1;
    }
  }
  CHECK(ok >= 20);
  cidb_tenant_free(t);
  cidb_engine_free(e);

  /* Every write that returned CIDB_OK is durable; no write that failed landed. */
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  uint64_t count = 0;
  CHECK_OK(cidb_tenant_count_customers(t, &count));
  if ((long)count != ok) {
    fprintf(stderr, "  %llu customers after reopen, %ld writes returned CIDB_OK\n", (unsigned long long)count, ok);
    h_case_failed = 1;
  }
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

int main(void) {
  RUN(test_threads_share_one_engine);
  RUN(test_close_while_threads_write);
  return h_finish("test_threads");
}
