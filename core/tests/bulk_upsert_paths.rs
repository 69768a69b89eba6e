//! A bulk `upsert_customers` (thousands of rows in one call: the record encoding split over
//! two threads, the insert-only indexes' keys built on a helper thread while the writer
//! inserts) leaves exactly what the same customers upserted in small calls leave (the
//! serial paths): the same stored rows, the same index entries and statistics, every index
//! exact, and the same change-feed events, into an empty table and into one already
//! holding some of the ids.

mod common;
use cidb::{Config, Customer, Engine};
use common::*;
use proptest::prelude::*;

fn open_at(dir: &std::path::Path) -> Engine {
    Engine::open(dir, Config::default().with_clock(cidb::Clock::manual(T0))).unwrap()
}

/// Customers `ids` whose indexed columns vary with `salt`.
fn batch(ids: &[usize], salt: usize) -> Vec<Customer> {
    ids.iter()
        .map(|&i| {
            let k = i.wrapping_mul(2654435761).wrapping_add(salt) >> 5;
            let mut c = customer(&format!("c{i:05}"), ["sales", "support", "hr"][k % 3], ["active", "trial"][(k / 3) % 2]);
            c.email = (k % 4 != 0).then(|| format!("e{}@x.test", k % 5003));
            c.created_at = T0 - (k % 50_000) as i64;
            c
        })
        .collect()
}

/// Everything observable of `db`'s customers: rows by id, then per index its entry count,
/// statistics and exactness, then the logged events.
fn state(db: &Engine, ids: &[usize]) -> (Vec<Option<Customer>>, Vec<String>, Vec<cidb::feed::Event>) {
    let t = db.tenant("t0").unwrap();
    let rows = ids.iter().map(|i| t.get_customer(&format!("c{i:05}")).unwrap()).collect();
    let mut ix = Vec::new();
    for i in db.indexes().unwrap() {
        let check = db.check_index(&i.name).unwrap();
        assert!(check.is_exact(), "{}: {check:?}", i.name);
        ix.push(format!("{} {} {:?}", i.name, i.entries, db.index_stats(&i.name).unwrap()));
    }
    (rows, ix, db.events_since(0, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]
    #[test]
    fn bulk_upsert_equals_small_upserts(n in 8200usize..9000, before in proptest::collection::vec(0usize..12_000, 0..40), salt in 0usize..1000) {
        let ids: Vec<usize> = (0..n).map(|i| (i * 7919) % 12_000).collect();
        let bulk = tempfile::tempdir().unwrap();
        let small = tempfile::tempdir().unwrap();
        let (a, b) = (open_at(bulk.path()), open_at(small.path()));
        // A few rows first (some of them replaced by the big call), the same way into both.
        let pre = batch(&before, salt + 1);
        for db in [&a, &b] {
            let t = db.tenant("t0").unwrap();
            for c in &pre {
                t.upsert_customer(c).unwrap();
            }
        }
        let cs = batch(&ids, salt);
        a.tenant("t0").unwrap().upsert_customers(&cs).unwrap();
        for part in cs.chunks(97) {
            b.tenant("t0").unwrap().upsert_customers(part).unwrap();
        }
        let mut all: Vec<usize> = ids.iter().chain(&before).copied().collect();
        all.sort_unstable();
        all.dedup();
        let (sa, sb) = (state(&a, &all), state(&b, &all));
        prop_assert_eq!(&sa.0, &sb.0);
        prop_assert_eq!(&sa.1, &sb.1);
        // Same events in the same order; the sequence numbers and times match too.
        prop_assert_eq!(sa.2.len(), pre.len() + n);
        prop_assert_eq!(&sa.2, &sb.2);
        prop_assert_eq!(a.tenant("t0").unwrap().count_customers().unwrap(), all.len() as u64);
    }
}
