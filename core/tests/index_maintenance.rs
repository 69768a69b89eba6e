//! Secondary indexes stay exact under every kind of write: the seed indexes exist in a
//! fresh database, random writes across tenants leave every index holding exactly the rows
//! its table holds (partial predicates included), statistics kept on every write equal the
//! ones ANALYZE recomputes, UNIQUE is enforced per tenant, and DDL persists across reopen.

mod common;
use cidb::{Config, Engine, ErrorKind, Role, Score};
use common::*;
use proptest::prelude::*;

const SEED_NAMES: [&str; 7] = [
    "idx_conversation_messages_customer_id_timestamp_role",
    "idx_conversation_messages_recent_partial",
    "idx_customer_scores_customer_id_score_type_created_at",
    "idx_customer_scores_high_score_partial",
    "idx_customers_department_status_created_at",
    "idx_customers_email_partial",
    "idx_customers_tenant_id_status_department",
];

fn open_at(dir: &std::path::Path, now: i64) -> Engine {
    Engine::open(dir, Config::default().with_clock(cidb::Clock::manual(now))).unwrap()
}

#[test]
fn fresh_database_has_the_seven_seed_indexes_and_a_dropped_one_stays_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut names: Vec<String> = db.indexes().unwrap().into_iter().map(|i| i.name).collect();
    names.sort();
    assert_eq!(names, SEED_NAMES);
    let ix = db.indexes().unwrap();
    let email = ix
        .iter()
        .find(|i| i.name == "idx_customers_email_partial")
        .unwrap();
    assert_eq!(email.columns, ["email"]);
    assert_eq!(email.predicate.as_deref(), Some("email IS NOT NULL"));
    assert!(ix.iter().all(|i| i.ready && !i.unique && i.entries == 0));
    let recent = ix
        .iter()
        .find(|i| i.name == "idx_conversation_messages_recent_partial")
        .unwrap();
    assert_eq!(recent.columns, ["timestamp", "customer_id"]);
    assert_eq!(
        recent.predicate.as_deref(),
        Some("timestamp > CURRENT_TIMESTAMP - INTERVAL '30 days'")
    );

    db.execute("DROP INDEX idx_customers_email_partial")
        .unwrap();
    db.close().unwrap();
    let db = open(dir.path());
    assert_eq!(db.indexes().unwrap().len(), 6);
    assert!(db
        .indexes()
        .unwrap()
        .iter()
        .all(|i| i.name != "idx_customers_email_partial"));
    db.close().unwrap();

    let dir2 = tempfile::tempdir().unwrap();
    let db = Engine::open(dir2.path(), Config::default().with_seed_indexes(false)).unwrap();
    assert!(db.indexes().unwrap().is_empty());
    db.close().unwrap();
    let db = open(dir2.path());
    assert!(
        db.indexes().unwrap().is_empty(),
        "seeding happens only in a fresh database"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        tenant: u8,
        id: u8,
        dept: u8,
        status: u8,
        email: Option<u8>,
        created: i64,
    },
    Delete {
        tenant: u8,
        id: u8,
    },
    Score {
        tenant: u8,
        id: u8,
        ty: u8,
        score: f64,
        at: i64,
    },
    Message {
        tenant: u8,
        id: u8,
        role: u8,
        at: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..2, 0u8..12, 0u8..3, 0u8..3, proptest::option::of(0u8..6), 0i64..5).prop_map(|(tenant, id, dept, status, email, created)| Op::Upsert { tenant, id, dept, status, email, created }),
        1 => (0u8..2, 0u8..12).prop_map(|(tenant, id)| Op::Delete { tenant, id }),
        3 => (0u8..2, 0u8..12, 0u8..2, 0.0f64..=1.0, 0i64..6).prop_map(|(tenant, id, ty, score, at)| Op::Score { tenant, id, ty, score, at }),
        3 => (0u8..2, 0u8..12, 0u8..5, -60i64..5).prop_map(|(tenant, id, role, at)| Op::Message { tenant, id, role, at }),
    ]
}

const DAY: i64 = 86_400_000;

