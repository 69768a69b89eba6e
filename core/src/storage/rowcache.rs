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
//! Bounds: each of the 16 shards holds at most a sixteenth of [`ROW_CACHE_BYTES`]
//! (estimated: key, text, cells and a fixed overhead per entry). An insert into a full
//! shard first empties that shard: eviction by whole shards, which costs nothing per hit
//! and keeps a working set that fits cached. (Refusing entries once full, as this cache
//! first did, let a stream of one-off rows, such as an index range query over random
//! windows, fill it within a second and then leave every later statement uncached for the
//! snapshot's whole life, which is many seconds when nothing commits.)
//!
//! Layout: an entry is one contiguous record (key, cells, and where its text is) appended
//! to its shard's arena of large chunks, its text appended to the shard's text arena, and
//! the shard's map holds only the key's 64-bit hash and the record's position. A hit then
//! touches one map bucket, one record (the key compare and the cells read adjacent bytes)
//! and the row's text, and the cache's long-lived rows do not sit
//! between the statement's short-lived allocations: three small heap objects per entry,
//! interleaved with result strings, had fragmented the allocator's free lists so badly
//! that malloc's slow path was a third of an index-range query's time. Two keys with the
//! same 64-bit hash share one slot: the first is cached, the second is served uncached.
//! The text arena's chunks are `String`s, so a hit slices its text as `str` without
//! validating the UTF-8 again (that check, on the text's bytes in the record, was 8 % of
//! the bench's 100-row tenant query).

use crate::schema::Value;
use parking_lot::{RwLock, RwLockReadGuard};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::cell::Cell as StdCell;

/// Bytes one snapshot's row cache holds at most, per table (estimated).
pub const ROW_CACHE_BYTES: usize = 32 << 20;

/// Estimated bytes of an entry beyond its record (the map slot, with its spare room).
const ENTRY_OVERHEAD: usize = 32;

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

    /// Fills `out[c]` for every `c` in `cols` (table column positions) from this row;
    /// the tenant column gets `tenant`.
    pub fn fill(&self, cols: &[usize], tenant: &str, out: &mut [Value]) {
        fill_cells(cols, tenant, out, |c| self.cells.get(c).copied().unwrap_or(Cell::Null), |a, b| {
            &self.text[a as usize..b as usize]
        });
    }
}

/// Fills `out[c]` for every `c` in `cols` from the cells `cell(c)`, text ranges read by
/// `text`: the one cell-to-value mapping of a [`CachedRow`] and of a [`RowRef`].
#[inline]
fn fill_cells<'t>(
    cols: &[usize],
    tenant: &str,
    out: &mut [Value],
    cell: impl Fn(usize) -> Cell,
    text: impl Fn(u32, u32) -> &'t str,
) {
    for &c in cols {
        let slot = &mut out[c];
        match cell(c) {
            Cell::Null => *slot = Value::Null,
            Cell::Int(i) => *slot = Value::Int(i),
            Cell::Real(r) => *slot = Value::Real(r),
            Cell::Text(a, b) => set_str(slot, text(a, b), false),
            Cell::Json(a, b) => set_str(slot, text(a, b), true),
            Cell::Tenant => set_str(slot, tenant, false),
        }
    }
}

/// Bytes of a full arena chunk; a record larger than a quarter of it is not cached.
const CHUNK: usize = 256 << 10;
/// Bytes of a shard's first chunk (each next one doubles, up to [`CHUNK`]).
const FIRST_CHUNK: usize = 4 << 10;

/// Record header: key length, width, text length, text chunk, text offset (u32 each,
/// little-endian).
const HEADER: usize = 20;
/// Bytes of one encoded cell: a tag and eight payload bytes.
const CELL: usize = 9;

fn put_cell(out: &mut Vec<u8>, c: Cell) {
    let (tag, payload): (u8, u64) = match c {
        Cell::Null => (0, 0),
        Cell::Int(i) => (1, i as u64),
        Cell::Real(r) => (2, r.to_bits()),
        Cell::Text(a, b) => (3, (a as u64) | ((b as u64) << 32)),
        Cell::Json(a, b) => (4, (a as u64) | ((b as u64) << 32)),
        Cell::Tenant => (5, 0),
    };
    out.push(tag);
    out.extend_from_slice(&payload.to_le_bytes());
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// A cached row as stored: a view of its record in the arena.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    key: &'a [u8],
    cells: &'a [u8],
    /// The row's text, a slice of its shard's text arena.
    text: &'a str,
}

