// test_cpp.cpp: include/cidb.h used from C++17 (compiled with -Wall -Wextra -Werror):
// RAII owners built from the header's free functions, statuses turned into exceptions,
// a short round trip through customers, scores and messages, and a change-feed
// subscription whose callback is a captureless lambda.
#include "cidb.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct EngineFree {
  void operator()(cidb_engine *e) const noexcept { cidb_engine_free(e); }
};
struct TenantFree {
  void operator()(cidb_tenant *t) const noexcept { cidb_tenant_free(t); }
};
struct SubscriptionFree {
  void operator()(cidb_subscription *s) const noexcept { cidb_subscription_free(s); }
};
struct StringFree {
  void operator()(char *s) const noexcept { cidb_string_free(s); }
};
using Engine = std::unique_ptr<cidb_engine, EngineFree>;
using Tenant = std::unique_ptr<cidb_tenant, TenantFree>;
using Text = std::unique_ptr<char, StringFree>;
using Subscription = std::unique_ptr<cidb_subscription, SubscriptionFree>;

// What the change-feed callback (a captureless lambda) collects through user_data.
struct Deliveries {
  std::mutex mu;
  std::vector<std::string> items;
  std::atomic<int> count{0};
};

class Error : public std::runtime_error {
 public:
  explicit Error(cidb_status s)
      : std::runtime_error(std::string(cidb_status_name(s)) + ": " + cidb_last_error_message()), status(s) {}
  cidb_status status;
};

void ok(cidb_status s) {
  if (s != CIDB_OK) throw Error(s);
}

std::string take(char *raw) {
  Text owned(raw);
  return owned ? std::string(owned.get()) : std::string();
}

int failures = 0;
int passed = 0;
void expect(bool cond, const char *what) {
  if (cond) {
    passed++;
  } else {
    failures++;
    std::fprintf(stderr, "  C++ check failed: %s\n", what);
  }
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/cidb-cpp-XXXXXX";
  const char *dir = mkdtemp(tmpl);
  if (!dir) return 2;
  try {
    cidb_engine *raw_engine = nullptr;
    ok(cidb_engine_open(dir, &raw_engine));
    Engine engine(raw_engine);
    cidb_tenant *raw_tenant = nullptr;
    ok(cidb_engine_tenant(engine.get(), "acme", &raw_tenant));
    Tenant tenant(raw_tenant);

    Deliveries seen;
    cidb_subscription *raw_sub = nullptr;
    ok(cidb_tenant_subscribe(
        tenant.get(), R"({"tables":["customers"]})",
        [](const char *json, void *user_data) {
          auto *d = static_cast<Deliveries *>(user_data);
          std::lock_guard<std::mutex> lock(d->mu);
          d->items.emplace_back(json);
          d->count++;
        },
        &seen, &raw_sub));
    Subscription sub(raw_sub);

    ok(cidb_tenant_upsert_customer(tenant.get(), R"({"id":"c1","name":"Ann","attributes":{"vip":true}})"));
    char *json = nullptr;
    ok(cidb_tenant_get_customer(tenant.get(), "c1", &json));
    std::string customer = take(json);
    expect(customer.find(R"("name":"Ann")") != std::string::npos, "customer name round trip");
    expect(customer.find(R"("attributes":{"vip":true})") != std::string::npos, "attributes round trip");

    ok(cidb_tenant_add_score(tenant.get(),
                             R"({"customer_id":"c1","score_type":"churn","score":0.75,"confidence":1,"created_at":5})"));
    ok(cidb_tenant_latest_score(tenant.get(), "c1", "churn", &json));
    expect(take(json).find(R"("score":0.75)") != std::string::npos, "latest score");

    std::uint64_t id = 0;
    ok(cidb_tenant_append_message(
        tenant.get(), R"({"customer_id":"c1","conversation_id":"v","role":"tool","timestamp":9,"content":"ü"})", &id));
    ok(cidb_tenant_messages_for_customer(tenant.get(), "c1", 0, 10, "tool", 0, &json));
    expect(take(json).find("\"content\":\"\xc3\xbc\"") != std::string::npos, "UTF-8 content round trip");

    try {
      ok(cidb_tenant_get_customer(tenant.get(), "nobody", &json));
      expect(false, "missing customer throws");
    } catch (const Error &e) {
      expect(e.status == CIDB_NOT_FOUND, "missing customer is CIDB_NOT_FOUND");
      expect(std::strstr(e.what(), "CIDB_NOT_FOUND: ") == e.what(), "exception text carries the status name");
    }
    expect(std::strcmp(cidb_version(), CIDB_VERSION) == 0, "version");

    for (int i = 0; i < 1000 && seen.count.load() < 1; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sub.reset();  // joins the delivery thread: `seen` is ours again
    expect(seen.items.size() == 1 && seen.items[0].find(R"("key":"c1")") != std::string::npos,
           "lambda callback got the customer insert");
    ok(cidb_engine_close(engine.get()));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "  unexpected exception: %s\n", e.what());
    failures++;
  }
  std::string rm = std::string("rm -rf '") + dir + "'";
  if (std::system(rm.c_str()) != 0) failures++;
  std::printf("%s test_cpp_round_trip\n", failures ? "FAIL" : "ok  ");
  std::printf("RESULT test_cpp passed=%d failed=%d\n", failures ? 0 : 1, failures ? 1 : 0);
  return failures ? 1 : 0;
}
