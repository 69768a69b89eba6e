//! The redb storage backend cidb opens its data file with: the real file backend, plus
//! fault injection on command (reads, writes, syncs, short writes, disk full) for tests and
//! the reliability suite, which hand a [`FaultSwitch`] to [`crate::Config::faults`].
//!
//! Byte-range locking is answered here instead of by the file: the directory lock
//! ([`super::lock`]) already makes one engine the only owner, and taking the file lock again
//! would stop [`super::store::Store::reopen`] from opening a fresh `Database` while a failed
//! one is still draining its readers.
//!
//! With the commit log on (`Config::commit_log`, off by default), every write is also copied into the log's pending
//! buffer and `sync_data` makes it durable by appending to `data.redb.wal` instead of syncing
//! the data file (see [`super::wal`]); recovery replays the log when the backend is created,
//! before redb reads anything. Injected sync failures fail the log's sync.

use super::wal::{self, Log, Pending, CHECKPOINT_BYTES, PENDING_CAP};
use parking_lot::Mutex;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Which operations fail. Shared between the test and the backend; flip at any time.
#[derive(Debug, Default)]
pub struct FaultState {
    /// Reads fail.
    pub fail_reads: AtomicBool,
    /// Writes fail.
    pub fail_writes: AtomicBool,
    /// Syncs fail.
    pub fail_syncs: AtomicBool,
    /// Writes store only half their bytes, then fail.
    pub short_writes: AtomicBool,
    /// Growing the file fails with "no space left on device".
    pub disk_full: AtomicBool,
    /// Faults injected so far.
    pub injected: AtomicU64,
}

/// A cloneable handle on a [`FaultState`].
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(pub Arc<FaultState>);

impl FaultSwitch {
    /// A switch with every fault off.
    pub fn new() -> FaultSwitch {
        FaultSwitch::default()
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        for f in [&self.0.fail_reads, &self.0.fail_writes, &self.0.fail_syncs, &self.0.short_writes, &self.0.disk_full] {
            f.store(false, Ordering::SeqCst);
        }
    }

    /// Sets write and sync failures together (the usual "storage is broken" fault).
    pub fn fail_writes(&self, on: bool) {
        self.0.fail_writes.store(on, Ordering::SeqCst);
        self.0.fail_syncs.store(on, Ordering::SeqCst);
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.0.injected.load(Ordering::SeqCst)
    }
}

/// Group header plus checksum: what a group costs in the log beyond its entries.
const GROUP_OVERHEAD: u64 = super::wal::GROUP_HEADER as u64 + 4;

/// The backend: a file, with faults when a switch is set.
#[derive(Debug)]
pub struct CidbBackend {
    inner: FileBackend,
    state: Arc<FaultState>,
    /// The commit log and the writes since the last sync; None when the log is off.
    log: Option<Mutex<LogState>>,
}

/// The commit log with what the next sync must make durable.
#[derive(Debug)]
struct LogState {
    log: Log,
    pending: Pending,
    /// The next sync must go to the data file: the pending copy was dropped (too large).
    direct: bool,
    /// The data file's length as of the last group or checkpoint.
    logged_len: u64,
}

/// Replays the log at `path` into the data file, syncs the data file, and starts a new epoch
/// (nothing to write or sync when the log holds no group).
fn recover(inner: &FileBackend, path: &Path) -> io::Result<Log> {
    let (mut log, groups) = Log::open(path)?;
    if !groups.is_empty() {
        for g in &groups {
            for (offset, data) in &g.writes {
                match wal::set_len_entry(*offset, data) {
                    Some(len) => inner.set_len(len)?,
                    None => inner.write(*offset, data)?,
                }
            }
            inner.set_len(g.main_len)?;
        }
        inner.sync_data()?;
        log.reset()?;
    }
    Ok(log)
}

/// The commit log's path for a data file: `<data>.wal` beside it.
pub fn log_path(data: &Path) -> std::path::PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(".wal");
    name.into()
}

