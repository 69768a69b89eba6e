//! The cost model: statistics as the planner sees them (per-tenant row counts, per-index
//! entries and distinct prefixes, primary-key prefixes after ANALYZE) and the unit costs
//! of the operations the executor performs. Units are roughly "one B-tree step"; only the
//! ratios matter.

use crate::error::Result;
use crate::index::def::IndexDef;
use crate::index::stats::{index_stats, pk_stats, tenant_rows, KeyStats};
use crate::index::tally::Tally;
use crate::schema::Table;
use redb::ReadTransaction;
use std::collections::HashMap;

/// Descending a B-tree to a key.
pub const SEEK: f64 = 6.0;
/// Moving to the next index entry.
pub const STEP_INDEX: f64 = 0.4;
/// Moving to the next table row and decoding it.
pub const STEP_ROW: f64 = 1.6;
/// Decoding column values from an index key.
pub const KEY_DECODE: f64 = 0.3;
/// Fetching a table row by primary key from an index entry.
pub const LOOKUP: f64 = SEEK + 1.2;
/// Each fetch after the first when the index entries come in primary-key order (every
/// index column is bound by equality, so entries differ only in their primary-key suffix):
/// consecutive fetches land on the same or the next leaf pages, which a cache already
/// holds, instead of pages spread over the whole table. The first fetch is a [`LOOKUP`].
pub const LOOKUP_IN_ORDER: f64 = SEEK * 0.5 + 1.2;

/// Cost of fetching `n` rows by primary key, in key order or not.
pub fn fetch_cost(n: f64, in_order: bool) -> f64 {
    if in_order && n > 1.0 {
        LOOKUP + (n - 1.0) * LOOKUP_IN_ORDER
    } else {
        n * LOOKUP
    }
}
/// Inserting a row into a hash table.
pub const HASH_BUILD: f64 = 1.0;
/// Probing a hash table.
pub const HASH_PROBE: f64 = 0.3;
/// Per-row cost of grouping.
pub const GROUP_ROW: f64 = 0.6;

/// Cost of sorting `n` rows.
pub fn sort_cost(n: f64) -> f64 {
    let n = n.max(1.0);
    n * (0.5 + 0.15 * n.log2())
}

/// Statistics read once per planning: sizes from the planning snapshot, row counts and
/// distinct prefixes from the in-memory figures as of the last commit.
pub struct StatsView<'a> {
    txn: &'a ReadTransaction,
    tally: &'a Tally,
    tenant: &'a str,
    rows: HashMap<Table, (u64, u64)>,
    pk: HashMap<Table, KeyStats>,
    idx: HashMap<u32, KeyStats>,
    hypothetical: Option<KeyStats>,
}

impl<'a> StatsView<'a> {
    /// A view for `tenant` over `txn`.
    pub fn new(txn: &'a ReadTransaction, tally: &'a Tally, tenant: &'a str) -> StatsView<'a> {
        StatsView {
            txn,
            tally,
            tenant,
            rows: HashMap::new(),
            pk: HashMap::new(),
            idx: HashMap::new(),
            hypothetical: None,
        }
    }

    /// (rows of this tenant, rows of all tenants) in `t`.
    pub fn rows(&mut self, t: Table) -> Result<(u64, u64)> {
        if let Some(r) = self.rows.get(&t) {
            return Ok(*r);
        }
        let mine = tenant_rows(self.tally, t, self.tenant);
        let all = self.pk(t)?.entries;
        self.rows.insert(t, (mine, all));
        Ok((mine, all))
    }

    /// Primary-key statistics of `t`.
    pub fn pk(&mut self, t: Table) -> Result<KeyStats> {
        if let Some(s) = self.pk.get(&t) {
            return Ok(s.clone());
        }
        let s = pk_stats(self.txn, self.tally, t)?;
        self.pk.insert(t, s.clone());
        Ok(s)
    }

    /// Statistics of an index (estimated for a hypothetical one, id 0).
    pub fn index(&mut self, def: &IndexDef, hypothetical: bool) -> Result<KeyStats> {
        if hypothetical {
            if let Some(h) = &self.hypothetical {
                return Ok(h.clone());
            }
            let (_, all) = self.rows(def.table)?;
            let entries = if def.predicate.is_empty() {
                all
            } else {
                all / 3
            };
            return Ok(KeyStats {
                entries,
                distinct: Vec::new(),
            });
        }
        if let Some(s) = self.idx.get(&def.id) {
            return Ok(s.clone());
        }
        let s = index_stats(self.txn, self.tally, def)?;
        self.idx.insert(def.id, s.clone());
        Ok(s)
    }

    /// Sets the statistics assumed for the hypothetical index.
    pub fn set_hypothetical(&mut self, st: KeyStats) {
        self.hypothetical = Some(st);
    }

    /// The tenant's rows of `t`, as the snapshot of this view saw them (for re-plan checks).
    pub fn tenant_rows_seen(&self) -> Vec<(Table, u64)> {
        let mut v: Vec<(Table, u64)> = self.rows.iter().map(|(t, r)| (*t, r.0)).collect();
        v.sort();
        v
    }
}

/// Rows expected per distinct key prefix of `k` leading columns within one tenant holding
/// `tenant_entries` entries; falls back to a 10x reduction per column without statistics.
pub fn prefix_rows(st: &KeyStats, k: usize, tenant_entries: f64) -> f64 {
    if k == 0 {
        return tenant_entries;
    }
    match (st.distinct.first(), st.distinct.get(k)) {
        (Some(&d0), Some(&dk)) if d0 > 0 && dk > 0 => tenant_entries * d0 as f64 / dk as f64,
        _ => {
            (tenant_entries * 0.1f64.powi(k as i32)).clamp(tenant_entries.min(1.0), tenant_entries)
        }
    }
}
