//! Chunks hold exactly the events written, in sequence order, whatever their sizes; a
//! per-event log of an older file converts into chunks without losing or renumbering any
//! event; damaged chunks are errors, never panics.

use super::*;
use proptest::prelude::*;
use redb::{ReadableDatabase, ReadableTableMetadata};

fn db() -> (tempfile::TempDir, redb::Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
    (dir, db)
}

/// Every (seq, commit time, bytes) stored, in key order.
fn all(db: &redb::Database) -> Vec<(u64, Millis, Vec<u8>)> {
    let r = db.begin_read().unwrap();
    let t = r.open_table(FEED).unwrap();
    let mut out = Vec::new();
    for item in t.iter().unwrap() {
        let (k, v) = item.unwrap();
        let at = chunk_at(v.value()).unwrap();
        visit_events(v.value(), |i, b| {
            out.push((k.value() + i, at, b.to_vec()));
            Ok(true)
        })
        .unwrap();
    }
    out
}

/// An event as the log stores it: starts with its commit time.
fn event(at: Millis, body: &[u8]) -> Vec<u8> {
    let mut k = crate::storage::keys::Key::new();
    k.i64(at).raw(body);
    k.0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn chunks_hold_every_event_in_order(
        groups in prop::collection::vec(
            (0i64..5, prop::collection::vec((0usize..3000, any::<u8>()), 0..700)), 1..4),
    ) {
        let (_d, db) = db();
        let mut want = Vec::new();
        let mut seq = 1u64;
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(FEED).unwrap();
            for (at, evs) in &groups {
                let mut w = ChunkWriter::new(*at, seq);
                for (len, fill) in evs {
                    // Repetitive bodies compress, the sequence number makes them differ.
                    let mut body = vec![*fill; *len];
                    body.extend_from_slice(&seq.to_le_bytes());
                    let e = event(*at, &body);
                    w.push(&mut t, &e).unwrap();
                    want.push((seq, *at, e));
                    seq += 1;
                }
                w.flush(&mut t).unwrap();
            }
        }
        txn.commit().unwrap();
        prop_assert_eq!(all(&db), want);
    }
}

#[test]
fn large_runs_split_into_bounded_compressed_chunks() {
    let (_d, db) = db();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(FEED).unwrap();
        let mut w = ChunkWriter::new(7, 100);
        for i in 0..(MAX_EVENTS * 2 + 3) {
            w.push(&mut t, &event(7, format!("customer {i} of a long run").as_bytes())).unwrap();
        }
        w.flush(&mut t).unwrap();
    }
    txn.commit().unwrap();
    let r = db.begin_read().unwrap();
    let t = r.open_table(FEED).unwrap();
    let chunks: Vec<(u64, Vec<u8>)> = t.iter().unwrap().map(|i| i.unwrap()).map(|(k, v)| (k.value(), v.value().to_vec())).collect();
    let keys: Vec<u64> = chunks.iter().map(|c| c.0).collect();
    assert_eq!(keys, vec![100, 100 + MAX_EVENTS as u64, 100 + 2 * MAX_EVENTS as u64]);
    assert_eq!(chunks[0].1[0], 1, "a full chunk of similar events is compressed");
    assert_eq!(chunks[2].1[0], 0, "a 3-event chunk is too small to compress");
    let raw: usize = (0..MAX_EVENTS).map(|i| 4 + event(7, format!("customer {i} of a long run").as_bytes()).len()).sum();
    assert!(chunks[0].1.len() * 3 < raw, "compressed {} of {raw} raw bytes", chunks[0].1.len());
}

#[test]
fn a_per_event_log_converts_into_chunks_and_is_dropped() {
    let (_d, db) = db();
    // Two runs at time 5 (a gap left by a trim between them), one at time 6.
    let legacy: Vec<(u64, Vec<u8>)> = [(3u64, 5i64), (4, 5), (5, 5), (9, 5), (10, 6), (11, 6)]
        .iter()
        .map(|&(seq, at)| (seq, event(at, format!("event {seq}").as_bytes())))
        .collect();
    let txn = db.begin_write().unwrap();
    write_legacy(&txn, &legacy).unwrap();
    txn.commit().unwrap();
    let txn = db.begin_write().unwrap();
    assert_eq!(create_and_convert(&txn).unwrap(), 6);
    txn.commit().unwrap();
    let got = all(&db);
    let want: Vec<_> = legacy.iter().map(|(s, b)| (*s, KeyReader::new(b).i64().unwrap(), b.clone())).collect();
    assert_eq!(got, want);
    let r = db.begin_read().unwrap();
    assert_eq!(r.open_table(FEED).unwrap().len().unwrap(), 3, "one chunk per run");
    assert!(!r.list_tables().unwrap().any(|h| h.name() == "feed"), "the old table is gone");
    // A second open finds nothing to convert.
    let txn = db.begin_write().unwrap();
    assert_eq!(create_and_convert(&txn).unwrap(), 0);
}

#[test]
fn damaged_chunks_are_errors_not_panics() {
    let mut good = Vec::new();
    good.push(0u8);
    good.extend_from_slice(&1i64.to_le_bytes());
    good.extend_from_slice(&1u32.to_le_bytes());
    good.extend_from_slice(&7u32.to_le_bytes());
    good.extend_from_slice(&3u32.to_le_bytes());
    good.extend_from_slice(b"abc");
    let mut n = 0;
    visit_events(&good, |_, b| {
        assert_eq!(b, b"abc");
        n += 1;
        Ok(true)
    })
    .unwrap();
    assert_eq!(n, 1);
    for cut in 0..good.len() {
        let e = visit_events(&good[..cut], |_, _| Ok(true)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "cut at {cut}");
    }
    let mut bad = good.clone();
    bad[0] = 9;
    assert_eq!(visit_events(&bad, |_, _| Ok(true)).unwrap_err().kind(), ErrorKind::Corrupted);
    let mut bad = good.clone();
    bad[0] = 1; // claims zstd, holds raw bytes
    assert_eq!(visit_events(&bad, |_, _| Ok(true)).unwrap_err().kind(), ErrorKind::Corrupted);
}
