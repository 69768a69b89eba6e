//! An index range whose columns are all bound by equality (the bench's tenant query) reads
//! its entries in batches, looks their rows up in the snapshot's row cache together, and
//! streams the rows out with their text moved, not copied, out of the row buffer. The
//! rows must be exactly those of the one-at-a-time path: checked against the generated
//! data itself (every row of the filter, each with its own email and created_at), with a
//! cold cache, a warm one, and one warmed only for a prefix of the range (a miss in the
//! middle of a batch), under LIMIT and OFFSET of every size around the batch size, and
//! with an output column named twice (a slot moved out once, copied for the other).

use cidb::datagen::{generate, tenant_name, GenConfig, DEPARTMENTS, STATUSES};
use cidb::{Config, Customer, Engine, Value};
use proptest::prelude::*;
use std::collections::HashMap;

const NOW: i64 = 1_700_000_000_000;

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// Each tenant's customers, loaded.
fn load(dir: &std::path::Path, n: usize, seed: u64) -> (Engine, Vec<Vec<Customer>>) {
    let engine = Engine::open(dir, Config::default().with_clock(cidb::Clock::manual(NOW))).unwrap();
    let cfg = GenConfig::new(n, seed, NOW);
    let all: Vec<_> = generate(&cfg).collect();
    let mut per = Vec::new();
    for t in 0..cfg.tenants {
        let name = tenant_name(t);
        let mine: Vec<Customer> = all.iter().filter(|g| g.tenant == name).map(|g| g.customer.clone()).collect();
        engine.tenant(&name).unwrap().upsert_customers(&mine).unwrap();
        per.push(mine);
    }
    (engine, per)
}

const SQL: &str = "SELECT id, email, created_at, id FROM customers WHERE tenant_id = ? AND status = ? AND department = ?";

/// Checks `rows` (of `SQL`) against the customers: distinct ids, all matching the filter,
/// each row its customer's values; returns the ids in result order.
fn check(rows: &[Vec<Value>], want: &HashMap<String, &Customer>, ctx: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    for r in rows {
        let id = r[0].as_str().unwrap_or_else(|| panic!("{ctx}: id {:?}", r[0]));
        let c = want.get(id).unwrap_or_else(|| panic!("{ctx}: {id} does not match the filter"));
        assert!(seen.insert(id.to_string()), "{ctx}: {id} twice");
        let email = c.email.as_deref().map_or(Value::Null, text);
        assert_eq!(r, &vec![text(id), email, Value::Int(c.created_at), text(id)], "{ctx}");
    }
    rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn batched_index_fetches_return_the_rows_of_the_filter(seed in 0u64..1000, limits in proptest::collection::vec((0u64..80, 0u64..40), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let (engine, per) = load(dir.path(), 2400, seed);
        for (t, customers) in per.iter().enumerate() {
            let tenant = engine.tenant(&tenant_name(t)).unwrap();
            let plain = tenant.prepare(SQL).unwrap();
            let limited = tenant.prepare(&format!("{SQL} LIMIT ? OFFSET ?")).unwrap();
            for (i, (status, dept)) in [(STATUSES[0], DEPARTMENTS[0]), (STATUSES[1], DEPARTMENTS[2]), (STATUSES[0], DEPARTMENTS[3])].into_iter().enumerate() {
                let want: HashMap<String, &Customer> = customers
                    .iter()
                    .filter(|c| c.status == status && c.department == dept)
                    .map(|c| (c.id.clone(), c))
                    .collect();
                let p = [text(&tenant_name(t)), text(status), text(dept)];
                let ctx = format!("tenant {t} {status}/{dept}");
                // A prefix warmed first (the second pair only): later batches mix hits and misses.
                if i == 1 {
                    let (l, o) = limits[0];
                    let mut q = p.to_vec();
                    q.extend([Value::Int(l as i64), Value::Int(o as i64)]);
                    check(&limited.query(&q).unwrap().rows, &want, &ctx);
                }
                let cold = check(&plain.query(&p).unwrap().rows, &want, &ctx);
                prop_assert_eq!(cold.len(), want.len(), "{}: every row of the filter", ctx);
                let warm = check(&plain.query(&p).unwrap().rows, &want, &ctx);
                prop_assert_eq!(&warm, &cold, "{}: the warm cache gives the same rows in the same order", ctx);
                for &(l, o) in &limits {
                    let mut q = p.to_vec();
                    q.extend([Value::Int(l as i64), Value::Int(o as i64)]);
                    let r = limited.query(&q).unwrap();
                    let got = check(&r.rows, &want, &ctx);
                    let (o, l) = (o as usize, l as usize);
                    let n = cold.len().saturating_sub(o).min(l);
                    prop_assert_eq!(got.len(), n, "{}: LIMIT {} OFFSET {}", ctx, l, o);
                    // One plan, the same index order: the rows are that slice of the full result.
                    prop_assert_eq!(&got[..], &cold[o.min(cold.len())..o.min(cold.len()) + n], "{}: LIMIT {} OFFSET {}", ctx, l, o);
                    // No index entry past the limit is read: one entry and one fetch per row
                    // (OFFSET's rows included).
                    if n == l && l > 0 {
                        prop_assert_eq!(r.stats.rows_examined, 2 * (o + l) as u64, "{}: LIMIT {} OFFSET {}", ctx, l, o);
                    }
                }
            }
        }
        engine.close().unwrap();
    }
}
