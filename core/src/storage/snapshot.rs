//! Shared read snapshots. Beginning a redb read transaction and opening its tables through
//! the table tree costs more than a point lookup, so every read (statements, tenant fast
//! paths, stats) shares one [`Snapshot`] until the next commit: the redb `ReadTransaction`
//! plus the tables opened from it so far, opened once and kept.
//!
//! Visibility: the writer calls [`Store::advance`](super::store::Store::advance) after a
//! commit is durable and before it acknowledges any write of that commit. A snapshot is
//! labelled with the counter value loaded *before* its `begin_read`, so it holds at least
//! every commit advanced up to its label; a read reuses the shared snapshot only when the
//! label equals the counter it loads when it starts. Hence once a write has returned,
//! every read that starts afterwards, in any thread, sees it.
//!
//! Lifetime: `advance` drops the shared snapshot (so a write-only period pins no old pages
//! and redb can reclaim them); the first read after it begins a new one. A snapshot holds
//! its `Database`, so the store's reopen-after-failure drains it like any reader, and
//! `close` drops the shared one first.

use super::rowcache::RowCache;
use crate::error::Result;
use crate::schema::Table;
use parking_lot::RwLock;
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, TableDefinition};
use std::sync::{Arc, OnceLock};

/// A base table: encoded key -> encoded row.
pub type RowTable = ReadOnlyTable<&'static [u8], &'static [u8]>;
/// A key-only table (message indexes, secondary index entries).
pub type KeyTable = ReadOnlyTable<&'static [u8], ()>;

const ROW_SLOTS: usize = 4;

fn row_slot(t: Table) -> usize {
    match t {
        Table::Customers => 0,
        Table::Scores => 1,
        Table::LatestScores => 2,
        Table::Messages => 3,
    }
}

/// One read snapshot shared by every reader until the next commit.
pub struct Snapshot {
    // Declared first so it is dropped before the database it reads.
    txn: ReadTransaction,
    rows: [OnceLock<RowTable>; ROW_SLOTS],
    by_customer: OnceLock<KeyTable>,
    by_conversation: OnceLock<KeyTable>,
    /// Key-only tables opened by name (secondary index entries).
    keys: RwLock<Vec<(String, Arc<KeyTable>)>>,
    /// Rows of each base table already fetched and decoded through this snapshot.
    row_caches: [RowCache; ROW_SLOTS],
    label: u64,
    /// Held, not read: the store's reopen drains snapshots like any other reader.
    _db: Arc<Database>,
}

// Readers in many threads share one snapshot; redb's read-only tables own their
// transaction guard and only read through `&self`.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Snapshot>();
};

fn open_into<'a, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    slot: &'a OnceLock<ReadOnlyTable<&'static [u8], V>>,
    def: TableDefinition<&'static [u8], V>,
) -> Result<&'a ReadOnlyTable<&'static [u8], V>> {
    if let Some(t) = slot.get() {
        return Ok(t);
    }
    let t = txn.open_table(def)?;
    // A racing reader may have set it first: both opened the same table of one snapshot.
    let _ = slot.set(t);
    Ok(slot.get().expect("slot set above"))
}

impl Snapshot {
    /// Begins a snapshot of `db`; `label` is the commit counter loaded before this call.
    pub(crate) fn begin(db: Arc<Database>, label: u64) -> Result<Snapshot> {
        let txn = db.begin_read()?;
        Ok(Snapshot {
            txn,
            rows: Default::default(),
            by_customer: OnceLock::new(),
            by_conversation: OnceLock::new(),
            keys: RwLock::new(Vec::new()),
            row_caches: Default::default(),
            label,
            _db: db,
        })
    }

    /// The commit counter this snapshot is at least as new as.
    pub fn label(&self) -> u64 {
        self.label
    }

    /// True when the snapshot reads `db`.
    #[cfg(test)]
    pub(crate) fn reads(&self, db: &Arc<Database>) -> bool {
        Arc::ptr_eq(&self._db, db)
    }

    /// The redb read transaction.
    pub fn txn(&self) -> &ReadTransaction {
        &self.txn
    }

