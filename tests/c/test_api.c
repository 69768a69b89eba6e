/*
 * test_api.c: every function of include/cidb.h from C. Covers results (JSON compared
 * byte for byte), the status of each validation rule, NULL and non-UTF-8 arguments, use
 * after close, reopen (write, close, reopen, read), CIDB_ALREADY_OPEN from a second engine
 * in this process and from a second process (fork + exec of this program), and the
 * per-thread last error API. Run by tests/c/run.sh (plain, ASan and Valgrind builds).
 */
#include "harness.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char g_self[4096]; /* absolute path of this program, for the second process */

typedef struct {
  char *dir;
  cidb_engine *engine;
  cidb_tenant *tenant;
} fixture;

static fixture fx_open(const char *tenant_name) {
  fixture f = {h_tempdir(), NULL, NULL};
  CHECK_OK(cidb_engine_open(f.dir, &f.engine));
  CHECK_OK(cidb_engine_tenant(f.engine, tenant_name, &f.tenant));
  return f;
}

static void fx_close(fixture *f) {
  cidb_tenant_free(f->tenant);
  CHECK_OK(cidb_engine_close(f->engine));
  cidb_engine_free(f->engine);
  h_rmtree(f->dir);
}

#define CUSTOMER_C1                                                                          \
  "{\"id\":\"c1\",\"email\":\"ann@example.com\",\"name\":\"Ann\",\"department\":\"sales\"," \
  "\"status\":\"active\",\"created_at\":1700000000000,\"updated_at\":1700000000001,"        \
  "\"attributes\":{\"tier\":\"gold\"}}"

/* ---- library-level functions ---------------------------------------------------------- */

static void test_version_matches_header(void) {
  CHECK(strcmp(cidb_version(), CIDB_VERSION) == 0);
  char parts[64];
  snprintf(parts, sizeof parts, "%d.%d.%d", CIDB_VERSION_MAJOR, CIDB_VERSION_MINOR, CIDB_VERSION_PATCH);
  CHECK(strcmp(parts, CIDB_VERSION) == 0);
}

static void test_status_names_match_enumerators(void) {
#define S(name) {name, #name}
  static const struct {
    cidb_status status;
    const char *name;
  } all[] = {
      S(CIDB_OK), S(CIDB_INVALID_ID), S(CIDB_INVALID_SCORE), S(CIDB_INVALID_ROLE),
      S(CIDB_INVALID_ATTRIBUTES), S(CIDB_CONTENT_TOO_LARGE), S(CIDB_INVALID_TIMESTAMP),
      S(CIDB_INVALID_INPUT), S(CIDB_INVALID_CACHE_KEY), S(CIDB_VALUE_TOO_LARGE),
      S(CIDB_INVALID_TTL), S(CIDB_NOT_FOUND), S(CIDB_ALREADY_EXISTS), S(CIDB_ALREADY_OPEN),
      S(CIDB_CLOSED), S(CIDB_CONSTRAINT_VIOLATION), S(CIDB_SQL_SYNTAX), S(CIDB_UNKNOWN_TABLE),
      S(CIDB_UNKNOWN_COLUMN), S(CIDB_TYPE_MISMATCH), S(CIDB_UNSUPPORTED),
      S(CIDB_INVALID_PARAMETER), S(CIDB_UNAVAILABLE), S(CIDB_STORAGE), S(CIDB_CORRUPTED),
      S(CIDB_CONFIG), S(CIDB_INTERNAL),
  };
#undef S
  size_t n = sizeof all / sizeof all[0];
  CHECK(n == 27);
  for (size_t i = 0; i < n; i++) {
    CHECK((int)all[i].status == (int)i); /* numbered 0..26 without gaps */
    if (strcmp(cidb_status_name(all[i].status), all[i].name) != 0) {
      fprintf(stderr, "  status %d: name %s, want %s\n", (int)all[i].status,
              cidb_status_name(all[i].status), all[i].name);
      h_case_failed = 1;
    }
  }
  CHECK(strcmp(cidb_status_name(-1), "CIDB_UNKNOWN_STATUS") == 0);
  CHECK(strcmp(cidb_status_name(27), "CIDB_UNKNOWN_STATUS") == 0);
  CHECK(strcmp(cidb_status_name(1 << 30), "CIDB_UNKNOWN_STATUS") == 0);
}

static void test_last_error_message_and_copy(void) {
  cidb_engine *e = (cidb_engine *)0x1;
  CHECK_FAILS(cidb_engine_open(NULL, &e), CIDB_INVALID_INPUT, "dir is NULL");
  CHECK(e == NULL); /* out parameter reset even on failure */
  const char *msg = cidb_last_error_message();
  size_t len = strlen(msg);
  CHECK(len > 0);

  /* Functions that do not return a status leave the message alone. */
  (void)cidb_status_name(CIDB_NOT_FOUND);
  (void)cidb_version();
  cidb_string_free(NULL);
  cidb_engine_free(NULL);
  cidb_tenant_free(NULL);
  CHECK(strcmp(cidb_last_error_message(), msg) == 0);

  char big[512];
  CHECK(cidb_last_error_copy(big, sizeof big) == len);
  CHECK(strcmp(big, msg) == 0);
  char small[5];
  memset(small, 'x', sizeof small);
  CHECK(cidb_last_error_copy(small, sizeof small) == len); /* full length: truncated */
  CHECK(strlen(small) == 4 && strncmp(small, msg, 4) == 0);
  CHECK(cidb_last_error_copy(NULL, 0) == len);
  char one[1] = {'x'};
  CHECK(cidb_last_error_copy(one, 1) == len && one[0] == '\0');

  /* A successful status-returning call clears it. */
  fixture f = fx_open("acme");
  CHECK(strcmp(cidb_last_error_message(), "") == 0);
  CHECK(cidb_last_error_copy(big, sizeof big) == 0 && big[0] == '\0');
  fx_close(&f);
}

