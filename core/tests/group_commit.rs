//! Many concurrent writers: every acknowledged write is durable and present after reopen,
//! and writes share commits (fewer commits than writes).

mod common;
use common::*;
use std::sync::Arc;

#[test]
fn sixty_four_writers_share_commits_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let per = 40;
    {
        let db = open(dir.path());
        let t = Arc::new(db.tenant("acme").unwrap());
        let handles: Vec<_> = (0..64)
            .map(|w| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        t.upsert_customer(&customer(&format!("w{w}_{i}"), "d", "s")).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = db.stats().unwrap();
        assert_eq!(s.writes, 64 * per as u64);
        assert!(s.commits < s.writes / 2, "commits {} should be well below writes {}", s.commits, s.writes);
        db.close().unwrap();
    }
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    assert_eq!(t.count_customers().unwrap(), 64 * per as u64);
    for w in 0..64 {
        assert!(t.get_customer(&format!("w{w}_{}", per - 1)).unwrap().is_some());
    }
}

/// Base-store writes run their index and feed hooks once per run of ops; a UNIQUE violation
/// found there must fail only the op that caused it, and everything else must land with
/// exact indexes and one feed event per change.
#[test]
fn a_unique_violation_in_a_shared_commit_fails_only_its_own_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.execute("CREATE UNIQUE INDEX u_mail ON customers(email)").unwrap();
    let t = Arc::new(db.tenant("acme").unwrap());
    let from = db.events_since(0, 0).unwrap().last().map_or(0, |e| e.seq);
    let rounds = 20;
    let handles: Vec<_> = (0..32)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                for r in 0..rounds {
                    let mut c = customer(&format!("w{w}_r{r}"), "d", "s");
                    // Writers 0..4 fight over one address per round; the others are unique.
                    c.email = Some(if w < 4 { format!("dup{r}@x.test") } else { format!("w{w}r{r}@x.test") });
                    outcomes.push((w, r, t.upsert_customer(&c).map_err(|e| e.kind())));
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    for r in 0..rounds {
        let winners = outcomes.iter().filter(|(w, rr, o)| *w < 4 && *rr == r && o.is_ok()).count();
        assert_eq!(winners, 1, "round {r}: exactly one writer gets the shared address");
    }
    for (w, r, o) in &outcomes {
        match o {
            Ok(()) => assert!(t.get_customer(&format!("w{w}_r{r}")).unwrap().is_some()),
            Err(k) => {
                assert!(*w < 4, "writer {w} had a unique address and failed: {k:?}");
                assert_eq!(*k, cidb::ErrorKind::ConstraintViolation);
                assert!(t.get_customer(&format!("w{w}_r{r}")).unwrap().is_none());
            }
        }
    }
    let landed = outcomes.iter().filter(|o| o.2.is_ok()).count() as u64;
    assert_eq!(t.count_customers().unwrap(), landed);
    assert!(db.check_index("u_mail").unwrap().is_exact());
    let events: Vec<_> = db.events_since(from + 1, 0).unwrap().into_iter().filter(|e| e.table == "customers").collect();
    assert_eq!(events.len() as u64, landed, "one feed event per landed write");
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
}
