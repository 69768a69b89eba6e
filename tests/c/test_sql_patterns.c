/*
 * test_sql_patterns.c: the seven query patterns the seed indexes exist for (DESIGN.md), on
 * data generated here with a fixed seed. For each pattern: the rows from a prepared
 * statement with typed binds equal, cell for cell, the rows of cidb_tenant_query_json for
 * the same SQL and parameters; both equal what this program computes from the data it
 * generated (the oracle); EXPLAIN and the statement's stats name the pattern's index. A
 * second tenant holds rows with the same ids that must never show up. Then several
 * pthreads run the patterns at once, one statement per thread per pattern.
 */
#include "harness.h"
#include "sqlrows.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#define N_CUST 400
#define DAY 86400000LL
#define HOUR 3600000LL
#define TOP 10 /* customers 0..TOP-1 have 30 messages each */

static int64_t g_now;
static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ULL;
}
static double rnd01(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static const char *DEPTS[] = {"sales", "sales", "support", "engineering", "marketing"};
static const char *STATUSES[] = {"active", "active", "inactive", "at_risk", "churned"};
static const char *TYPES[] = {"churn_risk", "upsell"};

typedef struct {
  const char *dept, *status;
  int has_email;
  int64_t created;
} gcust;
typedef struct {
  int cust, type;
  double score, conf;
  int64_t at;
} gscore;
typedef struct {
  int cust, k;
  int64_t ts;
} gmsg;

static gcust g_cust[N_CUST];
static gscore g_scores[N_CUST * 12];
static int g_nscores;
static gmsg g_msgs[N_CUST * 30];
static int g_nmsgs;

/* A growable string. */
typedef struct {
  char *p;
  size_t len, cap;
} buf;
static void bprintf(buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap + (size_t)n + 1) * 2;
    b->p = (char *)realloc(b->p, b->cap);
  }
}

static void cust_id(char *out, size_t n, int i) { snprintf(out, n, "cust_%08d", i); }

/* Keeps message times away from the 7-day window's edge, so the pattern's
 * CURRENT_TIMESTAMP moving on while the test runs cannot change its answer. */
static int64_t off_edge(int64_t ts) {
  int64_t edge = g_now - 7 * DAY;
  return (ts > edge - 6 * HOUR && ts < edge + 6 * HOUR) ? ts - 12 * HOUR : ts;
}

static void generate(void) {
  g_now = (int64_t)time(NULL) * 1000;
  for (int i = 0; i < N_CUST; i++) {
    g_cust[i].dept = DEPTS[rnd() % 5];
    g_cust[i].status = STATUSES[rnd() % 5];
    g_cust[i].has_email = i % 5 != 4;
    g_cust[i].created = g_now - (int64_t)i * (400 * DAY / N_CUST) - (int64_t)(rnd() % 1000);
    for (int t = 0; t < 2; t++) {
      int k = 2 + (int)(rnd() % 5);
      for (int j = 0; j < k; j++)
        g_scores[g_nscores++] = (gscore){i, t, rnd01(), rnd01(), g_now - j * 20 * DAY - (int64_t)(rnd() % DAY)};
    }
    int m = i < TOP ? 30 : (int)(rnd() % 5);
    for (int k = 0; k < m; k++) {
      int64_t ts = i < TOP ? g_now - 1 - k * 3 * HOUR - (int64_t)(rnd() % HOUR) : g_now - 1 - (int64_t)(rnd() % (60 * DAY));
      g_msgs[g_nmsgs++] = (gmsg){i, k, off_edge(ts)};
    }
  }
}

