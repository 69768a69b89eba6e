//! Index maintenance inside the write transaction. The writer calls [`apply`] after every
//! operation with the rows it changed; each index on the touched table gets the old entry
//! removed and the new one inserted (partial predicates and the sliding window decide
//! membership), UNIQUE is enforced, per-tenant row counts move, and the distinct-prefix
//! statistics stay exact by looking at the new entry's two neighbours in the B-tree.
//! In a bulk load (thousands of inserts) every insert-only index is maintained on a
//! thread of its own inside the same write transaction (one redb table per index).

use super::def::IndexDef;
use super::keys::{component_ends, shared_components};
use super::tally::Tally;
use super::IndexManager;
use crate::error::{err, ErrorKind, Result};
use crate::schema::{Table, Value};
use crate::storage::keys::Key;
use crate::storage::Change;
use redb::{ReadableTable, Table as RTable, TableDefinition, WriteTransaction};

/// The redb table definition of an index's entries.
pub fn entries_def(name: &str) -> TableDefinition<'_, &'static [u8], ()> {
    TableDefinition::new(name)
}

/// Working state while maintaining one index in one transaction.
pub struct EntryWriter<'a> {
    def: &'a IndexDef,
    types: Vec<crate::schema::ColumnType>,
    ends: Vec<usize>,
    /// Distinct prefix counts (tenant, tenant+c1, ...), updated in place.
    pub distinct: Vec<u64>,
}

impl<'a> EntryWriter<'a> {
    /// Loads the statistics of `def` (as the write transaction sees them).
    pub fn new(tally: &Tally, def: &'a IndexDef) -> Result<EntryWriter<'a>> {
        let n = def.columns.len() + 1;
        let mut distinct = tally.txn_distinct(def.id).unwrap_or_default();
        distinct.resize(n, 0);
        Ok(EntryWriter {
            def,
            types: def.column_types(),
            ends: Vec::with_capacity(n),
            distinct,
        })
    }

    /// Saves the statistics.
    pub fn finish(self, tally: &Tally) {
        tally.set_distinct(self.def.table, self.def.id, &self.distinct)
    }

    /// How many leading components `key` (absent from `t`) shares with its neighbours;
    /// None when `key` is present after all.
    fn neighbours(&mut self, t: &RTable<&'static [u8], ()>, key: &[u8]) -> Result<Option<usize>> {
        component_ends(key, &self.types, &mut self.ends)?;
        let mut shared = 0;
        // The first entry at or after `key` is either `key` itself or its successor, so one
        // seek answers both "present?" and "next neighbour".
        if let Some(s) = t.range::<&[u8]>(key..)?.next() {
            let s = s?.0;
            if s.value() == key {
                return Ok(None);
            }
            shared = shared.max(shared_components(key, &self.ends, s.value()));
        }
        if let Some(p) = t.range::<&[u8]>(..key)?.next_back() {
            shared = shared.max(shared_components(key, &self.ends, p?.0.value()));
        }
        Ok(Some(shared))
    }

    /// Inserts an entry (no-op when present). `row` is only read for the UNIQUE message.
    pub fn insert(&mut self, t: &mut RTable<&'static [u8], ()>, key: &[u8], row: &[Value]) -> Result<bool> {
        let Some(shared) = self.neighbours(t, key)? else { return Ok(false) };
        let full = self.def.columns.len() + 1;
        if self.def.unique && shared >= full {
            self.unique_check(row)?;
        }
        for (j, d) in self.distinct.iter_mut().enumerate() {
            if j + 1 > shared {
                *d += 1;
            }
        }
        t.insert(key, ())?;
        Ok(true)
    }

    /// Inserts a batch of entries (`keys` sorted ascending, no duplicates; `row_of(i)` is
    /// the row of `keys[i]`, read only for the UNIQUE message), ascending. The result is
    /// what [`EntryWriter::insert`] called on each key in that order gives: the neighbours
    /// of a key are the tree's entries and the batch keys before it. One forward cursor
    /// over the tree finds them (re-seeking when the next key is far ahead), and the
    /// inserts run in key order after the reads, which keeps redb on the same pages.
    pub fn insert_sorted<'r>(
        &mut self,
        t: &mut RTable<&'static [u8], ()>,
        keys: &[&[u8]],
        row_of: impl Fn(usize) -> &'r [Value],
    ) -> Result<bool> {
        const RESEEK_AFTER: usize = 16;
        let full = self.def.columns.len() + 1;
        let mut fresh = Vec::with_capacity(keys.len());
        {
            let mut it: Option<redb::Range<'_, &'static [u8], ()>> = None;
            let mut cur: Option<redb::AccessGuard<'_, &'static [u8]>> = None;
            let mut below: Option<redb::AccessGuard<'_, &'static [u8]>> = None;
            let mut prev: Option<&[u8]> = None;
            for (i, &key) in keys.iter().enumerate() {
                let mut steps = 0;
                let mut seek = it.is_none();
                while !seek {
                    match &cur {
                        Some(c) if c.value() < key => {
                            if steps >= RESEEK_AFTER {
                                seek = true;
                                break;
                            }
                            below = cur.take();
                            cur = match it.as_mut().and_then(|r| r.next()) {
                                Some(item) => Some(item?.0),
                                None => None,
                            };
                            steps += 1;
                        }
                        _ => break,
                    }
                }
                if seek {
                    cur = None;
                    let mut r = t.range::<&[u8]>(key..)?;
                    if let Some(item) = r.next() {
                        cur = Some(item?.0);
                    }
                    it = Some(r);
                    below = match t.range::<&[u8]>(..key)?.next_back() {
                        Some(item) => Some(item?.0),
                        None => None,
                    };
                }
                if cur.as_ref().is_some_and(|c| c.value() == key) {
                    continue; // present already
                }
                component_ends(key, &self.types, &mut self.ends)?;
                let mut shared = 0;
                if let Some(c) = &cur {
                    shared = shared.max(shared_components(key, &self.ends, c.value()));
                }
                if let Some(b) = &below {
                    shared = shared.max(shared_components(key, &self.ends, b.value()));
                }
                if let Some(p) = prev {
                    shared = shared.max(shared_components(key, &self.ends, p));
                }
                if self.def.unique && shared >= full {
                    self.unique_check(row_of(i))?;
                }
                for (j, d) in self.distinct.iter_mut().enumerate() {
                    if j + 1 > shared {
                        *d += 1;
                    }
                }
                fresh.push(key);
                prev = Some(key);
            }
        }
        for key in &fresh {
            t.insert(*key, ())?;
        }
        Ok(!fresh.is_empty())
    }

