//! The change feed: events after commit only, in commit order, exactly once; none for
//! rejected writes; threshold crossings once per crossing; overflow notices for slow
//! subscribers; resume by sequence number after reopen; tenant isolation.

mod common;
use cidb::feed::{Crossing, Delivery, Event, Filter, Op};
use cidb::{Config, ContextEntry, Engine, Role};
use common::*;
use std::time::Duration;

fn events(sub: &cidb::feed::Subscription) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(d) = sub.recv_timeout(Duration::from_millis(200)) {
        match d {
            Delivery::Event(e) => out.push(e),
            Delivery::Missed { .. } => panic!("unexpected overflow"),
        }
    }
    out
}

#[test]
fn committed_changes_arrive_once_in_commit_order_and_rejected_never() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let sub = t.subscribe(Filter::default()).unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    t.upsert_customer(&customer(&format!("w{w}_{i}"), "d", "s")).unwrap();
                    assert!(t.upsert_customer(&customer("", "d", "s")).is_err());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let got = events(&sub);
    assert_eq!(got.len(), 400, "one event per committed write, none for rejected ones");
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq), "commit order");
    let mut keys: Vec<_> = got.iter().map(|e| e.key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 400, "exactly once");
    assert!(got.iter().all(|e| e.op == Op::Insert && e.table == "customers" && e.tenant == "acme"));

    // updates carry the old record, deletes too; contexts and messages have events
    t.upsert_customer(&customer("w0_0", "d", "changed")).unwrap();
    t.delete_customer("w0_1").unwrap();
    t.append_message(&msg("w0_0", "conv", Role::User, T0, "hi")).unwrap();
    let e = ContextEntry { role: Role::User, content: "x".into(), timestamp: T0, metadata: serde_json::json!({}) };
    t.update_context("conv", &[e], Duration::from_secs(60), 5).unwrap();
    let got = events(&sub);
    assert_eq!(got.iter().map(|e| (e.table.as_str(), e.op)).collect::<Vec<_>>(), vec![
        ("customers", Op::Update),
        ("customers", Op::Delete),
        ("conversation_messages", Op::Insert),
        ("conversation_context", Op::Update),
    ]);
    assert_eq!(got[0].old.as_ref().unwrap()["status"], "s");
    assert_eq!(got[0].new.as_ref().unwrap()["status"], "changed");
    assert_eq!(got[1].old.as_ref().unwrap()["id"], "w0_1");
}

#[test]
fn threshold_crossing_fires_once_per_crossing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let filter = Filter { crossing: Some(Crossing { score_type: "churn".into(), threshold: 0.7, above: true }), ..Default::default() };
    let sub = t.subscribe(filter).unwrap();
    let series = [0.5, 0.8, 0.9, 0.6, 0.75, 0.71, 0.7, 0.95];
    for (i, v) in series.iter().enumerate() {
        t.add_score(&score("c1", "churn", *v, T0 + i as i64)).unwrap();
        t.add_score(&score("c1", "upsell", 0.99, T0 + i as i64)).unwrap();
    }
    // an older score does not change the latest: no crossing
    t.add_score(&score("c1", "churn", 0.1, T0 - 100)).unwrap();
    let got = events(&sub);
    let crossed: Vec<f64> = got.iter().map(|e| e.new.as_ref().unwrap()["score"].as_f64().unwrap()).collect();
    assert_eq!(crossed, vec![0.8, 0.75, 0.95], "upward crossings of 0.7 only");
    // a new customer starting above the threshold counts as a crossing
    t.add_score(&score("c2", "churn", 0.72, T0)).unwrap();
    assert_eq!(events(&sub).len(), 1);
}

#[test]
fn slow_subscriber_gets_an_overflow_notice_and_can_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.feed.queue_capacity = 10;
    let db = Engine::open(dir.path(), cfg).unwrap();
    let t = db.tenant("acme").unwrap();
    let sub = t.subscribe(Filter::default()).unwrap();
    let batch: Vec<_> = (0..100).map(|i| customer(&format!("c{i:03}"), "d", "s")).collect();
    t.upsert_customers(&batch).unwrap(); // the writer is never blocked by the full queue
    let mut seen = Vec::new();
    let mut missed = None;
    while let Some(d) = sub.recv_timeout(Duration::from_millis(200)) {
        match d {
            Delivery::Event(e) => seen.push(e),
            Delivery::Missed { count, from_seq } => missed = Some((count, from_seq)),
        }
    }
    let (count, from_seq) = missed.expect("an overflow notice");
    assert_eq!(seen.len() as u64 + count, 100);
    let resumed = t.events_since(from_seq, 1000).unwrap();
    assert_eq!(resumed.len() as u64, count, "resume yields exactly the missed events");
    assert_eq!(resumed[0].seq, from_seq);
}

