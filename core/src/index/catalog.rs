//! The index catalog in redb and its in-memory cache. Definitions live in `index_defs`
//! (name -> id, state, canonical CREATE text); `meta.catalog_version` changes with every DDL
//! and ANALYZE. A reader or the write hook reads the version inside its own transaction and
//! reuses the cached snapshot only when the version matches, so the catalog a query plans
//! with is always the one its snapshot holds. Versions come from an in-process counter that
//! never repeats, so a version written by an aborted transaction can never alias another.

use super::def::{IndexDef, IndexState};
use crate::error::{err, ErrorKind, Result};
use crate::schema::Table;
use crate::sql::ast::Statement;
use crate::storage::META;
use arc_swap::ArcSwap;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Index definitions: lowercase name -> JSON [`StoredDef`].
pub const INDEX_DEFS: TableDefinition<&str, &[u8]> = TableDefinition::new("index_defs");
/// Statistics: index id (or `PK_STATS_BASE - table code` for primary keys) -> distinct
/// prefix counts, little-endian u64s.
pub const INDEX_STATS: TableDefinition<u32, &[u8]> = TableDefinition::new("index_stats");
/// Rows per (table, tenant): `[table code] ++ Key::str(tenant)` -> count.
pub const TABLE_COUNTS: TableDefinition<&[u8], u64> = TableDefinition::new("table_counts");

/// `meta` key of the catalog version.
pub const CATALOG_VERSION: &str = "catalog_version";
/// `meta` key of the next index id.
pub const NEXT_INDEX_ID: &str = "next_index_id";
/// `meta` key set once the seed indexes were created (or deliberately not).
pub const SEEDED: &str = "indexes_seeded";
/// Stats ids at and below this are primary keys (`PK_STATS_BASE - table code`).
pub const PK_STATS_BASE: u32 = u32::MAX;

#[derive(Serialize, Deserialize)]
struct StoredDef {
    id: u32,
    state: IndexState,
    sql: String,
}

/// One table's stable code (used in stats and count keys).
pub fn table_code(t: Table) -> u8 {
    match t {
        Table::Customers => 1,
        Table::Scores => 2,
        Table::LatestScores => 3,
        Table::Messages => 4,
    }
}

/// The catalog at one version.
#[derive(Debug, Default)]
pub struct CatalogSnap {
    /// The version this snapshot was read at.
    pub version: u64,
    /// Every index, building or ready, ordered by name.
    pub indexes: Vec<Arc<IndexDef>>,
}

impl CatalogSnap {
    /// The index named `name` (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<&Arc<IndexDef>> {
        self.indexes
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The index with id `id`.
    pub fn by_id(&self, id: u32) -> Option<&Arc<IndexDef>> {
        self.indexes.iter().find(|d| d.id == id)
    }

    /// Indexes on `table` (building ones included).
    pub fn on_table(&self, table: Table) -> impl Iterator<Item = &Arc<IndexDef>> {
        self.indexes.iter().filter(move |d| d.table == table)
    }

    /// Ready indexes on `table` (what the planner may use).
    pub fn ready_on(&self, table: Table) -> impl Iterator<Item = &Arc<IndexDef>> {
        self.on_table(table)
            .filter(|d| d.state == IndexState::Ready)
    }
}

fn parse_def(id: u32, state: IndexState, sql: &str) -> Result<IndexDef> {
    let parsed = crate::sql::parse(sql).map_err(|e| {
        err(
            ErrorKind::Corrupted,
            format!("stored index definition {sql:?} does not parse: {e}"),
        )
    })?;
    match parsed.stmt {
        Statement::CreateIndex(ci) => {
            let mut d = IndexDef::from_create(&ci, id)?;
            d.state = state;
            Ok(d)
        }
        _ => Err(err(
            ErrorKind::Corrupted,
            format!("stored index definition {sql:?} is not CREATE INDEX"),
        )),
    }
}

fn load_defs(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    version: u64,
) -> Result<CatalogSnap> {
    let mut indexes = Vec::new();
    for item in t.iter()? {
        let (_, v) = item?;
        let sd: StoredDef = serde_json::from_slice(v.value()).map_err(|e| {
            err(
                ErrorKind::Corrupted,
                format!("stored index definition is not valid: {e}"),
            )
        })?;
        indexes.push(Arc::new(parse_def(sd.id, sd.state, &sd.sql)?));
    }
    Ok(CatalogSnap { version, indexes })
}

