//! The statistics the write path keeps exact on every commit (each index's distinct-prefix
//! counts, each table's primary-key prefix counts after ANALYZE, rows per table and tenant)
//! live here in memory, not in redb on every commit: writing `index_stats` and
//! `table_counts` in each durable commit cost two more B-trees (and their table-tree and
//! allocator entries) in every fsync. The writer's transaction protocol ([`TxnState`])
//! stages a transaction's changes, merges them when its commit is durable and drops them
//! when it aborts, so the in-memory copy is exact as of the last commit.
//!
//! Persistence is lazy: every [`PERSIST_COMMITS`] dirty commits or [`PERSIST_AFTER`] (and
//! at close, ANALYZE and DDL) the changed entries are written in the same transaction as a
//! commit, and `meta.tally_stale` is cleared. The first commit to change a table's figures
//! after that sets the table's bit in `meta.tally_stale`, in its own transaction. So in every
//! committed snapshot, the persisted figures of a table whose bit is clear are exact; at
//! open, the tables whose bit is set are recounted from their rows and index entries
//! (exactly what ANALYZE computes), so a crash never leaves wrong figures behind. After a
//! failed commit (which may have become durable anyway) every table is marked stale and
//! nothing more is persisted, so the next open recounts everything.

use super::catalog::{count_key, decode_stats, encode_stats, table_code, INDEX_STATS, TABLE_COUNTS};
use super::IndexManager;
use crate::error::Result;
use crate::schema::Table;
use crate::storage::writer::TxnState;
use crate::storage::META;
use parking_lot::{Mutex, RwLock};
use redb::{ReadableTable, WriteTransaction};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// `meta` key: bit `table_code(t)` set when `t`'s persisted figures may be behind.
pub const STALE_MASK: &str = "tally_stale";
/// Dirty commits after which the figures are persisted.
pub const PERSIST_COMMITS: u64 = 512;
/// Time after which the figures are persisted at the next dirty commit.
pub const PERSIST_AFTER: Duration = Duration::from_secs(2);

fn bit(t: Table) -> u64 {
    1 << table_code(t)
}

fn all_tables() -> u64 {
    Table::ALL.iter().fold(0, |m, t| m | bit(*t))
}

/// Figures as of one commit.
#[derive(Debug, Default, Clone)]
struct Figures {
    /// Stats id -> distinct-prefix counts.
    distinct: HashMap<u32, Vec<u64>>,
    /// `count_key(table, tenant)` -> rows (absent = 0).
    rows: HashMap<Vec<u8>, u64>,
}

/// One transaction's changes (writer thread only).
#[derive(Default)]
struct Staged {
    distinct: HashMap<u32, Option<Vec<u64>>>,
    rows: HashMap<Vec<u8>, u64>,
    /// Tables whose figures this transaction changed.
    tables: u64,
    force: bool,
    /// Set by `before_commit`: this commit persists everything.
    persists: bool,
    /// Set by `before_commit`: the stale mask this commit writes.
    mask: Option<u64>,
}

struct Persisted {
    ids: HashSet<u32>,
    rows: HashSet<Vec<u8>>,
    commits: u64,
    at: Instant,
    /// The stale mask as of the last commit.
    mask: u64,
    /// A commit failed and may have become durable anyway, so the in-memory figures are
    /// uncertain: every table is marked stale and nothing is persisted until a reopen
    /// recounts.
    uncertain: bool,
}

/// The in-memory figures and their lazy persistence.
pub struct Tally {
    committed: RwLock<Figures>,
    staged: Mutex<Staged>,
    persisted: Mutex<Persisted>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            committed: RwLock::new(Figures::default()),
            staged: Mutex::new(Staged::default()),
            persisted: Mutex::new(Persisted { ids: HashSet::new(), rows: HashSet::new(), commits: 0, at: Instant::now(), mask: 0, uncertain: false }),
        }
    }
}

