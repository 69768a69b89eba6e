//! The redo log: what makes a small group commit durable without an fsync of the data file.
//! A group whose operations can all describe themselves (the tenant upserts, deletes,
//! appends and context updates, see [`crate::redo`]) is committed to redb without
//! durability (its pages stay in redb's write buffer) after its description was appended to
//! `data.redo` as one checksummed record and the log was `fdatasync`ed: one sequential write
//! of a few kilobytes instead of the data file's scattered B-tree pages. Each such commit
//! also stores the record's sequence number (LSN) under `meta.redo_lsn`.
//!
//! A durable redb commit (any other group, a group too large to log, a checkpoint when the
//! log passes [`CHECKPOINT_BYTES`] or [`CHECKPOINT_AFTER`] has passed since the last durable
//! commit, and close) makes everything before it durable, and the log then starts a new
//! epoch. After a crash redb comes back at its last durable commit; the records of the log
//! whose LSN is above the `meta.redo_lsn` of that commit are replayed, in order, in one
//! durable transaction (through the in-transaction hooks, so indexes and the feed follow),
//! before the engine serves anything. The same happens after the writer reopens a failed
//! data file. The file format is the commit log's ([`super::wal`]): one group per record,
//! whose single entry carries the LSN in its offset field and the description as its bytes.
//! Injected faults ([`super::backend::FaultSwitch`]) fail the log's writes and syncs as
//! they fail the data file's.

use super::backend::FaultSwitch;
use super::wal::{Log, Pending};
use super::{ChangeSet, META};
use crate::error::{err, Error, ErrorKind, Result};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The log's file name inside the database directory.
pub const REDO_FILE: &str = "data.redo";
/// Log size past which the next group commits durably instead (and the log restarts).
pub const CHECKPOINT_BYTES: u64 = 32 << 20;
/// Time since the last durable commit past which the next group commits durably.
pub const CHECKPOINT_AFTER: Duration = Duration::from_secs(2);
/// Operations in one group past which it commits durably instead of being logged (a bulk
/// load is one big write; describing it again would double its cost).
pub const MAX_LOGGED_ITEMS: usize = 4096;
/// The `meta` key holding the LSN of the last record a commit covers.
pub const LSN_KEY: &str = "redo_lsn";

/// Appends an operation's description (JSON) to a group's record.
pub type RedoFn = Box<dyn Fn(&mut Vec<u8>) -> Result<()> + Send>;
/// Applies one record (the descriptions of a group, as written) inside a transaction.
pub type Replayer = Arc<dyn Fn(&WriteTransaction, &mut ChangeSet, &[u8]) -> Result<()> + Send + Sync>;

/// A logged operation: its description, and how many rows it carries (for the size cap).
pub struct Redo {
    /// Writes the description.
    pub describe: RedoFn,
    /// Rows (customers, scores, messages, entries) it writes.
    pub items: usize,
}

/// The open log, owned by the writer thread.
pub struct RedoLog {
    path: PathBuf,
    log: Log,
    faults: Option<FaultSwitch>,
    /// Whether new groups may be logged (`Config::redo_log`); records found at open are
    /// replayed either way.
    enabled: bool,
    /// The next record's LSN.
    next_lsn: u64,
    /// When the first group after the last durable commit was logged.
    since: Option<Instant>,
    pending: Pending,
    /// Records read from the file and not replayed yet: (LSN, description).
    unreplayed: Records,
    /// Records read from the file were replayed: the next durable commit restarts the log
    /// (an opened log appends from its start, so its old groups must not stay valid).
    replayed: bool,
}

/// Records read from the log file: (LSN, description), in order.
type Records = Vec<(u64, Vec<u8>)>;

/// Opens the log file and reads its records.
fn read(path: &Path) -> Result<(Log, Records)> {
    let (log, groups) = Log::open(path).map_err(|e| storage("open", e))?;
    Ok((log, groups.into_iter().filter_map(|g| g.writes.into_iter().next()).collect()))
}

fn storage(what: &str, e: std::io::Error) -> Error {
    Error::with_source(ErrorKind::Storage, format!("redo log: {what} failed"), e)
}

