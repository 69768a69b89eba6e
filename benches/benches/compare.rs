//! The same operations as the `ops` bench on other engines, kept in their own target so
//! that regression runs of `ops` stay fast: SQLite (prepared statements, same rows: the
//! fixture's tenant_0; durable writes with synchronous=FULL), moka beside cidb's L1 (hit
//! latency on the same keys), and plain redb (a customer stored as JSON under its id, read
//! and decoded) beside cidb's customer read. Run:
//! `cargo bench -p cidb-benches --bench compare`.

use cidb::cache::l1::{Lookup, L1, NEVER};
use cidb::datagen::{DAY_MS, SCORE_TYPES};
use cidb::{Customer, Role, Value};
use cidb_benches::{load, size_from_env, sql, sqlite_query, tenant0_ids, to_sql, NOW};
use criterion::{criterion_group, criterion_main, Criterion};
use redb::{ReadableDatabase, TableDefinition};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const REDB_CUSTOMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("customers");

fn customer(r: &rusqlite::Row<'_>) -> rusqlite::Result<Customer> {
    let attrs: String = r.get(7)?;
    Ok(Customer {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        department: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        attributes: serde_json::from_str(&attrs).unwrap(),
    })
}

fn compare(c: &mut Criterion) {
    let n = size_from_env();
    let f = load(n);
    let ids = tenant0_ids(n);
    let hot: Vec<&String> = ids.iter().take(100).collect();
    let db = &f.sqlite;
    let mut g = c.benchmark_group("sqlite");
    let mut i = 0usize;
    g.bench_function("get_customer/hot_100", |b| b.iter(|| {
        i = (i + 1) % hot.len();
        black_box(db.prepare_cached(sql::BY_ID).unwrap().query_row([hot[i]], customer).unwrap())
    }));
    let mut i = 0usize;
    g.bench_function("latest_score/hot_100", |b| b.iter(|| {
        i = (i + 1) % (hot.len() * 3);
        let mut st = db.prepare_cached(sql::LATEST).unwrap();
        black_box(sqlite_query(&mut st, &[Value::Text(hot[i / 3].clone()), Value::Text(SCORE_TYPES[i % 3].into())]))
    }));
    let mut i = 0usize;
    g.bench_function("score_history", |b| b.iter(|| {
        i = (i + 7) % ids.len();
        let mut st = db.prepare_cached(sql::HISTORY).unwrap();
        black_box(sqlite_query(&mut st, &[Value::Text(ids[i].clone()), Value::Text("churn_risk".into()), Value::Int(0), Value::Int(NOW + 1)]))
    }));
    g.bench_function("recent_messages_role", |b| b.iter(|| {
        let mut st = db.prepare_cached(sql::RECENT).unwrap();
        black_box(sqlite_query(&mut st, &[Value::Text(f.hot_customer.clone()), Value::Int(NOW - 30 * DAY_MS), Value::Int(NOW + 1), Value::Text(Role::User.as_str().into())]))
    }));
    let text = |s: &str| Value::Text(s.into());
    let stmts = [
        ("sql/segment", sql::SEGMENT, vec![text("sales"), text("active"), Value::Int(NOW - 200 * DAY_MS), Value::Int(NOW - 110 * DAY_MS)]),
        ("sql/tenant", sql::TENANT, vec![text("tenant_0"), text("at_risk"), text("support")]),
        ("sql/email", sql::EMAIL, vec![Value::Text(format!("{}@example.com", f.hot_customer))]),
        ("sql/high_score", sql::HIGH, vec![Value::Real(0.8)]),
        ("join_high_score_recent", sql::JOIN_SQLITE, vec![text("legal"), text("churn_risk"), Value::Int(NOW - 30 * DAY_MS)]),
    ];
    for (name, q, params) in &stmts {
        let mut st = db.prepare_cached(q).unwrap();
        g.bench_function(*name, |b| b.iter(|| black_box(sqlite_query(&mut st, params))));
    }
    let full = rusqlite::Connection::open(f.dir.path().join("sqlite.db")).unwrap();
    full.execute_batch("PRAGMA synchronous=FULL;").unwrap();
    full.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut k = 0i64;
    g.sample_size(10);
    g.bench_function("add_score_durable", |b| b.iter(|| {
        k += 1;
        full.execute_batch("BEGIN IMMEDIATE").unwrap();
        let row = [text(&ids[k as usize % ids.len()]), text("churn_risk"), Value::Real(0.5), Value::Real(0.9), Value::Int(NOW + k), Value::Null, text("tenant_0")];
        full.prepare_cached("INSERT INTO customer_scores VALUES (?, ?, ?, ?, ?, ?, ?)").unwrap().execute(rusqlite::params_from_iter(row.iter().map(to_sql))).unwrap();
        full.prepare_cached("INSERT OR REPLACE INTO latest_scores VALUES (?, ?, ?, ?, ?, ?, ?)").unwrap().execute(rusqlite::params_from_iter(row.iter().map(to_sql))).unwrap();
        full.execute_batch("COMMIT").unwrap();
    }));
    g.finish();

    // Plain redb: customers as JSON under their id.
    let rdb = redb::Database::create(f.dir.path().join("plain.redb")).unwrap();
    let w = rdb.begin_write().unwrap();
    {
        let mut tbl = w.open_table(REDB_CUSTOMERS).unwrap();
        for id in &ids {
            let c = f.tenant.get_customer(id).unwrap().unwrap();
            tbl.insert(id.as_str(), serde_json::to_vec(&c).unwrap().as_slice()).unwrap();
        }
    }
    w.commit().unwrap();
    let mut g = c.benchmark_group("redb");
    let mut i = 0usize;
    g.bench_function("get_customer_json/cycle_all", |b| b.iter(|| {
        i = (i + 7) % ids.len();
        let r = rdb.begin_read().unwrap();
        let t = r.open_table(REDB_CUSTOMERS).unwrap();
        let v = t.get(ids[i].as_str()).unwrap().unwrap();
        black_box(serde_json::from_slice::<Customer>(v.value()).unwrap())
    }));
    g.finish();

    // moka beside cidb's L1: hits on 1,000 resident keys holding customers.
    let l1: L1<Arc<Customer>> = L1::new(10_000, 500 << 20);
    let m: moka::sync::Cache<Arc<[u8]>, Arc<Customer>> = moka::sync::Cache::new(10_000);
    let keys: Vec<Arc<[u8]>> = ids.iter().take(1_000).map(|id| Arc::from(id.as_bytes())).collect();
    for (k, id) in keys.iter().zip(&ids) {
        let cu = Arc::new(f.tenant.get_customer(id).unwrap().unwrap());
        l1.insert(k.clone(), cu.clone(), 400, NEVER, || true);
        m.insert(k.clone(), cu);
    }
    m.run_pending_tasks();
    let mut g = c.benchmark_group("cache_hit");
    let mut i = 0usize;
    g.bench_function("cidb_l1", |b| b.iter(|| {
        i = (i + 1) % keys.len();
        matches!(l1.get(&keys[i], 0), Lookup::Hit(_))
    }));
    let mut i = 0usize;
    g.bench_function("moka", |b| b.iter(|| {
        i = (i + 1) % keys.len();
        m.get(&keys[i][..]).is_some()
    }));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = compare
}
criterion_main!(benches);
