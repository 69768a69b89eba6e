//! The open data file: creates or opens `data.redb` through [`CidbBackend`], hands out the
//! current `Database`, and reopens it after a storage failure. redb latches an I/O error
//! (every later operation fails with `PreviousIo`), so recovery means a fresh `Database`:
//! the writer calls [`Store::reopen`] before the first commit after a failure, and the old
//! instance is drained of readers before anything is committed through the new one.
//!
//! The store also shares one read snapshot between readers until the next commit (see
//! [`super::snapshot`]): [`Store::snapshot`] hands it out, [`Store::advance`] retires it.

use super::backend::{CidbBackend, FaultSwitch};
use super::snapshot::Snapshot;
use crate::error::{err, Error, ErrorKind, Result};
use arc_swap::ArcSwapOption;
use redb::Database;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the data file is opened (from [`crate::Config`]).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Fault injection for tests.
    pub faults: Option<FaultSwitch>,
    /// Verify every page checksum at open (`Config::verify_on_open`).
    pub verify: bool,
    /// Durable commits go through the commit log ([`super::wal`]).
    pub commit_log: bool,
    /// redb's page cache (read cache and write buffer) in bytes (`Config::page_cache_bytes`).
    pub page_cache_bytes: usize,
}

impl Default for StoreOptions {
    /// No faults, no verification, no commit log, redb's own default cache (1 GiB).
    fn default() -> Self {
        StoreOptions { faults: None, verify: false, commit_log: false, page_cache_bytes: 1 << 30 }
    }
}

/// The data file and its current `Database`.
pub struct Store {
    path: PathBuf,
    opts: StoreOptions,
    db: ArcSwapOption<Database>,
    closed: AtomicBool,
    needs_reopen: AtomicBool,
    /// Commits made visible so far (bumped by [`Store::advance`]).
    epoch: AtomicU64,
    /// Successful reopens so far (the writer replays the redo log after each).
    reopens: AtomicU64,
    /// The shared read snapshot, labelled with the epoch loaded before it began.
    pub(super) snap: ArcSwapOption<Snapshot>,
}

fn open_db(path: &Path, o: &StoreOptions) -> Result<Database> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::with_source(ErrorKind::Storage, format!("cannot open {}", path.display()), e))?;
    let backend = CidbBackend::new(path, file, o.faults.as_ref(), o.commit_log)?;
    let fresh = std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
    // Verifying every page checksum at open turns flipped bytes into a Corrupted error
    // instead of a silently missing row (a plain redb open trusts the file).
    Ok(redb::Builder::new()
        .set_check_integrity_on_open(o.verify && !fresh)
        .set_cache_size(o.page_cache_bytes)
        .create_with_backend(backend)?)
}

impl Store {
    /// Opens (or creates) the data file at `path` and makes sure every table exists.
    pub fn open(path: PathBuf, opts: StoreOptions) -> Result<Store> {
        let db = open_db(&path, &opts)?;
        super::create_tables(&db)?;
        Ok(Store {
            path,
            opts,
            db: ArcSwapOption::new(Some(Arc::new(db))),
            closed: AtomicBool::new(false),
            needs_reopen: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            snap: ArcSwapOption::empty(),
        })
    }

    /// The current database; `Closed` after close, `Unavailable` while a reopen failed.
    pub fn db(&self) -> Result<Arc<Database>> {
        match self.db.load_full() {
            Some(db) => Ok(db),
            None if self.closed.load(Ordering::Acquire) => Err(err(ErrorKind::Closed, "the engine is closed")),
            None => Err(err(ErrorKind::Unavailable, "storage is unavailable: reopening after a failure did not succeed yet")),
        }
    }

    /// A read snapshot holding every commit advanced before this call: the shared one
    /// when its label is the current epoch, else a new one (then shared).
    pub fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let label = self.epoch.load(Ordering::Acquire);
        let cur = self.snap.load();
        if let Some(s) = cur.as_ref() {
            if s.label() == label {
                return Ok(s.clone());
            }
        }
        let db = self.db()?;
        let fresh = Arc::new(Snapshot::begin(db.clone(), label)?);
        if cur.as_ref().is_none_or(|s| s.label() < label) {
            // Fails harmlessly when another reader shared one meanwhile.
            let _ = self.snap.compare_and_swap(&cur, Some(fresh.clone()));
        }
        drop(cur);
        // A reopen or close may have taken `db` out of service while this snapshot began:
        // never leave a snapshot of a retired database shared (it would block the drain).
        if !self.db.load().as_ref().is_some_and(|d| Arc::ptr_eq(d, &db)) {
            let _ = self.snap.compare_and_swap(&Some(fresh.clone()), None);
        }
        Ok(fresh)
    }

    /// A commit is durable: every read that starts from now on must see it. The writer
    /// calls this after each successful commit and before acknowledging any of its writes.
    /// The shared snapshot is retired here, so a run of writes pins no old pages.
    pub fn advance(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.snap.store(None);
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Notes a storage failure: the next write reopens the database first.
    pub fn mark_failed(&self) {
        self.needs_reopen.store(true, Ordering::Release);
    }

    /// Reopens the database if a failure was noted. The failed instance is taken out of
    /// service first and given up to `drain` for its readers to finish, then closed, and only
    /// then is the file opened again (two instances must never write the same file). If the
    /// open fails, reads answer `Unavailable` until a later reopen succeeds.
    pub fn reopen_if_needed(&self, drain: Duration) -> Result<()> {
        if !self.needs_reopen.load(Ordering::Acquire) || self.is_closed() {
            return Ok(());
        }
        if let Some(old) = self.db.swap(None) {
            let start = Instant::now();
            // The shared snapshot holds the old database; readers may still be sharing
            // one they began a moment ago, so it is retired on every turn of the drain.
            loop {
                self.snap.store(None);
                if Arc::strong_count(&old) == 1 {
                    break;
                }
                if start.elapsed() > drain {
                    self.db.store(Some(old));
                    return Err(err(ErrorKind::Unavailable, "readers of the failed database did not finish in time"));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(old);
        }
        let fresh = open_db(&self.path, &self.opts)?;
        self.db.store(Some(Arc::new(fresh)));
        self.needs_reopen.store(false, Ordering::Release);
        self.reopens.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Successful reopens so far.
    pub fn reopens(&self) -> u64 {
        self.reopens.load(Ordering::Acquire)
    }

    /// Releases the database. Later calls fail with `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.db.swap(None);
        self.snap.store(None);
    }
}