fn apply(db: &Engine, op: &Op) {
    let t = db
        .tenant(&format!(
            "t{}",
            match op {
                Op::Upsert { tenant, .. }
                | Op::Delete { tenant, .. }
                | Op::Score { tenant, .. }
                | Op::Message { tenant, .. } => tenant,
            }
        ))
        .unwrap();
    match op {
        Op::Upsert {
            id,
            dept,
            status,
            email,
            created,
            ..
        } => {
            let mut c = customer(
                &format!("c{id}"),
                ["sales", "support", "hr"][*dept as usize],
                ["active", "trial", "churned"][*status as usize],
            );
            c.email = email.map(|e| format!("e{e}@x.test"));
            c.created_at = T0 + created * 1000;
            t.upsert_customer(&c).unwrap();
        }
        Op::Delete { id, .. } => {
            t.delete_customer(&format!("c{id}")).unwrap();
        }
        Op::Score {
            id, ty, score, at, ..
        } => {
            let s = Score {
                customer_id: format!("c{id}"),
                score_type: ["churn", "upsell"][*ty as usize].into(),
                score: *score,
                confidence: 0.5,
                created_at: T0 + at * 1000,
                model: None,
            };
            t.add_score(&s).unwrap();
        }
        Op::Message { id, role, at, .. } => {
            t.append_message(&msg(
                &format!("c{id}"),
                "conv",
                Role::ALL[*role as usize],
                T0 + at * DAY,
                "hi",
            ))
            .unwrap();
        }
    }
}

/// Every index of `db` is exact (no stale or missing entry, as many entries as the catalog
/// says), and its incrementally kept statistics equal what a fresh ANALYZE computes.
/// `after` (the writes that led here) goes into the failure message.
fn indexes_exact_and_stats_as_analyze(db: &Engine, after: &dyn std::fmt::Debug) -> Result<(), TestCaseError> {
    let mut live = Vec::new();
    for i in db.indexes().unwrap() {
        let check = db.check_index(&i.name).unwrap();
        prop_assert!(check.is_exact(), "{} after {:?}: {:?}", i.name, after, check);
        prop_assert_eq!(check.stale, 0);
        prop_assert_eq!(check.entries, i.entries);
        live.push((i.name.clone(), db.index_stats(&i.name).unwrap()));
    }
    db.execute("ANALYZE").unwrap();
    for (name, before) in live {
        let after = db.index_stats(&name).unwrap();
        prop_assert_eq!(&before, &after, "incremental stats of {} differ from ANALYZE", name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_writes_keep_every_index_exact(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let db = open_at(dir.path(), T0);
        db.execute("CREATE UNIQUE INDEX u_latest ON latest_scores(customer_id, score_type)").unwrap();
        for o in &ops {
            apply(&db, o);
        }
        indexes_exact_and_stats_as_analyze(&db, &ops)?;
    }
}

#[test]
fn unique_index_is_enforced_per_tenant_and_allows_many_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.execute("CREATE UNIQUE INDEX u_email ON customers(email)")
        .unwrap();
    let a = db.tenant("a").unwrap();
    let b = db.tenant("b").unwrap();
    a.upsert_customer(&customer("c1", "d", "s")).unwrap();
    // The same email in another tenant is fine; the same customer re-upserted is fine.
    let mut other = customer("c1", "d", "s");
    b.upsert_customer(&other).unwrap();
    a.upsert_customer(&customer("c1", "d2", "s2")).unwrap();
    other.id = "c2".into();
    other.email = Some("c1@x.test".into());
    let e = a.upsert_customer(&other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConstraintViolation, "{e}");
    assert!(e.message().contains("u_email"), "{e}");
    assert!(
        a.get_customer("c2").unwrap().is_none(),
        "the rejected write must not land"
    );
    // A batch with a duplicate inside fails as a whole.
    let mut x = customer("x1", "d", "s");
    x.email = Some("same@x".into());
    let mut y = customer("x2", "d", "s");
    y.email = Some("same@x".into());
    assert_eq!(
        a.upsert_customers(&[x.clone(), y]).unwrap_err().kind(),
        ErrorKind::ConstraintViolation
    );
    assert!(a.get_customer("x1").unwrap().is_none());
    // NULLs are distinct.
    for i in 0..3 {
        let mut n = customer(&format!("n{i}"), "d", "s");
        n.email = None;
        a.upsert_customer(&n).unwrap();
    }
    // Changing the email frees the old value.
    a.upsert_customer(&x).unwrap();
    x.email = Some("moved@x".into());
    a.upsert_customer(&x).unwrap();
    let mut z = customer("z", "d", "s");
    z.email = Some("same@x".into());
    a.upsert_customer(&z).unwrap();
    assert!(db.check_index("u_email").unwrap().is_exact());

    // Building a UNIQUE index over duplicates fails and leaves no index behind.
    let e = db
        .execute("CREATE UNIQUE INDEX u_dept ON customers(department)")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConstraintViolation, "{e}");
    assert!(db.indexes().unwrap().iter().all(|i| i.name != "u_dept"));
}

