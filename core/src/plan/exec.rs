//! The executor: runs a plan over one read snapshot. Each table access streams rows into
//! the next stage (push-based): key ranges are read in order (backwards for DESC), index
//! entries are checked against conjuncts on key columns before the table row is fetched,
//! only needed columns are decoded into one reused row buffer, and a `false` from the
//! consumer (LIMIT reached) stops every loop at once. Joins are nested-loop probes or a
//! hash table built from the inner side.

use super::access::{AccessPlan, PathKind};
use super::columns::Columns;
use super::decode::{decode_index_key, decode_into_columns, decode_pk, index_pk_offset, set_text, RowDecoder};
use super::eval::{all_true, resolve_pred, Env};
use super::keyrange::{key_ranges, KeyRange};
use super::output::{row_bytes, Consumer};
use super::planner::{JoinMethod, Plan};
use crate::error::Result;
use crate::schema::{ColumnType, Row, Value};
use crate::sql::bind::{mark_pred, Pred};
use crate::sql::bound::OutExpr;
use crate::storage::keys::Key;
use crate::storage::rowcache::RowCache;
use crate::storage::snapshot::{KeyTable, RowTable, Snapshot};
use std::sync::Arc;
use std::collections::HashMap;
use std::time::Instant;

/// Counters of one plan step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepStats {
    /// Rows the step produced.
    pub rows: u64,
    /// Index entries and table rows it read.
    pub examined: u64,
    /// Seeks (point lookups and range starts).
    pub seeks: u64,
    /// Times the step ran (probes of a nested loop).
    pub runs: u64,
    /// Time spent in the step itself, ns (EXPLAIN ANALYZE only).
    pub time_ns: u64,
}

/// Counters of a whole execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    /// The driving access.
    pub outer: StepStats,
    /// The joined access.
    pub inner: StepStats,
    /// Rows out of the join.
    pub join_rows: u64,
    /// Time building and finishing groups/sorts, ns.
    pub finish_ns: u64,
    /// Peak bytes held.
    pub peak_bytes: u64,
}

/// Snapshot-level context of an execution.
pub struct Runtime<'a> {
    /// The read snapshot (its tables are opened once and shared).
    pub txn: &'a Snapshot,
    /// The tenant.
    pub tenant: &'a str,
    /// Parameters and time.
    pub env: Env<'a>,
    /// Measure time per step.
    pub analyze: bool,
}

/// Message of the error that makes a statement re-plan from its snapshot's catalog.
pub const STALE_PLAN: &str = "stale plan: an index it reads was dropped";

pub(super) type Sink<'s> = dyn FnMut(&mut [Value]) -> Result<bool> + 's;

/// A table row (key bytes, value bytes) into the table's slots: from the key alone when
/// only primary-key columns are needed, else the needed columns from the record.
#[inline]
#[allow(clippy::too_many_arguments)]
fn fill_row(
    dec: &mut RowDecoder,
    pk_only: bool,
    table: crate::schema::Table,
    tenant: &str,
    tlen: usize,
    key: &[u8],
    value: &[u8],
    slots: &mut [Value],
) -> Result<()> {
    if pk_only {
        if dec.is_empty() {
            return Ok(());
        }
        decode_pk(table, &key[tlen..], slots)
    } else {
        dec.decode(tenant, value, slots)
    }
}

/// Fetches the table row stored under `key` into the table's slots; false when there is
/// none. Rows with needed value columns go through the snapshot's [`RowCache`]: a hit
/// skips the B-tree lookup and the record's validation, a miss decodes the whole record
/// once for the next fetch of the key in this snapshot (while the cache has room).
#[inline]
#[allow(clippy::too_many_arguments)]
fn fetch_row(
    base: &RowTable,
    cache: &RowCache,
    dec: &mut RowDecoder,
    pk_only: bool,
    table: crate::schema::Table,
    tenant: &str,
    tlen: usize,
    key: &[u8],
    slots: &mut [Value],
) -> Result<bool> {
    if !pk_only && cache.get_with(key, |r| r.fill(dec.cols(), tenant, slots)).is_some() {
        return Ok(true);
    }
    fetch_stored(base, cache, dec, pk_only, table, tenant, tlen, key, slots)
}