/* Loads the generated rows into `t` (as tenant "t0" sees them), or a decoy subset. */
static void load(cidb_tenant *t, int decoy) {
  buf b = {0};
  char id[32];
  int n = decoy ? 30 : N_CUST;
  bprintf(&b, "[");
  for (int i = 0; i < n; i++) {
    gcust *c = &g_cust[i];
    cust_id(id, sizeof id, i);
    bprintf(&b, "%s{\"id\":\"%s\",\"email\":", i ? "," : "", id);
    if (c->has_email) bprintf(&b, "\"%s@example.com\"", id);
    else bprintf(&b, "null");
    bprintf(&b, ",\"name\":\"Name %d\",\"department\":\"%s\",\"status\":\"%s\",\"created_at\":%lld,\"updated_at\":%lld,"
                "\"attributes\":{\"seq\":%d,\"tier\":\"%s\"}}",
            i, decoy ? "sales" : c->dept, decoy ? "active" : c->status, (long long)c->created, (long long)c->created, i,
            i % 3 ? "silver" : "gold");
  }
  bprintf(&b, "]");
  CHECK_OK(cidb_tenant_upsert_customers(t, b.p));
  b.len = 0;
  bprintf(&b, "[");
  for (int k = 0, first = 1; k < g_nscores; k++) {
    gscore *s = &g_scores[k];
    if (decoy && s->cust >= n) continue;
    cust_id(id, sizeof id, s->cust);
    bprintf(&b, "%s{\"customer_id\":\"%s\",\"score_type\":\"%s\",\"score\":%.17g,\"confidence\":%.17g,\"created_at\":%lld}",
            first ? "" : ",", id, TYPES[s->type], decoy ? 0.99 : s->score, s->conf, (long long)(s->at - decoy));
    first = 0;
  }
  bprintf(&b, "]");
  CHECK_OK(cidb_tenant_add_scores(t, b.p));
  b.len = 0;
  bprintf(&b, "[");
  for (int k = 0, first = 1; k < g_nmsgs; k++) {
    gmsg *m = &g_msgs[k];
    if (decoy && m->cust >= n) continue;
    cust_id(id, sizeof id, m->cust);
    bprintf(&b, "%s{\"customer_id\":\"%s\",\"conversation_id\":\"conv_%d_%d\",\"role\":\"%s\",\"timestamp\":%lld,"
                "\"content\":\"message %d of %s\",\"metadata\":{\"k\":%d}}",
            first ? "" : ",", id, m->cust, m->k / 5, m->k % 2 ? "assistant" : "user", (long long)(m->ts - decoy), m->k, id,
            m->k);
    first = 0;
  }
  bprintf(&b, "]");
  char *ids = NULL;
  CHECK_OK(cidb_tenant_append_messages(t, b.p, &ids));
  cidb_string_free(ids);
  free(b.p);
}

/* ---- the patterns --------------------------------------------------------------------- */

typedef struct {
  char kind; /* 'i' int64, 't' text */
  int64_t i;
  char t[64];
} param;

typedef struct {
  const char *index, *sql;
  int nparams;
  param params[3];
} pattern;

#define TEXTP(s) {'t', 0, s}
#define INTP(v) {'i', v, ""}

static pattern g_pat[7];
static int g_cid = 3; /* a top customer with an email */

static void make_patterns(void) {
  char id[32], email[64];
  cust_id(id, sizeof id, g_cid);
  snprintf(email, sizeof email, "%s@example.com", id);
  pattern p[7] = {
      {"idx_customers_department_status_created_at",
       "SELECT * FROM customers WHERE department = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 20",
       3,
       {TEXTP("sales"), TEXTP("active"), INTP(g_now - 180 * DAY)}},
      {"idx_customer_scores_customer_id_score_type_created_at",
       "SELECT COUNT(*) FROM customer_scores WHERE customer_id = ? AND score_type = ? AND created_at >= ?",
       3,
       {TEXTP(""), TEXTP("churn_risk"), INTP(g_now - 90 * DAY)}},
      {"idx_conversation_messages_customer_id_timestamp_role",
       "SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
       3,
       {TEXTP(""), INTP(g_now - 365 * DAY), INTP(g_now)}},
      {"idx_customers_tenant_id_status_department",
       "SELECT id, department FROM customers WHERE tenant_id = ? AND status = ? ORDER BY department",
       2,
       {TEXTP("t0"), TEXTP("at_risk")}},
      {"idx_customers_email_partial", "SELECT * FROM customers WHERE email = ?", 1, {TEXTP("")}},
      {"idx_customer_scores_high_score_partial",
       "SELECT customer_id, score, confidence FROM customer_scores WHERE score > 0.9 ORDER BY score DESC LIMIT 50",
       0,
       {{0}}},
      {"idx_conversation_messages_recent_partial",
       "SELECT customer_id, COUNT(*) FROM conversation_messages WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '7 days' "
       "GROUP BY customer_id",
       0,
       {{0}}},
  };
  snprintf(p[1].params[0].t, sizeof p[1].params[0].t, "%s", id);
  snprintf(p[2].params[0].t, sizeof p[2].params[0].t, "%s", id);
  snprintf(p[4].params[0].t, sizeof p[4].params[0].t, "%s", email);
  memcpy(g_pat, p, sizeof p);
}

