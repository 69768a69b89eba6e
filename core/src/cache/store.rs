//! L2 and L3: persistent tiers in their own redb file (`<dir>/cache.redb`), separate from
//! the data file so cache writes never queue behind the data store's durable commits.
//!
//! Commits here use `Durability::None` (no fsync) and the background task makes them
//! durable periodically ([`Store::make_durable`]); redb keeps a file crash-consistent at
//! its last durable commit, so a crash loses at most the last interval of cache writes and
//! never corrupts it.
//!
//! Tables: `l2` and `l3` map a cache key to `header ‖ payload` (a key lives in at most one
//! of them); `expiry` indexes `(expires_at, tier, key)` so the sweep reads only what has
//! expired; `hot` holds the persisted hot set; `meta` holds counters (open epoch, bytes per
//! tier). Payloads over the compression threshold are zstd-compressed (L3 at a higher
//! level) when that makes them smaller.

use crate::error::{err, ErrorKind, Result};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

const L2: TableDefinition<&[u8], &[u8]> = TableDefinition::new("l2");
const L3: TableDefinition<&[u8], &[u8]> = TableDefinition::new("l3");
const EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("expiry");
const HOT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("hot");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

/// The cache file's name inside the database directory.
pub const CACHE_FILE: &str = "cache.redb";

/// A persistent tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Mid-size values, moderate compression.
    L2,
    /// Large values, stronger compression.
    L3,
}

impl Tier {
    fn table(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        match self {
            Tier::L2 => L2,
            Tier::L3 => L3,
        }
    }
    fn tag(self) -> u8 {
        match self {
            Tier::L2 => 2,
            Tier::L3 => 3,
        }
    }
    fn bytes_key(self) -> &'static str {
        match self {
            Tier::L2 => "l2_bytes",
            Tier::L3 => "l3_bytes",
        }
    }
    fn idx(self) -> usize {
        match self {
            Tier::L2 => 0,
            Tier::L3 => 1,
        }
    }
}

const HEADER: usize = 1 + 8 + 4;
const COMPRESSED: u8 = 1;

/// A value read from L2/L3.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A live value: tier, payload (decompressed), expiry.
    Live(Tier, Vec<u8>, i64),
    /// The entry's TTL has passed.
    Expired(Tier),
    /// No entry.
    Absent,
}

/// One entry of the persisted hot set.
#[derive(Debug, Clone, PartialEq)]
pub struct HotEntry {
    /// The cache key.
    pub key: Vec<u8>,
    /// The sketch frequency when persisted.
    pub freq: u8,
    /// Expiry (ms since the epoch).
    pub expires_at: i64,
    /// The value, for entries that are not reloadable from the data store.
    pub value: Option<Vec<u8>>,
}

/// The L2/L3 store.
pub struct Store {
    db: Database,
    bytes: [AtomicI64; 2],
    dirty: AtomicBool,
}

fn expiry_key(expires_at: i64, tier: Tier, key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + key.len());
    v.extend_from_slice(&((expires_at as u64) ^ (1 << 63)).to_be_bytes());
    v.push(tier.tag());
    v.extend_from_slice(key);
    v
}

fn header(rec: &[u8]) -> Result<(u8, i64, usize)> {
    if rec.len() < HEADER {
        return Err(err(ErrorKind::Corrupted, "cache record shorter than its header"));
    }
    let flags = rec[0];
    let exp = i64::from_le_bytes(rec[1..9].try_into().expect("8 bytes"));
    let raw = u32::from_le_bytes(rec[9..13].try_into().expect("4 bytes")) as usize;
    Ok((flags, exp, raw))
}

fn encode(value: &[u8], expires_at: i64, compress_over: usize, level: i32) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER + value.len());
    let compressed = if value.len() > compress_over {
        let c = zstd::bulk::compress(value, level).map_err(|e| crate::Error::with_source(ErrorKind::Internal, "zstd compression failed", e))?;
        (c.len() < value.len()).then_some(c)
    } else {
        None
    };
    out.push(if compressed.is_some() { COMPRESSED } else { 0 });
    out.extend_from_slice(&expires_at.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(compressed.as_deref().unwrap_or(value));
    Ok(out)
}