/// Writes (or replaces) a definition.
pub fn store_def(txn: &WriteTransaction, def: &IndexDef) -> Result<()> {
    let sd = StoredDef {
        id: def.id,
        state: def.state,
        sql: def.create_sql(),
    };
    let bytes = serde_json::to_vec(&sd).map_err(|e| {
        err(
            ErrorKind::Internal,
            format!("cannot encode index definition: {e}"),
        )
    })?;
    txn.open_table(INDEX_DEFS)?
        .insert(def.name.to_ascii_lowercase().as_str(), bytes.as_slice())?;
    Ok(())
}

/// Removes a definition.
pub fn remove_def(txn: &WriteTransaction, name: &str) -> Result<()> {
    txn.open_table(INDEX_DEFS)?
        .remove(name.to_ascii_lowercase().as_str())?;
    Ok(())
}

/// The cached catalog and the version generator.
pub struct Catalog {
    cache: ArcSwap<CatalogSnap>,
    next_version: AtomicU64,
}

impl Catalog {
    /// A catalog whose versions continue after `stored` (the version on disk at open).
    pub fn new(stored: u64) -> Catalog {
        Catalog {
            cache: ArcSwap::from_pointee(CatalogSnap {
                version: u64::MAX,
                indexes: Vec::new(),
            }),
            next_version: AtomicU64::new(stored + 1),
        }
    }

    fn cached(&self, version: u64) -> Option<Arc<CatalogSnap>> {
        let c = self.cache.load_full();
        (c.version == version).then_some(c)
    }

    /// The catalog as a read snapshot sees it.
    pub fn read(&self, txn: &ReadTransaction) -> Result<Arc<CatalogSnap>> {
        let version = txn
            .open_table(META)?
            .get(CATALOG_VERSION)?
            .map(|v| v.value())
            .unwrap_or(0);
        if let Some(c) = self.cached(version) {
            return Ok(c);
        }
        let snap = Arc::new(load_defs(&txn.open_table(INDEX_DEFS)?, version)?);
        self.cache.store(snap.clone());
        Ok(snap)
    }

    /// The catalog as a write transaction sees it (including its own uncommitted DDL).
    pub fn write(&self, txn: &WriteTransaction) -> Result<Arc<CatalogSnap>> {
        let version = txn
            .open_table(META)?
            .get(CATALOG_VERSION)?
            .map(|v| v.value())
            .unwrap_or(0);
        if let Some(c) = self.cached(version) {
            return Ok(c);
        }
        let snap = Arc::new(load_defs(&txn.open_table(INDEX_DEFS)?, version)?);
        self.cache.store(snap.clone());
        Ok(snap)
    }

    /// Gives the catalog a new, never-used version inside `txn`; call after every change.
    pub fn bump(&self, txn: &WriteTransaction) -> Result<u64> {
        let v = self.next_version.fetch_add(1, Ordering::SeqCst);
        txn.open_table(META)?.insert(CATALOG_VERSION, v)?;
        Ok(v)
    }
}

/// Reads the distinct-prefix counts stored for `id`.
pub fn read_stats(t: &impl ReadableTable<u32, &'static [u8]>, id: u32) -> Result<Option<Vec<u64>>> {
    Ok(t.get(id)?.map(|v| decode_stats(v.value())))
}

/// Distinct-prefix counts from their stored form (little-endian `u64`s).
pub fn decode_stats(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

/// The stored form of distinct-prefix counts.
pub fn encode_stats(distinct: &[u64]) -> Vec<u8> {
    distinct.iter().flat_map(|d| d.to_le_bytes()).collect()
}

/// Stores distinct-prefix counts for `id`.
pub fn write_stats(txn: &WriteTransaction, id: u32, distinct: &[u64]) -> Result<()> {
    txn.open_table(INDEX_STATS)?.insert(id, encode_stats(distinct).as_slice())?;
    Ok(())
}

/// The key of a (table, tenant) row count.
pub fn count_key(table: Table, tenant: &str) -> Vec<u8> {
    let mut k = crate::storage::keys::Key::new();
    k.0.push(table_code(table));
    k.str(tenant);
    k.0
}

/// Creates the catalog tables (so read snapshots never miss them).
pub fn create_tables(db: &redb::Database) -> Result<u64> {
    let txn = db.begin_write()?;
    let version;
    {
        txn.open_table(INDEX_DEFS)?;
        txn.open_table(INDEX_STATS)?;
        txn.open_table(TABLE_COUNTS)?;
        version = txn
            .open_table(META)?
            .get(CATALOG_VERSION)?
            .map(|v| v.value())
            .unwrap_or(0);
    }
    txn.commit()?;
    Ok(version)
}
