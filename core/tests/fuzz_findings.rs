//! Regression tests for what the fuzzers (`fuzz/`, cargo-fuzz) found: each test is the
//! smallest input that showed the problem, with the behaviour the fix guarantees.

mod common;

use cidb::{ErrorKind, Value};

fn engine() -> (tempfile::TempDir, cidb::Engine, cidb::Tenant) {
    let dir = tempfile::tempdir().unwrap();
    let e = common::open(dir.path());
    let t = e.tenant("acme").unwrap();
    t.upsert_customer(&common::customer("c1", "sales", "active")).unwrap();
    (dir, e, t)
}

/// sql_frontend: EXPLAIN returned its plan lines as rows but reported `rows_returned` 0.
#[test]
fn explain_reports_the_plan_lines_it_returns() {
    let (_d, _e, t) = engine();
    for sql in ["EXPLAIN SELECT * FROM customers WHERE status = 'active'", "EXPLAIN ANALYZE SELECT * FROM customers"] {
        let r = t.query(sql, &[]).unwrap();
        assert!(!r.rows.is_empty(), "{sql}");
        assert_eq!(r.stats.rows_returned, r.rows.len() as u64, "{sql}");
        assert!(r.rows.iter().all(|row| matches!(row.as_slice(), [Value::Text(_)])), "{sql}");
    }
}

fn nested(depth: usize) -> serde_json::Value {
    let mut v = serde_json::json!({"leaf": 1});
    for i in 1..depth {
        v = if (depth - i) % 2 == 1 { serde_json::json!({ "k": v }) } else { serde_json::Value::Array(vec![v]) };
    }
    v
}

/// engine_model: JSON nested deeper than serde_json reads back (127 levels) was accepted in
/// attributes and metadata, stored, and then every read of the row (get, SQL scans, the next
/// context update of that conversation) failed as `Corrupted`. Now the write is refused.
#[test]
fn json_nested_too_deep_is_refused_at_write_and_the_limit_reads_back() {
    let (_d, e, t) = engine();
    let limit = cidb::model::MAX_JSON_DEPTH;
    let ok = nested(limit);
    let too_deep = nested(limit + 1);

    let mut c = common::customer("deep", "sales", "active");
    c.attributes = too_deep.clone();
    let err = t.upsert_customer(&c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidAttributes);
    assert!(err.message().contains("attributes") && err.message().contains("levels deep"), "{err}");
    c.attributes = nested(200); // what used to be stored and then unreadable
    assert_eq!(t.upsert_customer(&c).unwrap_err().kind(), ErrorKind::InvalidAttributes);
    c.attributes = ok.clone();
    t.upsert_customer(&c).unwrap();

    let mut m = common::msg("deep", "v1", cidb::Role::User, common::T0, "hi");
    m.metadata = too_deep.clone();
    assert_eq!(t.append_message(&m).unwrap_err().kind(), ErrorKind::InvalidAttributes);
    m.metadata = ok.clone();
    t.append_message(&m).unwrap();

    let entry = |meta: &serde_json::Value| cidb::ContextEntry {
        role: cidb::Role::User,
        content: "x".into(),
        timestamp: common::T0,
        metadata: meta.clone(),
    };
    let ttl = std::time::Duration::from_secs(60);
    assert_eq!(t.update_context("v1", &[entry(&too_deep)], ttl, 5).unwrap_err().kind(), ErrorKind::InvalidAttributes);
    t.update_context("v1", &[entry(&ok)], ttl, 5).unwrap();
    t.update_context("v1", &[entry(&ok)], ttl, 5).unwrap(); // reads the stored one back

    // Everything written reads back, also from storage after a restart.
    e.close().unwrap();
    let e = common::open(_d.path());
    let t = e.tenant("acme").unwrap();
    assert_eq!(t.get_customer("deep").unwrap().unwrap().attributes, ok);
    assert_eq!(t.messages_for_conversation("v1").unwrap()[0].metadata, ok);
    assert_eq!(t.get_context("v1").unwrap().unwrap().entries.len(), 2);
    assert_eq!(t.query("SELECT id FROM customers", &[]).unwrap().rows.len(), 2);
}

fn or_chain(terms: usize) -> String {
    let alternatives: Vec<String> = (0..terms).map(|i| format!("id = 'c{i}'")).collect();
    format!("SELECT id FROM customers WHERE {}", alternatives.join(" OR "))
}

/// sql_frontend: a long chain of binary operators (`a OR b OR c ...`, a few thousand) parsed
/// into a tree that deep, and walking it recursively overflowed the thread's stack: the
/// process aborted. Statements are now limited to `MAX_OPERATORS` operators, refused before
/// any tree is built; shorter chains still work and IN lists have no such limit.
#[test]
fn operator_chains_beyond_the_limit_are_refused_not_a_stack_overflow() {
    let (_d, e, t) = engine();
    let limit = cidb::sql::MAX_OPERATORS;
    // Run on a small stack, as a user's worker thread might: the refusal needs no recursion.
    let t2 = t.clone();
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            for sql in [or_chain(20_000), format!("SELECT id FROM customers WHERE id = {}", vec!["1"; 50_000].join(" + "))] {
                let err = t2.query(&sql, &[]).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
                assert!(err.message().contains(&format!("the limit is {limit}")) && err.message().contains("IN (...)"), "{err}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(e.execute(&format!("CREATE INDEX x ON customers(id) WHERE {}", or_chain(2_000).split("WHERE ").nth(1).unwrap())).unwrap_err().kind(), ErrorKind::Unsupported);

    // Below the limit (debug builds use much more stack per level, so keep the chain short).
    let r = t.query(&or_chain(60), &[]).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Text("c1".into())]]);
    let ids: Vec<String> = (0..20_000).map(|i| format!("'c{i}'")).collect();
    let r = t.query(&format!("SELECT id FROM customers WHERE id IN ({})", ids.join(", ")), &[]).unwrap();
    assert_eq!(r.rows.len(), 1, "a long IN list is not limited");
}

/// engine_model (which keeps its engine in a `thread_local!`): an engine dropped while its
/// thread's locals were being destroyed aborted the process. Saving the cache's hot set at
/// close took a papaya guard whose thread-local slot was already gone, and a panic in a
/// thread-local destructor aborts. The engine must close cleanly and keep its data.
#[test]
fn engine_dropped_in_a_thread_local_destructor_closes_cleanly() {
    use std::cell::RefCell;
    thread_local! { static HELD: RefCell<Option<cidb::Engine>> = const { RefCell::new(None) }; }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    std::thread::spawn(move || {
        // Registered first, so destroyed last: after the cache's own thread locals.
        HELD.with(|_| {});
        let db = common::open(&path);
        let t = db.tenant("acme").unwrap();
        t.upsert_customer(&common::customer("c1", "sales", "active")).unwrap();
        for _ in 0..3 {
            assert!(t.get_customer("c1").unwrap().is_some()); // through L1
        }
        HELD.with(|h| *h.borrow_mut() = Some(db));
    })
    .join()
    .expect("the thread ends without a panic");
    let db = common::open(dir.path());
    assert_eq!(db.tenant("acme").unwrap().get_customer("c1").unwrap().unwrap().department, "sales");
}