fn decode(rec: &[u8]) -> Result<Vec<u8>> {
    let (flags, _, raw) = header(rec)?;
    let body = &rec[HEADER..];
    if flags & COMPRESSED != 0 {
        zstd::bulk::decompress(body, raw).map_err(|e| crate::Error::with_source(ErrorKind::Corrupted, "cache record fails to decompress", e))
    } else {
        Ok(body.to_vec())
    }
}

fn nondurable(db: &Database) -> Result<WriteTransaction> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::None).map_err(|e| err(ErrorKind::Storage, format!("cannot set durability: {e}")))?;
    Ok(txn)
}

impl Store {
    /// Opens (or creates) the cache file in `dir` and bumps the open epoch. Returns the
    /// store and the new epoch.
    pub fn open(dir: &Path) -> Result<(Store, u64)> {
        let path = dir.join(CACHE_FILE);
        let fresh = std::fs::metadata(&path).map(|m| m.len() == 0).unwrap_or(true);
        // Verified like the data file, so bytes altered on disk are caught here (and the
        // cache rebuilt by `open_or_rebuild`) instead of surfacing as wrong values.
        let db = redb::Builder::new().set_check_integrity_on_open(!fresh).create(&path)?;
        let txn = nondurable(&db)?;
        let (epoch, b2, b3) = {
            txn.open_table(L2)?;
            txn.open_table(L3)?;
            txn.open_table(EXPIRY)?;
            txn.open_table(HOT)?;
            let mut meta = txn.open_table(META)?;
            let epoch = meta.get("epoch")?.map(|v| v.value()).unwrap_or(0) + 1;
            meta.insert("epoch", epoch)?;
            let b2 = meta.get("l2_bytes")?.map(|v| v.value()).unwrap_or(0);
            let b3 = meta.get("l3_bytes")?.map(|v| v.value()).unwrap_or(0);
            (epoch, b2, b3)
        };
        txn.commit()?;
        let store = Store { db, bytes: [AtomicI64::new(b2), AtomicI64::new(b3)], dirty: AtomicBool::new(true) };
        Ok((store, epoch as u64))
    }

    /// Opens the cache file; when it is corrupted or unreadable, discards it and starts an
    /// empty one (the cache is disposable), returning a warning that says so.
    pub fn open_or_rebuild(dir: &Path) -> Result<(Store, u64, Option<String>)> {
        match Store::open(dir) {
            Ok((s, e)) => Ok((s, e, None)),
            Err(e) if matches!(e.kind(), ErrorKind::Corrupted | ErrorKind::Storage) => {
                let path = dir.join(CACHE_FILE);
                std::fs::remove_file(&path).map_err(|x| {
                    crate::Error::with_source(ErrorKind::Storage, format!("cannot discard the damaged cache file {}", path.display()), x)
                })?;
                let (s, ep) = Store::open(dir)?;
                Ok((s, ep, Some(format!("the cache file was discarded and rebuilt empty: {e}"))))
            }
            Err(e) => Err(e),
        }
    }

    /// Looks `key` up in L2, then L3, at `now`.
    pub fn get(&self, key: &[u8], now: i64) -> Result<Found> {
        let txn = self.db.begin_read()?;
        for tier in [Tier::L2, Tier::L3] {
            let t = txn.open_table(tier.table())?;
            if let Some(v) = t.get(key)? {
                let rec = v.value();
                let (_, exp, _) = header(rec)?;
                if exp <= now {
                    return Ok(Found::Expired(tier));
                }
                return Ok(Found::Live(tier, decode(rec)?, exp));
            }
        }
        Ok(Found::Absent)
    }

    /// Removes `key` from both tiers inside `txn`; returns the tier it was in.
    fn remove_in(&self, txn: &WriteTransaction, key: &[u8], delta: &mut [i64; 2]) -> Result<Option<Tier>> {
        let mut found = None;
        for tier in [Tier::L2, Tier::L3] {
            let mut t = txn.open_table(tier.table())?;
            let old = t.remove(key)?.map(|v| v.value().to_vec());
            if let Some(rec) = old {
                let (_, exp, _) = header(&rec)?;
                txn.open_table(EXPIRY)?.remove(expiry_key(exp, tier, key).as_slice())?;
                delta[tier.idx()] -= rec.len() as i64;
                found = Some(tier);
            }
        }
        Ok(found)
    }

