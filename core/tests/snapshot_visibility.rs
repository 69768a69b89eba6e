//! Reads share one snapshot until the next commit; these tests hold the visibility rule
//! that makes that safe: once a write call has returned, every read that starts afterwards,
//! in any thread and through any read path (prepared SQL, ad-hoc SQL, tenant fast paths,
//! stats), sees it. They interleave reads between writes so a shared snapshot is always
//! warm when the next write lands.

mod common;

use cidb::schema::Value;
use cidb::{Role, Tenant};
use common::{customer, msg, open, T0};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

fn email_of(stmt: &cidb::Statement, id: &str) -> Option<String> {
    let r = stmt.query(&[Value::Text(format!("{id}@x.test"))]).expect("query");
    match r.rows.first().map(|row| &row[0]) {
        Some(Value::Text(s)) => Some(s.clone()),
        None => None,
        other => panic!("unexpected {other:?}"),
    }
}

fn count_sql(t: &Tenant) -> i64 {
    match &t.query("SELECT COUNT(*) FROM customers", &[]).expect("count").rows[0][0] {
        Value::Int(n) => *n,
        v => panic!("unexpected {v:?}"),
    }
}

#[test]
fn every_read_after_a_write_sees_it_single_thread() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let t = engine.tenant("acme").unwrap();
    let by_email = t.prepare("SELECT id FROM customers WHERE email = ?").unwrap();
    // Warm the shared snapshot before the first write.
    assert_eq!(email_of(&by_email, "c0"), None);
    assert_eq!(t.count_customers().unwrap(), 0);
    for i in 0..150i64 {
        let id = format!("c{i}");
        t.upsert_customer(&customer(&id, "sales", "active")).unwrap();
        assert_eq!(email_of(&by_email, &id).as_deref(), Some(id.as_str()), "prepared SQL after write {i}");
        assert_eq!(t.count_customers().unwrap(), i as u64 + 1, "count after write {i}");
        assert_eq!(count_sql(&t), i + 1, "ad-hoc SQL after write {i}");
        t.append_message(&msg(&id, "conv", Role::User, T0 + i, "hi")).unwrap();
        let m = t.messages_for_customer(&id, 0, i64::MAX, None, 0).unwrap();
        assert_eq!(m.len(), 1, "messages after append {i}");
        assert_eq!(engine.stats().unwrap().messages, Some(i as u64 + 1));
        // A delete is a write too: the next read must not see the row any more.
        if i % 10 == 9 {
            assert!(t.delete_customer(&id).unwrap());
            assert_eq!(email_of(&by_email, &id), None, "prepared SQL after delete {i}");
            t.upsert_customer(&customer(&id, "sales", "active")).unwrap();
        }
    }
}

#[test]
fn every_read_after_a_write_sees_it_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let t = engine.tenant("acme").unwrap();
    // The newest customer number whose write has returned (-1: none yet).
    let done = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (t, done, stop) = (t.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                let by_email = t.prepare("SELECT id FROM customers WHERE email = ?").unwrap();
                let mut checks = 0u64;
                while !stop.load(Ordering::Acquire) {
                    let n = done.load(Ordering::Acquire);
                    if n < 0 {
                        std::thread::yield_now();
                        continue;
                    }
                    let id = format!("c{n}");
                    match r % 3 {
                        0 => assert_eq!(email_of(&by_email, &id).as_deref(), Some(id.as_str()), "reader {r}: {id}"),
                        1 => assert!(t.count_customers().unwrap() > n as u64, "reader {r}: count before {id}"),
                        _ => assert_eq!(t.messages_for_customer(&id, 0, i64::MAX, None, 0).unwrap().len(), 1, "reader {r}: messages of {id}"),
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for i in 0..300i64 {
        let id = format!("c{i}");
        t.upsert_customer(&customer(&id, "sales", "active")).unwrap();
        t.append_message(&msg(&id, "conv", Role::User, T0 + i, "hi")).unwrap();
        done.store(i, Ordering::Release);
        // The writer's own thread reads too.
        assert_eq!(t.count_customers().unwrap(), i as u64 + 1);
    }
    stop.store(true, Ordering::Release);
    for h in readers {
        assert!(h.join().expect("reader panicked") > 0, "a reader never checked anything");
    }
}

#[test]
fn reads_after_close_fail_and_the_directory_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let t = engine.tenant("acme").unwrap();
    t.upsert_customer(&customer("a", "sales", "active")).unwrap();
    let stmt = t.prepare("SELECT id FROM customers WHERE email = ?").unwrap();
    assert_eq!(email_of(&stmt, "a").as_deref(), Some("a"));
    engine.close().unwrap();
    // The shared snapshot must not outlive close: reads fail with Closed.
    let e = stmt.query(&[Value::Text("a@x.test".into())]).unwrap_err();
    assert_eq!(e.kind(), cidb::ErrorKind::Closed);
    assert_eq!(t.count_customers().unwrap_err().kind(), cidb::ErrorKind::Closed);
    drop((stmt, t, engine));
    let engine = open(dir.path());
    let t = engine.tenant("acme").unwrap();
    assert_eq!(t.count_customers().unwrap(), 1);
}
