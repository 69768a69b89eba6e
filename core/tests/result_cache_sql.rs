//! The query-result cache wired into SQL: expensive SELECTs are answered from the cache
//! when nothing they read has changed, and are never stale: random writes interleaved with
//! cached queries always agree with SQLite fed the same rows, and readers racing a writer
//! never see fewer rows than the writer had acknowledged before they started.

mod common;
use cidb::datagen::Rng;
use cidb::schema::{customer_row, Table};
use cidb::{Clock, Config, Engine, Value};
use common::{customer, score, T0};
use rusqlite::Connection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn cfg(min_cost: f64) -> Config {
    let mut c = Config::default().with_clock(Clock::manual(T0));
    c.cache.result_cache = true;
    c.cache.result_min_cost = min_cost;
    c.cache.result_min_exec = Duration::ZERO;
    c.monitor.persist = false;
    c
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Int(i) => S::Integer(*i),
        Value::Real(r) => S::Real(*r),
        Value::Text(s) | Value::Json(s) => S::Text(s.clone()),
    }
}

fn sqlite_rows(db: &Connection, sql: &str, params: &[Value]) -> Vec<Vec<Value>> {
    let mut st = db.prepare(sql).unwrap();
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(params.iter().map(to_sql))).unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(
            (0..n)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                    rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                    rusqlite::types::ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Blob(_) => Value::Null,
                })
                .collect(),
        );
    }
    out
}

/// (cidb SQL, the same for SQLite with the tenant made explicit, parameter prefix).
const QUERIES: [(&str, &str, Option<&str>); 4] = [
    (
        "SELECT department, COUNT(*) FROM customers GROUP BY department ORDER BY department",
        "SELECT department, COUNT(*) FROM customers WHERE tenant_id = 'acme' GROUP BY department ORDER BY department",
        None,
    ),
    (
        "SELECT id, status FROM customers WHERE status = ? ORDER BY id",
        "SELECT id, status FROM customers WHERE tenant_id = 'acme' AND status = ? ORDER BY id",
        Some("s"),
    ),
    (
        "SELECT COUNT(*), MAX(s.score) FROM customers c JOIN customer_scores s ON s.customer_id = c.id WHERE c.department = ?",
        "SELECT COUNT(*), MAX(s.score) FROM customers c JOIN customer_scores s ON s.customer_id = c.id AND s.tenant_id = c.tenant_id \
         WHERE c.tenant_id = 'acme' AND c.department = ?",
        Some("d"),
    ),
    (
        "SELECT id FROM customers WHERE department = 'd1' AND status <> 's0' ORDER BY id LIMIT 3",
        "SELECT id FROM customers WHERE tenant_id = 'acme' AND department = 'd1' AND status <> 's0' ORDER BY id LIMIT 3",
        None,
    ),
];

#[test]
fn interleaved_writes_never_serve_a_stale_result() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), cfg(0.0)).unwrap();
    let t = e.tenant("acme").unwrap();
    let other = e.tenant("other").unwrap();
    let lite = Connection::open_in_memory().unwrap();
    lite.execute(&Table::Customers.sqlite_ddl(), []).unwrap();
    lite.execute(&Table::Scores.sqlite_ddl(), []).unwrap();
    let prepared: Vec<_> = QUERIES.iter().map(|(q, _, _)| t.prepare(q).unwrap()).collect();
    let mut rng = Rng::new(7);
    let (mut from_cache, mut checked) = (0, 0);
    for step in 0..600 {
        match rng.below(10) {
            0 | 1 => {
                let mut c = customer(&format!("c{}", rng.below(40)), &format!("d{}", rng.below(3)), &format!("s{}", rng.below(3)));
                c.updated_at = T0 + step;
                t.upsert_customer(&c).unwrap();
                lite.execute("DELETE FROM customers WHERE tenant_id = 'acme' AND id = ?", [&c.id]).unwrap();
                let row = customer_row("acme", &c);
                let qs = vec!["?"; row.len()].join(", ");
                lite.execute(&format!("INSERT INTO customers VALUES ({qs})"), rusqlite::params_from_iter(row.iter().map(to_sql))).unwrap();
            }
            2 => {
                let id = format!("c{}", rng.below(40));
                t.delete_customer(&id).unwrap();
                lite.execute("DELETE FROM customers WHERE tenant_id = 'acme' AND id = ?", [&id]).unwrap();
            }
            3 => {
                let s = score(&format!("c{}", rng.below(40)), "churn", rng.below(100) as f64 / 100.0, T0 + step);
                t.add_score(&s).unwrap();
                let row = cidb::schema::score_row("acme", &s);
                let qs = vec!["?"; row.len()].join(", ");
                lite.execute(&format!("INSERT INTO customer_scores VALUES ({qs})"), rusqlite::params_from_iter(row.iter().map(to_sql))).unwrap();
            }
            4 => {
                // another tenant's writes change nothing this tenant reads
                other.upsert_customer(&customer(&format!("o{}", rng.below(5)), "d1", "s1")).unwrap();
            }
            _ => {
                let qi = rng.below(QUERIES.len() as u64) as usize;
                let (sql, sql_lite, prefix) = QUERIES[qi];
                let params: Vec<Value> = prefix.map(|p| Value::Text(format!("{p}{}", rng.below(3)))).into_iter().collect();
                let r = if rng.below(2) == 0 { prepared[qi].query(&params).unwrap() } else { t.query(sql, &params).unwrap() };
                let expected = sqlite_rows(&lite, sql_lite, &params);
                assert_eq!(r.rows, expected, "step {step}: {sql} {params:?} (from cache: {})", r.stats.from_cache);
                from_cache += r.stats.from_cache as u32;
                checked += 1;
            }
        }
    }
    assert!(checked > 200);
    assert!(from_cache > 20, "the cache answered some queries ({from_cache} of {checked})");
    let s = e.cache_stats();
    assert_eq!(s.result_hits, from_cache as u64);
    e.close().unwrap();
}