    fn finish(&self, txn: WriteTransaction, delta: [i64; 2]) -> Result<()> {
        if delta != [0, 0] {
            let mut meta = txn.open_table(META)?;
            for tier in [Tier::L2, Tier::L3] {
                let d = delta[tier.idx()];
                if d != 0 {
                    let cur = meta.get(tier.bytes_key())?.map(|v| v.value()).unwrap_or(0);
                    meta.insert(tier.bytes_key(), cur + d)?;
                }
            }
        }
        txn.commit()?;
        for tier in [Tier::L2, Tier::L3] {
            self.bytes[tier.idx()].fetch_add(delta[tier.idx()], Ordering::Relaxed);
        }
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Writes entries in one commit. Each item is (tier, key, value, expires_at, level,
    /// check); `check` runs inside the write transaction (after every earlier commit is
    /// visible) and can refuse its item. Returns how many were written.
    pub fn put_many<'a>(
        &self,
        items: impl IntoIterator<Item = (Tier, &'a [u8], &'a [u8], i64, i32, Box<dyn FnOnce() -> bool + 'a>)>,
        compress_over: usize,
    ) -> Result<usize> {
        let txn = nondurable(&self.db)?;
        let mut delta = [0i64; 2];
        let mut n = 0;
        for (tier, key, value, exp, level, check) in items {
            if !check() {
                continue;
            }
            self.remove_in(&txn, key, &mut delta)?;
            let rec = encode(value, exp, compress_over, level)?;
            txn.open_table(tier.table())?.insert(key, rec.as_slice())?;
            txn.open_table(EXPIRY)?.insert(expiry_key(exp, tier, key).as_slice(), ())?;
            delta[tier.idx()] += rec.len() as i64;
            n += 1;
        }
        self.finish(txn, delta)?;
        Ok(n)
    }

    /// Writes one entry (see [`Store::put_many`]). A thin form of `put_many`, whose entry
    /// tuple these arguments are.
    #[allow(clippy::too_many_arguments)]
    pub fn put(&self, tier: Tier, key: &[u8], value: &[u8], expires_at: i64, level: i32, compress_over: usize, check: impl FnOnce() -> bool) -> Result<bool> {
        Ok(self.put_many([(tier, key, value, expires_at, level, Box::new(check) as Box<dyn FnOnce() -> bool>)], compress_over)? == 1)
    }

    /// Removes `key` from L2 and L3 when `check` (run inside the transaction) allows it;
    /// returns the tier it was removed from.
    pub fn remove(&self, key: &[u8], check: impl FnOnce(Option<i64>) -> bool) -> Result<Option<Tier>> {
        let txn = nondurable(&self.db)?;
        let exp = {
            let mut exp = None;
            for tier in [Tier::L2, Tier::L3] {
                if let Some(v) = txn.open_table(tier.table())?.get(key)? {
                    exp = Some(header(v.value())?.1);
                }
            }
            exp
        };
        if exp.is_none() || !check(exp) {
            return Ok(None);
        }
        let mut delta = [0i64; 2];
        let tier = self.remove_in(&txn, key, &mut delta)?;
        self.finish(txn, delta)?;
        Ok(tier)
    }

    /// Moves `key` from L3 to L2 (keeping its record and expiry) when `check` allows.
    pub fn promote(&self, key: &[u8], check: impl FnOnce() -> bool) -> Result<bool> {
        let txn = nondurable(&self.db)?;
        let rec = txn.open_table(L3)?.get(key)?.map(|v| v.value().to_vec());
        let Some(rec) = rec else { return Ok(false) };
        if !check() {
            return Ok(false);
        }
        let mut delta = [0i64; 2];
        self.remove_in(&txn, key, &mut delta)?;
        let (_, exp, _) = header(&rec)?;
        txn.open_table(L2)?.insert(key, rec.as_slice())?;
        txn.open_table(EXPIRY)?.insert(expiry_key(exp, Tier::L2, key).as_slice(), ())?;
        delta[0] += rec.len() as i64;
        self.finish(txn, delta)?;
        Ok(true)
    }

    /// Removes up to `limit` entries that expired by `now`, reading only the expiry index.
    /// Returns the count per tier.
    pub fn sweep(&self, now: i64, limit: usize) -> Result<[u64; 2]> {
        let end = expiry_key(now.saturating_add(1), Tier::L2, &[]);
        let due: Vec<Vec<u8>> = {
            let txn = self.db.begin_read()?;
            let idx = txn.open_table(EXPIRY)?;
            let mut v = Vec::new();
            for item in idx.range(..&end[..8])? {
                v.push(item?.0.value().to_vec());
                if v.len() >= limit {
                    break;
                }
            }
            v
        };
        let mut counts = [0u64; 2];
        if due.is_empty() {
            return Ok(counts);
        }
        let txn = nondurable(&self.db)?;
        let mut delta = [0i64; 2];
        {
            let mut idx = txn.open_table(EXPIRY)?;
            for ik in &due {
                idx.remove(ik.as_slice())?;
                let exp = (u64::from_be_bytes(ik[..8].try_into().expect("8")) ^ (1 << 63)) as i64;
                let tier = if ik[8] == 3 { Tier::L3 } else { Tier::L2 };
                let key = &ik[9..];
                let mut t = txn.open_table(tier.table())?;
                let still = match t.get(key)? {
                    Some(v) => header(v.value())?.1 == exp,
                    None => false,
                };
                if still {
                    if let Some(old) = t.remove(key)? {
                        delta[tier.idx()] -= old.value().len() as i64;
                    }
                    counts[tier.idx()] += 1;
                }
            }
        }
        self.finish(txn, delta)?;
        Ok(counts)
    }

    /// Entries per tier.
    pub fn entries(&self) -> Result<[u64; 2]> {
        let txn = self.db.begin_read()?;
        Ok([txn.open_table(L2)?.len()?, txn.open_table(L3)?.len()?])
    }

    /// Stored bytes per tier (after compression).
    pub fn bytes(&self) -> [u64; 2] {
        [self.bytes[0].load(Ordering::Relaxed).max(0) as u64, self.bytes[1].load(Ordering::Relaxed).max(0) as u64]
    }

    /// Every key held in L2 or L3 (used to build the presence filter at open).
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8])) -> Result<()> {
        let txn = self.db.begin_read()?;
        for tier in [Tier::L2, Tier::L3] {
            for item in txn.open_table(tier.table())?.iter()? {
                f(item?.0.value());
            }
        }
        Ok(())
    }

    /// Replaces the persisted hot set.
    pub fn save_hot(&self, entries: &[HotEntry], durable: bool) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        if !durable {
            txn.set_durability(Durability::None).map_err(|e| err(ErrorKind::Storage, format!("cannot set durability: {e}")))?;
        }
        {
            let mut t = txn.open_table(HOT)?;
            t.retain(|_, _| false)?;
            for e in entries {
                let mut v = Vec::with_capacity(10 + e.value.as_ref().map_or(0, |v| v.len()));
                v.push(e.freq);
                v.extend_from_slice(&e.expires_at.to_le_bytes());
                v.push(e.value.is_some() as u8);
                if let Some(val) = &e.value {
                    v.extend_from_slice(val);
                }
                t.insert(e.key.as_slice(), v.as_slice())?;
            }
        }
        txn.commit()?;
        if durable {
            self.dirty.store(false, Ordering::Relaxed);
        } else {
            self.dirty.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The persisted hot set, most frequent first.
    pub fn load_hot(&self) -> Result<Vec<HotEntry>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(HOT)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            let v = v.value();
            if v.len() < 10 {
                continue;
            }
            out.push(HotEntry {
                key: k.value().to_vec(),
                freq: v[0],
                expires_at: i64::from_le_bytes(v[1..9].try_into().expect("8")),
                value: (v[9] == 1).then(|| v[10..].to_vec()),
            });
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.freq));
        Ok(out)
    }

    /// Drops one key from the persisted hot set (it was overwritten or deleted).
    pub fn forget_hot(&self, key: &[u8]) -> Result<()> {
        let txn = nondurable(&self.db)?;
        txn.open_table(HOT)?.remove(key)?;
        txn.commit()?;
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Makes every earlier non-durable commit durable (one fsync), if there were any.
    pub fn make_durable(&self) -> Result<()> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        txn.commit()?;
        Ok(())
    }
}
