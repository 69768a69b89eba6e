/*
 * test_bad_input.c: the bad-input matrix (docs/bad-input.md) walked through the C ABI.
 *
 * The shared cases live in tests/bad-input/cases.json (one case per line; the Python and
 * Node tests read the same file): each names an operation, its arguments and the error
 * kind the core must report. The expected status is found by name through
 * cidb_status_name(), i.e. the core's ErrorKind::binding() table, never a list of ours.
 * "kind": "ok" cases must succeed on an open engine and give CIDB_CLOSED after close.
 * C-only rows follow: NULL pointers, text that is not UTF-8, JSON of the wrong shape or
 * type, and close racing calls on other threads. Run from the repository root (run.sh
 * does), or set CIDB_BAD_INPUT_CASES to the file.
 */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>

/* ---- a minimal reader for the case lines (flat, machine-written JSON) ---- */

/* Appends the bytes of a JSON string body starting at `p` (after the quote) to a new
 * buffer, decoding the escapes the case file uses; returns it (caller frees). */
static char *json_string_at(const char *p) {
  size_t cap = strlen(p) + 1, n = 0;
  char *out = malloc(cap);
  while (*p && *p != '"') {
    if (*p == '\\') {
      p++;
      if (*p == 'u') {
        unsigned v = 0;
        sscanf(p + 1, "%4x", &v);
        p += 5;
        if (v < 0x80) {
          out[n++] = (char)v;
        } else { /* two-byte UTF-8 is all the file needs */
          out[n++] = (char)(0xc0 | (v >> 6));
          out[n++] = (char)(0x80 | (v & 0x3f));
        }
        continue;
      }
      out[n++] = *p == 'n' ? '\n' : *p;
      p++;
      continue;
    }
    out[n++] = *p++;
  }
  out[n] = 0;
  return out;
}