impl RedoLog {
    /// Opens (or creates) the log at `dir/data.redo` and reads the records to replay.
    pub fn open(dir: &Path, faults: Option<FaultSwitch>, enabled: bool) -> Result<RedoLog> {
        let path = dir.join(REDO_FILE);
        let (log, unreplayed) = read(&path)?;
        let next_lsn = unreplayed.last().map_or(1, |(l, _)| l + 1);
        Ok(RedoLog { path, log, faults, enabled, next_lsn, since: None, pending: Pending::default(), unreplayed, replayed: false })
    }

    /// True when the next group should commit durably (a checkpoint) rather than be logged.
    pub fn checkpoint_due(&self) -> bool {
        self.log.pos > CHECKPOINT_BYTES || self.since.is_some_and(|t| t.elapsed() > CHECKPOINT_AFTER)
    }

    /// True when records are in the log that no durable commit covers yet.
    pub fn has_records(&self) -> bool {
        self.log.seq > 0 || self.replayed || !self.unreplayed.is_empty()
    }

    fn fault(&self, pick: impl Fn(&super::backend::FaultState) -> bool, what: &str) -> Result<()> {
        if let Some(f) = &self.faults {
            if pick(&f.0) {
                f.0.injected.fetch_add(1, Ordering::SeqCst);
                return Err(err(ErrorKind::Storage, format!("redo log: injected {what} failure")));
            }
        }
        Ok(())
    }

    /// Appends `record` (a group's descriptions) and makes it durable; returns its LSN. The
    /// transaction that applies it must store that LSN under [`LSN_KEY`].
    pub fn append(&mut self, record: &[u8]) -> Result<u64> {
        self.fault(|s| s.fail_writes.load(Ordering::SeqCst) || s.disk_full.load(Ordering::SeqCst), "write")?;
        self.fault(|s| s.short_writes.load(Ordering::SeqCst), "short write")?;
        self.fault(|s| s.fail_syncs.load(Ordering::SeqCst), "sync")?;
        let lsn = self.next_lsn;
        self.pending.clear();
        self.pending.push(lsn, record);
        let sealed = self.pending.seal(self.log.epoch, self.log.seq, 0);
        let r = self.log.append(sealed);
        self.pending.clear();
        // A failed append may have left part of a group behind: the next one overwrites it
        // (appends go to `pos`, which only moves on success), and a torn group ends the scan.
        r.map_err(|e| storage("append", e))?;
        self.next_lsn += 1;
        self.since.get_or_insert_with(Instant::now);
        Ok(lsn)
    }

    /// A durable commit covering every record so far succeeded: start a new epoch. Records
    /// read from the file and not replayed yet are kept (the writer replays them first).
    pub fn durable(&mut self) -> Result<()> {
        self.since = None;
        if !self.has_records() || self.needs_replay() {
            return Ok(());
        }
        self.fault(|s| s.fail_syncs.load(Ordering::SeqCst), "sync")?;
        self.log.reset().map_err(|e| storage("reset", e))?;
        self.replayed = false;
        Ok(())
    }

    /// Reads the log again (after the data file was reopened: redb lost the commits that
    /// were not durable, so every record of the current epoch is a candidate again).
    pub fn reload(&mut self) -> Result<()> {
        (self.log, self.unreplayed) = read(&self.path)?;
        self.next_lsn = self.next_lsn.max(self.unreplayed.last().map_or(1, |(l, _)| l + 1));
        Ok(())
    }

    /// Applies, in `txn`, every unreplayed record above the LSN the data file holds, and
    /// stores the last one's LSN; the caller commits durably and then calls [`Self::durable`].
    /// Returns how many records were applied.
    pub fn replay(&mut self, txn: &WriteTransaction, ch: &mut ChangeSet, apply: &Replayer) -> Result<usize> {
        let applied = txn.open_table(META)?.get(LSN_KEY)?.map(|v| v.value()).unwrap_or(0);
        let mut n = 0;
        let mut last = applied;
        for (lsn, record) in self.unreplayed.iter().filter(|(l, _)| *l > applied) {
            apply(txn, ch, record).map_err(|e| Error::with_source(e.kind(), format!("redo log: replaying record {lsn} failed"), e))?;
            last = *lsn;
            n += 1;
        }
        if n > 0 {
            store_lsn(txn, last)?;
        }
        self.next_lsn = self.next_lsn.max(last + 1);
        Ok(n)
    }