    /// Fails with `ConstraintViolation` when `row` (whose full entry prefix is taken
    /// already) has no NULL among the indexed columns.
    fn unique_check(&self, row: &[Value]) -> Result<()> {
        if self.def.columns.iter().any(|&c| row[c].is_null()) {
            return Ok(());
        }
        let vals: Vec<String> = self.def.columns.iter().map(|&c| row[c].to_string()).collect();
        Err(err(
            ErrorKind::ConstraintViolation,
            format!(
                "UNIQUE index {} on {}({}) already has ({}) for this tenant",
                self.def.name,
                self.def.table.name(),
                self.def.column_names().join(", "),
                vals.join(", ")
            ),
        ))
    }

    /// Removes an entry (no-op when absent).
    pub fn remove(&mut self, t: &mut RTable<&'static [u8], ()>, key: &[u8]) -> Result<bool> {
        if t.remove(key)?.is_none() {
            return Ok(false);
        }
        let shared = self.neighbours(t, key)?.unwrap_or(0);
        for (j, d) in self.distinct.iter_mut().enumerate() {
            if j + 1 > shared {
                *d = d.saturating_sub(1);
            }
        }
        Ok(true)
    }
}

fn update_counts(tally: &Tally, changes: &[Change]) {
    let mut deltas: Vec<(Table, &str, i64)> = Vec::new();
    for ch in changes {
        let d = ch.new.is_some() as i64 - ch.old.is_some() as i64;
        if d == 0 {
            continue;
        }
        match deltas
            .iter_mut()
            .find(|(t, n, _)| *t == ch.table && *n == &*ch.tenant)
        {
            Some(e) => e.2 += d,
            None => deltas.push((ch.table, &ch.tenant, d)),
        }
    }
    for (table, tenant, d) in deltas {
        tally.add_rows(table, tenant, d);
    }
}

/// The entry keys of every covered new row of `def`'s table, sorted and deduplicated:
/// the keys' bytes end to end, and per key its (start, end, change index). Pure work on
/// the rows (no table access), so it may run on another thread.
struct BatchKeys {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize, usize)>,
}

fn batch_keys(def: &IndexDef, changes: &[Change], now: i64) -> BatchKeys {
    let mut buf = Key::new();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut one = Key::new();
    for (i, ch) in changes.iter().enumerate() {
        if ch.table != def.table {
            continue;
        }
        if let Some(r) = ch.new.as_deref().filter(|r| def.covers(r, now)) {
            def.entry_key(&ch.tenant, r, &ch.pk, &mut one);
            let start = buf.0.len();
            buf.raw(one.as_bytes());
            spans.push((start, buf.0.len(), i));
        }
    }
    let bytes = buf.0;
    spans.sort_unstable_by(|a, b| bytes[a.0..a.1].cmp(&bytes[b.0..b.1]));
    spans.dedup_by(|a, b| bytes[a.0..a.1] == bytes[b.0..b.1]);
    BatchKeys { bytes, spans }
}