impl Tally {
    /// Committed distinct-prefix counts of stats id `id` (what the planner reads).
    pub fn distinct(&self, id: u32) -> Option<Vec<u64>> {
        self.committed.read().distinct.get(&id).cloned()
    }

    /// Committed rows of `t` held by `tenant`.
    pub fn rows(&self, t: Table, tenant: &str) -> u64 {
        self.committed.read().rows.get(&count_key(t, tenant)).copied().unwrap_or(0)
    }

    /// Distinct-prefix counts of `id` as the current write transaction sees them.
    pub fn txn_distinct(&self, id: u32) -> Option<Vec<u64>> {
        if let Some(v) = self.staged.lock().distinct.get(&id) {
            return v.clone();
        }
        self.distinct(id)
    }

    /// Sets the counts of `id` (an index or primary key of `t`) in the current transaction.
    pub fn set_distinct(&self, t: Table, id: u32, distinct: &[u64]) {
        let mut s = self.staged.lock();
        s.distinct.insert(id, Some(distinct.to_vec()));
        s.tables |= bit(t);
    }

    /// Forgets the counts of `id` (a dropped index of `t`) in the current transaction.
    pub fn remove_distinct(&self, t: Table, id: u32) {
        let mut s = self.staged.lock();
        s.distinct.insert(id, None);
        s.tables |= bit(t);
    }

    /// Moves the rows of (`t`, `tenant`) by `delta` in the current transaction.
    pub fn add_rows(&self, t: Table, tenant: &str, delta: i64) {
        let k = count_key(t, tenant);
        let mut s = self.staged.lock();
        let cur = match s.rows.get(&k) {
            Some(n) => *n,
            None => self.committed.read().rows.get(&k).copied().unwrap_or(0),
        };
        s.rows.insert(k, (cur as i64 + delta).max(0) as u64);
        s.tables |= bit(t);
    }

    /// Replaces every row count of `t` in the current transaction (ANALYZE).
    pub fn replace_rows(&self, t: Table, per_tenant: &BTreeMap<String, u64>) {
        let code = table_code(t);
        let mut s = self.staged.lock();
        let old: Vec<Vec<u8>> = self.committed.read().rows.keys().filter(|k| k[0] == code).cloned().collect();
        for k in old {
            s.rows.insert(k, 0);
        }
        for (_, n) in s.rows.iter_mut().filter(|(k, _)| k[0] == code) {
            *n = 0;
        }
        for (tenant, n) in per_tenant {
            s.rows.insert(count_key(t, tenant), *n);
        }
        s.tables |= bit(t);
    }

    /// Makes the current transaction persist every figure (close, ANALYZE, DDL).
    pub fn persist_with_commit(&self) {
        self.staged.lock().force = true;
    }

    /// Tables whose persisted figures may be behind, as of the last commit.
    pub fn stale_mask(&self) -> u64 {
        self.persisted.lock().mask
    }

    /// Loads the persisted figures and the stale mask, as `txn` sees them.
    fn load(&self, txn: &WriteTransaction) -> Result<u64> {
        let mut f = Figures::default();
        for item in txn.open_table(INDEX_STATS)?.iter()? {
            let (id, v) = item?;
            f.distinct.insert(id.value(), decode_stats(v.value()));
        }
        for item in txn.open_table(TABLE_COUNTS)?.iter()? {
            let (k, v) = item?;
            f.rows.insert(k.value().to_vec(), v.value());
        }
        let mask = txn.open_table(META)?.get(STALE_MASK)?.map(|v| v.value()).unwrap_or(0);
        *self.committed.write() = f;
        let mut p = self.persisted.lock();
        (p.mask, p.at) = (mask, Instant::now());
        Ok(mask)
    }