static void params_json(const pattern *p, char *out, size_t n) {
  size_t len = (size_t)snprintf(out, n, "[");
  for (int k = 0; k < p->nparams; k++) {
    const param *q = &p->params[k];
    len += q->kind == 'i' ? (size_t)snprintf(out + len, n - len, "%s%lld", k ? "," : "", (long long)q->i)
                          : (size_t)snprintf(out + len, n - len, "%s\"%s\"", k ? "," : "", q->t);
  }
  snprintf(out + len, n - len, "]");
}

static cidb_status bind_all(cidb_stmt *s, const pattern *p) {
  cidb_status st = CIDB_OK;
  for (int k = 0; k < p->nparams && st == CIDB_OK; k++) {
    const param *q = &p->params[k];
    st = q->kind == 'i' ? cidb_stmt_bind_int64(s, (size_t)k + 1, q->i) : cidb_stmt_bind_text(s, (size_t)k + 1, q->t, -1);
  }
  return st;
}

/* The text of cell (row, column `name`) compared with `want`. */
static int text_is(const sr_table *t, size_t row, const char *name, const char *want) {
  int c = sr_col(t, name);
  if (c < 0) return 0;
  const sr_cell *x = sr_at(t, row, (size_t)c);
  return x->type == CIDB_VALUE_TEXT && strcmp(x->s, want) == 0;
}

static int cmp_created_desc(const void *a, const void *b) {
  int64_t x = g_cust[*(const int *)a].created, y = g_cust[*(const int *)b].created;
  return x < y ? 1 : x > y ? -1 : 0;
}
static int cmp_score_desc(const void *a, const void *b) {
  double x = g_scores[*(const int *)a].score, y = g_scores[*(const int *)b].score;
  return x < y ? 1 : x > y ? -1 : 0;
}
static int cmp_ts(const void *a, const void *b) {
  int64_t x = g_msgs[*(const int *)a].ts, y = g_msgs[*(const int *)b].ts;
  return x < y ? -1 : x > y;
}

