//! The tiers through the application cache API, with a manual clock and the background
//! thread off (the test drives `maintain`): bad input, placement by size, compression,
//! TTLs (lazy and swept), promotion and demotion thresholds, get_or_set, isolation, stats.

mod common;
use cidb::{Clock, Config, Engine, ErrorKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = common::T0;
const MIN: i64 = 60_000;

fn config(clock: &Clock) -> Config {
    let mut c = Config::default().with_clock(clock.clone());
    c.cache.background = false;
    c.cache.max_value = 1 << 20;
    c
}

fn small_l1(clock: &Clock, items: usize) -> Config {
    let mut c = config(clock);
    c.l1_max_items = items;
    c
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_add((i % 7) as u8)).collect()
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let mut cfg = config(&clock);
    cfg.cache.max_value = 1000;
    let db = Engine::open(dir.path(), cfg).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    assert_eq!(c.set("", b"v", None).unwrap_err().kind(), ErrorKind::InvalidCacheKey);
    assert_eq!(c.get(&"k".repeat(1025)).unwrap_err().kind(), ErrorKind::InvalidCacheKey);
    c.set(&"k".repeat(1024), b"v", None).unwrap();
    let e = c.set("k", &[0u8; 1001], None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValueTooLarge);
    assert!(e.message().contains("1001"), "{}", e.message());
    assert_eq!(c.set("k", b"v", Some(Duration::ZERO)).unwrap_err().kind(), ErrorKind::InvalidTtl);
    assert_eq!(cidb::cache::ttl_from_millis(-5).unwrap_err().kind(), ErrorKind::InvalidTtl);
    assert_eq!(cidb::cache::ttl_from_millis(0).unwrap_err().kind(), ErrorKind::InvalidTtl);
    assert_eq!(c.get_or_set("k", Some(Duration::ZERO), || Ok(vec![])).unwrap_err().kind(), ErrorKind::InvalidTtl);
    db.close().unwrap();
    assert_eq!(c.get("k").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn placement_by_size_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), config(&clock)).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    let (small, mid, large) = (bytes(100, 1), bytes(20 << 10, 2), bytes(200 << 10, 3));
    c.set("small", &small, None).unwrap();
    c.set("mid", &mid, None).unwrap();
    c.set("large", &large, None).unwrap();
    assert_eq!((c.tier_of("small").unwrap(), c.tier_of("mid").unwrap(), c.tier_of("large").unwrap()), (1, 2, 3));
    assert_eq!(c.get("small").unwrap().unwrap(), small);
    assert_eq!(c.get("mid").unwrap().unwrap(), mid);
    assert_eq!(c.get("large").unwrap().unwrap(), large);
    let s = db.cache_stats();
    assert_eq!((s.l2.entries, s.l3.entries), (1, 1));
    assert!(s.l2.bytes < (20 << 10) / 4, "repetitive 20 KB compresses: {}", s.l2.bytes);
    assert!(s.l3.bytes < (200 << 10) / 4, "repetitive 200 KB compresses: {}", s.l3.bytes);
    // Overwriting with a small value moves the key up and leaves no copy below.
    c.set("mid", b"tiny", None).unwrap();
    assert_eq!(c.tier_of("mid").unwrap(), 1);
    assert_eq!(db.cache_stats().l2.entries, 0);
    assert_eq!(c.get("mid").unwrap().unwrap(), b"tiny");
    // And a large value replaces a small one.
    c.set("small", &large, None).unwrap();
    assert_eq!(c.tier_of("small").unwrap(), 3);
    assert_eq!(c.get("small").unwrap().unwrap(), large);
    db.close().unwrap();
}