    /// Forgets the records read at open (after they were replayed and made durable).
    pub fn replayed(&mut self) {
        self.unreplayed.clear();
        self.replayed = true;
    }

    /// True when records read from the file wait for [`Self::replay`].
    pub fn needs_replay(&self) -> bool {
        !self.unreplayed.is_empty()
    }
}

/// Stores `lsn` as the last record `txn` covers.
pub fn store_lsn(txn: &WriteTransaction, lsn: u64) -> Result<()> {
    txn.open_table(META)?.insert(LSN_KEY, lsn)?;
    Ok(())
}

/// Decides whether the group goes to the log: every op has a description, the group is
/// small enough and no checkpoint is due. If so, stores the LSN its record will get in
/// `txn` and returns the record.
pub(super) fn prepare<'a>(
    log: &RedoLog,
    batch: impl ExactSizeIterator<Item = Option<&'a Redo>>,
    txn: &WriteTransaction,
) -> Result<Option<Vec<u8>>> {
    if !log.enabled || log.checkpoint_due() || log.needs_replay() {
        return Ok(None);
    }
    let mut redos = Vec::with_capacity(batch.len());
    let mut items = 0;
    for j in batch {
        match j {
            Some(r) => {
                items += r.items;
                redos.push(r);
            }
            None => return Ok(None),
        }
    }
    if items > MAX_LOGGED_ITEMS {
        return Ok(None);
    }
    let Ok(record) = crate::redo::record(&redos) else { return Ok(None) };
    store_lsn(txn, log.next_lsn)?;
    Ok(Some(record))
}

/// Appends the group's record (synced) and turns the transaction's durability off: the
/// log now makes the commit durable.
pub(super) fn append(log: &mut RedoLog, txn: &mut WriteTransaction, record: &[u8]) -> Result<()> {
    log.append(record)?;
    txn.set_durability(redb::Durability::None).map_err(|e| err(ErrorKind::Storage, format!("cannot commit without sync: {e}")))
}

/// Replays the records the data file does not hold (see [`RedoLog::replay`]) in one
/// durable transaction through every hook, then restarts the log; returns how many.
pub(super) fn replay_pending(store: &super::store::Store, log: &mut RedoLog, hooks: &super::writer::Hooks) -> Result<usize> {
    // New records must number above whatever the data file says it covers, also when the
    // log is empty (after a clean close, or in a restored backup).
    let covered = {
        let r = store.db()?.begin_read()?;
        let meta = r.open_table(META)?;
        let v = meta.get(LSN_KEY)?.map(|v| v.value()).unwrap_or(0);
        v
    };
    log.next_lsn = log.next_lsn.max(covered + 1);
    if !log.needs_replay() {
        return Ok(0);
    }
    let apply = hooks.replayer.read().clone().ok_or_else(|| err(ErrorKind::Internal, "the redo log has records but nothing to replay them"))?;
    let txn = store.db()?.begin_write()?;
    let followers = hooks.state.read().clone();
    for f in &followers {
        f.begin();
    }
    let mut ch = ChangeSet::default();
    let n = log.replay(&txn, &mut ch, &apply)?;
    for h in hooks.txn.read().iter() {
        h(&txn, &mut ch)?;
    }
    followers.iter().try_for_each(|f| f.before_commit(&txn))?;
    if let Err(e) = txn.commit() {
        for f in &followers {
            f.failed();
        }
        return Err(e.into());
    }
    store.advance();
    for f in &followers {
        f.committed();
    }
    if !ch.is_empty() {
        for h in hooks.commit.read().iter() {
            h(&ch);
        }
    }
    log.replayed();
    log.durable()?;
    Ok(n)
}

/// At close: one durable commit for whatever only the log holds, then a fresh log.
pub(super) fn checkpoint_at_close(store: &super::store::Store, log: &mut RedoLog) {
    if !log.has_records() {
        return;
    }
    let done = store.db().and_then(|db| Ok(db.begin_write()?)).and_then(|txn| Ok(txn.commit()?));
    if done.is_ok() {
        let _ = log.durable();
    }
}