/// [`fetch_row`] without the row-cache lookup, for a key known not to be cached.
#[allow(clippy::too_many_arguments)]
fn fetch_stored(
    base: &RowTable,
    cache: &RowCache,
    dec: &mut RowDecoder,
    pk_only: bool,
    table: crate::schema::Table,
    tenant: &str,
    tlen: usize,
    key: &[u8],
    slots: &mut [Value],
) -> Result<bool> {
    let Some(v) = base.get(key)? else {
        return Ok(false);
    };
    if !pk_only {
        let r = dec.decode_cached(v.value())?;
        r.fill(dec.cols(), tenant, slots);
        cache.insert(key, &r);
        return Ok(true);
    }
    fill_row(dec, pk_only, table, tenant, tlen, key, v.value(), slots)?;
    Ok(true)
}

pub(super) struct AccessRun<'p> {
    acc: &'p AccessPlan,
    base: &'p RowTable,
    cache: &'p RowCache,
    index: Option<Arc<KeyTable>>,
    decoder: RowDecoder,
    pk_only: bool,
    key_types: Vec<ColumnType>,
    key_filter: Vec<Pred>,
    row_filter: Vec<Pred>,
    offset: usize,
    tenant_key: Vec<u8>,
    fetch_key: Vec<u8>,
    /// A tenant-only conjunct is false: the access produces nothing.
    empty: bool,
    /// The key filter reads primary-key columns, so they are decoded before it runs.
    filter_reads_pk: bool,
    /// Index ranges may look rows up in batches (see [`AccessRun::batch_rows`]).
    batch: bool,
    /// Rows the consumer takes at most (sizes the batches so none reads past LIMIT).
    row_limit: Option<u64>,
    pub(super) stats: StepStats,
}

/// Index entries an index range reads ahead and looks up in the row cache together.
const BATCH: usize = 32;

/// Items of a redb range over an index.
type IndexItem<'i> = std::result::Result<(redb::AccessGuard<'i, &'static [u8]>, redb::AccessGuard<'i, ()>), redb::StorageError>;

