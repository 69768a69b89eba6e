//! Regression benchmarks of cidb's own operations (no other engine, so a normal
//! `cargo bench -p cidb-benches --bench ops` stays fast): the typed reads (hot and cycling
//! customer reads, latest score, score history, a customer's recent messages), the
//! statement workloads of `cidb bench` (segment, tenant, email, high score, the join),
//! durable writes (a score, a context update, a batch of 1,000 customers) and a score
//! write with one change-feed subscriber. Data: tenant_0 of a generated dataset
//! (`CIDB_BENCH_CUSTOMERS`, default 15,000 customers over three tenants).

use cidb::datagen::{DAY_MS, SCORE_TYPES};
use cidb::{ContextEntry, Customer, Role, Score, Value};
use cidb_benches::{load, size_from_env, sql, tenant0_ids, NOW};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

fn reads(c: &mut Criterion) {
    let n = size_from_env();
    let f = load(n);
    let t = &f.tenant;
    let ids = tenant0_ids(n);
    let hot: Vec<&String> = ids.iter().take(100).collect();
    let mut g = c.benchmark_group("read");
    let mut i = 0usize;
    g.bench_function("get_customer/hot_100", |b| b.iter(|| {
        i = (i + 1) % hot.len();
        black_box(t.get_customer(hot[i]).unwrap())
    }));
    let mut i = 0usize;
    g.bench_function("get_customer/cycle_all", |b| b.iter(|| {
        i = (i + 7) % ids.len();
        black_box(t.get_customer(&ids[i]).unwrap())
    }));
    let mut i = 0usize;
    g.bench_function("latest_score/hot_100", |b| b.iter(|| {
        i = (i + 1) % (hot.len() * 3);
        black_box(t.latest_score(hot[i / 3], SCORE_TYPES[i % 3]).unwrap())
    }));
    let mut i = 0usize;
    g.bench_function("score_history", |b| b.iter(|| {
        i = (i + 7) % ids.len();
        black_box(t.score_history(&ids[i], "churn_risk", 0, NOW + 1).unwrap())
    }));
    g.bench_function("recent_messages_role", |b| b.iter(|| {
        black_box(t.messages_for_customer(&f.hot_customer, NOW - 30 * DAY_MS, NOW + 1, Some(Role::User), 0).unwrap())
    }));
    let text = |s: &str| Value::Text(s.into());
    let stmts = [
        ("sql/segment", sql::SEGMENT, vec![text("sales"), text("active"), Value::Int(NOW - 200 * DAY_MS), Value::Int(NOW - 110 * DAY_MS)]),
        ("sql/tenant", sql::TENANT, vec![text("tenant_0"), text("at_risk"), text("support")]),
        ("sql/email", sql::EMAIL, vec![Value::Text(format!("{}@example.com", f.hot_customer))]),
        ("sql/high_score", sql::HIGH, vec![Value::Real(0.8)]),
    ];
    for (name, q, params) in &stmts {
        let st = t.prepare(q).unwrap();
        g.bench_function(*name, |b| b.iter(|| black_box(st.query(params).unwrap())));
    }
    let join = t.prepare(sql::JOIN).unwrap();
    g.bench_function("join_high_score_recent", |b| b.iter(|| {
        let r = join.query(&[text("legal"), text("churn_risk")]).unwrap();
        let n = r.rows.iter().filter(|row| {
            let id = row[0].as_str().unwrap();
            !t.messages_for_customer(id, NOW - 30 * DAY_MS + 1, i64::MAX, None, 1).unwrap().is_empty()
        }).count();
        black_box(n)
    }));
    g.finish();

    let mut g = c.benchmark_group("write");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    let seq = AtomicI64::new(0);
    let score = || {
        let k = seq.fetch_add(1, Ordering::Relaxed);
        Score { customer_id: ids[k as usize % ids.len()].clone(), score_type: "churn_risk".into(), score: 0.5, confidence: 0.9, created_at: NOW + 1 + k, model: None }
    };
    g.bench_function("add_score_durable", |b| b.iter(|| t.add_score(&score()).unwrap()));
    let mut k = 0i64;
    g.bench_function("update_context", |b| b.iter(|| {
        k += 1;
        let e = ContextEntry { role: Role::User, content: format!("turn {k}"), timestamp: NOW + k, metadata: serde_json::json!({}) };
        black_box(t.update_context(&format!("conv_{}", k % 100), &[e], Duration::from_secs(3600), 20).unwrap())
    }));
    let mut batch = 0u64;
    g.bench_function("upsert_customers_1000", |b| b.iter_batched(|| {
        batch += 1;
        (0..1000).map(|i| Customer { department: "sales".into(), status: "active".into(), ..Customer::new(format!("bulk_{batch}_{i}"), NOW) }).collect::<Vec<_>>()
    }, |cs| t.upsert_customers(&cs).unwrap(), BatchSize::PerIteration));
    let sub = t.subscribe_callback(cidb::feed::Filter::default(), |d| { black_box(d); }).unwrap();
    g.bench_function("add_score_durable_1_subscriber", |b| b.iter(|| t.add_score(&score()).unwrap()));
    drop(sub);
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = reads
}
criterion_main!(benches);