/* The start of the value of `"key": ` in `obj`, or NULL. */
static const char *value_of(const char *obj, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(obj, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  return p;
}

/* The string value of `key` (NULL when absent or not a string); caller frees. */
static char *str_of(const char *obj, const char *key) {
  const char *v = value_of(obj, key);
  return v && *v == '"' ? json_string_at(v + 1) : NULL;
}

static long long int_of(const char *obj, const char *key, long long dflt) {
  const char *v = value_of(obj, key);
  return v && (*v == '-' || (*v >= '0' && *v <= '9')) ? strtoll(v, NULL, 10) : dflt;
}

/* The raw text of the object or array value of `key` (brackets matched, strings
 * skipped); caller frees. */
static char *raw_of(const char *obj, const char *key) {
  const char *v = value_of(obj, key);
  if (!v || (*v != '{' && *v != '[')) return NULL;
  int depth = 0, in_str = 0;
  const char *p = v;
  for (; *p; p++) {
    if (in_str) {
      if (*p == '\\') p++;
      else if (*p == '"') in_str = 0;
    } else if (*p == '"') {
      in_str = 1;
    } else if (*p == '{' || *p == '[') {
      depth++;
    } else if ((*p == '}' || *p == ']') && --depth == 0) {
      break;
    }
  }
  size_t len = (size_t)(p - v) + 1;
  char *out = malloc(len + 1);
  memcpy(out, v, len);
  out[len] = 0;
  return out;
}

/* Expands every `${s*N}` (s repeated N times) in `text`; frees `text`, returns the result. */
static char *expand(char *text) {
  if (!text) return NULL;
  char *open;
  while ((open = strstr(text, "${")) != NULL) {
    char *star = strchr(open, '*'), *close = star ? strchr(star, '}') : NULL;
    if (!close) break;
    size_t unit = (size_t)(star - open - 2), times = strtoul(star + 1, NULL, 10);
    size_t head = (size_t)(open - text), tail = strlen(close + 1);
    char *out = malloc(head + unit * times + tail + 1);
    memcpy(out, text, head);
    for (size_t i = 0; i < times; i++) memcpy(out + head + i * unit, open + 2, unit);
    memcpy(out + head + unit * times, close + 1, tail + 1);
    free(text);
    text = out;
  }
  return text;
}

/* The status whose name is CIDB_<KIND> for a kind like "invalid_id" (0 for "ok"). */
static cidb_status status_of_kind(const char *kind) {
  if (strcmp(kind, "ok") == 0) return CIDB_OK;
  char name[96] = "CIDB_";
  for (size_t i = 0; kind[i] && i < 80; i++) name[5 + i] = (char)(kind[i] >= 'a' && kind[i] <= 'z' ? kind[i] - 32 : kind[i]);
  name[5 + strlen(kind)] = 0;
  for (int s = 1; s < 256; s++)
    if (strcmp(cidb_status_name(s), name) == 0) return (cidb_status)s;
  fprintf(stderr, "  no status named %s in cidb_status_name()\n", name);
  h_case_failed = 1;
  return CIDB_INTERNAL;
}

/* ---- running one case ---- */

static cidb_status run_case(cidb_engine *e, cidb_tenant *t, const char *op, const char *arg) {
  cidb_status st = CIDB_INTERNAL;
  char *json = NULL;
  if (strcmp(op, "tenant") == 0) {
    char *name = expand(str_of(arg, "name"));
    cidb_tenant *out = NULL;
    st = cidb_engine_tenant(e, name, &out);
    cidb_tenant_free(out);
    free(name);
  } else if (strcmp(op, "upsert_customer") == 0 || strcmp(op, "add_score") == 0 || strcmp(op, "append_message") == 0) {
    char *rec = expand(raw_of(arg, "record"));
    uint64_t id = 0;
    st = op[0] == 'u'   ? cidb_tenant_upsert_customer(t, rec)
         : op[1] == 'd' ? cidb_tenant_add_score(t, rec)
                        : cidb_tenant_append_message(t, rec, &id);
    free(rec);
  } else if (strcmp(op, "get_customer") == 0) {
    char *id = expand(str_of(arg, "id"));
    st = cidb_tenant_get_customer(t, id, &json);
    if (st == CIDB_NOT_FOUND) st = CIDB_OK; /* the C form of "absent": a valid call */
    free(id);
  } else if (strcmp(op, "update_context") == 0) {
    char *conv = expand(str_of(arg, "conversation_id")), *entries = expand(raw_of(arg, "entries"));
    st = cidb_tenant_update_context(t, conv, entries, int_of(arg, "ttl_ms", 0), (size_t)int_of(arg, "max_history", 1), &json);
    free(conv);
    free(entries);
  } else if (strcmp(op, "cache_set") == 0) {
    char *key = expand(str_of(arg, "key"));
    size_t len = (size_t)int_of(arg, "value_len", 0);
    uint8_t *value = malloc(len ? len : 1);
    memset(value, 'v', len);
    st = cidb_tenant_cache_set(t, key, value, len, int_of(arg, "ttl_ms", 0));
    free(value);
    free(key);
  } else if (strcmp(op, "query") == 0) {
    char *sql = expand(str_of(arg, "sql")), *params = expand(raw_of(arg, "params"));
    st = cidb_tenant_query_json(t, sql, params, &json);
    free(sql);
    free(params);
  } else if (strcmp(op, "execute") == 0) {
    char *sql = expand(str_of(arg, "sql"));
    st = cidb_engine_execute(e, sql, &json);
    free(sql);
  } else {
    fprintf(stderr, "  unknown op %s\n", op);
    h_case_failed = 1;
  }
  cidb_string_free(json);
  return st;
}

typedef struct {
  char *id, *op, *kind, *text, *arg;
  int c_skip;
} bad_case;

static bad_case cases[256];
static int n_cases;

static void load_cases(void) {
  const char *path = getenv("CIDB_BAD_INPUT_CASES");
  FILE *f = fopen(path && *path ? path : "tests/bad-input/cases.json", "r");
  if (!f) {
    perror("tests/bad-input/cases.json");
    exit(2);
  }
  char line[8192];
  while (fgets(line, sizeof line, f) && n_cases < 256) {
    if (strncmp(line, "{\"id\": ", 7) != 0) continue;
    bad_case *c = &cases[n_cases++];
    c->id = str_of(line, "id");
    c->op = str_of(line, "op");
    c->kind = str_of(line, "kind");
    c->text = str_of(line, "text");
    c->arg = raw_of(line, "arg");
    c->c_skip = value_of(line, "c_skip") != NULL;
  }
  fclose(f);
}

static void free_cases(void) {
  for (int i = 0; i < n_cases; i++) {
    free(cases[i].id);
    free(cases[i].op);
    free(cases[i].kind);
    free(cases[i].text);
    free(cases[i].arg);
  }
}

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *tenant;
} fixture;

static fixture setup(void) {
  fixture f = {h_tempdir(), NULL, NULL};
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, "acme", &f.tenant));
  return f;
}

static void teardown(fixture *f) {
  cidb_tenant_free(f->tenant);
  cidb_engine_free(f->engine);
  h_rmtree(f->dir);
}

