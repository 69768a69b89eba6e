//! Flipped bytes in the data file give an error (Corrupted or Storage kind) at open or at
//! read, or leave the data readable and correct; never a panic and never a wrong answer.

mod common;
use cidb::{Config, Engine, ErrorKind};
use common::*;
use std::collections::BTreeMap;

fn build(dir: &std::path::Path) -> BTreeMap<String, String> {
    let db = open(dir);
    let t = db.tenant("acme").unwrap();
    let mut want = BTreeMap::new();
    let cs: Vec<_> = (0..300)
        .map(|i| {
            let mut c = customer(&format!("c{i:04}"), "sales", "active");
            c.name = Some(format!("name-{i}-{}", "x".repeat(i % 40)));
            want.insert(c.id.clone(), c.name.clone().unwrap());
            c
        })
        .collect();
    t.upsert_customers(&cs).unwrap();
    db.close().unwrap();
    want
}

#[test]
fn flipped_bytes_are_detected_or_harmless_never_wrong() {
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    let want = build(&clean);
    let bytes = std::fs::read(clean.join("data.redb")).unwrap();
    let mut rng = cidb::datagen::Rng::new(99);
    let (mut detected, mut harmless) = (0, 0);
    for trial in 0..60 {
        let dir = base.path().join(format!("t{trial}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = bytes.clone();
        for _ in 0..4 {
            let pos = rng.below(b.len() as u64) as usize;
            b[pos] ^= 1 << rng.below(8);
        }
        std::fs::write(dir.join("data.redb"), &b).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            let db = match Engine::open(&dir, Config::default().with_seed_indexes(false)) {
                Ok(db) => db,
                Err(e) => {
                    assert!(matches!(e.kind(), ErrorKind::Corrupted | ErrorKind::Storage), "open: {e}");
                    return true;
                }
            };
            let t = db.tenant("acme").unwrap();
            let mut saw_error = false;
            for (id, name) in &want {
                match t.get_customer(id) {
                    Ok(Some(c)) => assert_eq!(c.name.as_ref(), Some(name), "wrong answer for {id} in trial {trial}"),
                    Ok(None) => panic!("customer {id} silently missing in trial {trial}"),
                    Err(e) => {
                        assert!(matches!(e.kind(), ErrorKind::Corrupted | ErrorKind::Storage), "read: {e}");
                        saw_error = true;
                    }
                }
            }
            saw_error
        });
        match outcome {
            Ok(true) => detected += 1,
            Ok(false) => harmless += 1,
            Err(_) => panic!("trial {trial} panicked (see above)"),
        }
    }
    eprintln!("corruption: {detected} trials detected, {harmless} harmless");
}

#[test]
fn damaged_cache_file_is_discarded_with_a_warning_and_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        let t = db.tenant("acme").unwrap();
        t.upsert_customer(&customer("c1", "d", "s")).unwrap();
        t.cache().set("k", &vec![7u8; 50_000], None).unwrap();
        db.close().unwrap();
    }
    let path = dir.path().join("cache.redb");
    let mut b = std::fs::read(&path).unwrap();
    let mut rng = cidb::datagen::Rng::new(5);
    for _ in 0..64 {
        let pos = 4096 + rng.below((b.len() - 4096) as u64) as usize;
        b[pos] ^= 0x5a;
    }
    std::fs::write(&path, &b).unwrap();
    let db = open(dir.path());
    let t = db.tenant("acme").unwrap();
    assert!(t.get_customer("c1").unwrap().is_some(), "the data store is unaffected");
    let got = t.cache().get("k").unwrap();
    assert!(got.is_none() || got.as_deref() == Some(&vec![7u8; 50_000][..]), "never a wrong value");
    let stats = db.cache_stats();
    assert!(stats.warnings.iter().any(|w| w.contains("discarded")), "damage detected: {:?}", stats.warnings);
    assert!(got.is_none(), "the rebuilt cache is empty");
}