#[test]
fn resume_after_reopen_and_tenant_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let last_seen;
    {
        let db = open(dir.path());
        let a = db.tenant("a").unwrap();
        let b = db.tenant("b").unwrap();
        let sub_a = a.subscribe(Filter::default()).unwrap();
        a.upsert_customer(&customer("c1", "d", "s")).unwrap();
        b.upsert_customer(&customer("c1", "d", "s")).unwrap();
        let got = events(&sub_a);
        assert_eq!(got.len(), 1, "a sees only its own events");
        assert_eq!(got[0].tenant, "a");
        last_seen = got[0].seq;
        drop(sub_a);
        // written while "the process was down"
        a.upsert_customer(&customer("c2", "d", "s")).unwrap();
        a.add_score(&score("c2", "churn", 0.4, T0)).unwrap();
        b.upsert_customer(&customer("c9", "d", "s")).unwrap();
        db.close().unwrap();
    }
    let db = open(dir.path());
    let a = db.tenant("a").unwrap();
    let missed = a.events_since(last_seen + 1, 100).unwrap();
    let tables: Vec<_> = missed.iter().map(|e| (e.table.as_str(), e.key.as_str())).collect();
    assert_eq!(tables, vec![("customers", "c2"), ("customer_scores", &format!("c2/churn/{T0}") as &str), ("latest_scores", "c2/churn")]);
    assert!(db.events_since(0, 100).unwrap().iter().any(|e| e.tenant == "b"), "the engine-wide log has b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_callback_forms() {
    use tokio_stream::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let mut stream = t.subscribe_stream(Filter { tables: vec!["customers".into()], ..Default::default() }).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let cb = t.subscribe_callback(Filter { ops: vec![Op::Insert], ..Default::default() }, move |d| {
        let _ = tx.send(d);
    }).unwrap();
    let at = t.to_async();
    at.upsert_customer(&customer("c1", "d", "s")).await.unwrap();
    at.add_score(&score("c1", "churn", 0.5, T0)).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap() {
        Delivery::Event(e) => assert_eq!(e.key, "c1"),
        other => panic!("{other:?}"),
    }
    let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(first, Delivery::Event(ref e) if e.table == "customers"));
    drop(cb);
    drop(stream);
    at.upsert_customer(&customer("c2", "d", "s")).await.unwrap();
    db.close().unwrap();
}

#[test]
fn events_since_reads_from_inside_a_bulk_write_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let (a, b) = (db.tenant("a").unwrap(), db.tenant("b").unwrap());
    let batch = |p: &str| (0..1500).map(|i| customer(&format!("{p}{i:04}"), "d", "s")).collect::<Vec<_>>();
    a.upsert_customers(&batch("x")).unwrap();
    b.upsert_customers(&batch("y")).unwrap();
    a.upsert_customers(&batch("z")).unwrap();
    let all = db.events_since(0, 0).unwrap();
    assert_eq!(all.len(), 4500);
    assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1), "consecutive sequence numbers");
    let first = all[0].seq;
    // From the middle of the first write, across chunk boundaries, with a limit.
    let mid = a.events_since(first + 700, 1000).unwrap();
    let keys: Vec<String> = mid.iter().map(|e| e.key.clone()).collect();
    let want: Vec<String> = (700..1500).map(|i| format!("x{i:04}")).chain((0..200).map(|i| format!("z{i:04}"))).collect();
    assert_eq!(keys, want, "tenant a's events skip b's write");
    assert_eq!(mid[0].seq, first + 700);
    assert_eq!(mid[800].seq, first + 3000);
    assert!(a.events_since(first + 4500, 10).unwrap().is_empty());
}

#[test]
fn retention_trims_old_events_and_keeps_new_ones_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = cidb::Clock::manual(T0);
    let cfg = || {
        let mut c = Config::default().with_clock(clock.clone());
        c.feed.retention = Duration::from_secs(60);
        c
    };
    let db = Engine::open(dir.path(), cfg()).unwrap();
    let t = db.tenant("a").unwrap();
    t.upsert_customers(&(0..1200).map(|i| customer(&format!("old{i}"), "d", "s")).collect::<Vec<_>>()).unwrap();
    clock.advance(30_000);
    t.upsert_customer(&customer("new", "d", "s")).unwrap();
    db.sweep_expired().unwrap();
    assert_eq!(t.events_since(0, 0).unwrap().len(), 1201, "nothing is older than the retention yet");
    clock.advance(45_000);
    db.sweep_expired().unwrap();
    let left = t.events_since(0, 0).unwrap();
    assert_eq!(left.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), vec!["new"]);
    db.close().unwrap();
    let db = Engine::open(dir.path(), cfg()).unwrap();
    assert_eq!(db.tenant("a").unwrap().events_since(0, 0).unwrap(), left, "the log survives reopen");
}
