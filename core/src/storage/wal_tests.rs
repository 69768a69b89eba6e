//! Tests of the commit log through the real backend and redb: a crash is simulated by
//! leaking the `Database` (no close, so no checkpoint) and putting back a copy of the data file
//! taken at its last fsync, which is what a power loss may leave; the log must bring back
//! every acknowledged commit.

use super::backend::{log_path, CidbBackend};
use super::wal::{self, HEADER_BYTES};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, StorageBackend};
use std::path::Path;

const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");

fn backend(path: &Path, log: bool) -> CidbBackend {
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).unwrap();
    CidbBackend::new(path, file, None, log).unwrap()
}

fn open(path: &Path) -> Database {
    redb::Builder::new().set_check_integrity_on_open(true).create_with_backend(backend(path, true)).unwrap()
}

fn put(db: &Database, k: u64, v: &[u8]) {
    let w = db.begin_write().unwrap();
    w.open_table(T).unwrap().insert(k, v).unwrap();
    w.commit().unwrap();
}

fn keys(db: &Database) -> Vec<(u64, Vec<u8>)> {
    let r = db.begin_read().unwrap();
    let t = r.open_table(T).unwrap();
    t.iter().unwrap().map(|e| e.map(|(k, v)| (k.value(), v.value().to_vec())).unwrap()).collect()
}

fn value(k: u64) -> Vec<u8> {
    // Large, varied values spread the commits over many pages and grow the file.
    (0..(500 + (k * 977) % 9000)).map(|i| (i * 31 + k) as u8).collect()
}

/// Writes keys 0..10 and closes (a checkpoint), keeps a copy of the data file, then commits
/// keys 10..n and "crashes". Returns the copy's path.
fn crash_after(path: &Path, n: u64) -> std::path::PathBuf {
    let db = open(path);
    for k in 0..10 {
        put(&db, k, &value(k));
    }
    drop(db);
    let stale = path.with_extension("stale");
    std::fs::copy(path, &stale).unwrap();
    let db = open(path);
    for k in 10..n {
        put(&db, k, &value(k));
    }
    std::mem::forget(db); // no close: what a crash leaves
    stale
}

#[test]
fn a_stale_data_file_gets_every_acknowledged_commit_back_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let stale = crash_after(&path, 200);
    let stale_len = std::fs::metadata(&stale).unwrap().len();
    assert!(std::fs::metadata(&path).unwrap().len() > stale_len, "the test must grow the file");
    std::fs::copy(&stale, &path).unwrap();
    let db = open(&path);
    let want: Vec<_> = (0..200).map(|k| (k, value(k))).collect();
    assert_eq!(keys(&db), want);
    // Writable after recovery, and a clean close leaves an empty log.
    put(&db, 500, b"after");
    drop(db);
    let db = open(&path);
    assert_eq!(keys(&db).len(), 201);
    drop(db);
    let log = std::fs::read(log_path(&path)).unwrap();
    let epoch = wal::decode_header(&log).unwrap();
    assert!(wal::scan(&log, epoch).is_empty(), "close left groups in the log");
}

#[test]
fn without_the_log_the_stale_file_really_misses_the_commits() {
    // Guards the test above: the copy is stale, so only the replay can restore the rows.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let stale = crash_after(&path, 60);
    std::fs::copy(&stale, &path).unwrap();
    std::fs::remove_file(log_path(&path)).unwrap();
    let db = open(&path);
    assert_eq!(keys(&db).len(), 10);
}

#[test]
fn a_corrupt_last_group_is_dropped_and_the_earlier_ones_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let stale = crash_after(&path, 40);
    let lp = log_path(&path);
    let mut log = std::fs::read(&lp).unwrap();
    let epoch = wal::decode_header(&log).unwrap();
    let groups = wal::scan(&log, epoch);
    assert!(groups.len() >= 30, "one group per commit expected, got {}", groups.len());
    let last_at = HEADER_BYTES + groups[..groups.len() - 1].iter().map(|g| g.len).sum::<u64>();
    let mid = (last_at + groups.last().unwrap().len / 2) as usize;
    log[mid] ^= 0xff;
    std::fs::write(&lp, &log).unwrap();
    std::fs::copy(&stale, &path).unwrap();
    let db = open(&path);
    // The last commit (key 39) is gone; everything before it is there, and the file is sound.
    let want: Vec<_> = (0..39).map(|k| (k, value(k))).collect();
    assert_eq!(keys(&db), want);
    put(&db, 39, b"again");
    assert_eq!(keys(&db).len(), 40);
}

#[test]
fn replay_applies_writes_in_order_and_restores_the_recorded_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw");
    let b = backend(&path, true);
    b.set_len(8192).unwrap();
    b.write(0, b"first").unwrap();
    b.write(0, b"second").unwrap(); // overwrites: the later write wins
    b.sync_data().unwrap();
    b.set_len(20000).unwrap(); // grown, with no write: the length alone must be logged
    b.sync_data().unwrap();
    b.write(12000, b"unsynced").unwrap(); // never synced: may be lost
    std::mem::forget(b);
    std::fs::write(&path, b"").unwrap(); // the data file as last fsynced: empty
    let b = backend(&path, true);
    assert_eq!(b.len().unwrap(), 20000);
    let mut got = [0u8; 6];
    b.read(0, &mut got).unwrap();
    assert_eq!(&got, b"second");
}

#[test]
fn a_shrink_and_regrow_replay_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw");
    let b = backend(&path, true);
    b.set_len(10000).unwrap();
    b.write(9000, b"tail").unwrap();
    b.sync_data().unwrap();
    b.set_len(4096).unwrap();
    b.set_len(10000).unwrap();
    b.write(100, b"head").unwrap();
    b.sync_data().unwrap();
    std::mem::forget(b);
    std::fs::write(&path, b"").unwrap();
    let b = backend(&path, true);
    assert_eq!(b.len().unwrap(), 10000);
    let mut got = [9u8; 4];
    b.read(9000, &mut got).unwrap();
    assert_eq!(got, [0; 4], "bytes cut off by the shrink came back");
    b.read(100, &mut got).unwrap();
    assert_eq!(&got, b"head");
}

#[test]
fn turning_the_log_off_applies_what_it_holds_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let stale = crash_after(&path, 30);
    std::fs::copy(&stale, &path).unwrap();
    let db = redb::Builder::new().create_with_backend(backend(&path, false)).unwrap();
    assert_eq!(keys(&db).len(), 30);
    put(&db, 100, b"no log");
    drop(db);
    // The log was retired: opening with it on again replays nothing over the new commit.
    let db = open(&path);
    assert_eq!(keys(&db).len(), 31);
}
