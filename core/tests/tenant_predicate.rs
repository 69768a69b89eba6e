//! A conjunct on `tenant_id` alone (`tenant_id = ?`, `IN`, `<>`) is constant for a tenant
//! handle: every row it can read belongs to its tenant. The executor decides it once per
//! execution: when true it costs nothing per row (no index-key decoding, no per-row check),
//! when false the access reads nothing at all. Results are checked against the same query
//! without the conjunct (the differential tests check them against SQLite as well); the
//! counters check that no work is spent on it.

use cidb::datagen::{generate, GenConfig};
use cidb::{Config, Engine, Tenant, Value};

const NOW: i64 = 1_700_000_000_000;

fn load(dir: &std::path::Path) -> Engine {
    let engine = Engine::open(dir, Config::default().with_clock(cidb::Clock::manual(NOW))).unwrap();
    let cfg = GenConfig::new(3000, 7, NOW);
    let all: Vec<_> = generate(&cfg).collect();
    for t in 0..cfg.tenants {
        let name = cidb::datagen::tenant_name(t);
        let mine: Vec<_> = all.iter().filter(|g| g.tenant == name).map(|g| g.customer.clone()).collect();
        engine.tenant(&name).unwrap().upsert_customers(&mine).unwrap();
    }
    engine
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn ids(t: &Tenant, sql: &str, params: &[Value]) -> (Vec<String>, u64) {
    let r = t.query(sql, params).unwrap();
    let mut v: Vec<String> = r.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect();
    v.sort();
    (v, r.stats.rows_examined)
}

#[test]
fn a_tenant_only_conjunct_is_decided_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = load(dir.path());
    let t = engine.tenant("tenant_0").unwrap();
    let base = "SELECT id, email, created_at FROM customers WHERE status = ? AND department = ?";
    for (status, dept) in [("active", "sales"), ("churned", "legal"), ("trial", "support")] {
        let p = [text(status), text(dept)];
        let (want, _) = ids(&t, base, &p);

        // True for this handle: same rows, and only index entries plus fetches examined.
        let sql = format!("{base} AND tenant_id = ?");
        let (got, examined) = ids(&t, &sql, &[text(status), text(dept), text("tenant_0")]);
        assert_eq!(got, want, "{status}/{dept}");
        assert_eq!(examined, 2 * want.len() as u64, "{status}/{dept}: one entry and one fetch per row");
        let sql = format!("{base} AND tenant_id IN ('nope', 'tenant_0')");
        assert_eq!(ids(&t, &sql, &p).0, want);

        // False: nothing is read.
        let sql = format!("{base} AND tenant_id = ?");
        let (got, examined) = ids(&t, &sql, &[text(status), text(dept), text("tenant_1")]);
        assert!(got.is_empty());
        assert_eq!(examined, 0, "{status}/{dept}: a false tenant conjunct reads nothing");
        let sql = format!("{base} AND tenant_id <> 'tenant_0'");
        assert_eq!(ids(&t, &sql, &p), (vec![], 0));
        let sql = format!("{base} AND tenant_id IS NULL");
        assert_eq!(ids(&t, &sql, &p), (vec![], 0));
    }

    // With LIMIT the scan still stops early: entries + fetches of the rows returned.
    let sql = "SELECT id, email, created_at FROM customers WHERE tenant_id = ? AND status = ? AND department = ? LIMIT 5";
    let r = t.query(sql, &[text("tenant_0"), text("active"), text("sales")]).unwrap();
    assert_eq!(r.rows.len(), 5);
    assert_eq!(r.stats.rows_examined, 10, "{:?}", r.stats);
    engine.close().unwrap();
}