    /// The rows of `table`, opened once per snapshot.
    pub fn rows(&self, table: Table) -> Result<&RowTable> {
        open_into(&self.txn, &self.rows[row_slot(table)], crate::storage::stores::table_def(table))
    }

    /// The decoded rows of `table` fetched through this snapshot (see [`RowCache`]: it can
    /// never be stale because the snapshot never changes).
    pub fn row_cache(&self, table: Table) -> &RowCache {
        &self.row_caches[row_slot(table)]
    }

    /// The `msg_by_customer` index, opened once per snapshot.
    pub fn msg_by_customer(&self) -> Result<&KeyTable> {
        open_into(&self.txn, &self.by_customer, super::MSG_BY_CUSTOMER)
    }

    /// The `msg_by_conversation` index, opened once per snapshot.
    pub fn msg_by_conversation(&self) -> Result<&KeyTable> {
        open_into(&self.txn, &self.by_conversation, super::MSG_BY_CONVERSATION)
    }

    /// A key-only table by name (a secondary index's entries), opened once per snapshot.
    /// A table missing from this snapshot is redb's `TableDoesNotExist`, left to the caller.
    pub fn keys(&self, name: &str) -> std::result::Result<Arc<KeyTable>, redb::TableError> {
        if let Some((_, t)) = self.keys.read().iter().find(|(n, _)| n == name) {
            return Ok(t.clone());
        }
        let t = Arc::new(self.txn.open_table(TableDefinition::<&[u8], ()>::new(name))?);
        let mut w = self.keys.write();
        if let Some((_, t)) = w.iter().find(|(n, _)| n == name) {
            return Ok(t.clone());
        }
        w.push((name.to_string(), t.clone()));
        Ok(t)
    }
}

impl std::ops::Deref for Snapshot {
    type Target = ReadTransaction;

    fn deref(&self) -> &ReadTransaction {
        &self.txn
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("label", &self.label).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::store::{Store, StoreOptions};
    use std::sync::Arc;
    use std::time::Duration;

    fn store(dir: &std::path::Path) -> Store {
        Store::open(dir.join("data.redb"), StoreOptions { commit_log: true, ..Default::default() }).unwrap()
    }

    #[test]
    fn shared_until_advance_then_retired() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let a = s.snapshot().unwrap();
        let b = s.snapshot().unwrap();
        assert!(Arc::ptr_eq(&a, &b), "no commit between: one shared snapshot");
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_some(), "the store keeps the shared snapshot");
        s.advance();
        assert!(weak.upgrade().is_none(), "advance retires it: no old pages pinned by the store");
        let c = s.snapshot().unwrap();
        assert_eq!(c.label(), 1);
        assert!(Arc::ptr_eq(&c, &s.snapshot().unwrap()));
    }

    #[test]
    fn a_stale_label_is_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let old = s.snapshot().unwrap();
        s.advance();
        // A reader that began before the advance may still hold (and even re-share) it.
        let _ = s.snap.compare_and_swap(&None::<Arc<super::Snapshot>>, Some(old.clone()));
        let fresh = s.snapshot().unwrap();
        assert!(!Arc::ptr_eq(&old, &fresh));
        assert_eq!(fresh.label(), 1);
    }

    #[test]
    fn reopen_drains_the_shared_snapshot_and_close_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let a = s.snapshot().unwrap();
        let weak = Arc::downgrade(&a);
        drop(a);
        s.mark_failed();
        s.reopen_if_needed(Duration::from_millis(500)).expect("the shared snapshot must not block the drain");
        assert!(weak.upgrade().is_none(), "the old database's snapshot is gone");
        let b = s.snapshot().unwrap();
        assert!(b.reads(&s.db().unwrap()), "new snapshots read the reopened database");
        let weak = Arc::downgrade(&b);
        drop(b);
        s.close();
        assert!(weak.upgrade().is_none(), "close drops the shared snapshot");
        assert_eq!(s.snapshot().unwrap_err().kind(), crate::ErrorKind::Closed);
    }
}