#[test]
fn ttls_expire_lazily_and_by_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), config(&clock)).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    c.set("l1", b"v", Some(Duration::from_secs(10))).unwrap();
    c.set("l1-forever", b"v", None).unwrap();
    c.set("l2", &bytes(20 << 10, 1), None).unwrap(); // default 1 hour
    c.set("l3", &bytes(200 << 10, 1), None).unwrap(); // default 2 hours
    c.set("l2-short", &bytes(20 << 10, 1), Some(Duration::from_secs(5))).unwrap();
    clock.advance(9_000);
    assert!(c.get("l1").unwrap().is_some());
    clock.advance(2_000);
    assert_eq!(c.get("l1").unwrap(), None);
    assert_eq!(c.get("l2-short").unwrap(), None);
    assert_eq!(db.cache_stats().l1.expirations, 1);
    assert_eq!(db.cache_stats().l2.expirations, 1);
    clock.advance(59 * MIN - 11_000);
    assert!(c.get("l2").unwrap().is_some());
    clock.advance(2 * MIN);
    // Not read: the sweep removes it through the expiry index.
    db.cache().maintain().unwrap();
    let s = db.cache_stats();
    assert_eq!(s.l2.entries, 0);
    assert_eq!(s.l2.expirations, 2);
    assert_eq!(s.l3.entries, 1);
    clock.advance(60 * MIN);
    db.cache().maintain().unwrap();
    assert_eq!(db.cache_stats().l3.entries, 0);
    assert!(c.get("l1-forever").unwrap().is_some(), "L1 entries without TTL do not expire");
    db.close().unwrap();
}

#[test]
fn l3_promotes_to_l2_after_two_hits_within_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), config(&clock)).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    let big = bytes(200 << 10, 9);
    c.set("hot", &big, Some(Duration::from_secs(5 * 3600))).unwrap();
    c.set("cold", &big, Some(Duration::from_secs(5 * 3600))).unwrap();
    c.get("hot").unwrap();
    assert_eq!(c.tier_of("hot").unwrap(), 3);
    clock.advance(30 * MIN);
    assert_eq!(c.get("hot").unwrap().unwrap(), big);
    assert_eq!(c.tier_of("hot").unwrap(), 2);
    // Two hits more than an hour apart do not promote.
    c.get("cold").unwrap();
    clock.advance(61 * MIN);
    c.get("cold").unwrap();
    assert_eq!(c.tier_of("cold").unwrap(), 3);
    assert_eq!(db.cache_stats().l2.promotions, 1);
    // A promoted entry keeps its value and expiry.
    assert_eq!(c.get("hot").unwrap().unwrap(), big);
    db.close().unwrap();
}

#[test]
fn l1_victims_are_demoted_and_l2_promotes_after_three_hits_in_five_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), small_l1(&clock, 10)).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    for i in 0..40 {
        c.set(&format!("k{i}"), format!("value {i}").as_bytes(), None).unwrap();
    }
    assert!(db.cache_stats().l1.entries <= 10);
    db.cache().maintain().unwrap();
    let s = db.cache_stats();
    assert!(s.l1.evictions >= 30, "{s:?}");
    assert_eq!(s.l2.demotions, s.l1.evictions, "every evicted value is demoted, none lost");
    for i in 0..40 {
        assert_eq!(c.get(&format!("k{i}")).unwrap().unwrap(), format!("value {i}").as_bytes(), "k{i} lost");
    }
    let demoted = (0..40).map(|i| format!("k{i}")).find(|k| c.tier_of(k).unwrap() == 2).expect("some key in L2");
    // One hit happened above; two more within five minutes promote (3 in total).
    clock.advance(MIN);
    c.get(&demoted).unwrap();
    assert_eq!(c.tier_of(&demoted).unwrap(), 2);
    clock.advance(MIN);
    c.get(&demoted).unwrap();
    assert_eq!(c.tier_of(&demoted).unwrap(), 1, "third hit within five minutes promotes to L1");
    assert_eq!(db.cache_stats().l1.promotions, 1);
    assert_eq!(c.get(&demoted).unwrap().unwrap().len(), format!("value {}", &demoted[1..]).len());
    // Hits spread over more than five minutes never promote.
    let other = (0..40).map(|i| format!("k{i}")).find(|k| c.tier_of(k).unwrap() == 2 && k != &demoted).unwrap();
    for _ in 0..3 {
        clock.advance(6 * MIN);
        c.get(&other).unwrap();
    }
    assert_eq!(c.tier_of(&other).unwrap(), 2);
    db.close().unwrap();
}