#[test]
fn ddl_errors_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let batch: Vec<_> = (0..1500)
        .map(|i| customer(&format!("c{i:04}"), ["a", "b", "c"][i % 3], "s"))
        .collect();
    t.upsert_customers(&batch).unwrap();
    db.execute("CREATE INDEX ix_name ON customers(name, status) WHERE status = 's'")
        .unwrap();
    assert_eq!(
        db.execute("CREATE INDEX ix_name ON customers(name)")
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyExists
    );
    db.execute("CREATE INDEX IF NOT EXISTS ix_name ON customers(name)")
        .unwrap();
    assert_eq!(
        db.execute("CREATE INDEX ix2 ON nope(name)")
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownTable
    );
    assert_eq!(
        db.execute("CREATE INDEX ix2 ON customers(nope)")
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownColumn
    );
    assert_eq!(
        db.execute("CREATE INDEX ix2 ON customers(name) WHERE status > 3")
            .unwrap_err()
            .kind(),
        ErrorKind::TypeMismatch
    );
    let e = db
        .execute("CREATE INDEX ix2 ON customers(lower(name))")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.message().contains("1:31") && e.message().contains("lower(name)"),
        "{e}"
    );
    assert_eq!(
        db.execute("DROP INDEX nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    db.execute("DROP INDEX IF EXISTS nope").unwrap();
    assert_eq!(
        db.execute("SELECT * FROM customers").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let info = db
        .indexes()
        .unwrap()
        .into_iter()
        .find(|i| i.name == "ix_name")
        .unwrap();
    assert_eq!(info.entries, 1500);
    assert_eq!(info.predicate.as_deref(), Some("status = 's'"));
    let stats = db.index_stats("ix_name").unwrap();
    assert_eq!(stats.entries, 1500);
    assert_eq!(
        stats.distinct,
        vec![1, 1, 1],
        "one tenant, name always NULL, status always 's'"
    );
    let dept = db
        .index_stats("idx_customers_department_status_created_at")
        .unwrap();
    assert_eq!(dept.distinct, vec![1, 3, 3, 3]);
    assert!(db.check_index("ix_name").unwrap().is_exact());
    db.close().unwrap();
    let db = open(dir.path());
    let info = db
        .indexes()
        .unwrap()
        .into_iter()
        .find(|i| i.name == "ix_name")
        .unwrap();
    assert!(info.ready);
    assert_eq!(info.columns, ["name", "status"]);
    assert!(db.check_index("ix_name").unwrap().is_exact());
}

/// A batch of customers `(id, dept, status, email)` as one `upsert_customers` call.
fn batch_strategy() -> impl Strategy<Value = Vec<(u8, u8, u8, Option<u8>)>> {
    proptest::collection::vec((0u8..40, 0u8..3, 0u8..3, proptest::option::of(0u8..30)), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    // Multi-row writes go through the sorted batch insert of index entries (every row new)
    // or the row-by-row path (some row replaced, ids repeated in a batch): both must leave
    // every index exact and its statistics equal to a fresh ANALYZE.
    #[test]
    fn batched_writes_keep_every_index_exact(batches in proptest::collection::vec(batch_strategy(), 1..6), scores in 0usize..30) {
        let dir = tempfile::tempdir().unwrap();
        let db = open_at(dir.path(), T0);
        db.execute("CREATE INDEX ix_name_dept ON customers(name, department)").unwrap();
        let t = db.tenant("t0").unwrap();
        for (b, rows) in batches.iter().enumerate() {
            let cs: Vec<_> = rows
                .iter()
                .map(|(id, dept, status, email)| {
                    let mut c = customer(&format!("c{id:02}"), ["sales", "support", "hr"][*dept as usize], ["active", "trial", "churned"][*status as usize]);
                    c.email = email.map(|e| format!("e{e}@x.test"));
                    c.name = Some(format!("n{}", (id / 3) as usize + b));
                    c.created_at = T0 + *id as i64 * 1000;
                    c
                })
                .collect();
            t.upsert_customers(&cs).unwrap();
        }
        let ss: Vec<Score> = (0..scores)
            .map(|i| Score { customer_id: format!("c{:02}", i % 7), score_type: "churn".into(), score: (i % 10) as f64 / 10.0, confidence: 0.8, created_at: T0 + i as i64, model: None })
            .collect();
        t.add_scores(&ss).unwrap();
        indexes_exact_and_stats_as_analyze(&db, &batches)?;
    }
}

#[test]
fn unique_violation_inside_one_batch_lands_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_at(dir.path(), T0);
    db.execute("CREATE UNIQUE INDEX u_mail ON customers(email)").unwrap();
    let t = db.tenant("t0").unwrap();
    let mk = |id: &str, mail: &str| {
        let mut c = customer(id, "sales", "active");
        c.email = Some(mail.into());
        c
    };
    t.upsert_customer(&mk("a", "a@x.test")).unwrap();
    // Two new rows with the same address in one call, and a new row taking a stored one.
    for batch in [vec![mk("b", "b@x.test"), mk("c", "dup@x.test"), mk("d", "dup@x.test")], vec![mk("e", "e@x.test"), mk("f", "a@x.test")]] {
        let e = t.upsert_customers(&batch).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConstraintViolation, "{e}");
    }
    assert_eq!(t.count_customers().unwrap(), 1);
    assert!(db.check_index("u_mail").unwrap().is_exact());
    // The same rows one per call: the first of each pair lands.
    t.upsert_customers(&[mk("b", "b@x.test"), mk("c", "dup@x.test")]).unwrap();
    assert_eq!(t.count_customers().unwrap(), 3);
}

/// Customers `lo..hi` for a large batch: departments, statuses, names and e-mail addresses
/// (some missing) vary with `round`, so a second round replaces entries of every index.
fn large_batch(lo: usize, hi: usize, round: usize) -> Vec<cidb::Customer> {
    (lo..hi)
        .map(|i| {
            let k = i.wrapping_mul(2654435761) >> 7;
            let mut c = customer(&format!("c{i:05}"), ["sales", "support", "hr"][(k + round) % 3], ["active", "trial", "churned"][(k / 3 + round) % 3]);
            c.email = (k % 5 != round % 5).then(|| format!("e{}@x.test", (k + round) % 7919));
            c.name = (!(k + round).is_multiple_of(4)).then(|| format!("n{}", (k / 7 + round) % 97));
            c.created_at = T0 + (k % 100_000) as i64;
            c
        })
        .collect()
}

// Writes of thousands of rows (the size of a bulk ingest's batch insert of index entries,
// and of any future threaded or chunked path): every index stays exact, statistics equal
// ANALYZE, every stored customer is the one written last, and a UNIQUE violation in a
// large batch lands nothing.
#[test]
fn large_batches_keep_every_index_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_at(dir.path(), T0);
    db.execute("CREATE INDEX ix_name_dept ON customers(name, department)").unwrap();
    let t = db.tenant("t0").unwrap();
    let first = large_batch(0, 6000, 0);
    t.upsert_customers(&first).unwrap(); // every row new: the sorted batch insert
    indexes_exact_and_stats_as_analyze(&db, &"first batch").unwrap();
    let second = large_batch(3000, 9000, 1);
    t.upsert_customers(&second).unwrap(); // half replaced: entries removed and inserted
    indexes_exact_and_stats_as_analyze(&db, &"second batch").unwrap();
    assert_eq!(t.count_customers().unwrap(), 9000);
    for c in first[..3000].iter().chain(&second) {
        assert_eq!(t.get_customer(&c.id).unwrap().as_ref(), Some(c));
    }
    // A UNIQUE index in a fresh database: a large batch with one repeated name fails whole.
    let dir = tempfile::tempdir().unwrap();
    let db = open_at(dir.path(), T0);
    db.execute("CREATE UNIQUE INDEX u_name ON customers(name)").unwrap();
    let t = db.tenant("t1").unwrap();
    let mut unique = large_batch(0, 5000, 2);
    for (i, c) in unique.iter_mut().enumerate() {
        c.name = Some(format!("u{i}"));
    }
    t.upsert_customers(&unique).unwrap();
    for (i, c) in unique.iter_mut().enumerate() {
        c.id.push('x');
        c.name = Some(format!("v{i}"));
    }
    unique[4999].name = Some("u17".into());
    let e = t.upsert_customers(&unique).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConstraintViolation, "{e}");
    assert_eq!(t.count_customers().unwrap(), 5000);
    indexes_exact_and_stats_as_analyze(&db, &"after the failed batch").unwrap();
}