/// Inserts the entries of every covered new row of `def`'s table, sorted. Only for
/// changes that remove no entry of `def`: then every change with an entry has its own
/// primary key (a second change of the same key would remove the first one's entry), so
/// insertion order does not change the result.
fn insert_batch(w: &mut EntryWriter<'_>, t: &mut RTable<&'static [u8], ()>, changes: &[Change], k: &BatchKeys) -> Result<bool> {
    if k.spans.is_empty() {
        return Ok(false);
    }
    let keys: Vec<&[u8]> = k.spans.iter().map(|s| &k.bytes[s.0..s.1]).collect();
    w.insert_sorted(t, &keys, |i| changes[k.spans[i].2].new.as_deref().unwrap_or_default())
}

/// Changes from which the insert-only indexes are maintained on threads of their own (bulk
/// loads; below this the threads cost more than they save).
const PARALLEL_FROM: usize = 4096;

/// The in-transaction hook: keeps every index and the row counts in step with `changes`.
pub fn apply(mgr: &IndexManager, txn: &WriteTransaction, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    update_counts(&mgr.tally, changes);
    let snap = mgr.catalog.write(txn)?;
    if snap.indexes.is_empty() {
        return Ok(());
    }
    let now = mgr.clock.now();
    // Per index on a touched table: whether some change removes one of its entries (then
    // it is maintained change by change) or not (inserts only: its keys go in sorted).
    let defs: Vec<(&IndexDef, bool)> = snap
        .indexes
        .iter()
        .filter(|def| changes.iter().any(|c| c.table == def.table))
        .map(|def| {
            let removes = changes
                .iter()
                .filter(|c| c.table == def.table)
                .any(|c| c.old.as_deref().is_some_and(|r| def.covers(r, now)));
            (&**def, removes)
        })
        .collect();
    let batched: Vec<&IndexDef> = defs.iter().filter(|d| !d.1).map(|d| d.0).collect();
    if changes.len() < PARALLEL_FROM || batched.len() < 2 {
        return apply_defs(mgr, txn, changes, now, &defs);
    }
    // Each insert-only index has its own redb table, and a redb write transaction is `Sync`
    // (its tables may be opened and written from several threads): every insert-only index
    // builds, sorts and inserts its keys on a thread of its own, while this thread
    // maintains the others. Same entries and statistics per index as one after another.
    let rest: Vec<(&IndexDef, bool)> = defs.iter().copied().filter(|d| d.1).collect();
    std::thread::scope(|s| {
        let threads: Vec<_> = batched
            .iter()
            .map(|&def| s.spawn(move || insert_only(mgr, txn, changes, now, def)))
            .collect();
        let mut out = apply_defs(mgr, txn, changes, now, &rest);
        for t in threads {
            let r = t
                .join()
                .unwrap_or_else(|_| Err(err(ErrorKind::Internal, "an index maintenance thread panicked")));
            out = out.and(r);
        }
        out
    })
}

/// Maintains one index none of whose entries `changes` removes: its keys are built,
/// sorted and inserted in key order.
fn insert_only(mgr: &IndexManager, txn: &WriteTransaction, changes: &[Change], now: i64, def: &IndexDef) -> Result<()> {
    let keys = batch_keys(def, changes, now);
    let mut t = txn.open_table(entries_def(&def.table_name()))?;
    let mut w = EntryWriter::new(&mgr.tally, def)?;
    let dirty = insert_batch(&mut w, &mut t, changes, &keys)?;
    drop(t);
    if dirty {
        w.finish(&mgr.tally);
    }
    Ok(())
}

/// Maintains each index of `defs` in order: change by change where some change removes
/// one of its entries (the flag), else as [`insert_only`].
fn apply_defs(mgr: &IndexManager, txn: &WriteTransaction, changes: &[Change], now: i64, defs: &[(&IndexDef, bool)]) -> Result<()> {
    let mut old_key = Key::new();
    let mut new_key = Key::new();
    for &(def, removes) in defs {
        if !removes {
            // Inserts only (the ingest case): distinct primary keys, so the entries can go
            // in key order in one pass.
            insert_only(mgr, txn, changes, now, def)?;
            continue;
        }
        let name = def.table_name();
        let mut t = txn.open_table(entries_def(&name))?;
        let mut w = EntryWriter::new(&mgr.tally, def)?;
        let mut dirty = false;
        for ch in changes.iter().filter(|c| c.table == def.table) {
            let old = ch.old.as_deref().filter(|r| def.covers(r, now));
            let new = ch.new.as_deref().filter(|r| def.covers(r, now));
            if let Some(r) = old {
                def.entry_key(&ch.tenant, r, &ch.pk, &mut old_key);
            }
            if let Some(r) = new {
                def.entry_key(&ch.tenant, r, &ch.pk, &mut new_key);
            }
            if old.is_some() && new.is_some() && old_key == new_key {
                continue;
            }
            if old.is_some() {
                dirty |= w.remove(&mut t, old_key.as_bytes())?;
            }
            if let Some(r) = new {
                dirty |= w.insert(&mut t, new_key.as_bytes(), r)?;
            }
        }
        drop(t);
        if dirty {
            w.finish(&mgr.tally);
        }
    }
    Ok(())
}