impl<'a> RowRef<'a> {
    /// The record starting at `rec` (written by [`encode_record`]), its text in `texts`.
    #[inline]
    fn parse(rec: &'a [u8], texts: &'a [String]) -> RowRef<'a> {
        let (klen, width, tlen) = (u32_at(rec, 0), u32_at(rec, 4), u32_at(rec, 8));
        let (tchunk, toff) = (u32_at(rec, 12), u32_at(rec, 16));
        let key = &rec[HEADER..HEADER + klen];
        let cells = &rec[HEADER + klen..HEADER + klen + width * CELL];
        let text = texts.get(tchunk).and_then(|t| t.get(toff..toff + tlen)).unwrap_or("");
        RowRef { key, cells, text }
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.cells.len() / CELL
    }

    fn cell(&self, c: usize) -> Cell {
        let Some(b) = self.cells.get(c * CELL..c * CELL + CELL) else {
            return Cell::Null;
        };
        let p = u64::from_le_bytes(b[1..9].try_into().expect("eight payload bytes"));
        let (lo, hi) = (p as u32, (p >> 32) as u32);
        match b[0] {
            1 => Cell::Int(p as i64),
            2 => Cell::Real(f64::from_bits(p)),
            3 => Cell::Text(lo, hi),
            4 => Cell::Json(lo, hi),
            5 => Cell::Tenant,
            _ => Cell::Null,
        }
    }

    /// A text column (cut at the boundaries the builder recorded; slicing a `str` checks
    /// only that both are character boundaries).
    #[inline]
    fn str(&self, a: u32, b: u32) -> &'a str {
        self.text.get(a as usize..b as usize).unwrap_or("")
    }

    /// Fills `out[c]` for every `c` in `cols` (table column positions) from this row;
    /// the tenant column gets `tenant`.
    #[inline]
    pub fn fill(&self, cols: &[usize], tenant: &str, out: &mut [Value]) {
        fill_cells(cols, tenant, out, |c| self.cell(c), |a, b| self.str(a, b));
    }

    /// Column `c` when it is text (not JSON); None for any other cell.
    pub fn text_at(&self, c: usize) -> Option<&'a str> {
        match self.cell(c) {
            Cell::Text(a, b) => Some(self.str(a, b)),
            _ => None,
        }
    }

    /// Column `c` when it is JSON text; None for any other cell.
    pub fn json_at(&self, c: usize) -> Option<&'a str> {
        match self.cell(c) {
            Cell::Json(a, b) => Some(self.str(a, b)),
            _ => None,
        }
    }

    /// Column `c` when it is an integer; None for any other cell.
    pub fn int_at(&self, c: usize) -> Option<i64> {
        match self.cell(c) {
            Cell::Int(i) => Some(i),
            _ => None,
        }
    }

    /// An owned copy.
    pub fn to_row(&self) -> CachedRow {
        CachedRow {
            text: self.text.to_owned(),
            cells: (0..self.width()).map(|c| self.cell(c)).collect(),
        }
    }
}

