//! Statistics, in the spirit of SQLite's `sqlite_stat1`: per index the number of entries
//! (redb keeps it) and the number of distinct key prefixes (tenant, tenant+first column,
//! ...), kept exact on every write by the maintenance hook; per table and tenant the row
//! count, also kept on every write; per primary key the distinct prefix counts, computed by
//! `ANALYZE`, which also recomputes everything else from scratch. The planner reads these.
//! The figures live in memory ([`super::tally`]) and reach redb lazily.

use super::catalog::{table_code, CatalogSnap, PK_STATS_BASE};
use super::def::IndexDef;
use super::keys::{component_ends, shared_components, str_end};
use super::maintain::entries_def;
use super::tally::Tally;
use crate::error::{err, ErrorKind, Result};
use crate::schema::Table;
use crate::storage::stores::table_def;
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::collections::BTreeMap;

/// A primary-key component's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkPart {
    /// An escaped string (a TEXT column).
    Str(usize),
    /// A big-endian signed integer (a column).
    I64(usize),
    /// A big-endian unsigned integer (a column).
    U64(usize),
    /// A hidden big-endian u64 (the score sequence number).
    Seq,
}

/// How each table's primary key (after the tenant) is encoded.
pub fn pk_layout(t: Table) -> &'static [PkPart] {
    match t {
        Table::Customers => &[PkPart::Str(0)],
        Table::Scores => &[PkPart::Str(0), PkPart::Str(1), PkPart::I64(4), PkPart::Seq],
        Table::LatestScores => &[PkPart::Str(0), PkPart::Str(1)],
        Table::Messages => &[PkPart::U64(0)],
    }
}

/// Component end offsets of a base-table key (tenant, then each pk part).
pub fn pk_component_ends(key: &[u8], t: Table, ends: &mut Vec<usize>) -> Result<()> {
    ends.clear();
    let mut at = str_end(key, 0)?;
    ends.push(at);
    for p in pk_layout(t) {
        at = match p {
            PkPart::Str(_) => str_end(key, at)?,
            _ => {
                if key.len() < at + 8 {
                    return Err(err(ErrorKind::Corrupted, "truncated primary key"));
                }
                at + 8
            }
        };
        ends.push(at);
    }
    Ok(())
}

/// The stats id of a table's primary key.
pub fn pk_stats_id(t: Table) -> u32 {
    PK_STATS_BASE - table_code(t) as u32
}

/// What the planner knows about one index or primary key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyStats {
    /// Entries (all tenants).
    pub entries: u64,
    /// Distinct prefixes: `[tenants, tenant+c1, tenant+c1+c2, ...]`; empty when unknown.
    pub distinct: Vec<u64>,
}

impl KeyStats {
    /// Average entries per distinct prefix of `1 + cols` components (tenant and `cols`
    /// leading columns), or None when unknown.
    pub fn rows_per_prefix(&self, cols: usize) -> Option<f64> {
        let d = *self.distinct.get(cols)?;
        (d > 0).then(|| self.entries as f64 / d as f64)
    }
}

/// Stats of an index: entries as of `txn`, distinct prefixes as of the last commit.
pub fn index_stats(txn: &ReadTransaction, tally: &Tally, def: &IndexDef) -> Result<KeyStats> {
    let entries = txn.open_table(entries_def(&def.table_name()))?.len()?;
    let distinct = tally.distinct(def.id).unwrap_or_default();
    Ok(KeyStats { entries, distinct })
}

/// Stats of a table's primary key: entries as of `txn`, distinct prefixes (known only
/// after ANALYZE) as of the last commit.
pub fn pk_stats(txn: &ReadTransaction, tally: &Tally, t: Table) -> Result<KeyStats> {
    let entries = txn.open_table(table_def(t))?.len()?;
    let distinct = tally.distinct(pk_stats_id(t)).unwrap_or_default();
    Ok(KeyStats { entries, distinct })
}

/// Rows of `t` held by `tenant`, as of the last commit (a planner estimate: it may be a
/// commit ahead of the caller's snapshot).
pub fn tenant_rows(tally: &Tally, t: Table, tenant: &str) -> u64 {
    tally.rows(t, tenant)
}

fn count_distinct(
    keys: impl Iterator<Item = Result<Vec<u8>>>,
    n: usize,
    mut ends_of: impl FnMut(&[u8], &mut Vec<usize>) -> Result<()>,
) -> Result<Vec<u64>> {
    let mut distinct = vec![0u64; n];
    let mut prev: Option<Vec<u8>> = None;
    let mut ends = Vec::new();
    for k in keys {
        let k = k?;
        ends_of(&k, &mut ends)?;
        let shared = prev.as_ref().map_or(0, |p| shared_components(&k, &ends, p));
        for (j, d) in distinct.iter_mut().enumerate() {
            if j + 1 > shared {
                *d += 1;
            }
        }
        prev = Some(k);
    }
    Ok(distinct)
}

/// Recomputes an index's distinct-prefix counts from its entries.
pub fn analyze_index(txn: &WriteTransaction, tally: &Tally, def: &IndexDef) -> Result<()> {
    let name = def.table_name();
    let t = txn.open_table(entries_def(&name))?;
    let types = def.column_types();
    let keys = t
        .iter()?
        .map(|r| r.map(|(k, _)| k.value().to_vec()).map_err(Into::into));
    let distinct = count_distinct(keys, def.columns.len() + 1, |k, e| {
        component_ends(k, &types, e)
    })?;
    drop(t);
    tally.set_distinct(def.table, def.id, &distinct);
    Ok(())
}

/// Recomputes a table's primary-key stats and per-tenant row counts.
pub fn analyze_table(txn: &WriteTransaction, tally: &Tally, table: Table) -> Result<()> {
    let mut per_tenant: BTreeMap<String, u64> = BTreeMap::new();
    let distinct = {
        let t = txn.open_table(table_def(table))?;
        let keys = t
            .iter()?
            .map(|r| r.map(|(k, _)| k.value().to_vec()).map_err(Into::into));
        let per = &mut per_tenant;
        count_distinct(keys, pk_layout(table).len() + 1, |k, e| {
            pk_component_ends(k, table, e)?;
            let tenant = crate::storage::keys::KeyReader::new(k).str()?;
            *per.entry(tenant).or_default() += 1;
            Ok(())
        })?
    };
    tally.set_distinct(table, pk_stats_id(table), &distinct);
    tally.replace_rows(table, &per_tenant);
    Ok(())
}

/// ANALYZE: everything, one table and its indexes, or one index.
pub fn analyze(txn: &WriteTransaction, tally: &Tally, snap: &CatalogSnap, target: Option<&str>) -> Result<()> {
    tally.persist_with_commit();
    match target {
        None => {
            for t in Table::ALL {
                analyze_table(txn, tally, t)?;
            }
            for d in &snap.indexes {
                analyze_index(txn, tally, d)?;
            }
        }
        Some(name) => {
            if let Some(t) = Table::from_name(name) {
                analyze_table(txn, tally, t)?;
                for d in snap.on_table(t) {
                    analyze_index(txn, tally, d)?;
                }
            } else if let Some(d) = snap.by_name(name) {
                analyze_index(txn, tally, d)?;
            } else {
                return Err(err(
                    ErrorKind::UnknownTable,
                    format!("no such table or index: {name}"),
                ));
            }
        }
    }
    Ok(())
}
