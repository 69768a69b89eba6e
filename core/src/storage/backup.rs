//! Online backup: copies every table from one read snapshot into a new database directory
//! while writers keep going (redb readers never block the writer). The copy is a complete,
//! consistent cidb directory that opens like any other.
//! The cache tiers (`cache.redb`) are not copied: they hold entries that expire and records
//! derived from the stores, so a restored directory starts with cold caches.

use crate::error::{err, Error, ErrorKind, Result};
use redb::{Database, Key, ReadTransaction, ReadableTable, TableDefinition, Value, WriteTransaction};
use std::path::Path;

/// What a backup copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackupReport {
    /// Tables copied.
    pub tables: u64,
    /// Entries copied.
    pub entries: u64,
    /// Bytes of the new data file.
    pub bytes: u64,
}

fn copy<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64>
where
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
{
    let from = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut to = dst.open_table(def)?;
    let mut n = 0;
    for item in from.iter()? {
        let (k, v) = item?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

/// Copies the snapshot `src` into a new directory `dest` (which must not hold a database):
/// the stores, their secondary structures, the index catalog, statistics and entries, the
/// counters and the change-feed log.
pub fn backup(src: &ReadTransaction, dest: &Path) -> Result<BackupReport> {
    let file = dest.join(super::DATA_FILE);
    if file.exists() {
        return Err(err(ErrorKind::AlreadyExists, format!("{} already holds a database", dest.display())));
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::with_source(ErrorKind::Storage, format!("cannot create {}", dest.display()), e))?;
    let db = Database::create(&file)?;
    let txn = db.begin_write()?;
    let mut r = BackupReport::default();
    let mut add = |n: u64| {
        r.tables += 1;
        r.entries += n;
    };
    for def in [super::CUSTOMERS, super::SCORES, super::LATEST, super::MESSAGES, crate::context::CONTEXTS] {
        add(copy(src, &txn, def)?);
    }
    add(copy(src, &txn, crate::index::catalog::INDEX_DEFS)?);
    add(copy(src, &txn, crate::index::catalog::INDEX_STATS)?);
    add(copy(src, &txn, crate::index::catalog::TABLE_COUNTS)?);
    use redb::TableHandle;
    let index_tables: Vec<String> =
        src.list_tables()?.map(|h| h.name().to_string()).filter(|n| n.starts_with("ix_")).collect();
    for name in &index_tables {
        add(copy(src, &txn, crate::index::maintain::entries_def(name))?);
    }
    for def in [super::MSG_BY_CUSTOMER, super::MSG_BY_CONVERSATION, crate::context::CONTEXT_EXPIRY] {
        add(copy(src, &txn, def)?);
    }
    add(copy(src, &txn, super::META)?);
    add(copy(src, &txn, crate::feed::FEED)?);
    txn.commit()?;
    drop(db);
    r.bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(r)
}