    fn write_all(&self, txn: &WriteTransaction, s: &Staged, p: &Persisted) -> Result<()> {
        let c = self.committed.read();
        let mut stats = txn.open_table(INDEX_STATS)?;
        for id in p.ids.iter().chain(s.distinct.keys()) {
            let v = match s.distinct.get(id) {
                Some(v) => v.as_ref(),
                None => c.distinct.get(id),
            };
            match v {
                Some(v) => {
                    stats.insert(*id, encode_stats(v).as_slice())?;
                }
                None => {
                    stats.remove(*id)?;
                }
            }
        }
        let mut counts = txn.open_table(TABLE_COUNTS)?;
        for k in p.rows.iter().chain(s.rows.keys()) {
            match s.rows.get(k).or_else(|| c.rows.get(k)).copied().unwrap_or(0) {
                0 => counts.remove(k.as_slice())?,
                n => counts.insert(k.as_slice(), n)?,
            };
        }
        txn.open_table(META)?.remove(STALE_MASK)?;
        Ok(())
    }
}

impl TxnState for Tally {
    fn begin(&self) {
        *self.staged.lock() = Staged::default();
    }

    fn before_commit(&self, txn: &WriteTransaction) -> Result<()> {
        let mut s = self.staged.lock();
        let p = self.persisted.lock();
        if p.uncertain {
            if p.mask != all_tables() {
                txn.open_table(META)?.insert(STALE_MASK, all_tables())?;
                s.mask = Some(all_tables());
            }
            return Ok(());
        }
        let dirty = s.tables != 0 || !p.ids.is_empty() || !p.rows.is_empty() || p.mask != 0;
        let due = s.force || (s.tables != 0 && (p.commits + 1 >= PERSIST_COMMITS || p.at.elapsed() >= PERSIST_AFTER));
        if due && dirty {
            self.write_all(txn, &s, &p)?;
            s.persists = true;
        } else if s.tables & !p.mask != 0 {
            let mask = p.mask | s.tables;
            txn.open_table(META)?.insert(STALE_MASK, mask)?;
            s.mask = Some(mask);
        }
        Ok(())
    }

    fn committed(&self) {
        let s = std::mem::take(&mut *self.staged.lock());
        let mut p = self.persisted.lock();
        {
            let mut c = self.committed.write();
            for (id, v) in &s.distinct {
                match v {
                    Some(v) => c.distinct.insert(*id, v.clone()),
                    None => c.distinct.remove(id),
                };
            }
            for (k, n) in &s.rows {
                match n {
                    0 => c.rows.remove(k),
                    n => c.rows.insert(k.clone(), *n),
                };
            }
        }
        if s.persists {
            p.ids.clear();
            p.rows.clear();
            (p.commits, p.at, p.mask) = (0, Instant::now(), 0);
            return;
        }
        if s.tables != 0 {
            p.commits += 1;
            p.ids.extend(s.distinct.into_keys());
            p.rows.extend(s.rows.into_keys());
        }
        if let Some(m) = s.mask {
            p.mask = m;
        }
    }

    fn failed(&self) {
        self.persisted.lock().uncertain = true;
    }
}

