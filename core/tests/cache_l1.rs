//! L1 in isolation: the item and byte bounds hold at every instant under concurrent load,
//! hits return exactly what was written for that key, the admission policy keeps a hot set
//! through a scan, and the admission check can refuse a fill.

use cidb::cache::l1::{Lookup, L1, NEVER};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn key(i: u64) -> Arc<[u8]> {
    format!("key-{i}").into_bytes().into()
}

/// A value that names its key and a version: a hit can be checked against its key.
fn value(i: u64, ver: u64, len: usize) -> Arc<[u8]> {
    let mut v = format!("{i}:{ver}:").into_bytes();
    v.resize(len.max(v.len()), b'x');
    v.into()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn bounds_hold_under_concurrent_load() {
    let (max_items, max_bytes) = (200usize, 20_000usize);
    let l1: Arc<L1<Arc<[u8]>>> = Arc::new(L1::new(max_items, max_bytes));
    let stop = Arc::new(AtomicBool::new(false));
    let checker = {
        let (l1, stop) = (l1.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert!(l1.len() <= max_items, "items {} > {max_items}", l1.len());
                assert!(l1.bytes() <= max_bytes, "bytes {} > {max_bytes}", l1.bytes());
                assert!(l1.map_len() <= max_items, "map holds {} > {max_items}", l1.map_len());
                checks += 1;
            }
            checks
        })
    };
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let l1 = l1.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9 + t);
                for n in 0..60_000u64 {
                    let i = rng.next() % 2_000;
                    match rng.next() % 10 {
                        0..=5 => {
                            if let Lookup::Hit(v) = l1.get(&key(i), 0) {
                                let s = String::from_utf8_lossy(&v);
                                assert!(s.starts_with(&format!("{i}:")), "key {i} returned {s}");
                            }
                        }
                        6..=8 => {
                            let len = 10 + (rng.next() % 400) as usize;
                            let k = key(i);
                            let w = k.len() + len;
                            l1.insert(k, value(i, n, len), w, NEVER, || true);
                        }
                        _ => {
                            l1.remove(&key(i));
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let checks = checker.join().unwrap();
    assert!(checks > 0);
    l1.check_invariants().unwrap();
    assert!(l1.evictions() > 0, "the load must have forced evictions");
}

#[test]
fn byte_bound_evicts_by_weight() {
    let l1: L1<Arc<[u8]>> = L1::new(1_000, 10_000);
    for i in 0..100 {
        let k = key(i);
        let w = k.len() + 1_000;
        l1.insert(k, value(i, 0, 1_000), w, NEVER, || true);
        assert!(l1.bytes() <= 10_000);
    }
    assert!(l1.len() <= 10);
    // Heavier than the whole bound: not stored at all.
    let r = l1.insert(key(999), value(999, 0, 20_000), 20_010, NEVER, || true);
    assert!(!r.stored);
    l1.check_invariants().unwrap();
}

#[test]
fn replace_updates_value_and_accounting() {
    let l1: L1<Arc<[u8]>> = L1::new(10, 10_000);
    l1.insert(key(1), value(1, 1, 100), 106, NEVER, || true);
    l1.insert(key(1), value(1, 2, 300), 306, NEVER, || true);
    assert_eq!(l1.len(), 1);
    assert_eq!(l1.bytes(), 306);
    match l1.get(&key(1), 0) {
        Lookup::Hit(v) => assert!(v.starts_with(b"1:2:")),
        other => panic!("expected a hit, got {other:?}"),
    }
    assert!(l1.remove(&key(1)).is_some());
    assert_eq!((l1.len(), l1.bytes()), (0, 0));
    l1.check_invariants().unwrap();
}

#[test]
fn admission_check_refuses_fill() {
    let l1: L1<Arc<[u8]>> = L1::new(10, 10_000);
    let r = l1.insert(key(1), value(1, 0, 10), 16, NEVER, || false);
    assert!(!r.stored);
    assert_eq!(l1.get(&key(1), 0), Lookup::Miss);
}

#[test]
fn expiry_is_checked_on_read() {
    let l1: L1<Arc<[u8]>> = L1::new(10, 10_000);
    l1.insert(key(1), value(1, 0, 10), 16, 1_000, || true);
    assert!(matches!(l1.get(&key(1), 999), Lookup::Hit(_)));
    assert_eq!(l1.get(&key(1), 1_000), Lookup::Expired);
    assert_eq!(l1.purge_expired(1_000), 1);
    assert_eq!(l1.get(&key(1), 0), Lookup::Miss);
}

#[test]
fn hot_set_survives_a_scan() {
    let l1: L1<Arc<[u8]>> = L1::new(100, 1 << 20);
    // 50 hot keys, read many times.
    for round in 0..20 {
        for i in 0..50 {
            if !matches!(l1.get(&key(i), 0), Lookup::Hit(_)) {
                l1.insert(key(i), value(i, round, 10), 20, NEVER, || true);
            }
        }
    }
    // A scan of 10,000 one-hit keys while the hot keys stay in use (one hot read per
    // five scanned keys).
    for i in 1_000..11_000u64 {
        if !matches!(l1.get(&key(i), 0), Lookup::Hit(_)) {
            l1.insert(key(i), value(i, 0, 10), 20, NEVER, || true);
        }
        if i % 5 == 0 {
            let h = (i / 5) % 50;
            if !matches!(l1.get(&key(h), 0), Lookup::Hit(_)) {
                l1.insert(key(h), value(h, 0, 10), 20, NEVER, || true);
            }
        }
    }
    let kept = (0..50).filter(|&i| l1.contains(&key(i))).count();
    assert!(kept >= 45, "only {kept} of 50 hot keys survived the scan");
    l1.check_invariants().unwrap();
}

#[test]
fn plain_lru_would_lose_the_hot_set_but_frequency_keeps_it() {
    // Under a Zipf-like skew the most frequent keys stay resident.
    let l1: L1<Arc<[u8]>> = L1::new(50, 1 << 20);
    let mut rng = Rng(7);
    for _ in 0..50_000 {
        // key 0..10 hot (50 %), the rest spread over 5,000 keys.
        let i = if rng.next().is_multiple_of(2) { rng.next() % 10 } else { 10 + rng.next() % 5_000 };
        if !matches!(l1.get(&key(i), 0), Lookup::Hit(_)) {
            l1.insert(key(i), value(i, 0, 10), 20, NEVER, || true);
        }
    }
    let kept = (0..10).filter(|&i| l1.contains(&key(i))).count();
    assert_eq!(kept, 10);
}