/// The arena record of `row` under `key` (header, key, cells), its text at offset `toff`
/// of text chunk `tchunk`.
fn encode_record(key: &[u8], row: &CachedRow, tchunk: usize, toff: usize, out: &mut Vec<u8>) {
    for n in [key.len(), row.cells.len(), row.text.len(), tchunk, toff] {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(key);
    for &c in row.cells.iter() {
        put_cell(out, c);
    }
}

/// Bytes of the record and text of `row` under `key`.
fn record_len(key: &[u8], row: &CachedRow) -> usize {
    HEADER + key.len() + row.cells.len() * CELL + row.text.len()
}

/// Size of a new arena chunk after `have` chunks, for `len` bytes: chunks grow from 4 KiB
/// to CHUNK, so a short-lived snapshot that caches a few rows does not reserve a full
/// chunk in every shard.
fn chunk_size(have: usize, len: usize) -> usize {
    (FIRST_CHUNK << have.min(16)).min(CHUNK).max(len)
}

/// One shard: key hash -> record position (chunk index << 32 | offset), and the arenas of
/// records and of their text.
#[derive(Default)]
struct ShardData {
    map: HashMap<u64, u64, foldhash::fast::FixedState>,
    chunks: Vec<Vec<u8>>,
    texts: Vec<String>,
    /// Estimated bytes held (records, text and map overhead).
    bytes: usize,
}

impl ShardData {
    #[inline]
    fn record(&self, at: u64) -> RowRef<'_> {
        let chunk = &self.chunks[(at >> 32) as usize];
        RowRef::parse(&chunk[(at as u32) as usize..], &self.texts)
    }

    /// Appends the record of `row` under `key` and its text; the record's position.
    fn append(&mut self, key: &[u8], row: &CachedRow) -> u64 {
        let len = record_len(key, row) - row.text.len();
        if !self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= len) {
            self.chunks.push(Vec::with_capacity(chunk_size(self.chunks.len(), len)));
        }
        let tlen = row.text.len();
        if !self.texts.last().is_some_and(|t| t.capacity() - t.len() >= tlen) {
            self.texts.push(String::with_capacity(chunk_size(self.texts.len(), tlen)));
        }
        let tchunk = self.texts.len() - 1;
        let text = &mut self.texts[tchunk];
        let toff = text.len();
        text.push_str(&row.text);
        let idx = self.chunks.len() - 1;
        let chunk = &mut self.chunks[idx];
        let at = chunk.len();
        encode_record(key, row, tchunk, toff, chunk);
        debug_assert_eq!(chunk.len(), at + len);
        ((idx as u64) << 32) | at as u64
    }

    /// Drops every entry (the map keeps its buckets for the entries that come next).
    fn clear(&mut self) {
        self.map.clear();
        self.chunks.clear();
        self.texts.clear();
        self.bytes = 0;
    }
}

type Shard = RwLock<ShardData>;

/// Rows of one table fetched through one snapshot, by their full stored key.
pub struct RowCache {
    shards: [Shard; SHARDS],
    /// Hashes keys (the shard is picked by the top bits, the map is keyed by the hash).
    hasher: foldhash::fast::FixedState,
    /// Bytes each shard holds at most.
    shard_budget: usize,
}

/// The shards of a [`RowCache`] that a batch of keys falls in, read-locked: lookups of the
/// batch with no atomic operation between them. (A locked instruction waits for the loads
/// before it, so taking a shard's lock per key made each key's cache misses, in the map
/// and in the record, wait for the previous key's; with one lock of each shard a batch
/// needs, taken before any lookup, the lookups overlap their misses, see
/// [`RowCache::read_batch`].) A batch of one key locks one shard, as a single lookup does.
pub struct BatchView<'c> {
    shards: [Option<RwLockReadGuard<'c, ShardData>>; SHARDS],
}

/// Where [`RowCache::read_batch`] found a row: its shard and record position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found(usize, u64);

impl BatchView<'_> {
    /// The row at a position [`RowCache::read_batch`] found (counted as a hit); None only
    /// for a position from another batch.
    #[inline]
    pub fn row(&self, f: Found) -> Option<RowRef<'_>> {
        let shard = self.shards[f.0].as_ref()?;
        HITS.with(|n| n.set(n.get() + 1));
        Some(shard.record(f.1))
    }
}

/// The shard a key hash belongs to.
#[inline]
fn shard_of(h: u64) -> usize {
    (h >> 60) as usize % SHARDS
}

thread_local! {
    /// Row-cache hits by this thread, over every cache (see [`thread_hits`]). A plain
    /// thread-local add: the hot path shares no cache line with other readers for it.
    static HITS: StdCell<u64> = const { StdCell::new(0) };
}

/// Row-cache hits made by the calling thread so far, over every [`RowCache`] (tests and
/// benchmarks take the difference around the reads they make).
pub fn thread_hits() -> u64 {
    HITS.with(|h| h.get())
}

impl Default for RowCache {
    fn default() -> RowCache {
        RowCache::with_budget(ROW_CACHE_BYTES)
    }
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache")
            .field("bytes", &self.bytes())
            .field("shard_budget", &self.shard_budget)
            .finish()
    }
}