/// At open: loads the persisted figures and recounts the tables a crash left stale (their
/// rows, primary keys and every index on them, as ANALYZE does), persisting the result.
pub(crate) fn recover(m: &IndexManager, db: &redb::Database) -> Result<()> {
    let txn = db.begin_write()?;
    let mask = m.tally.load(&txn)?;
    if mask == 0 {
        return Ok(());
    }
    m.tally.begin();
    let snap = m.catalog.write(&txn)?;
    for t in Table::ALL.into_iter().filter(|t| mask & bit(*t) != 0) {
        super::stats::analyze_table(&txn, &m.tally, t)?;
        for d in snap.on_table(t) {
            super::stats::analyze_index(&txn, &m.tally, d)?;
        }
    }
    m.tally.persist_with_commit();
    m.tally.before_commit(&txn)?;
    txn.commit()?;
    m.tally.committed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::catalog::read_stats;
    use redb::ReadableDatabase;

    fn db() -> redb::Database {
        let db = redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(INDEX_STATS).unwrap();
        txn.open_table(TABLE_COUNTS).unwrap();
        txn.open_table(META).unwrap();
        txn.commit().unwrap();
        db
    }

    /// One writer transaction under the protocol; `commit = false` aborts it.
    fn txn(db: &redb::Database, t: &Tally, commit: bool, f: impl FnOnce(&Tally)) {
        let txn = db.begin_write().unwrap();
        t.begin();
        f(t);
        if commit {
            t.before_commit(&txn).unwrap();
            txn.commit().unwrap();
            t.committed();
        }
    }

    fn on_disk(db: &redb::Database) -> (u64, Option<u64>, Option<Vec<u64>>) {
        let r = db.begin_read().unwrap();
        let mask = r.open_table(META).unwrap().get(STALE_MASK).unwrap().map(|v| v.value()).unwrap_or(0);
        let rows = r.open_table(TABLE_COUNTS).unwrap().get(count_key(Table::Customers, "t").as_slice()).unwrap().map(|v| v.value());
        let stats = read_stats(&r.open_table(INDEX_STATS).unwrap(), 7).unwrap();
        (mask, rows, stats)
    }

    #[test]
    fn aborted_changes_vanish_and_commits_persist_lazily_behind_a_stale_mark() {
        let db = db();
        let t = Tally::default();
        txn(&db, &t, false, |t| t.add_rows(Table::Customers, "t", 5));
        assert_eq!(t.rows(Table::Customers, "t"), 0, "an aborted transaction's rows never count");
        txn(&db, &t, true, |t| {
            t.add_rows(Table::Customers, "t", 3);
            t.set_distinct(Table::Customers, 7, &[1, 2]);
            assert_eq!(t.txn_distinct(7), Some(vec![1, 2]));
            assert_eq!(t.distinct(7), None, "readers see only committed figures");
        });
        assert_eq!((t.rows(Table::Customers, "t"), t.distinct(7)), (3, Some(vec![1, 2])));
        // Not persisted, but the table is marked stale in the same commit.
        assert_eq!(on_disk(&db), (1 << table_code(Table::Customers), None, None));
        txn(&db, &t, true, |t| t.add_rows(Table::Customers, "t", -1));
        assert_eq!(on_disk(&db).1, None);
        txn(&db, &t, true, |t| t.persist_with_commit());
        assert_eq!(on_disk(&db), (0, Some(2), Some(vec![1, 2])));
        assert_eq!(t.stale_mask(), 0);
        // Down to zero: the persisted row count goes away.
        txn(&db, &t, true, |t| {
            t.add_rows(Table::Customers, "t", -2);
            t.remove_distinct(Table::Customers, 7);
            t.persist_with_commit();
        });
        assert_eq!(on_disk(&db), (0, None, None));
        assert_eq!(t.rows(Table::Customers, "t"), 0);
    }

    #[test]
    fn after_a_failed_commit_every_table_stays_stale_until_reopen() {
        let db = db();
        let t = Tally::default();
        txn(&db, &t, true, |t| t.persist_with_commit());
        t.failed();
        txn(&db, &t, true, |t| {
            t.add_rows(Table::Customers, "t", 1);
            t.persist_with_commit();
        });
        assert_eq!(on_disk(&db), (all_tables(), None, None), "nothing persisted, everything marked");
        assert_eq!(t.stale_mask(), all_tables());
    }

    #[test]
    fn replace_rows_drops_tenants_absent_from_the_recount() {
        let db = db();
        let t = Tally::default();
        txn(&db, &t, true, |t| {
            t.add_rows(Table::Customers, "t", 4);
            t.add_rows(Table::Customers, "u", 2);
            t.add_rows(Table::Scores, "t", 9);
        });
        let fresh: BTreeMap<String, u64> = [("u".to_string(), 1)].into();
        txn(&db, &t, true, |t| t.replace_rows(Table::Customers, &fresh));
        assert_eq!(t.rows(Table::Customers, "t"), 0);
        assert_eq!(t.rows(Table::Customers, "u"), 1);
        assert_eq!(t.rows(Table::Scores, "t"), 9, "other tables keep their counts");
    }
}
