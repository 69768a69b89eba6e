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