/* Checks `t` (the result of pattern `k`) against the generated data. */
static void check_oracle(int k, const sr_table *t) {
  static int idx[N_CUST * 30];
  char id[32];
  int n = 0;
  switch (k) {
    case 0:
      for (int i = 0; i < N_CUST; i++)
        if (!strcmp(g_cust[i].dept, "sales") && !strcmp(g_cust[i].status, "active") && g_cust[i].created > g_now - 180 * DAY)
          idx[n++] = i;
      qsort(idx, (size_t)n, sizeof idx[0], cmp_created_desc);
      n = n > 20 ? 20 : n;
      CHECK(n > 5 && t->nrows == (size_t)n && t->ncols == 9);
      for (int r = 0; r < n && (size_t)r < t->nrows; r++) {
        cust_id(id, sizeof id, idx[r]);
        CHECK(text_is(t, (size_t)r, "id", id) && text_is(t, (size_t)r, "tenant_id", "t0"));
      }
      break;
    case 1:
      for (int s = 0; s < g_nscores; s++)
        n += g_scores[s].cust == g_cid && g_scores[s].type == 0 && g_scores[s].at >= g_now - 90 * DAY;
      CHECK(n > 0 && t->nrows == 1 && sr_at(t, 0, 0)->type == CIDB_VALUE_INTEGER && sr_at(t, 0, 0)->i == n);
      break;
    case 2:
      for (int m = 0; m < g_nmsgs; m++)
        if (g_msgs[m].cust == g_cid) idx[n++] = m;
      qsort(idx, (size_t)n, sizeof idx[0], cmp_ts);
      CHECK(n == 30 && t->nrows == (size_t)n);
      for (int r = 0; r < n && (size_t)r < t->nrows; r++) {
        int c = sr_col(t, "timestamp");
        char content[64];
        cust_id(id, sizeof id, g_cid);
        snprintf(content, sizeof content, "message %d of %s", g_msgs[idx[r]].k, id);
        CHECK(c >= 0 && sr_at(t, (size_t)r, (size_t)c)->i == g_msgs[idx[r]].ts && text_is(t, (size_t)r, "content", content));
      }
      break;
    case 3: {
      int want = 0, seen = 0;
      for (int i = 0; i < N_CUST; i++) want += !strcmp(g_cust[i].status, "at_risk");
      CHECK(want > 0 && t->nrows == (size_t)want);
      for (size_t r = 0; r < t->nrows; r++) {
        int i = atoi(sr_at(t, r, 0)->s + 5);
        seen += !strcmp(g_cust[i].status, "at_risk") && text_is(t, r, "department", g_cust[i].dept);
        CHECK(r == 0 || strcmp(sr_at(t, r - 1, 1)->s, sr_at(t, r, 1)->s) <= 0); /* ORDER BY department */
      }
      CHECK(seen == want);
      break;
    }
    case 4:
      cust_id(id, sizeof id, g_cid);
      CHECK(t->nrows == 1 && text_is(t, 0, "id", id));
      break;
    case 5:
      for (int s = 0; s < g_nscores; s++)
        if (g_scores[s].score > 0.9) idx[n++] = s;
      qsort(idx, (size_t)n, sizeof idx[0], cmp_score_desc);
      n = n > 50 ? 50 : n;
      CHECK(n > 10 && t->nrows == (size_t)n);
      for (int r = 0; r < n && (size_t)r < t->nrows; r++) {
        cust_id(id, sizeof id, g_scores[idx[r]].cust);
        CHECK(text_is(t, (size_t)r, "customer_id", id) && sr_at(t, (size_t)r, 1)->d == g_scores[idx[r]].score &&
              sr_at(t, (size_t)r, 2)->d == g_scores[idx[r]].conf);
      }
      break;
    case 6: {
      static int count[N_CUST];
      memset(count, 0, sizeof count);
      int groups = 0;
      for (int m = 0; m < g_nmsgs; m++)
        if (g_msgs[m].ts > g_now - 7 * DAY) groups += count[g_msgs[m].cust]++ == 0;
      CHECK(groups > TOP && t->nrows == (size_t)groups);
      for (size_t r = 0; r < t->nrows; r++) {
        int i = atoi(sr_at(t, r, 0)->s + 5);
        CHECK(sr_at(t, r, 1)->type == CIDB_VALUE_INTEGER && sr_at(t, r, 1)->i == count[i]);
      }
      break;
    }
  }
}

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *t0, *t1;
  sr_table expected[7]; /* from cidb_tenant_query_json */
} world;

static world g_world;

static void test_seven_patterns_statement_json_and_oracle_agree(void) {
  world *w = &g_world;
  char pj[256], why[512];
  for (int k = 0; k < 7; k++) {
    const pattern *p = &g_pat[k];
    cidb_stmt *s = NULL;
    CHECK_OK(cidb_tenant_prepare(w->t0, p->sql, &s));
    size_t np = 99;
    CHECK_OK(cidb_stmt_param_count(s, &np));
    CHECK(np == (size_t)p->nparams);
    CHECK_OK(bind_all(s, p));
    sr_table got;
    CHECK_OK(sr_from_stmt(s, &got));

    params_json(p, pj, sizeof pj);
    char *json = NULL;
    CHECK_OK(cidb_tenant_query_json(w->t0, p->sql, pj, &json));
    CHECK(json && sr_from_json(json, &w->expected[k]) == 0);
    cidb_string_free(json);
    if (sr_diff(&got, &w->expected[k], why, sizeof why)) {
      fprintf(stderr, "  pattern %d: statement vs query_json: %s\n", k + 1, why);
      h_case_failed = 1;
    }
    check_oracle(k, &got);

    /* The plan and the statistics name the pattern's index. */
    char *plan = NULL, *stats = NULL;
    CHECK_OK(cidb_tenant_explain(w->t0, p->sql, pj, false, false, &plan));
    if (!plan || !strstr(plan, p->index)) {
      fprintf(stderr, "  pattern %d should use %s:\n%s\n", k + 1, p->index, plan ? plan : "(null)");
      h_case_failed = 1;
    }
    CHECK_OK(cidb_stmt_stats_json(s, &stats));
    CHECK(stats && strstr(stats, p->index) && !strstr(stats, "\"table_scans\":1"));
    cidb_string_free(plan);
    cidb_string_free(stats);

    /* Reset re-executes with the same bindings and gives the same rows again. */
    CHECK_OK(cidb_stmt_reset(s));
    sr_table again;
    CHECK_OK(sr_from_stmt(s, &again));
    CHECK(!sr_diff(&got, &again, why, sizeof why));
    sr_free(&again);
    sr_free(&got);
    cidb_stmt_free(s);
  }
}