impl RowCache {
    /// An empty cache holding at most about `budget` bytes (a sixteenth per shard).
    pub fn with_budget(budget: usize) -> RowCache {
        RowCache {
            shards: std::array::from_fn(|_| {
                RwLock::new(ShardData {
                    map: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x6d61_7073)),
                    chunks: Vec::new(),
                    texts: Vec::new(),
                    bytes: 0,
                })
            }),
            hasher: foldhash::fast::FixedState::with_seed(0x7368_6172_6473),
            shard_budget: budget / SHARDS,
        }
    }

    #[inline]
    fn locate(&self, key: &[u8]) -> (&Shard, u64) {
        let h = self.hasher.hash_one(key);
        (&self.shards[shard_of(h)], h)
    }

    /// Runs `f` on the row cached under `key`, if any.
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(RowRef<'_>) -> R) -> Option<R> {
        let (shard, h) = self.locate(key);
        let shard = shard.read();
        let at = *shard.map.get(&h)?;
        let row = shard.record(at);
        if row.key != key {
            return None;
        }
        HITS.with(|n| n.set(n.get() + 1));
        Some(f(row))
    }

    /// Looks up the keys `keys[ends[i-1]..ends[i]]` (from 0) together: read-locks the
    /// shards they fall in, then finds, into `out`, the position of each one's row (None
    /// for a key not cached) in three passes: the map positions of all keys, then their
    /// records' keys, then the ends of their text. Each pass's loads depend only on the
    /// previous pass, so the loads of one pass, for every key, are in flight together (one
    /// memory latency per pass instead of three per key); [`BatchView::row`] of a position
    /// then reads lines already in the CPU cache. Each shard is locked with
    /// `read_recursive`, which waits only for a writer that holds the lock (never for one
    /// that waits), and a writer holds one shard and no other lock: so holding several
    /// cannot deadlock with other threads, as long as this thread inserts into this cache
    /// only after dropping the returned [`BatchView`].
    pub fn read_batch(&self, keys: &[u8], ends: &[usize], out: &mut Vec<Option<Found>>) -> BatchView<'_> {
        let key = |i: usize| &keys[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        // First each key's shard and hash (kept in `out` until the lookup replaces them),
        // then the locks, then the map lookups.
        out.clear();
        out.extend((0..ends.len()).map(|i| {
            let h = self.hasher.hash_one(key(i));
            Some(Found(shard_of(h), h))
        }));
        let mut shards: [Option<RwLockReadGuard<'_, ShardData>>; SHARDS] = Default::default();
        for &Found(s, _) in out.iter().flatten() {
            if shards[s].is_none() {
                shards[s] = Some(self.shards[s].read_recursive());
            }
        }
        let view = BatchView { shards };
        for f in out.iter_mut() {
            if let Some(Found(s, h)) = *f {
                *f = view.shards[s].as_ref().and_then(|d| d.map.get(&h)).map(|&at| Found(s, at));
            }
        }
        for (i, f) in out.iter_mut().enumerate() {
            if let Some(Found(s, at)) = *f {
                let same = view.shards[s].as_ref().is_some_and(|d| {
                    let rec = &d.chunks[(at >> 32) as usize][(at as u32) as usize..];
                    rec.get(HEADER..HEADER + u32_at(rec, 0)) == Some(key(i))
                });
                if !same {
                    *f = None;
                }
            }
        }
        for &Found(s, at) in out.iter().flatten() {
            if let Some(d) = &view.shards[s] {
                std::hint::black_box(d.record(at).text.len());
            }
        }
        view
    }

    /// Caches `row` under `key` (a racing insert of the same key keeps the first: both are
    /// the same row of the same snapshot), first emptying the key's shard when it is full.
    /// False when the row is too large for an arena chunk or its shard's budget, or when
    /// another key holds the slot of this key's hash.
    pub fn insert(&self, key: &[u8], row: &CachedRow) -> bool {
        let len = record_len(key, row);
        if len > CHUNK / 4 || len + ENTRY_OVERHEAD > self.shard_budget {
            return false;
        }
        let (shard, h) = self.locate(key);
        let mut shard = shard.write();
        if let Some(&at) = shard.map.get(&h) {
            return shard.record(at).key == key;
        }
        if shard.bytes + len + ENTRY_OVERHEAD > self.shard_budget {
            shard.clear();
        }
        let at = shard.append(key, row);
        shard.map.insert(h, at);
        shard.bytes += len + ENTRY_OVERHEAD;
        true
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.read().bytes).sum()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().map.len()).sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// A full shard is emptied by the next insert into it: the cache never holds more than
    /// its budget, the newest row is always cached, every cached row is the one inserted
    /// under its key, and a working set that fits stays cached while it is read.
    #[test]
    fn a_full_shard_is_emptied_and_the_newest_row_kept() {
        let one = record_len(b"k00000", &row("c00000", 1)) + ENTRY_OVERHEAD;
        let budget = SHARDS * one * 8; // room for about eight rows per shard
        let c = RowCache::with_budget(budget);
        for i in 0..2000 {
            let k = format!("k{i:05}");
            assert!(c.insert(k.as_bytes(), &row(&format!("c{i:05}"), i)), "{k}");
            assert!(c.bytes() <= budget, "{} bytes after {k}", c.bytes());
            assert_eq!(c.get_with(k.as_bytes(), |r| r.to_row()), Some(row(&format!("c{i:05}"), i)));
        }
        let cached: Vec<i64> =
            (0..2000).filter(|&i| c.get_with(format!("k{i:05}").as_bytes(), |r| r.to_row()).is_some()).collect();
        assert!(!cached.is_empty() && cached.len() <= SHARDS * 8, "{} cached", cached.len());
        for &i in &cached {
            assert_eq!(c.get_with(format!("k{i:05}").as_bytes(), |r| r.to_row()), Some(row(&format!("c{i:05}"), i)));
        }
        // A small working set read over and over stays cached (nothing else is inserted).
        let c = RowCache::with_budget(budget);
        for _ in 0..3 {
            for i in 0..SHARDS as i64 {
                c.insert(format!("w{i}").as_bytes(), &row("w", i));
            }
        }
        let before = thread_hits();
        for i in 0..SHARDS as i64 {
            assert_eq!(c.get_with(format!("w{i}").as_bytes(), |r| r.to_row()), Some(row("w", i)));
        }
        assert_eq!(thread_hits() - before, SHARDS as u64);
        assert_eq!(c.get_with(b"nope", |r| r.width()), None);
        assert_eq!(thread_hits() - before, SHARDS as u64, "a miss is not counted");
        // A row larger than a shard's budget is served uncached.
        assert!(!RowCache::with_budget(SHARDS * one / 2).insert(b"k", &row("c", 1)));
    }

    proptest::proptest! {
        /// Rows of arbitrary (multi-byte) text, NULLs and numbers, over several arena
        /// chunks: each reads back as inserted, whole and column by column.
        #[test]
        fn any_rows_read_back_as_inserted(rows in proptest::collection::vec(
            proptest::collection::vec((0u8..4, ".{0,40}", proptest::num::i64::ANY), 1..8), 1..300)
        ) {
            let c = RowCache::with_budget(usize::MAX);
            let make = |cols: &[(u8, String, i64)]| {
                let mut b = RowBuilder::new(cols.len(), cols.iter().map(|x| x.1.len()).sum());
                for (kind, t, n) in cols {
                    match kind {
                        0 => b.text(t),
                        1 => b.json(t),
                        2 => b.cell(Cell::Int(*n)),
                        _ => b.opt(None),
                    }
                }
                b.finish()
            };
            for (i, r) in rows.iter().enumerate() {
                let key = format!("k{i}");
                proptest::prop_assert!(c.insert(key.as_bytes(), &make(r)));
            }
            for (i, r) in rows.iter().enumerate() {
                let want = make(r);
                let key = format!("k{i}");
                proptest::prop_assert_eq!(c.get_with(key.as_bytes(), |x| x.to_row()), Some(want.clone()));
                let all: Vec<usize> = (0..r.len()).collect();
                let (mut got, mut exp) = (vec![Value::Null; r.len()], vec![Value::Null; r.len()]);
                c.get_with(key.as_bytes(), |x| x.fill(&all, "t", &mut got));
                want.fill(&all, "t", &mut exp);
                proptest::prop_assert_eq!(&got, &exp);
                for (col, (kind, t, _)) in r.iter().enumerate() {
                    let text = c.get_with(key.as_bytes(), |x| (x.text_at(col).map(str::to_string), x.json_at(col).map(str::to_string))).unwrap();
                    match kind {
                        0 => proptest::prop_assert_eq!(text, (Some(t.clone()), None)),
                        1 => proptest::prop_assert_eq!(text, (None, Some(t.clone()))),
                        _ => proptest::prop_assert_eq!(text, (None, None)),
                    }
                }
            }
        }
    }

    /// A batch lookup finds exactly the cached keys, each at its own row, in key order,
    /// over every shard; each row read through it counts as one hit.
    #[test]
    fn a_batch_lookup_finds_each_cached_row() {
        let c = RowCache::with_budget(usize::MAX);
        for i in (0..200).step_by(2) {
            assert!(c.insert(format!("key{i}").as_bytes(), &row(&format!("c{i}"), i)));
        }
        let (mut keys, mut ends) = (Vec::new(), Vec::new());
        for i in (0..200).rev() {
            keys.extend_from_slice(format!("key{i}").as_bytes());
            ends.push(keys.len());
        }
        let mut found = Vec::new();
        let view = c.read_batch(&keys, &ends, &mut found);
        assert_eq!(found.len(), 200);
        let before = thread_hits();
        for (n, i) in (0..200).rev().enumerate() {
            match found[n] {
                Some(f) => {
                    assert_eq!(i % 2, 0, "key{i} was never cached");
                    assert_eq!(view.row(f).map(|r| r.to_row()), Some(row(&format!("c{i}"), i)));
                }
                None => assert_eq!(i % 2, 1, "key{i} is cached"),
            }
        }
        assert_eq!(thread_hits() - before, 100);
        assert_eq!(view.shards.iter().flatten().count(), SHARDS, "200 keys fall in every shard");
        drop(view);
        // A batch of one key locks only its own shard.
        let one = c.read_batch(b"key2", &[4], &mut found);
        assert_eq!(one.shards.iter().flatten().count(), 1);
        assert_eq!(found.len(), 1);
        assert_eq!(one.row(found[0].unwrap()).map(|r| r.to_row()), Some(row("c2", 2)));
        drop(one);
        // Nothing locked any more: an insert goes through.
        assert!(c.insert(b"key1", &row("c1", 1)));
    }

    #[test]
    fn a_second_insert_of_a_key_keeps_the_first() {
        let c = RowCache::default();
        c.insert(b"k", &row("a", 1));
        let before = c.bytes();
        c.insert(b"k", &row("b", 2));
        assert_eq!(c.bytes(), before);
        assert_eq!(c.get_with(b"k", |r| r.to_row()), Some(row("a", 1)));
    }

    /// Many rows of every cell kind, over several arena chunks and shards: each comes
    /// back exactly as inserted, and a key never inserted is a miss.
    #[test]
    fn rows_round_trip_through_the_arena() {
        let c = RowCache::with_budget(usize::MAX);
        let text = "x".repeat(3000);
        let make = |i: i64| {
            let mut b = RowBuilder::new(6, 3100);
            b.text(&format!("ü{i}"));
            b.cell(Cell::Real(i as f64 / 3.0));
            b.cell(Cell::Int(-i));
            b.opt(if i % 2 == 0 { None } else { Some(&text[..(i as usize % 3000)]) });
            b.json("{}");
            b.cell(Cell::Tenant);
            b.finish()
        };
        for i in 0..500 {
            assert!(c.insert(format!("key{i}").as_bytes(), &make(i)));
        }
        assert_eq!(c.len(), 500);
        for i in 0..500 {
            let got = c.get_with(format!("key{i}").as_bytes(), |r| r.to_row());
            assert_eq!(got, Some(make(i)), "row {i}");
            let mut out = vec![Value::Null; 6];
            c.get_with(format!("key{i}").as_bytes(), |r| r.fill(&[0, 1, 2, 3, 4, 5], "tn", &mut out));
            let mut want = vec![Value::Null; 6];
            make(i).fill(&[0, 1, 2, 3, 4, 5], "tn", &mut want);
            assert_eq!(out, want, "row {i} filled");
        }
        assert_eq!(c.get_with(b"key500", |r| r.width()), None);
        // A record over a quarter of a chunk is served uncached.
        let mut b = RowBuilder::new(1, CHUNK);
        b.text(&"y".repeat(CHUNK / 4));
        assert!(!c.insert(b"big", &b.finish()));
        assert_eq!(c.get_with(b"big", |r| r.width()), None);
    }
}