/* ---- engine lifecycle ----------------------------------------------------------------- */

static void test_open_close_free_and_double_close(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  CHECK(e != NULL);
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  CHECK_OK(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\"}"));

  CHECK_OK(cidb_engine_close(e));
  CHECK_OK(cidb_engine_close(e)); /* double close is fine */

  char *json = (char *)0x1;
  CHECK_FAILS(cidb_engine_stats(e, &json), CIDB_CLOSED, "closed");
  CHECK(json == NULL);
  cidb_tenant *t2 = (cidb_tenant *)0x1;
  CHECK_FAILS(cidb_engine_tenant(e, "acme", &t2), CIDB_CLOSED, "closed");
  CHECK(t2 == NULL);
  uint64_t n = 99;
  CHECK_FAILS(cidb_tenant_count_customers(t, &n), CIDB_CLOSED, "closed");
  cidb_tenant_free(t);
  cidb_engine_free(e);
  h_rmtree(dir);
}

static void test_free_without_close_releases_the_directory(void) {
  char *dir = h_tempdir();
  cidb_engine *e = NULL;
  CHECK_OK(cidb_engine_open(dir, &e));
  cidb_tenant *t = NULL;
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  cidb_engine_free(e); /* closes */
  /* The tenant outlives the engine handle and reports CIDB_CLOSED. */
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\"}"), CIDB_CLOSED, "closed");
  cidb_tenant_free(t);
  cidb_engine *again = NULL;
  CHECK_OK(cidb_engine_open(dir, &again));
  cidb_engine_free(again);
  h_rmtree(dir);
}

static void test_open_arguments_are_validated(void) {
  cidb_engine *e = NULL;
  CHECK_FAILS(cidb_engine_open(NULL, &e), CIDB_INVALID_INPUT, "dir is NULL");
  CHECK_FAILS(cidb_engine_open("/tmp/x", NULL), CIDB_INVALID_INPUT, "out_engine is NULL");
  CHECK_FAILS(cidb_engine_open("", &e), CIDB_INVALID_INPUT, "dir is empty");
  CHECK_FAILS(cidb_engine_open("/tmp/bad\xff", &e), CIDB_INVALID_INPUT, "dir is not valid UTF-8");
  CHECK(e == NULL);

  /* A regular file where the directory should be. */
  char *dir = h_tempdir();
  char file[4200];
  snprintf(file, sizeof file, "%s/plain-file", dir);
  FILE *fp = fopen(file, "w");
  CHECK(fp != NULL);
  if (fp) fclose(fp);
  CHECK_FAILS(cidb_engine_open(file, &e), CIDB_STORAGE, "plain-file");
  CHECK(e == NULL);
  h_rmtree(dir);
}

static void test_second_engine_in_this_process_is_already_open(void) {
  fixture f = fx_open("acme");
  cidb_engine *second = (cidb_engine *)0x1;
  CHECK_FAILS(cidb_engine_open(f.dir, &second), CIDB_ALREADY_OPEN, "already open");
  CHECK(second == NULL);
  fx_close(&f);
}

/* Runs this program again as "--open-child DIR"; returns the child's exit status, which
 * is the cidb_status its cidb_engine_open returned (or -1 when it did not exit). */