#[test]
fn a_pending_demotion_never_resurrects_a_deleted_or_overwritten_key() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), small_l1(&clock, 5)).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    for i in 0..30 {
        c.set(&format!("k{i}"), b"old", None).unwrap();
    }
    // Victims are queued, not yet written. Delete half, overwrite the rest with L2-sized values.
    for i in 0..30 {
        if i % 2 == 0 {
            c.delete(&format!("k{i}")).unwrap();
        } else {
            c.set(&format!("k{i}"), &bytes(20 << 10, 5), None).unwrap();
        }
    }
    db.cache().maintain().unwrap();
    for i in 0..30 {
        let v = c.get(&format!("k{i}")).unwrap();
        if i % 2 == 0 {
            assert_eq!(v, None, "k{i} was deleted");
        } else {
            assert_eq!(v.unwrap(), bytes(20 << 10, 5), "k{i} was overwritten");
        }
    }
    db.close().unwrap();
}

#[test]
fn get_or_set_computes_once_under_concurrent_callers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path(), Config::default()).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    let calls = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (c, calls) = (c.clone(), calls.clone());
            std::thread::spawn(move || {
                c.get_or_set("expensive", None, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    Ok(b"computed".to_vec())
                })
                .unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), b"computed");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // An error is returned and nothing is stored.
    let e = c.get_or_set("fails", None, || Err(cidb::Error::new(ErrorKind::InvalidInput, "boom"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(c.get("fails").unwrap(), None);
    db.close().unwrap();
}

#[test]
fn tenants_are_isolated_and_delete_reports_presence() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path(), Config::default()).unwrap();
    let (a, b) = (db.tenant("a").unwrap().cache(), db.tenant("b").unwrap().cache());
    a.set("k", b"from a", None).unwrap();
    a.set("big", &bytes(50 << 10, 1), None).unwrap();
    assert_eq!(b.get("k").unwrap(), None);
    assert_eq!(b.get("big").unwrap(), None);
    assert!(!b.delete("k").unwrap());
    assert_eq!(a.get("k").unwrap().unwrap(), b"from a");
    assert!(a.delete("k").unwrap());
    assert!(a.delete("big").unwrap());
    assert!(!a.delete("k").unwrap());
    db.close().unwrap();
}

#[test]
fn stats_serialise_with_24_hours() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(T0);
    let db = Engine::open(dir.path(), config(&clock)).unwrap();
    let c = db.tenant("acme").unwrap().cache();
    c.set("k", b"v", None).unwrap();
    c.get("k").unwrap();
    c.get("missing").unwrap();
    let s = db.cache_stats();
    assert_eq!((s.l1.hits, s.l1.misses), (1, 1));
    assert_eq!(s.l1.hit_ratio, 0.5);
    assert_eq!(s.hourly.len(), 24);
    assert_eq!(s.hourly.last().unwrap().accesses, 2);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["l2"]["hit_ratio"].is_number());
    db.close().unwrap();
}

#[test]
fn concurrent_set_get_delete_through_all_tiers_keeps_values_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config { l1_max_items: 64, l1_max_bytes: 64 << 10, ..Config::default() };
    cfg.cache.sweep_interval = Duration::from_millis(10);
    let db = Engine::open(dir.path(), cfg).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let c = db.tenant("acme").unwrap().cache();
            let db = db.clone();
            std::thread::spawn(move || {
                let mut x = 0x1234_5678 + t;
                for n in 0..1_500u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = format!("k{}", x % 300);
                    match x % 8 {
                        0..=3 => {
                            if let Some(v) = c.get(&k).unwrap() {
                                assert!(v.starts_with(k.as_bytes()), "{k} returned another key's value");
                            }
                        }
                        4..=5 => {
                            let mut v = k.clone().into_bytes();
                            v.resize(if n % 50 == 0 { 20 << 10 } else { 100 + (x % 900) as usize }, b'.');
                            c.set(&k, &v, None).unwrap();
                        }
                        6 => {
                            c.delete(&k).unwrap();
                        }
                        _ => {
                            let s = db.cache_stats();
                            assert!(s.l1.entries <= 64 && s.l1.bytes <= 64 << 10, "{:?}", s.l1);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    db.cache().l1().check_invariants().unwrap();
    // After a delete nothing comes back, whatever demotions were in flight.
    let c = db.tenant("acme").unwrap().cache();
    for i in 0..300 {
        c.delete(&format!("k{i}")).unwrap();
    }
    db.cache().maintain().unwrap();
    for i in 0..300 {
        assert_eq!(c.get(&format!("k{i}")).unwrap(), None);
    }
    db.close().unwrap();
}