impl<'p> AccessRun<'p> {
    pub(super) fn open<'r: 'p>(rt: &Runtime<'r>, plan: &Plan, acc: &'p AccessPlan) -> Result<AccessRun<'p>> {
        let sel = &plan.sel;
        let src = &sel.sources[acc.source];
        let width = src.table.columns().len();
        let base = rt.txn.rows(acc.table)?;
        let index = match &acc.kind {
            PathKind::Index(d, false) => match rt.txn.keys(&d.table_name()) {
                Ok(t) => Some(t),
                // The plan predates a DROP INDEX this snapshot already sees.
                Err(redb::TableError::TableDoesNotExist(_)) => {
                    return Err(crate::error::err(crate::ErrorKind::NotFound, STALE_PLAN))
                }
                Err(e) => return Err(e.into()),
            },
            PathKind::Index(_, true) => {
                return Err(crate::error::err(
                    crate::ErrorKind::Internal,
                    "a hypothetical index cannot be executed",
                ))
            }
            _ => None,
        };
        // Columns only the key ranges' conjuncts read are not decoded.
        let reads = if plan.reads.len() == sel.width { &plan.reads } else { &sel.needed };
        let need: Vec<bool> = reads[src.offset..src.offset + width].to_vec();
        let tenant_col = acc.table.column_index("tenant_id");
        let pk = super::access::pk_cols(acc.table);
        let mut val_need = need.clone();
        for c in pk.iter().copied().chain(tenant_col) {
            val_need[c] = false;
        }
        let pk_only = !val_need.iter().any(|b| *b);
        let mut dec_need = need.clone();
        if let Some(t) = tenant_col {
            dec_need[t] = false;
        }
        let resolved: Vec<Pred> = acc
            .filter
            .iter()
            .map(|p| resolve_pred(p, &rt.env))
            .collect::<Result<_>>()?;
        let (mut key_filter, mut row_filter) = (Vec::new(), Vec::new());
        let mut empty = false;
        let mut scratch: Vec<Value> = Vec::new();
        for p in resolved {
            // A conjunct on tenant_id alone is decided once: this access only reads the
            // handle's tenant, so it keeps every row or none.
            if super::access::tenant_only(&p, acc.table, src.offset, sel.width) {
                if scratch.is_empty() {
                    scratch = vec![Value::Null; sel.width];
                    if let Some(t) = tenant_col {
                        scratch[src.offset + t] = Value::Text(rt.tenant.to_string());
                    }
                }
                empty |= !all_true(std::slice::from_ref(&p), &scratch);
                continue;
            }
            let mut m = vec![false; sel.width];
            mark_pred(&p, &mut m);
            let on_key = (0..width)
                .all(|c| !m[src.offset + c] || acc.key_cols.contains(&c) || Some(c) == tenant_col);
            if on_key && acc.index().is_some() {
                key_filter.push(p);
            } else {
                row_filter.push(p);
            }
        }
        let key_types = acc.index().map(|d| d.column_types()).unwrap_or_default();
        // Whether the key filter reads a primary-key column that is not an index column.
        let filter_reads_pk = acc.index().is_some_and(|d| {
            let mut m = vec![false; sel.width];
            key_filter.iter().for_each(|p| mark_pred(p, &mut m));
            pk.iter().any(|c| m[src.offset + c] && !d.columns.contains(c))
        });
        Ok(AccessRun {
            acc,
            base,
            cache: rt.txn.row_cache(acc.table),
            index,
            decoder: RowDecoder::new(acc.table, &dec_need),
            pk_only,
            key_types,
            key_filter,
            row_filter,
            offset: src.offset,
            tenant_key: Key::tenant(rt.tenant).0,
            fetch_key: Vec::with_capacity(64),
            empty,
            filter_reads_pk,
            batch: false,
            row_limit: None,
            stats: StepStats::default(),
        })
    }

    /// Row-buffer slots this access fills anew for every row it emits (the columns it
    /// decodes from the stored row), so a consumer may move their values out.
    pub(super) fn refilled(&self) -> Vec<usize> {
        if self.pk_only || self.acc.covering {
            return Vec::new();
        }
        self.decoder.cols().iter().map(|c| c + self.offset).collect()
    }

    /// Lets index ranges fetch rows in batches ([`AccessRun::index_range_batched`]): only
    /// for an access whose sink never reads a row cache (no join), since a batch holds
    /// the shards of its table's cache that its keys fall in read-locked while its rows
    /// are emitted. `limit`: rows the consumer takes at most, if it stops early.
    pub(super) fn batch_rows(&mut self, limit: Option<u64>) {
        self.batch = true;
        self.row_limit = limit;
    }

    /// True when a tenant-only conjunct is false: the access produces nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.empty
    }

    /// Fills the tenant_id slot once (it is constant for the statement).
    pub(super) fn init_row(&self, rt: &Runtime, row: &mut [Value]) {
        if let Some(t) = self.acc.table.column_index("tenant_id") {
            set_text(&mut row[self.offset + t], rt.tenant);
        }
    }

    fn emit(&mut self, row: &mut [Value], sink: &mut Sink, analyze: bool) -> Result<bool> {
        if !all_true(&self.row_filter, row) {
            return Ok(true);
        }
        self.stats.rows += 1;
        if analyze {
            let t = Instant::now();
            let r = sink(row);
            self.stats.time_ns = self
                .stats
                .time_ns
                .wrapping_sub(t.elapsed().as_nanos() as u64);
            r
        } else {
            sink(row)
        }
    }

    fn run(
        &mut self,
        rt: &Runtime,
        row: &mut [Value],
        outer: Option<&Value>,
        sink: &mut Sink,
    ) -> Result<bool> {
        let started = rt.analyze.then(Instant::now);
        self.stats.runs += 1;
        let r = self.run_inner(rt, row, outer, sink);
        if let Some(t) = started {
            self.stats.time_ns = self
                .stats
                .time_ns
                .wrapping_add(t.elapsed().as_nanos() as u64);
        }
        r
    }

    fn run_inner(
        &mut self,
        rt: &Runtime,
        row: &mut [Value],
        outer: Option<&Value>,
        sink: &mut Sink,
    ) -> Result<bool> {
        let acc = self.acc;
        if self.empty {
            return Ok(true);
        }
        let ranges = match acc.kind {
            PathKind::Scan => {
                let k = Key(self.tenant_key.clone());
                vec![KeyRange::Range(self.tenant_key.clone(), k.prefix_end())]
            }
            _ => key_ranges(acc, &self.tenant_key, &rt.env, outer)?,
        };
        let order: Box<dyn Iterator<Item = &KeyRange>> = if acc.reverse {
            Box::new(ranges.iter().rev())
        } else {
            Box::new(ranges.iter())
        };
        for r in order {
            self.stats.seeks += 1;
            let go = match (&acc.kind, r) {
                (PathKind::Index(..), KeyRange::Range(s, e)) => {
                    self.index_range(rt, s, e, row, sink)?
                }
                (_, KeyRange::Point(k)) => {
                    let w = acc.table.columns().len();
                    let slots = &mut row[self.offset..self.offset + w];
                    let found = fetch_row(
                        self.base,
                        self.cache,
                        &mut self.decoder,
                        self.pk_only,
                        acc.table,
                        rt.tenant,
                        self.tenant_key.len(),
                        k,
                        slots,
                    )?;
                    if found {
                        self.stats.examined += 1;
                        self.emit(row, sink, rt.analyze)?
                    } else {
                        true
                    }
                }
                (_, KeyRange::Range(s, e)) => self.table_range(rt, s, e, row, sink)?,
            };
            if !go {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) fn table_range(
        &mut self,
        rt: &Runtime,
        s: &[u8],
        e: &[u8],
        row: &mut [Value],
        sink: &mut Sink,
    ) -> Result<bool> {
        let it = self.base.range::<&[u8]>(s..e)?;
        let it: Box<dyn Iterator<Item = _>> = if self.acc.reverse {
            Box::new(it.rev())
        } else {
            Box::new(it)
        };
        let w = self.acc.table.columns().len();
        let tlen = self.tenant_key.len();
        for item in it {
            let (k, v) = item?;
            self.stats.examined += 1;
            let slots = &mut row[self.offset..self.offset + w];
            fill_row(
                &mut self.decoder,
                self.pk_only,
                self.acc.table,
                rt.tenant,
                tlen,
                k.value(),
                v.value(),
                slots,
            )?;
            if !self.emit(row, sink, rt.analyze)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Table columns (positions) of the statement's outputs when every output is a
    /// column of this access's table and no row filter runs here, so a scan can append
    /// records straight to result columns ([`AccessRun::table_range_columns`]). None
    /// otherwise (also when only key columns are needed: those come from the key).
    pub(super) fn direct_outputs(&self, outputs: &[OutExpr]) -> Option<Vec<usize>> {
        if self.pk_only || self.empty || !self.row_filter.is_empty() {
            return None;
        }
        let w = self.acc.table.columns().len();
        outputs
            .iter()
            .map(|o| match o {
                OutExpr::Post(p) if (self.offset..self.offset + w).contains(p) => Some(p - self.offset),
                _ => None,
            })
            .collect()
    }

    /// Every row of keys `s..e` appended to `cols`, column `j` holding table column
    /// `outs[j]` (from [`AccessRun::direct_outputs`]): each value goes from the validated
    /// record into its column buffer with no row buffer between.
    pub(super) fn table_range_columns(
        &mut self,
        rt: &Runtime,
        s: &[u8],
        e: &[u8],
        outs: &[usize],
        cols: &mut Columns,
    ) -> Result<()> {
        let it = self.base.range::<&[u8]>(s..e)?;
        let it: Box<dyn Iterator<Item = _>> = if self.acc.reverse {
            Box::new(it.rev())
        } else {
            Box::new(it)
        };
        let mut buf = rkyv::util::AlignedVec::<16>::new();
        for item in it {
            let (_, v) = item?;
            decode_into_columns(self.acc.table, &mut buf, rt.tenant, v.value(), outs, &mut cols.columns)?;
            cols.end_row();
        }
        self.stats.examined += cols.rows as u64;
        self.stats.rows += cols.rows as u64;
        Ok(())
    }

    fn index_range(
        &mut self,
        rt: &Runtime,
        s: &[u8],
        e: &[u8],
        row: &mut [Value],
        sink: &mut Sink,
    ) -> Result<bool> {
        let def = self.acc.index().expect("index access").clone();
        let w = self.acc.table.columns().len();
        // Equality on every index column: each entry of the range starts with `s` (the
        // tenant and the encoded values, each self-delimiting), so its primary key starts
        // right after it and need not be searched for.
        let pk_at_fixed = (self.acc.range.is_none() && self.acc.eq.len() == def.columns.len()).then_some(s.len());
        let index = self.index.clone().expect("index table open");
        let it = index.range::<&[u8]>(s..e)?;
        let mut it: Box<dyn Iterator<Item = IndexItem>> = if self.acc.reverse {
            Box::new(it.rev())
        } else {
            Box::new(it)
        };
        if self.batch && !self.acc.covering && self.key_filter.is_empty() && !self.pk_only {
            return self.index_range_batched(rt, &mut *it, pk_at_fixed, row, sink);
        }
        for item in it {
            let (k, _) = item?;
            let key = k.value();
            self.stats.examined += 1;
            let slots = &mut row[self.offset..self.offset + w];
            let pk_at = if self.acc.covering || !self.key_filter.is_empty() {
                let at = decode_index_key(key, &def.columns, &self.key_types, slots)?;
                // Entries the index columns already reject cost no primary-key decoding.
                if !self.filter_reads_pk && !all_true(&self.key_filter, row) {
                    continue;
                }
                if self.acc.covering || self.filter_reads_pk {
                    let slots = &mut row[self.offset..self.offset + w];
                    decode_pk(self.acc.table, &key[at..], slots)?;
                }
                at
            } else {
                entry_pk_at(key, pk_at_fixed, &self.key_types)?
            };
            if self.filter_reads_pk && !all_true(&self.key_filter, row) {
                continue;
            }
            if !self.acc.covering {
                self.fetch_key.clear();
                self.fetch_key.extend_from_slice(&self.tenant_key);
                self.fetch_key.extend_from_slice(&key[pk_at..]);
                let slots = &mut row[self.offset..self.offset + w];
                let found = fetch_row(
                    self.base,
                    self.cache,
                    &mut self.decoder,
                    self.pk_only,
                    self.acc.table,
                    rt.tenant,
                    self.tenant_key.len(),
                    &self.fetch_key,
                    slots,
                )?;
                if !found {
                    continue;
                }
                self.stats.examined += 1;
            }
            if !self.emit(row, sink, rt.analyze)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl AccessRun<'_> {
    /// [`AccessRun::index_range`] for entries that need only their primary key: reads up
    /// to [`BATCH`] entries, finds all their rows in the row cache under one lock of each
    /// shard their keys fall in (their memory misses overlap instead of queueing behind
    /// each lock's atomic operation), then fills and emits them in order with the shards
    /// still locked. A row not cached is read from the table after the shards are released
    /// (the fetch inserts it into the cache); the rest of that batch is then fetched one by
    /// one, from the cache where the batch found them.
    /// The rows, their order and the counters are those of the one-at-a-time loop; the
    /// batches are sized so that no entry past the consumer's LIMIT is read.
    fn index_range_batched(
        &mut self,
        rt: &Runtime,
        it: &mut dyn Iterator<Item = IndexItem>,
        pk_at_fixed: Option<usize>,
        row: &mut [Value],
        sink: &mut Sink,
    ) -> Result<bool> {
        let w = self.acc.table.columns().len();
        let cache = self.cache;
        let (mut keys, mut ends, mut found) = (Vec::new(), Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
        let mut ramp = 4;
        loop {
            let n = match self.row_limit {
                Some(l) => l.saturating_sub(self.stats.rows).clamp(1, BATCH as u64) as usize,
                None => {
                    let n = ramp;
                    ramp = (ramp * 2).min(BATCH);
                    n
                }
            };
            keys.clear();
            ends.clear();
            for item in (&mut *it).take(n) {
                let (k, _) = item?;
                let key = k.value();
                let pk_at = entry_pk_at(key, pk_at_fixed, &self.key_types)?;
                keys.extend_from_slice(&self.tenant_key);
                keys.extend_from_slice(&key[pk_at..]);
                ends.push(keys.len());
            }
            if ends.is_empty() {
                return Ok(true);
            }
            let mut view = Some(cache.read_batch(&keys, &ends, &mut found));
            let mut start = 0;
            for (i, &end) in ends.iter().enumerate() {
                let key = &keys[start..end];
                start = end;
                self.stats.examined += 1;
                let slots = &mut row[self.offset..self.offset + w];
                match view.as_ref().zip(found[i]).and_then(|(v, f)| v.row(f)) {
                    Some(r) => r.fill(self.decoder.cols(), rt.tenant, slots),
                    None => {
                        // The fetch may insert into the cache: no shard may stay locked.
                        view = None;
                        // A key the batch did not find is read from the table at once; one
                        // it found (its shard was released for an earlier miss) is looked
                        // up in the cache again.
                        let fetch = if found[i].is_none() { fetch_stored } else { fetch_row };
                        let t = self.acc.table;
                        let tlen = self.tenant_key.len();
                        if !fetch(self.base, cache, &mut self.decoder, false, t, rt.tenant, tlen, key, slots)? {
                            continue;
                        }
                    }
                }
                self.stats.examined += 1;
                if !self.emit(row, sink, rt.analyze)? {
                    return Ok(false);
                }
            }
        }
    }
}

/// Where the primary key starts in index entry `key`: at `fixed` when every index column
/// is bound by equality (see [`AccessRun::index_range`]), else found by decoding.
fn entry_pk_at(key: &[u8], fixed: Option<usize>, types: &[ColumnType]) -> Result<usize> {
    match fixed {
        Some(at) if key.len() >= at => Ok(at),
        _ => index_pk_offset(key, types),
    }
}

/// Runs `plan`; returns the result rows and counters.
pub fn execute(rt: &Runtime, plan: &Plan) -> Result<(Vec<Row>, RunStats)> {
    let mut consumer = Consumer::new(&plan.sel, &rt.env, plan.sort)?;
    consumer.expect_rows(plan.est_rows);
    let mut stats = drive(rt, plan, &mut consumer)?;
    let t = Instant::now();
    let (rows, peak) = consumer.finish()?;
    stats.finish_ns = t.elapsed().as_nanos() as u64;
    stats.peak_bytes = stats.peak_bytes.max(peak);
    Ok((rows, stats))
}

/// Rows `plan` is expected to produce, for sizing column buffers: the estimate, capped so
/// a wild one cannot reserve gigabytes (a wrong guess only costs growth or spare room).
pub(super) fn expected_rows(plan: &Plan) -> usize {
    plan.est_rows.clamp(0.0, (1u64 << 24) as f64) as usize
}

/// Runs `plan` into columns named `names` (see [`Columns`]): rows that stream out are
/// appended to the columns straight from the row buffer, without a row of their own.
/// The rows come as chunks in order: one, or one per thread of a parallel scan (see
/// `parallel.rs`), never an empty list.
pub fn execute_columns(rt: &Runtime, plan: &Plan, names: Vec<String>) -> Result<(Vec<Columns>, RunStats)> {
    if let Some(done) = super::parallel::scan_columns(rt, plan, &names)? {
        return Ok(done);
    }
    let expect = expected_rows(plan);
    let mut consumer = Consumer::new(&plan.sel, &rt.env, plan.sort)?.into_columns(names, expect);
    let mut stats = drive(rt, plan, &mut consumer)?;
    let t = Instant::now();
    let (cols, peak) = consumer.finish_columns()?;
    stats.finish_ns = t.elapsed().as_nanos() as u64;
    stats.peak_bytes = stats.peak_bytes.max(peak);
    Ok((vec![cols], stats))
}

/// Runs the accesses and joins of `plan`, pushing every row that passes into `consumer`.
fn drive(rt: &Runtime, plan: &Plan, consumer: &mut Consumer) -> Result<RunStats> {
    let sel = &plan.sel;
    let mut stats = RunStats::default();
    let mut row: Vec<Value> = vec![Value::Null; sel.width];
    let residual: Vec<Pred> = plan
        .residual
        .iter()
        .map(|p| resolve_pred(p, &rt.env))
        .collect::<Result<_>>()?;
    let mut outer = AccessRun::open(rt, plan, &plan.outer)?;
    outer.init_row(rt, &mut row);
    if !consumer.done() {
        match &plan.join {
            None => {
                consumer.move_out(&outer.refilled());
                outer.batch_rows(consumer.wanted());
                outer.run(rt, &mut row, None, &mut |r: &mut [Value]| {
                    if !all_true(&residual, r) {
                        return Ok(true);
                    }
                    consumer.push(r)
                })?;
            }
            Some(j) => {
                let mut inner = AccessRun::open(rt, plan, &j.inner)?;
                inner.init_row(rt, &mut row);
                let (ok, ik) = (j.outer_key, j.inner_key);
                let src = &sel.sources[j.inner.source];
                let (ioff, iw) = (src.offset, src.table.columns().len());
                let join_rows = &mut stats.join_rows;
                match j.method {
                    JoinMethod::NestedLoop => {
                        let mut key = Value::Null;
                        outer.run(rt, &mut row, None, &mut |r: &mut [Value]| {
                            match &r[ok] {
                                Value::Text(s) => set_text(&mut key, s),
                                Value::Null => return Ok(true),
                                other => key = other.clone(),
                            }
                            inner.run(rt, r, Some(&key), &mut |r2: &mut [Value]| {
                                *join_rows += 1;
                                if !all_true(&residual, r2) {
                                    return Ok(true);
                                }
                                consumer.push(r2)
                            })
                        })?;
                    }
                    JoinMethod::Hash => {
                        let mut table: HashMap<String, Vec<Vec<Value>>> = HashMap::new();
                        let mut bytes = 0u64;
                        inner.run(rt, &mut row, None, &mut |r: &mut [Value]| {
                            if let Some(k) = r[ik].as_str() {
                                let part = r[ioff..ioff + iw].to_vec();
                                bytes += row_bytes(&part) + k.len() as u64;
                                table.entry(k.to_string()).or_default().push(part);
                            }
                            Ok(true)
                        })?;
                        stats.peak_bytes = bytes;
                        outer.run(rt, &mut row, None, &mut |r: &mut [Value]| {
                            let Some(k) = r[ok].as_str() else {
                                return Ok(true);
                            };
                            let Some(matches) = table.get(k) else {
                                return Ok(true);
                            };
                            for m in matches {
                                r[ioff..ioff + iw].clone_from_slice(m);
                                *join_rows += 1;
                                if !all_true(&residual, r) {
                                    continue;
                                }
                                if !consumer.push(r)? {
                                    return Ok(false);
                                }
                            }
                            Ok(true)
                        })?;
                    }
                }
                stats.inner = inner.stats;
            }
        }
    }
    stats.outer = outer.stats;
    Ok(stats)
}
