//! Conversation contexts: merge + trim + TTL reset atomically under concurrent callers;
//! expired contexts read as absent and are swept; bad arguments are clear errors.

mod common;
use cidb::{Clock, Config, ContextEntry, Engine, ErrorKind, Role};
use common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn entry(text: String, at: i64) -> ContextEntry {
    ContextEntry { role: Role::User, content: text, timestamp: at, metadata: serde_json::json!({}) }
}

#[test]
fn sixteen_threads_never_lose_kept_entries_or_interleave_merges() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = Arc::new(db.tenant("acme").unwrap());
    let max_history = 50;
    let convs = 3;
    let clock = Arc::new(AtomicI64::new(T0));
    let per_thread = 1000;
    let handles: Vec<_> = (0..16)
        .map(|th| {
            let (t, clock) = (t.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut sent = Vec::new();
                for i in 0..per_thread {
                    let conv = format!("conv{}", (th + i) % convs);
                    // A pair with consecutive, globally unique timestamps.
                    let at = clock.fetch_add(2, Ordering::SeqCst);
                    let pair = [entry(format!("{th}:{i}:a"), at), entry(format!("{th}:{i}:b"), at + 1)];
                    let ctx = t.update_context(&conv, &pair, Duration::from_secs(3600), max_history).unwrap();
                    assert!(ctx.entries.len() <= max_history);
                    assert!(ctx.entries.windows(2).all(|w| w[0].timestamp < w[1].timestamp), "sorted");
                    // Both halves of this update are present unless trimmed as the oldest.
                    let texts: HashSet<_> = ctx.entries.iter().map(|e| e.content.as_str()).collect();
                    for e in &ctx.entries {
                        if let Some(stem) = e.content.strip_suffix(":b") {
                            let a = format!("{stem}:a");
                            assert!(texts.contains(a.as_str()) || ctx.entries[0].content == e.content,
                                "partial merge: {} without {a}", e.content);
                        }
                    }
                    sent.push((conv, pair));
                }
                sent
            })
        })
        .collect();
    let mut all: Vec<(String, ContextEntry)> = Vec::new();
    for h in handles {
        for (conv, pair) in h.join().unwrap() {
            all.extend(pair.into_iter().map(|e| (conv.clone(), e)));
        }
    }
    for c in 0..convs {
        let conv = format!("conv{c}");
        let mut want: Vec<_> = all.iter().filter(|(k, _)| *k == conv).map(|(_, e)| e.clone()).collect();
        want.sort_by_key(|e| e.timestamp);
        let want = want.split_off(want.len() - max_history);
        let got = t.get_context(&conv).unwrap().unwrap();
        assert_eq!(got.entries, want, "the final context is exactly the newest {max_history} entries");
    }
}

#[test]
fn ttl_expiry_reads_absent_resets_on_update_and_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), Config::default().with_clock(clock.clone())).unwrap();
    let t = db.tenant("acme").unwrap();
    let ttl = Duration::from_secs(60);
    t.update_context("c1", &[entry("one".into(), T0)], ttl, 10).unwrap();
    clock.advance(59_000);
    // an update resets the TTL and keeps the live entries
    let ctx = t.update_context("c1", &[entry("two".into(), T0 + 1)], ttl, 10).unwrap();
    assert_eq!(ctx.entries.len(), 2);
    assert_eq!(ctx.expires_at, T0 + 59_000 + 60_000);
    clock.advance(59_000);
    assert!(t.get_context("c1").unwrap().is_some(), "still alive: the TTL was reset");
    t.update_context("c2", &[entry("x".into(), T0)], ttl, 10).unwrap();
    clock.advance(2_000);
    assert!(t.get_context("c1").unwrap().is_none(), "expired reads as absent");
    assert!(t.get_context("c2").unwrap().is_some());
    // an update after expiry starts from empty
    let fresh = t.update_context("c1", &[entry("three".into(), T0 + 2)], ttl, 10).unwrap();
    assert_eq!(fresh.entries.len(), 1);
    clock.advance(120_000);
    assert_eq!(db.sweep_expired().unwrap(), 2, "both expired contexts swept");
    assert_eq!(db.sweep_expired().unwrap(), 0);
    assert!(!t.delete_context("c1").unwrap());
}

#[test]
fn bad_context_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    let e = |r: cidb::Result<cidb::Context>| r.unwrap_err().kind();
    let ok = [entry("hi".into(), T0)];
    assert_eq!(e(t.update_context("c", &ok, Duration::ZERO, 5)), ErrorKind::InvalidTtl);
    assert_eq!(e(t.update_context("c", &ok, Duration::from_secs(1), 0)), ErrorKind::InvalidInput);
    assert_eq!(e(t.update_context("", &ok, Duration::from_secs(1), 5)), ErrorKind::InvalidId);
    assert_eq!(e(t.update_context("c", &[entry("x".repeat((1 << 20) + 1), T0)], Duration::from_secs(1), 5)), ErrorKind::ContentTooLarge);
    assert_eq!(e(t.update_context("c", &[entry("x".into(), -5)], Duration::from_secs(1), 5)), ErrorKind::InvalidTimestamp);
    assert!(t.get_context("c").unwrap().is_none(), "nothing landed");
    t.update_context("c", &ok, Duration::from_secs(1), 5).unwrap();
    assert!(t.delete_context("c").unwrap());
    assert!(t.get_context("c").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_api_writes_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap().to_async();
    let futs: Vec<_> = (0..64)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move { t.upsert_customer(&customer(&format!("c{i}"), "d", "s")).await })
        })
        .collect();
    for f in futs {
        f.await.unwrap().unwrap();
    }
    assert_eq!(t.count_customers().await.unwrap(), 64);
    assert!(t.get_customer("c7").await.unwrap().is_some());
    t.add_score(&score("c7", "churn", 0.7, T0)).await.unwrap();
    assert_eq!(t.latest_score("c7", "churn").await.unwrap().unwrap().score, 0.7);
    let m = t.append_message(&msg("c7", "conv", Role::User, T0, "hi")).await.unwrap();
    assert_eq!(t.messages_for_conversation("conv").await.unwrap()[0].id, m.id);
    let ctx = t.update_context("conv", &[entry("hi".into(), T0)], Duration::from_secs(60), 5).await.unwrap();
    assert_eq!(t.get_context("conv").await.unwrap(), Some(ctx));
    assert!(t.delete_customer("c7").await.unwrap());
    assert_eq!(t.upsert_customer(&customer("", "d", "s")).await.unwrap_err().kind(), ErrorKind::InvalidId);
    let s = db.stats().unwrap();
    assert!(s.commits < s.writes, "concurrent async writes share commits");
    db.close().unwrap(); // closing from async code must not panic
    assert_eq!(t.get_customer("c1").await.unwrap_err().kind(), ErrorKind::Closed);
}
