//! Decoded rows of one read snapshot. A statement that reaches base-table rows through an
//! index (or by primary key) pays, per row, a redb B-tree descent from the root (a page
//! cache lookup and an `Arc` per level), a copy into an aligned buffer and an rkyv
//! validation of the whole record, before it copies out the two or three columns it needs.
//! Repeated statements over hot rows pay that again every time. A [`RowCache`] keeps the
//! rows already fetched through one [`Snapshot`](super::snapshot::Snapshot), decoded into
//! a compact form ([`CachedRow`]: one text buffer plus a cell per column), so the next
//! fetch of the same key in the same snapshot is one hash lookup and a copy of the needed
//! columns.
//!
//! Coherence: the cache belongs to the snapshot. A snapshot is an immutable MVCC view, so
//! an entry is exactly what a `get` of its key returns in that snapshot, for as long as the
//! snapshot lives; a commit retires the shared snapshot (and with it the cache), and the
//! next reader begins a new snapshot with an empty cache. Nothing is invalidated, because
//! nothing can go stale.
//!
//! Bounds: entries are admitted while the cache holds less than [`ROW_CACHE_BYTES`]
//! (estimated: key, text, cells and a fixed overhead per entry); after that, misses are
//! served uncached. There is no eviction: the snapshot ends at the next commit anyway.

use crate::schema::Value;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Admission budget of one snapshot's row cache, bytes (estimated).
pub const ROW_CACHE_BYTES: usize = 32 << 20;

/// Estimated bytes of an entry beyond its key, text and cells (map slot, allocations).
const ENTRY_OVERHEAD: usize = 64;

const SHARDS: usize = 16;

/// One column of a cached row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A real.
    Real(f64),
    /// Text: a byte range of the row's text buffer.
    Text(u32, u32),
    /// JSON text: a byte range of the row's text buffer.
    Json(u32, u32),
    /// The tenant column: the reader's tenant (keys are per tenant, so it is implied).
    Tenant,
}

/// A decoded row: every column of a stored record, the strings in one buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedRow {
    text: String,
    cells: Box<[Cell]>,
}

/// Builds a [`CachedRow`] column by column, in table order.
#[derive(Debug, Default)]
pub struct RowBuilder {
    text: String,
    cells: Vec<Cell>,
}

impl RowBuilder {
    /// An empty builder for a row of `width` columns whose text is at most `text` bytes
    /// (the stored record's size bounds it: the buffer never grows).
    pub fn new(width: usize, text: usize) -> RowBuilder {
        RowBuilder {
            text: String::with_capacity(text),
            cells: Vec::with_capacity(width),
        }
    }

    fn range(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, self.text.len() as u32)
    }

    /// Appends a text column.
    pub fn text(&mut self, s: &str) {
        let (a, b) = self.range(s);
        self.cells.push(Cell::Text(a, b));
    }

    /// Appends a nullable text column.
    pub fn opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.cells.push(Cell::Null),
        }
    }

    /// Appends a JSON column.
    pub fn json(&mut self, s: &str) {
        let (a, b) = self.range(s);
        self.cells.push(Cell::Json(a, b));
    }

    /// Appends any other cell (integers, reals, the tenant).
    pub fn cell(&mut self, c: Cell) {
        self.cells.push(c);
    }

    /// The row.
    pub fn finish(self) -> CachedRow {
        CachedRow {
            text: self.text,
            cells: self.cells.into_boxed_slice(),
        }
    }
}

/// Sets a slot to text, reusing its allocation.
#[inline]
fn set_str(slot: &mut Value, s: &str, json: bool) {
    match (slot, json) {
        (Value::Text(t), false) | (Value::Json(t), true) => {
            t.clear();
            t.push_str(s);
        }
        (slot, false) => *slot = Value::Text(s.to_owned()),
        (slot, true) => *slot = Value::Json(s.to_owned()),
    }
}

impl CachedRow {
    /// Number of columns.
    pub fn width(&self) -> usize {
        self.cells.len()
    }

    /// Estimated bytes held (see [`ROW_CACHE_BYTES`]).
    pub fn bytes(&self) -> usize {
        self.text.capacity() + self.cells.len() * std::mem::size_of::<Cell>() + ENTRY_OVERHEAD
    }

    /// Fills `out[c]` for every `c` in `cols` (table column positions) from this row;
    /// the tenant column gets `tenant`.
    pub fn fill(&self, cols: &[usize], tenant: &str, out: &mut [Value]) {
        for &c in cols {
            let slot = &mut out[c];
            match self.cells.get(c).copied().unwrap_or(Cell::Null) {
                Cell::Null => *slot = Value::Null,
                Cell::Int(i) => *slot = Value::Int(i),
                Cell::Real(r) => *slot = Value::Real(r),
                Cell::Text(a, b) => set_str(slot, &self.text[a as usize..b as usize], false),
                Cell::Json(a, b) => set_str(slot, &self.text[a as usize..b as usize], true),
                Cell::Tenant => set_str(slot, tenant, false),
            }
        }
    }
}