impl CidbBackend {
    /// Wraps the data file `file` at `path`; faults are controlled by `switch` (a fresh,
    /// inert switch when None). With `log`, the commit log beside it is opened (created when
    /// missing) and replayed into the data file first.
    pub fn new(path: &Path, file: std::fs::File, switch: Option<&FaultSwitch>, log: bool) -> Result<CidbBackend, redb::DatabaseError> {
        let state = switch.map(|s| s.0.clone()).unwrap_or_default();
        let inner = FileBackend::new(file)?;
        let log = if log {
            let log = recover(&inner, &log_path(path))?;
            let logged_len = inner.len()?;
            Some(Mutex::new(LogState { log, pending: Pending::default(), direct: false, logged_len }))
        } else {
            // A log left by an earlier open with the log on must not be replayed later over
            // writes made without it: apply it now, then retire it.
            let lp = log_path(path);
            if lp.exists() {
                recover(&inner, &lp)?;
            }
            None
        };
        Ok(CidbBackend { inner, state, log })
    }

    /// Makes every write durable in the data file itself and empties the log.
    fn checkpoint(&self, st: &mut LogState) -> io::Result<()> {
        self.inner.sync_data()?;
        st.log.reset()?;
        st.pending.clear();
        st.direct = false;
        st.logged_len = self.inner.len()?;
        Ok(())
    }

    fn fault(&self, flag: &AtomicBool, what: &str) -> io::Result<()> {
        if flag.load(Ordering::SeqCst) {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other(format!("injected {what} failure")));
        }
        Ok(())
    }
}

impl StorageBackend for CidbBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.fault(&self.state.fail_reads, "read")?;
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        if self.state.disk_full.load(Ordering::SeqCst) && len > self.inner.len()? {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::new(io::ErrorKind::StorageFull, "injected: no space left on device"));
        }
        let Some(log) = &self.log else { return self.inner.set_len(len) };
        // Logged in order with the writes, so replay cuts off what a shrink cut off.
        let mut st = log.lock();
        self.inner.set_len(len)?;
        if !st.direct {
            st.pending.push_set_len(len);
        }
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.fault(&self.state.fail_syncs, "sync")?;
        let Some(log) = &self.log else { return self.inner.sync_data() };
        let mut st = log.lock();
        let st = &mut *st;
        let main_len = self.inner.len()?;
        // Nothing written and no length change (redb syncs a grown file before using it).
        if st.pending.bytes() == 0 && !st.direct && main_len == st.logged_len {
            return Ok(());
        }
        let group = GROUP_OVERHEAD + st.pending.bytes() as u64;
        if st.direct || st.log.pos + group > CHECKPOINT_BYTES {
            return self.checkpoint(st);
        }
        let (epoch, seq) = (st.log.epoch, st.log.seq);
        let sealed = st.pending.seal(epoch, seq, main_len);
        let result = st.log.append(sealed);
        st.pending.clear();
        match result {
            Ok(()) => st.logged_len = main_len,
            // The failed group's writes are in the data file but maybe not in the log: the
            // next sync must go to the data file itself.
            Err(_) => st.direct = true,
        }
        result
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.fault(&self.state.fail_writes, "write")?;
        let mut st = self.log.as_ref().map(|l| l.lock());
        if self.state.short_writes.load(Ordering::SeqCst) {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            self.inner.write(offset, &data[..data.len() / 2])?;
            return Err(io::Error::new(io::ErrorKind::WriteZero, "injected short write"));
        }
        self.inner.write(offset, data)?;
        if let Some(st) = st.as_mut() {
            if !st.direct {
                if st.pending.bytes() + data.len() > PENDING_CAP {
                    st.pending.clear();
                    st.direct = true;
                } else {
                    st.pending.push(offset, data);
                }
            }
        }
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        // A clean close leaves an empty log (nothing to replay at the next open). When that
        // fails, the log still holds every acknowledged write.
        if let Some(log) = &self.log {
            let mut st = log.lock();
            if !self.state.fail_syncs.load(Ordering::SeqCst) {
                let _ = self.checkpoint(&mut st);
            }
        }
        self.inner.close()
    }

    fn try_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Ok(true)
    }

    fn try_lock_shared_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Ok(true)
    }

    fn lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), BackendError> {
        Ok(())
    }

    fn lock_shared_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), BackendError> {
        Ok(())
    }

    fn unlock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), BackendError> {
        Ok(())
    }

    fn query_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Ok(false)
    }
}