/* ---- threads: one statement per thread ------------------------------------------------ */

#define THREADS 4
#define ROUNDS 3

typedef struct {
  int index, failures;
  char failure[1024];
} worker;

static void *work(void *arg) {
  worker *me = (worker *)arg;
  cidb_stmt *mine[7] = {0};
  char why[512];
  for (int k = 0; k < 7; k++) {
    cidb_status st = cidb_tenant_prepare(g_world.t0, g_pat[(k + me->index) % 7].sql, &mine[k]);
    if (st != CIDB_OK && me->failures++ == 0) snprintf(me->failure, sizeof me->failure, "prepare: %s", cidb_last_error_message());
  }
  for (int round = 0; round < ROUNDS; round++) {
    for (int k = 0; k < 7 && mine[k]; k++) {
      int p = (k + me->index) % 7;
      sr_table got;
      cidb_status st = cidb_stmt_reset(mine[k]);
      if (st == CIDB_OK) st = bind_all(mine[k], &g_pat[p]);
      if (st == CIDB_OK) st = sr_from_stmt(mine[k], &got);
      if (st != CIDB_OK) {
        if (me->failures++ == 0)
          snprintf(me->failure, sizeof me->failure, "pattern %d: %s %s", p + 1, cidb_status_name(st), cidb_last_error_message());
        continue;
      }
      if (sr_diff(&got, &g_world.expected[p], why, sizeof why) && me->failures++ == 0)
        snprintf(me->failure, sizeof me->failure, "pattern %d round %d: %s", p + 1, round, why);
      sr_free(&got);
    }
  }
  for (int k = 0; k < 7; k++) cidb_stmt_free(mine[k]);
  return NULL;
}

static void test_statements_on_several_threads(void) {
  pthread_t th[THREADS];
  worker ws[THREADS];
  for (int i = 0; i < THREADS; i++) {
    ws[i] = (worker){i, 0, ""};
    CHECK(pthread_create(&th[i], NULL, work, &ws[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    if (ws[i].failures) {
      fprintf(stderr, "  thread %d: %d failures, first: %s\n", i, ws[i].failures, ws[i].failure);
      h_case_failed = 1;
    }
  }
}

int main(void) {
  generate();
  make_patterns();
  world *w = &g_world;
  w->dir = h_tempdir();
  CHECK_OK(cidb_engine_open(w->dir, &w->engine));
  CHECK_OK(cidb_engine_tenant(w->engine, "t0", &w->t0));
  CHECK_OK(cidb_engine_tenant(w->engine, "t1", &w->t1));
  load(w->t0, 0);
  load(w->t1, 1); /* same ids, other values: must never appear in t0's results */
  CHECK_OK(cidb_engine_execute(w->engine, "ANALYZE", NULL));
  if (h_case_failed) {
    fprintf(stderr, "setup failed\n");
    return 1;
  }
  RUN(test_seven_patterns_statement_json_and_oracle_agree);
  RUN(test_statements_on_several_threads);
  for (int k = 0; k < 7; k++) sr_free(&w->expected[k]);
  cidb_tenant_free(w->t0);
  cidb_tenant_free(w->t1);
  CHECK_OK(cidb_engine_close(w->engine));
  cidb_engine_free(w->engine);
  h_rmtree(w->dir);
  return h_finish("test_sql_patterns");
}