static int open_in_child_process(const char *dir) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    execl(g_self, g_self, "--open-child", dir, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

static int child_main(const char *dir) {
  cidb_engine *e = NULL;
  cidb_status st = cidb_engine_open(dir, &e);
  if (st == CIDB_OK) {
    cidb_tenant *t = NULL;
    uint64_t n = 0;
    if (cidb_engine_tenant(e, "acme", &t) != CIDB_OK || cidb_tenant_count_customers(t, &n) != CIDB_OK ||
        n != 1)
      st = CIDB_INTERNAL; /* the child must see the parent's committed customer */
    cidb_tenant_free(t);
    cidb_engine_free(e);
  }
  return (int)st;
}

static void test_second_process_gets_already_open_until_close(void) {
  fixture f = fx_open("acme");
  CHECK_OK(cidb_tenant_upsert_customer(f.tenant, "{\"id\":\"c1\"}"));
  CHECK(open_in_child_process(f.dir) == CIDB_ALREADY_OPEN);
  CHECK_OK(cidb_engine_close(f.engine));
  CHECK(open_in_child_process(f.dir) == CIDB_OK); /* the lock went with close */
  cidb_tenant_free(f.tenant);
  cidb_engine_free(f.engine);
  h_rmtree(f.dir);
}

static void test_tenant_names_are_validated(void) {
  fixture f = fx_open("acme");
  cidb_tenant *t = NULL;
  CHECK_FAILS(cidb_engine_tenant(f.engine, "", &t), CIDB_INVALID_ID, "tenant is empty");
  char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  CHECK_FAILS(cidb_engine_tenant(f.engine, long_name, &t), CIDB_INVALID_ID, "maximum is 256");
  CHECK_FAILS(cidb_engine_tenant(NULL, "acme", &t), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_tenant(f.engine, NULL, &t), CIDB_INVALID_INPUT, "name is NULL");
  CHECK_FAILS(cidb_engine_tenant(f.engine, "acme", NULL), CIDB_INVALID_INPUT, "out_tenant is NULL");
  CHECK_FAILS(cidb_engine_tenant(f.engine, "bad\xc3", &t), CIDB_INVALID_INPUT, "name is not valid UTF-8");
  CHECK(t == NULL);
  fx_close(&f);
}

static void test_engine_stats_counts_rows_and_writes(void) {
  fixture f = fx_open("acme");
  char *json = NULL;
  CHECK_OK(cidb_engine_stats(f.engine, &json));
  CHECK(json && strstr(json, "\"customers\":0") && strstr(json, "\"writes\":0"));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_upsert_customers(f.tenant, "[{\"id\":\"a\"},{\"id\":\"b\"}]"));
  CHECK_OK(cidb_tenant_add_score(f.tenant, "{\"customer_id\":\"a\",\"score_type\":\"churn\","
                                            "\"score\":0.5,\"confidence\":0.5,\"created_at\":1}"));
  uint64_t id = 0;
  CHECK_OK(cidb_tenant_append_message(f.tenant, "{\"customer_id\":\"a\",\"conversation_id\":\"v\","
                                                 "\"role\":\"user\",\"timestamp\":1,\"content\":\"hi\"}",
                                      &id));
  CHECK_OK(cidb_engine_stats(f.engine, &json));
  CHECK(json && strstr(json, "\"customers\":2,\"scores\":1,\"latest_scores\":1,\"messages\":1"));
  CHECK(json && strstr(json, "\"writes\":3") && strstr(json, "\"failed_writes\":0"));
  CHECK(json && strstr(json, "\"breaker\":{\"state\":\"closed\",\"failures\":0,\"opened\":0,\"rejected\":0,"
                             "\"last_error\":null}"));
  cidb_string_free(json);
  CHECK_FAILS(cidb_engine_stats(NULL, &json), CIDB_INVALID_INPUT, "engine is NULL");
  CHECK_FAILS(cidb_engine_stats(f.engine, NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  fx_close(&f);
}

/* ---- customers ------------------------------------------------------------------------ */

static void test_customer_roundtrip_replace_and_delete(void) {
  fixture f = fx_open("acme");
  char *json = NULL;
  CHECK_OK(cidb_tenant_upsert_customer(f.tenant, CUSTOMER_C1));
  CHECK_OK(cidb_tenant_get_customer(f.tenant, "c1", &json));
  CHECK_JSON(json, CUSTOMER_C1);

  /* Only id is required; the rest take their defaults. Upsert replaces the whole record. */
  CHECK_OK(cidb_tenant_upsert_customer(f.tenant, "{\"id\":\"c1\",\"name\":\"Ann B\"}"));
  CHECK_OK(cidb_tenant_get_customer(f.tenant, "c1", &json));
  CHECK_JSON(json, "{\"id\":\"c1\",\"email\":null,\"name\":\"Ann B\",\"department\":\"\",\"status\":\"\","
                   "\"created_at\":0,\"updated_at\":0,\"attributes\":{}}");

  uint64_t n = 0;
  CHECK_OK(cidb_tenant_count_customers(f.tenant, &n));
  CHECK(n == 1);

  json = (char *)0x1;
  CHECK_FAILS(cidb_tenant_get_customer(f.tenant, "nobody", &json), CIDB_NOT_FOUND, "nobody");
  CHECK(json == NULL);

  bool existed = false;
  CHECK_OK(cidb_tenant_delete_customer(f.tenant, "c1", &existed));
  CHECK(existed);
  CHECK_OK(cidb_tenant_delete_customer(f.tenant, "c1", &existed));
  CHECK(!existed);
  CHECK_STATUS(cidb_tenant_get_customer(f.tenant, "c1", &json), CIDB_NOT_FOUND);
  CHECK_OK(cidb_tenant_count_customers(f.tenant, &n));
  CHECK(n == 0);
  fx_close(&f);
}

static void test_customer_batch_is_all_or_nothing(void) {
  fixture f = fx_open("acme");
  uint64_t n = 0;
  CHECK_OK(cidb_tenant_upsert_customers(f.tenant, "[{\"id\":\"a\"},{\"id\":\"b\",\"status\":\"churned\"},{\"id\":\"c\"}]"));
  CHECK_OK(cidb_tenant_count_customers(f.tenant, &n));
  CHECK(n == 3);
  CHECK_OK(cidb_tenant_upsert_customers(f.tenant, "[]"));
  CHECK_FAILS(cidb_tenant_upsert_customers(f.tenant, "[{\"id\":\"d\"},{\"id\":\"\"}]"), CIDB_INVALID_ID,
              "customers_json[1]: customer id is empty");
  CHECK_FAILS(cidb_tenant_upsert_customers(f.tenant, "[{\"id\":\"d\"},{\"id\":\"e\",\"created_at\":-5}]"),
              CIDB_INVALID_TIMESTAMP, "customers_json[1]: created_at");
  CHECK_FAILS(cidb_tenant_upsert_customers(f.tenant, "{\"id\":\"d\"}"), CIDB_INVALID_INPUT,
              "customers_json must be a JSON array");
  CHECK_OK(cidb_tenant_count_customers(f.tenant, &n));
  CHECK(n == 3); /* no part of a failed batch landed */
  char *json = NULL;
  CHECK_STATUS(cidb_tenant_get_customer(f.tenant, "d", &json), CIDB_NOT_FOUND);
  CHECK_OK(cidb_tenant_get_customer(f.tenant, "b", &json));
  CHECK(json && strstr(json, "\"status\":\"churned\""));
  cidb_string_free(json);
  fx_close(&f);
}

static void test_tenants_are_isolated(void) {
  fixture f = fx_open("acme");
  cidb_tenant *other = NULL;
  CHECK_OK(cidb_engine_tenant(f.engine, "globex", &other));
  CHECK_OK(cidb_tenant_upsert_customer(f.tenant, CUSTOMER_C1));
  uint64_t n = 9;
  CHECK_OK(cidb_tenant_count_customers(other, &n));
  CHECK(n == 0);
  char *json = NULL;
  CHECK_STATUS(cidb_tenant_get_customer(other, "c1", &json), CIDB_NOT_FOUND);
  bool existed = true;
  CHECK_OK(cidb_tenant_delete_customer(other, "c1", &existed));
  CHECK(!existed);
  CHECK_OK(cidb_tenant_count_customers(f.tenant, &n));
  CHECK(n == 1);
  cidb_tenant_free(other);
  fx_close(&f);
}

/* ---- scores --------------------------------------------------------------------------- */

#define SCORE(cid, type, score, conf, at) \
  "{\"customer_id\":\"" cid "\",\"score_type\":\"" type "\",\"score\":" score ",\"confidence\":" conf ",\"created_at\":" at ",\"model\":null}"

static void test_scores_latest_and_history(void) {
  fixture f = fx_open("acme");
  char *json = (char *)0x1;
  CHECK_FAILS(cidb_tenant_latest_score(f.tenant, "c1", "churn", &json), CIDB_NOT_FOUND, "churn");
  CHECK(json == NULL);

  CHECK_OK(cidb_tenant_add_score(f.tenant, SCORE("c1", "churn", "0.2", "0.9", "1000")));
  CHECK_OK(cidb_tenant_add_score(f.tenant, "{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.8,"
                                            "\"confidence\":0.7,\"created_at\":3000,\"model\":\"gbm-v2\"}"));
  /* An older score arriving late does not replace the latest. */
  CHECK_OK(cidb_tenant_add_score(f.tenant, SCORE("c1", "churn", "0.5", "0.6", "2000")));
  CHECK_OK(cidb_tenant_latest_score(f.tenant, "c1", "churn", &json));
  CHECK_JSON(json, "{\"customer_id\":\"c1\",\"score_type\":\"churn\",\"score\":0.8,\"confidence\":0.7,"
                   "\"created_at\":3000,\"model\":\"gbm-v2\"}");

  CHECK_OK(cidb_tenant_add_scores(f.tenant, "[" SCORE("c1", "upsell", "0.1", "0.1", "500") "," SCORE(
                                                "c2", "churn", "1", "0", "4000") "]"));
  CHECK_OK(cidb_tenant_latest_score(f.tenant, "c2", "churn", &json));
  CHECK_JSON(json, SCORE("c2", "churn", "1.0", "0.0", "4000"));

  /* History is [from, to): 2000 is in, 3000 is out. */
  CHECK_OK(cidb_tenant_score_history(f.tenant, "c1", "churn", 1000, 3000, &json));
  CHECK_JSON(json, "[" SCORE("c1", "churn", "0.2", "0.9", "1000") "," SCORE("c1", "churn", "0.5", "0.6", "2000") "]");
  CHECK_OK(cidb_tenant_score_history(f.tenant, "c1", "churn", 1001, 3001, &json));
  CHECK(json && h_count(json, "\"created_at\":") == 2 && strstr(json, "\"created_at\":2000") &&
        strstr(json, "\"created_at\":3000"));
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_score_history(f.tenant, "c1", "churn", 5000, 6000, &json));
  CHECK_JSON(json, "[]");
  CHECK_OK(cidb_tenant_score_history(f.tenant, "c1", "churn", 3000, 1000, &json));
  CHECK_JSON(json, "[]");

  /* A bad element fails the whole batch. */
  CHECK_FAILS(cidb_tenant_add_scores(f.tenant, "[" SCORE("c3", "churn", "0.1", "0.1", "1") "," SCORE(
                                                   "c3", "churn", "1.5", "0.1", "2") "]"),
              CIDB_INVALID_SCORE, "scores_json[1]: score is 1.5");
  CHECK_STATUS(cidb_tenant_latest_score(f.tenant, "c3", "churn", &json), CIDB_NOT_FOUND);
  fx_close(&f);
}

/* ---- messages ------------------------------------------------------------------------- */

static void message_json(char *buf, size_t len, const char *cid, const char *conv, const char *role, long long ts,
                         const char *content) {
  snprintf(buf, len,
           "{\"customer_id\":\"%s\",\"conversation_id\":\"%s\",\"role\":\"%s\",\"timestamp\":%lld,"
           "\"content\":\"%s\",\"metadata\":{}}",
           cid, conv, role, ts, content);
}

/* The stored form: the new message with its id first. */
static void stored_json(char *buf, size_t len, uint64_t id, const char *cid, const char *conv, const char *role,
                        long long ts, const char *content) {
  snprintf(buf, len,
           "{\"id\":%llu,\"customer_id\":\"%s\",\"conversation_id\":\"%s\",\"role\":\"%s\",\"timestamp\":%lld,"
           "\"content\":\"%s\",\"metadata\":{}}",
           (unsigned long long)id, cid, conv, role, ts, content);
}

static void test_messages_append_and_query(void) {
  fixture f = fx_open("acme");
  char in[512], want[2048], a[512], b[512], c[512];
  uint64_t id1 = 0, id2 = 0, id3 = 0;

  message_json(in, sizeof in, "c1", "v1", "user", 1000, "hello");
  CHECK_OK(cidb_tenant_append_message(f.tenant, in, &id1));
  message_json(in, sizeof in, "c1", "v1", "assistant", 2000, "hi, how can I help?");
  CHECK_OK(cidb_tenant_append_message(f.tenant, in, &id2));
  CHECK(id2 > id1 && id1 > 0);

  char *ids = NULL;
  CHECK_OK(cidb_tenant_append_messages(
      f.tenant,
      "[{\"customer_id\":\"c1\",\"conversation_id\":\"v2\",\"role\":\"user\",\"timestamp\":3000,\"content\":\"again\"},"
      "{\"customer_id\":\"c2\",\"conversation_id\":\"v1\",\"role\":\"agent\",\"timestamp\":500,\"content\":\"x\","
      "\"metadata\":{\"k\":1}}]",
      &ids));
  id3 = id2 + 1;
  snprintf(want, sizeof want, "[%llu,%llu]", (unsigned long long)id3, (unsigned long long)(id3 + 1));
  CHECK_JSON(ids, want);

  /* Customer c1, all of time, every role. */
  char *json = NULL;
  CHECK_OK(cidb_tenant_messages_for_customer(f.tenant, "c1", 0, 10000, NULL, 0, &json));
  stored_json(a, sizeof a, id1, "c1", "v1", "user", 1000, "hello");
  stored_json(b, sizeof b, id2, "c1", "v1", "assistant", 2000, "hi, how can I help?");
  stored_json(c, sizeof c, id3, "c1", "v2", "user", 3000, "again");
  snprintf(want, sizeof want, "[%s,%s,%s]", a, b, c);
  CHECK_JSON(json, want);

  /* Time range [from, to), role filter, limit. */
  CHECK_OK(cidb_tenant_messages_for_customer(f.tenant, "c1", 1000, 3000, NULL, 0, &json));
  snprintf(want, sizeof want, "[%s,%s]", a, b);
  CHECK_JSON(json, want);
  CHECK_OK(cidb_tenant_messages_for_customer(f.tenant, "c1", 0, 10000, "user", 0, &json));
  snprintf(want, sizeof want, "[%s,%s]", a, c);
  CHECK_JSON(json, want);
  CHECK_OK(cidb_tenant_messages_for_customer(f.tenant, "c1", 0, 10000, NULL, 2, &json));
  snprintf(want, sizeof want, "[%s,%s]", a, b);
  CHECK_JSON(json, want);
  CHECK_OK(cidb_tenant_messages_for_customer(f.tenant, "c1", 0, 10000, "tool", 0, &json));
  CHECK_JSON(json, "[]");
  CHECK_OK(cidb_tenant_messages_for_customer(f.tenant, "nobody", 0, 10000, NULL, 0, &json));
  CHECK_JSON(json, "[]");
  CHECK_FAILS(cidb_tenant_messages_for_customer(f.tenant, "c1", 0, 10000, "boss", 0, &json), CIDB_INVALID_ROLE,
              "boss");
  CHECK_FAILS(cidb_tenant_messages_for_customer(f.tenant, "c1", 0, 10000, "", 0, &json), CIDB_INVALID_ROLE,
              "unknown role");

  /* Conversation v1 holds c1's two messages and c2's, in append order. */
  CHECK_OK(cidb_tenant_messages_for_conversation(f.tenant, "v1", &json));
  CHECK(json && h_count(json, "\"id\":") == 3 && strstr(json, "{\"k\":1}"));
  CHECK(json && strncmp(json + 1, a, strlen(a)) == 0);
  cidb_string_free(json);
  CHECK_OK(cidb_tenant_messages_for_conversation(f.tenant, "v9", &json));
  CHECK_JSON(json, "[]");
  fx_close(&f);
}

/* ---- validation: each rule gives its status ------------------------------------------- */

static void test_validation_rules_give_their_status(void) {
  fixture f = fx_open("acme");
  cidb_tenant *t = f.tenant;
  uint64_t id = 0;
  char *json = NULL;

  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":\"\"}"), CIDB_INVALID_ID, "customer id is empty");
  CHECK_FAILS(cidb_tenant_get_customer(t, "", &json), CIDB_INVALID_ID, "customer id is empty");
  CHECK_FAILS(cidb_tenant_delete_customer(t, "", (bool[]){false}), CIDB_INVALID_ID, "customer id");
  CHECK_FAILS(cidb_tenant_latest_score(t, "c1", "", &json), CIDB_INVALID_ID, "score_type is empty");
  CHECK_FAILS(cidb_tenant_score_history(t, "", "churn", 0, 1, &json), CIDB_INVALID_ID, "customer_id is empty");
  CHECK_FAILS(cidb_tenant_messages_for_conversation(t, "", &json), CIDB_INVALID_ID, "conversation_id is empty");
  CHECK_FAILS(cidb_tenant_messages_for_customer(t, "", 0, 1, NULL, 0, &json), CIDB_INVALID_ID, "customer_id");

  CHECK_FAILS(cidb_tenant_add_score(t, SCORE("c1", "churn", "1.5", "0.5", "1")), CIDB_INVALID_SCORE,
              "score is 1.5");
  CHECK_FAILS(cidb_tenant_add_score(t, SCORE("c1", "churn", "0.5", "-0.1", "1")), CIDB_INVALID_SCORE,
              "confidence is -0.1");

  CHECK_FAILS(cidb_tenant_append_message(t, "{\"customer_id\":\"c1\",\"conversation_id\":\"v\",\"role\":\"boss\","
                                            "\"timestamp\":1,\"content\":\"\"}",
                                         &id),
              CIDB_INVALID_ROLE, "boss");

  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\",\"attributes\":5}"), CIDB_INVALID_ATTRIBUTES,
              "attributes must be a JSON object, got a number");
  CHECK_FAILS(cidb_tenant_append_message(t, "{\"customer_id\":\"c1\",\"conversation_id\":\"v\",\"role\":\"user\","
                                            "\"timestamp\":1,\"content\":\"\",\"metadata\":[]}",
                                         &id),
              CIDB_INVALID_ATTRIBUTES, "metadata must be a JSON object");

  /* Content one byte over the 1 MiB limit. */
  size_t big = (1u << 20) + 1;
  const char *head = "{\"customer_id\":\"c1\",\"conversation_id\":\"v\",\"role\":\"user\",\"timestamp\":1,\"content\":\"";
  char *msg = (char *)malloc(strlen(head) + big + 3);
  CHECK(msg != NULL);
  if (msg) {
    strcpy(msg, head);
    memset(msg + strlen(head), 'a', big);
    strcpy(msg + strlen(head) + big, "\"}");
    CHECK_FAILS(cidb_tenant_append_message(t, msg, &id), CIDB_CONTENT_TOO_LARGE, "1048577 bytes");
    free(msg);
  }

  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\",\"created_at\":-1}"), CIDB_INVALID_TIMESTAMP,
              "created_at = -1");
  CHECK_FAILS(cidb_tenant_add_score(t, SCORE("c1", "churn", "0.5", "0.5", "253402300800000")),
              CIDB_INVALID_TIMESTAMP, "created_at");
  CHECK_FAILS(cidb_tenant_append_message(t, "{\"customer_id\":\"c1\",\"conversation_id\":\"v\",\"role\":\"user\","
                                            "\"timestamp\":-7,\"content\":\"\"}",
                                         &id),
              CIDB_INVALID_TIMESTAMP, "timestamp = -7");

  /* Malformed or mis-shaped JSON, over-long labels, bad UTF-8: CIDB_INVALID_INPUT. */
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":"), CIDB_INVALID_INPUT, "customer_json is not valid JSON");
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "[]"), CIDB_INVALID_INPUT, "customer_json must be a JSON object");
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"name\":\"x\"}"), CIDB_INVALID_INPUT, "missing field `id`");
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":7}"), CIDB_INVALID_INPUT, "customer_json: field `id`: invalid type");
  CHECK_FAILS(cidb_tenant_add_score(t, "{\"customer_id\":\"c1\"}"), CIDB_INVALID_INPUT, "score_json: missing field");
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\",\"emial\":\"a@b.c\"}"), CIDB_INVALID_INPUT,
              "customer_json: unknown field `emial`");
  CHECK_FAILS(cidb_tenant_append_messages(t, "[{\"id\":1,\"customer_id\":\"c1\",\"conversation_id\":\"v\","
                                             "\"role\":\"user\",\"timestamp\":1,\"content\":\"\"}]",
                                          &json),
              CIDB_INVALID_INPUT, "messages_json[0]: unknown field `id`");
  CHECK_FAILS(cidb_tenant_add_scores(t, "{}"), CIDB_INVALID_INPUT, "scores_json must be a JSON array");
  CHECK_FAILS(cidb_tenant_append_messages(t, "[1]", &json), CIDB_INVALID_INPUT,
              "messages_json[0] must be a JSON object");
  char dept[400];
  snprintf(dept, sizeof dept, "{\"id\":\"c1\",\"department\":\"%0300d\"}", 0);
  CHECK_FAILS(cidb_tenant_upsert_customer(t, dept), CIDB_INVALID_INPUT, "department is 300 bytes");
  CHECK_FAILS(cidb_tenant_upsert_customer(t, "{\"id\":\"c\xff\"}"), CIDB_INVALID_INPUT,
              "customer_json is not valid UTF-8");
  CHECK_FAILS(cidb_tenant_get_customer(t, "c\xfe", &json), CIDB_INVALID_INPUT, "customer_id is not valid UTF-8");
  CHECK_FAILS(cidb_tenant_messages_for_customer(t, "c1", 0, 1, "us\xe9r", 0, &json), CIDB_INVALID_INPUT,
              "role is not valid UTF-8");

  uint64_t n = 7;
  CHECK_OK(cidb_tenant_count_customers(t, &n));
  CHECK(n == 0); /* nothing above was written */
  fx_close(&f);
}