#[test]
fn only_expensive_statements_use_the_cache_and_hits_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), cfg(50.0)).unwrap();
    let t = e.tenant("acme").unwrap();
    let cs: Vec<_> = (0..100).map(|i| customer(&format!("c{i:03}"), "sales", "active")).collect();
    t.upsert_customers(&cs).unwrap();
    let point = t.prepare("SELECT * FROM customers WHERE id = ?").unwrap();
    for _ in 0..3 {
        assert!(!point.query(&[Value::Text("c001".into())]).unwrap().stats.from_cache, "a point lookup is cheaper than the threshold");
    }
    let scan = t.prepare("SELECT COUNT(*) FROM customers WHERE name IS NULL").unwrap();
    let a = scan.query(&[]).unwrap();
    let b = scan.query(&[]).unwrap();
    assert!(!a.stats.from_cache && b.stats.from_cache);
    assert_eq!(a.rows, b.rows);
    assert_eq!((a.stats.rows_examined, b.stats.rows_examined), (100, 0));
    let fp = e.monitor().top(10).into_iter().find(|f| f.query == scan.fingerprint()).unwrap();
    assert_eq!((fp.calls, fp.rows_examined, fp.table_scans), (2, 100, 1), "a hit is a call that examined nothing");
    // CURRENT_TIMESTAMP makes a result depend on the clock: never cached
    let now = t.prepare("SELECT COUNT(*) FROM customers WHERE created_at > CURRENT_TIMESTAMP - INTERVAL '1 day'").unwrap();
    now.query(&[]).unwrap();
    assert!(!now.query(&[]).unwrap().stats.from_cache);
    // different constants are different results even though the fingerprint is shared
    let x = t.query("SELECT COUNT(*) FROM customers WHERE name IS NULL AND id > 'c050'", &[]).unwrap();
    let y = t.query("SELECT COUNT(*) FROM customers WHERE name IS NULL AND id > 'c090'", &[]).unwrap();
    assert_eq!((x.rows[0][0].clone(), y.rows[0][0].clone()), (Value::Int(49), Value::Int(9)));
    e.close().unwrap();
}

#[test]
fn readers_racing_a_writer_never_go_back_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), cfg(0.0)).unwrap();
    let t = e.tenant("acme").unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let (t, acked) = (t.clone(), acked.clone());
        std::thread::spawn(move || {
            for i in 0..150u64 {
                t.upsert_customer(&customer(&format!("c{i:04}"), "d", "s")).unwrap();
                acked.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (t, acked) = (t.clone(), acked.clone());
            std::thread::spawn(move || {
                let stmt = t.prepare("SELECT COUNT(*) FROM customers WHERE status = 's'").unwrap();
                let mut hits = 0;
                while acked.load(Ordering::SeqCst) < 150 {
                    let lo = acked.load(Ordering::SeqCst);
                    let res = if r == 0 { stmt.query(&[]).unwrap() } else { t.query("SELECT COUNT(*) FROM customers WHERE status = 's'", &[]).unwrap() };
                    let Value::Int(n) = res.rows[0][0] else { panic!() };
                    let hi = acked.load(Ordering::SeqCst);
                    assert!(n as u64 >= lo && n as u64 <= hi + 1, "count {n} outside [{lo}, {}] (cached: {})", hi + 1, res.stats.from_cache);
                    hits += res.stats.from_cache as u64;
                }
                hits
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let stmt = t.prepare("SELECT COUNT(*) FROM customers WHERE status = 's'").unwrap();
    assert_eq!(stmt.query(&[]).unwrap().rows[0][0], Value::Int(150));
    let again = stmt.query(&[]).unwrap();
    assert!(again.stats.from_cache);
    assert_eq!(again.rows[0][0], Value::Int(150));
    e.close().unwrap();
}
