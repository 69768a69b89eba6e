//! Index verification (like PostgreSQL's amcheck): recomputes from the table what an index
//! must hold and compares it with what it holds, in one read snapshot. Tests use it to
//! prove online builds and maintenance exact; operators can run it after a crash.

use super::keys::str_end;
use super::maintain::entries_def;
use crate::engine::Engine;
use crate::error::{err, ErrorKind, Result};
use crate::storage::keys::{Key, KeyReader};
use crate::storage::stores::{decode_row, table_def};
use redb::ReadableTable;
use serde::Serialize;
use std::collections::BTreeSet;

/// The result of [`Engine::check_index`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexCheck {
    /// Entries the index holds.
    pub entries: u64,
    /// Entries the table says it must hold now.
    pub expected: u64,
    /// Rows the index lacks.
    pub missing: u64,
    /// Entries matching no row (or a row that never qualified).
    pub extra: u64,
    /// Sliding-window entries already out of the window, waiting for background expiry.
    pub stale: u64,
}

impl IndexCheck {
    /// True when the index holds exactly the qualifying rows (stale window entries allowed).
    pub fn is_exact(&self) -> bool {
        self.missing == 0 && self.extra == 0
    }
}

/// Verifies the index `name`.
pub fn check(engine: &Engine, name: &str) -> Result<IndexCheck> {
    let txn = engine.read()?;
    let snap = engine.inner.indexes.catalog.read(&txn)?;
    let def = snap
        .by_name(name)
        .ok_or_else(|| err(ErrorKind::NotFound, format!("no such index: {name}")))?
        .clone();
    let now = engine.inner.indexes.clock.now();
    let mut expected = BTreeSet::new();
    let mut candidates = BTreeSet::new();
    let mut no_window = def.as_ref().clone();
    no_window
        .predicate
        .retain(|t| !matches!(t, super::def::PredTerm::Window { .. }));
    let mut key = Key::new();
    for item in txn.open_table(table_def(def.table))?.iter()? {
        let (k, v) = item?;
        let kb = k.value();
        let tlen = str_end(kb, 0)?;
        let tenant = KeyReader::new(kb).str()?;
        let row = decode_row(def.table, &tenant, v.value())?;
        if no_window.covers(&row, now) {
            def.entry_key(&tenant, &row, &kb[tlen..], &mut key);
            if def.covers(&row, now) {
                expected.insert(key.0.clone());
            }
            candidates.insert(key.0.clone());
        }
    }
    let name = def.table_name();
    let mut actual = BTreeSet::new();
    for item in txn.open_table(entries_def(&name))?.iter()? {
        actual.insert(item?.0.value().to_vec());
    }
    Ok(IndexCheck {
        entries: actual.len() as u64,
        expected: expected.len() as u64,
        missing: expected.difference(&actual).count() as u64,
        extra: actual.difference(&candidates).count() as u64,
        stale: actual
            .iter()
            .filter(|k| candidates.contains(*k) && !expected.contains(*k))
            .count() as u64,
    })
}

/// The result of a sampled check ([`Engine::check_index_sample`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleCheck {
    /// The index.
    pub index: String,
    /// Table rows sampled.
    pub rows_checked: u64,
    /// Index entries sampled.
    pub entries_checked: u64,
    /// Sampled rows that qualify but have no entry.
    pub missing: u64,
    /// Sampled entries whose row is gone or no longer produces that entry.
    pub extra: u64,
}

impl SampleCheck {
    /// True when the sample found nothing wrong.
    pub fn is_consistent(&self) -> bool {
        self.missing == 0 && self.extra == 0
    }
}

/// A start key somewhere between the first and last keys of a table (by the first 8 bytes).
fn random_start(first: &[u8], last: &[u8], seed: u64) -> Vec<u8> {
    let word = |k: &[u8]| {
        let mut b = [0u8; 8];
        for (i, x) in k.iter().take(8).enumerate() {
            b[i] = *x;
        }
        u64::from_be_bytes(b)
    };
    let (a, z) = (word(first), word(last));
    if z <= a {
        return first.to_vec();
    }
    (a + seed % (z - a + 1)).to_be_bytes().to_vec()
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    // splitmix64 of the time, so consecutive calls start far apart
    let mut z = t.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Up to `k` consecutive keys from a random place in `t`, wrapping around.
fn sample_keys<V: redb::Value + 'static>(t: &redb::ReadOnlyTable<&'static [u8], V>, k: usize, seed: u64) -> Result<Vec<Vec<u8>>> {
    let (Some(first), Some(last)) = (t.first()?, t.last()?) else { return Ok(Vec::new()) };
    let start = random_start(first.0.value(), last.0.value(), seed);
    let mut out = Vec::with_capacity(k);
    for item in t.range::<&[u8]>(start.as_slice()..)?.take(k) {
        out.push(item?.0.value().to_vec());
    }
    if out.len() < k {
        for item in t.range::<&[u8]>(..start.as_slice())?.take(k - out.len()) {
            out.push(item?.0.value().to_vec());
        }
    }
    Ok(out)
}

/// Checks `k` table rows and `k` index entries of index `name`, from random places, in one
/// snapshot: each sampled qualifying row must have its entry, each sampled entry must come
/// from a row that still produces it. Cheap enough for a health check on any table size.
pub fn check_sample(engine: &Engine, name: &str, k: usize) -> Result<SampleCheck> {
    let txn = engine.read()?;
    let snap = engine.inner.indexes.catalog.read(&txn)?;
    let def = snap.by_name(name).ok_or_else(|| err(ErrorKind::NotFound, format!("no such index: {name}")))?.clone();
    let now = engine.inner.indexes.clock.now();
    let mut no_window = def.as_ref().clone();
    no_window.predicate.retain(|t| !matches!(t, super::def::PredTerm::Window { .. }));
    let base = txn.open_table(table_def(def.table))?;
    let index = txn.open_table(entries_def(&def.table_name()))?;
    let mut out = SampleCheck { index: def.name.clone(), rows_checked: 0, entries_checked: 0, missing: 0, extra: 0 };
    let s = seed();
    let mut key = Key::new();
    for kb in sample_keys(&base, k, s)? {
        let Some(v) = base.get(kb.as_slice())? else { continue };
        out.rows_checked += 1;
        let tlen = str_end(&kb, 0)?;
        let tenant = KeyReader::new(&kb).str()?;
        let row = decode_row(def.table, &tenant, v.value())?;
        if def.covers(&row, now) {
            def.entry_key(&tenant, &row, &kb[tlen..], &mut key);
            if index.get(key.as_bytes())?.is_none() {
                out.missing += 1;
            }
        }
    }
    let types = def.column_types();
    for eb in sample_keys(&index, k, s.rotate_left(17))? {
        out.entries_checked += 1;
        let tlen = str_end(&eb, 0)?;
        let pk_at = crate::plan::decode::index_pk_offset(&eb, &types)?;
        let mut row_key = eb[..tlen].to_vec();
        row_key.extend_from_slice(&eb[pk_at..]);
        let ok = match base.get(row_key.as_slice())? {
            None => false,
            Some(v) => {
                let tenant = KeyReader::new(&eb).str()?;
                let row = decode_row(def.table, &tenant, v.value())?;
                def.entry_key(&tenant, &row, &eb[pk_at..], &mut key);
                key.as_bytes() == eb.as_slice() && no_window.covers(&row, now)
            }
        };
        if !ok {
            out.extra += 1;
        }
    }
    Ok(out)
}