/* Every pointer argument of every function, passed as NULL, is named in the message. */
static void test_null_arguments_are_named(void) {
  fixture f = fx_open("acme");
  cidb_tenant *t = f.tenant;
  char *json = NULL;
  uint64_t u = 0;
  bool b = false;
  const char *c = "{\"id\":\"c1\"}";

  CHECK_FAILS(cidb_engine_close(NULL), CIDB_INVALID_INPUT, "engine is NULL");

  CHECK_FAILS(cidb_tenant_upsert_customer(NULL, c), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_upsert_customer(t, NULL), CIDB_INVALID_INPUT, "customer_json is NULL");
  CHECK_FAILS(cidb_tenant_upsert_customers(NULL, "[]"), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_upsert_customers(t, NULL), CIDB_INVALID_INPUT, "customers_json is NULL");
  CHECK_FAILS(cidb_tenant_get_customer(NULL, "c1", &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_get_customer(t, NULL, &json), CIDB_INVALID_INPUT, "customer_id is NULL");
  CHECK_FAILS(cidb_tenant_get_customer(t, "c1", NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_tenant_delete_customer(NULL, "c1", &b), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_delete_customer(t, NULL, &b), CIDB_INVALID_INPUT, "customer_id is NULL");
  CHECK_FAILS(cidb_tenant_delete_customer(t, "c1", NULL), CIDB_INVALID_INPUT, "out_existed is NULL");
  CHECK_FAILS(cidb_tenant_count_customers(NULL, &u), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_count_customers(t, NULL), CIDB_INVALID_INPUT, "out_count is NULL");

  CHECK_FAILS(cidb_tenant_add_score(NULL, "{}"), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_add_score(t, NULL), CIDB_INVALID_INPUT, "score_json is NULL");
  CHECK_FAILS(cidb_tenant_add_scores(NULL, "[]"), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_add_scores(t, NULL), CIDB_INVALID_INPUT, "scores_json is NULL");
  CHECK_FAILS(cidb_tenant_latest_score(NULL, "c1", "x", &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_latest_score(t, NULL, "x", &json), CIDB_INVALID_INPUT, "customer_id is NULL");
  CHECK_FAILS(cidb_tenant_latest_score(t, "c1", NULL, &json), CIDB_INVALID_INPUT, "score_type is NULL");
  CHECK_FAILS(cidb_tenant_latest_score(t, "c1", "x", NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  CHECK_FAILS(cidb_tenant_score_history(NULL, "c1", "x", 0, 1, &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_score_history(t, NULL, "x", 0, 1, &json), CIDB_INVALID_INPUT, "customer_id is NULL");
  CHECK_FAILS(cidb_tenant_score_history(t, "c1", NULL, 0, 1, &json), CIDB_INVALID_INPUT, "score_type is NULL");
  CHECK_FAILS(cidb_tenant_score_history(t, "c1", "x", 0, 1, NULL), CIDB_INVALID_INPUT, "out_json is NULL");

  CHECK_FAILS(cidb_tenant_append_message(NULL, "{}", &u), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_append_message(t, NULL, &u), CIDB_INVALID_INPUT, "message_json is NULL");
  CHECK_FAILS(cidb_tenant_append_message(t, "{}", NULL), CIDB_INVALID_INPUT, "out_id is NULL");
  CHECK_FAILS(cidb_tenant_append_messages(NULL, "[]", &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_append_messages(t, NULL, &json), CIDB_INVALID_INPUT, "messages_json is NULL");
  CHECK_FAILS(cidb_tenant_append_messages(t, "[]", NULL), CIDB_INVALID_INPUT, "out_ids_json is NULL");
  CHECK_FAILS(cidb_tenant_messages_for_customer(NULL, "c1", 0, 1, NULL, 0, &json), CIDB_INVALID_INPUT,
              "tenant is NULL");
  CHECK_FAILS(cidb_tenant_messages_for_customer(t, NULL, 0, 1, NULL, 0, &json), CIDB_INVALID_INPUT,
              "customer_id is NULL");
  CHECK_FAILS(cidb_tenant_messages_for_customer(t, "c1", 0, 1, NULL, 0, NULL), CIDB_INVALID_INPUT,
              "out_json is NULL");
  CHECK_FAILS(cidb_tenant_messages_for_conversation(NULL, "v", &json), CIDB_INVALID_INPUT, "tenant is NULL");
  CHECK_FAILS(cidb_tenant_messages_for_conversation(t, NULL, &json), CIDB_INVALID_INPUT,
              "conversation_id is NULL");
  CHECK_FAILS(cidb_tenant_messages_for_conversation(t, "v", NULL), CIDB_INVALID_INPUT, "out_json is NULL");
  fx_close(&f);
}

/* After close, every tenant function returns CIDB_CLOSED (checked before the arguments). */
static void test_every_tenant_function_reports_closed(void) {
  fixture f = fx_open("acme");
  cidb_tenant *t = f.tenant;
  CHECK_OK(cidb_engine_close(f.engine));
  char *json = (char *)0x1;
  uint64_t u = 5;
  bool b = true;
  CHECK_STATUS(cidb_tenant_upsert_customer(t, "{\"id\":\"c1\"}"), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_upsert_customer(t, "{\"id\":\"\"}"), CIDB_CLOSED); /* not INVALID_ID */
  CHECK_STATUS(cidb_tenant_upsert_customers(t, "[]"), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_get_customer(t, "c1", &json), CIDB_CLOSED);
  CHECK(json == NULL);
  CHECK_STATUS(cidb_tenant_delete_customer(t, "c1", &b), CIDB_CLOSED);
  CHECK(!b);
  CHECK_STATUS(cidb_tenant_count_customers(t, &u), CIDB_CLOSED);
  CHECK(u == 0);
  CHECK_STATUS(cidb_tenant_add_score(t, SCORE("c1", "x", "0.1", "0.1", "1")), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_add_scores(t, "[]"), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_latest_score(t, "c1", "x", &json), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_score_history(t, "c1", "x", 0, 1, &json), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_append_message(t, "{}", &u), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_append_messages(t, "[]", &json), CIDB_CLOSED);
  CHECK_STATUS(cidb_tenant_messages_for_customer(t, "c1", 0, 1, NULL, 0, &json), CIDB_CLOSED);
  CHECK_FAILS(cidb_tenant_messages_for_conversation(t, "v", &json), CIDB_CLOSED, "closed");
  fx_close(&f); /* closing again inside is fine */
}

/* ---- durability across reopen --------------------------------------------------------- */

static void test_reopen_reads_what_was_written(void) {
  fixture f = fx_open("acme");
  char msg[512];
  uint64_t id1 = 0, id2 = 0;
  CHECK_OK(cidb_tenant_upsert_customer(f.tenant, CUSTOMER_C1));
  CHECK_OK(cidb_tenant_add_score(f.tenant, SCORE("c1", "churn", "0.25", "0.75", "42")));
  message_json(msg, sizeof msg, "c1", "v1", "user", 7, "persist me");
  CHECK_OK(cidb_tenant_append_message(f.tenant, msg, &id1));
  cidb_tenant_free(f.tenant);
  CHECK_OK(cidb_engine_close(f.engine));
  cidb_engine_free(f.engine);

  cidb_engine *e = NULL;
  cidb_tenant *t = NULL;
  char *json = NULL;
  CHECK_OK(cidb_engine_open(f.dir, &e));
  CHECK_OK(cidb_engine_tenant(e, "acme", &t));
  CHECK_OK(cidb_tenant_get_customer(t, "c1", &json));
  CHECK_JSON(json, CUSTOMER_C1);
  CHECK_OK(cidb_tenant_latest_score(t, "c1", "churn", &json));
  CHECK_JSON(json, SCORE("c1", "churn", "0.25", "0.75", "42"));
  CHECK_OK(cidb_tenant_messages_for_conversation(t, "v1", &json));
  char want[600], stored[512];
  stored_json(stored, sizeof stored, id1, "c1", "v1", "user", 7, "persist me");
  snprintf(want, sizeof want, "[%s]", stored);
  CHECK_JSON(json, want);
  /* Ids keep increasing across a reopen. */
  CHECK_OK(cidb_tenant_append_message(t, msg, &id2));
  CHECK(id2 > id1);
  cidb_tenant_free(t);
  CHECK_OK(cidb_engine_close(e));
  cidb_engine_free(e);
  h_rmtree(f.dir);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--open-child") == 0) return child_main(argv[2]);
  if (!realpath(argv[0], g_self)) {
    perror("realpath");
    return 2;
  }
  RUN(test_version_matches_header);
  RUN(test_status_names_match_enumerators);
  RUN(test_last_error_message_and_copy);
  RUN(test_open_close_free_and_double_close);
  RUN(test_free_without_close_releases_the_directory);
  RUN(test_open_arguments_are_validated);
  RUN(test_second_engine_in_this_process_is_already_open);
  RUN(test_second_process_gets_already_open_until_close);
  RUN(test_tenant_names_are_validated);
  RUN(test_engine_stats_counts_rows_and_writes);
  RUN(test_customer_roundtrip_replace_and_delete);
  RUN(test_customer_batch_is_all_or_nothing);
  RUN(test_tenants_are_isolated);
  RUN(test_scores_latest_and_history);
  RUN(test_messages_append_and_query);
  RUN(test_validation_rules_give_their_status);
  RUN(test_null_arguments_are_named);
  RUN(test_every_tenant_function_reports_closed);
  RUN(test_reopen_reads_what_was_written);
  return h_finish("test_api");
}