static uint64_t count_all(cidb_engine *e) {
  char *json = NULL;
  uint64_t n = 0;
  if (cidb_engine_stats(e, &json) == CIDB_OK) {
    n = (uint64_t)int_of(json, "customers", 0) * 1000000 + (uint64_t)int_of(json, "scores", 0) * 1000 +
        (uint64_t)int_of(json, "messages", 0);
  }
  cidb_string_free(json);
  return n;
}

static void test_shared_matrix_bad_cases(void) {
  fixture f = setup();
  uint64_t before = count_all(f.engine);
  int ran = 0;
  for (int i = 0; i < n_cases; i++) {
    bad_case *c = &cases[i];
    if (strcmp(c->kind, "ok") == 0 || c->c_skip) continue;
    cidb_status want = status_of_kind(c->kind);
    cidb_status got = run_case(f.engine, f.tenant, c->op, c->arg);
    ran++;
    if (got != want) {
      fprintf(stderr, "  %s: %s, want %s (%s)\n", c->id, cidb_status_name(got), cidb_status_name(want),
              cidb_last_error_message());
      h_case_failed = 1;
    } else if (c->text && !strcasestr(cidb_last_error_message(), c->text)) {
      fprintf(stderr, "  %s: message \"%s\" does not mention \"%s\"\n", c->id, cidb_last_error_message(), c->text);
      h_case_failed = 1;
    }
  }
  CHECK(ran >= 40);
  CHECK(count_all(f.engine) == before); /* nothing was written */
  teardown(&f);
}

static void test_shared_matrix_valid_then_closed(void) {
  int ran = 0;
  for (int i = 0; i < n_cases; i++) {
    bad_case *c = &cases[i];
    if (strcmp(c->kind, "ok") != 0) continue;
    fixture f = setup();
    cidb_status got = run_case(f.engine, f.tenant, c->op, c->arg);
    if (got != CIDB_OK) {
      fprintf(stderr, "  %s: %s on an open engine (%s)\n", c->id, cidb_status_name(got), cidb_last_error_message());
      h_case_failed = 1;
    }
    CHECK_OK(cidb_engine_close(f.engine));
    got = run_case(f.engine, f.tenant, c->op, c->arg);
    if (got != CIDB_CLOSED) {
      fprintf(stderr, "  %s after close: %s, want CIDB_CLOSED (%s)\n", c->id, cidb_status_name(got), cidb_last_error_message());
      h_case_failed = 1;
    }
    CHECK_OK(cidb_engine_close(f.engine)); /* idempotent */
    teardown(&f);
    ran++;
  }
  CHECK(ran >= 9);
}

static void test_null_pointers(void) {
  fixture f = setup();
  char *json = NULL;
  uint64_t id = 0;
  uint8_t v = 1;
  CHECK_FAILS(cidb_tenant_upsert_customer(NULL, "{\"id\":\"c\"}"), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_upsert_customer(f.tenant, NULL), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_get_customer(f.tenant, NULL, &json), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_get_customer(f.tenant, "c", NULL), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_add_score(f.tenant, NULL), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_append_message(f.tenant, NULL, &id), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_update_context(f.tenant, NULL, "[]", 1000, 1, &json), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_update_context(f.tenant, "k", NULL, 1000, 1, &json), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_cache_set(f.tenant, NULL, &v, 1, 0), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_cache_set(f.tenant, "k", NULL, 1, 0), CIDB_INVALID_INPUT, "NULL");
  CHECK_OK(cidb_tenant_cache_set(f.tenant, "k", NULL, 0, 0)); /* NULL with length 0 is an empty value */
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, NULL, "[]", &json), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT 1", "[]", NULL), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_tenant_query_json(NULL, "SELECT 1", "[]", &json), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_engine_execute(NULL, "DROP INDEX IF EXISTS x", &json), CIDB_INVALID_INPUT, "NULL");
  CHECK_FAILS(cidb_engine_execute(f.engine, NULL, &json), CIDB_INVALID_INPUT, "NULL");
  CHECK(json == NULL);
  teardown(&f);
}

static void test_text_that_is_not_utf8(void) {
  fixture f = setup();
  char *json = NULL;
  uint64_t id = 0;
  uint8_t v = 1;
  cidb_tenant *t = NULL;
  CHECK_FAILS(cidb_engine_tenant(f.engine, "t\xff", &t), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_get_customer(f.tenant, "c\xc3", &json), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_upsert_customer(f.tenant, "{\"id\":\"c\xc3\x28\"}"), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_add_score(f.tenant, "{\"customer_id\":\"\xed\xa0\x80\",\"score_type\":\"s\",\"score\":1,\"confidence\":1}"),
              CIDB_INVALID_INPUT, "UTF-8"); /* an encoded surrogate is not UTF-8 either */
  CHECK_FAILS(cidb_tenant_append_message(f.tenant, "{\"customer_id\":\"c\",\"conversation_id\":\"k\",\"role\":\"user\",\"content\":\"\xfe\"}", &id),
              CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_cache_set(f.tenant, "k\x80", &v, 1, 0), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT '\xff'", "[]", &json), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT ?", "[\"\xff\"]", &json), CIDB_INVALID_INPUT, "UTF-8");
  CHECK_FAILS(cidb_engine_execute(f.engine, "DROP INDEX \xff", &json), CIDB_INVALID_INPUT, "UTF-8");
  CHECK(count_all(f.engine) == 0);
  teardown(&f);
}