type Shard = RwLock<HashMap<Box<[u8]>, CachedRow, foldhash::fast::FixedState>>;

/// Rows of one table fetched through one snapshot, by their full stored key.
pub struct RowCache {
    shards: [Shard; SHARDS],
    /// Picks the shard. Seeded apart from the maps' own hasher: with the same hash, every
    /// key of a shard would share the bits that pick the shard, which are the bits the
    /// map's buckets are picked by, so one bucket in `SHARDS` would hold them all.
    hasher: foldhash::fast::FixedState,
    bytes: AtomicUsize,
    budget: usize,
    hits: AtomicUsize,
}

impl Default for RowCache {
    fn default() -> RowCache {
        RowCache::with_budget(ROW_CACHE_BYTES)
    }
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache")
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .field("budget", &self.budget)
            .finish()
    }
}

impl RowCache {
    /// An empty cache admitting entries while it holds less than `budget` bytes.
    pub fn with_budget(budget: usize) -> RowCache {
        RowCache {
            shards: std::array::from_fn(|_| {
                RwLock::new(HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x6d61_7073)))
            }),
            hasher: foldhash::fast::FixedState::with_seed(0x7368_6172_6473),
            bytes: AtomicUsize::new(0),
            budget,
            hits: AtomicUsize::new(0),
        }
    }

    fn shard(&self, key: &[u8]) -> &Shard {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// Runs `f` on the row cached under `key`, if any.
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&CachedRow) -> R) -> Option<R> {
        let shard = self.shard(key).read();
        let r = shard.get(key).map(f);
        if r.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// True while the cache admits entries.
    #[inline]
    pub fn has_room(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) < self.budget
    }

    /// Caches `row` under `key` (a racing insert of the same key keeps the first: both are
    /// the same row of the same snapshot). False when the cache is full.
    pub fn insert(&self, key: &[u8], row: CachedRow) -> bool {
        if !self.has_room() {
            return false;
        }
        let n = row.bytes() + key.len();
        let mut shard = self.shard(key).write();
        if !shard.contains_key(key) {
            shard.insert(key.into(), row);
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        true
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups that hit.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, n: i64) -> CachedRow {
        let mut b = RowBuilder::new(5, 16);
        b.text(id);
        b.cell(Cell::Tenant);
        b.opt(None);
        b.cell(Cell::Int(n));
        b.json("{\"a\":1}");
        b.finish()
    }

    #[test]
    fn fills_only_the_asked_columns_reusing_slots() {
        let r = row("c1", 7);
        let mut out = vec![Value::Text("old".into()), Value::Int(1), Value::Text("x".into()), Value::Null, Value::Null];
        r.fill(&[0, 1, 2, 3], "t9", &mut out);
        assert_eq!(out[0], Value::Text("c1".into()));
        assert_eq!(out[1], Value::Text("t9".into()));
        assert_eq!(out[2], Value::Null);
        assert_eq!(out[3], Value::Int(7));
        assert_eq!(out[4], Value::Null, "column 4 was not asked for");
        r.fill(&[4], "t9", &mut out);
        assert_eq!(out[4], Value::Json("{\"a\":1}".into()));
    }

    #[test]
    fn admits_until_the_budget_then_refuses() {
        let c = RowCache::with_budget(1000);
        let mut admitted = 0;
        for i in 0..100 {
            if c.insert(format!("k{i}").as_bytes(), row(&format!("c{i}"), i)) {
                admitted += 1;
            }
        }
        assert!(admitted > 0 && admitted < 100, "admitted {admitted}");
        assert!(c.bytes() < 1000 + row("c99", 1).bytes() + 4);
        assert_eq!(c.len(), admitted);
        assert!(!c.has_room());
        assert_eq!(c.get_with(b"k0", |r| r.clone()), Some(row("c0", 0)));
        assert_eq!(c.get_with(b"k99", |r| r.width()), None);
        assert_eq!(c.hits(), 1);
    }

    #[test]
    fn a_second_insert_of_a_key_keeps_the_first() {
        let c = RowCache::default();
        c.insert(b"k", row("a", 1));
        let before = c.bytes();
        c.insert(b"k", row("b", 2));
        assert_eq!(c.bytes(), before);
        assert_eq!(c.get_with(b"k", |r| r.clone()), Some(row("a", 1)));
    }
}