static void test_json_of_the_wrong_shape_or_type(void) {
  fixture f = setup();
  char *json = NULL;
  uint64_t id = 0;
  const char *customers[] = {"", "{", "[]", "5", "null", "{\"id\": 5}", "{\"id\": \"c\", \"created_at\": \"2024\"}",
                             "{\"id\": \"c\", \"created_at\": 1.5}", "{\"id\": \"c\", \"nmae\": 1}", "{\"id\": \"c\"} trailing"};
  for (size_t i = 0; i < sizeof customers / sizeof *customers; i++) {
    cidb_status st = cidb_tenant_upsert_customer(f.tenant, customers[i]);
    if (st != CIDB_INVALID_INPUT && st != CIDB_INVALID_TIMESTAMP) {
      fprintf(stderr, "  customer %s: %s (%s)\n", customers[i], cidb_status_name(st), cidb_last_error_message());
      h_case_failed = 1;
    }
  }
  CHECK_FAILS(cidb_tenant_add_score(f.tenant, "{\"customer_id\":\"c\",\"score_type\":\"s\",\"score\":\"high\",\"confidence\":1}"),
              CIDB_INVALID_INPUT, "score");
  CHECK_FAILS(cidb_tenant_append_message(f.tenant, "{\"customer_id\":\"c\",\"conversation_id\":\"k\",\"role\":5,\"content\":\"x\"}", &id),
              CIDB_INVALID_INPUT, "field `role`");
  CHECK_FAILS(cidb_tenant_update_context(f.tenant, "k", "{\"role\":\"user\"}", 1000, 1, &json), CIDB_INVALID_INPUT, "");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT ?", "{\"a\":1}", &json), CIDB_INVALID_INPUT, "");
  CHECK_FAILS(cidb_tenant_query_json(f.tenant, "SELECT ?", "[1", &json), CIDB_INVALID_INPUT, "");
  CHECK(count_all(f.engine) == 0);
  teardown(&f);
}

typedef struct {
  cidb_engine *engine;
  cidb_tenant *tenant;
  pthread_barrier_t *start;
  int others; /* statuses other than OK and CLOSED */
  int closed;
} racer;

static void *race(void *p) {
  racer *r = p;
  pthread_barrier_wait(r->start);
  for (int i = 0; i < 200000 && !r->closed; i++) {
    bad_case *c = &cases[i % n_cases];
    if (strcmp(c->kind, "ok") != 0 || strcmp(c->op, "cache_set") == 0 || strcmp(c->op, "append_message") == 0 ||
        strcmp(c->op, "upsert_customer") == 0)
      continue;
    cidb_status st = run_case(r->engine, r->tenant, c->op, c->arg);
    if (st == CIDB_CLOSED) r->closed = 1;
    else if (st != CIDB_OK) {
      fprintf(stderr, "  racing %s: %s (%s)\n", c->id, cidb_status_name(st), cidb_last_error_message());
      r->others++;
    }
  }
  return NULL;
}

static void test_close_racing_calls_on_other_threads(void) {
  fixture f = setup();
  enum { N = 4 };
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, N + 1);
  racer rs[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    rs[i] = (racer){f.engine, f.tenant, &start, 0, 0};
    pthread_create(&th[i], NULL, race, &rs[i]);
  }
  pthread_barrier_wait(&start);
  usleep(20000);
  CHECK_OK(cidb_engine_close(f.engine));
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    CHECK(rs[i].others == 0);
    CHECK(rs[i].closed == 1);
  }
  pthread_barrier_destroy(&start);
  teardown(&f);
}

int main(void) {
  load_cases();
  RUN(test_shared_matrix_bad_cases);
  RUN(test_shared_matrix_valid_then_closed);
  RUN(test_null_pointers);
  RUN(test_text_that_is_not_utf8);
  RUN(test_json_of_the_wrong_shape_or_type);
  RUN(test_close_racing_calls_on_other_threads);
  free_cases();
  return h_finish("test_bad_input");
}
