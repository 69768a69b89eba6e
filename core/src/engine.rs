//! The engine: owns the database directory (lock, data file, writer thread) and hands out
//! tenant handles. It is cheap to clone (an `Arc`); every clone sees the same state, and
//! `close` on any clone closes them all. Reads open a redb read transaction (a consistent
//! snapshot); writes go through the group-commit writer.

use crate::config::Config;
use crate::error::{err, Error, ErrorKind, Result};
use crate::model::check_id;
use crate::storage::{self, lock::DirLock, writer::Writer, ChangeSet};
use crate::tenant::Tenant;
use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// An open cidb database.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    dir: PathBuf,
    pub(crate) config: Config,
    db: ArcSwapOption<Database>,
    pub(crate) writer: Writer,
    lock: Mutex<Option<DirLock>>,
    pub(crate) indexes: Arc<crate::index::IndexManager>,
}

/// Counts reported by [`Engine::stats`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EngineStats {
    /// Customers stored (all tenants).
    pub customers: u64,
    /// Scores stored (all tenants).
    pub scores: u64,
    /// Latest-score rows (all tenants).
    pub latest_scores: u64,
    /// Messages stored (all tenants).
    pub messages: u64,
    /// Durable commits made since open.
    pub commits: u64,
    /// Write operations committed since open.
    pub writes: u64,
    /// Write operations failed since open.
    pub failed_writes: u64,
    /// Largest commit group since open.
    pub max_commit_group: u64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("dir", &self.inner.dir).field("closed", &self.is_closed()).finish()
    }
}

impl Engine {
    /// Creates or opens the database in `dir` (created if missing). Fails with
    /// `AlreadyOpen` when another engine (in any process) has it open.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Engine> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::with_source(ErrorKind::Storage, format!("cannot create directory {}", dir.display()), e))?;
        let lock = DirLock::acquire(&dir)?;
        let db = Database::create(dir.join(storage::DATA_FILE))?;
        storage::create_tables(&db)?;
        let catalog_version = crate::index::catalog::create_tables(&db)?;
        let indexes = crate::index::IndexManager::new(catalog_version, config.clock.clone());
        crate::index::seed(&db, &indexes, config.seed_indexes)?;
        let db = Arc::new(db);
        let writer = Writer::start(db.clone(), config.writer);
        writer.hooks.txn.write().push(indexes.hook());
        let inner = Arc::new(Inner {
            dir,
            config,
            db: ArcSwapOption::new(Some(db)),
            writer,
            lock: Mutex::new(Some(lock)),
            indexes,
        });
        inner.indexes.start_background(Arc::downgrade(&inner));
        if let Some(db) = inner.db.load_full() {
            inner.indexes.publish(&db.begin_read()?)?;
        }
        Ok(Engine { inner })
    }

    /// Opens with the default (development) configuration.
    pub fn open_default(dir: impl AsRef<Path>) -> Result<Engine> {
        Engine::open(dir, Config::default())
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A handle on one tenant. The name follows the id rules (1..=256 bytes).
    pub fn tenant(&self, name: &str) -> Result<Tenant> {
        check_id("tenant", name)?;
        self.check_open()?;
        Ok(Tenant::new(self.clone(), name))
    }

    /// True once [`Engine::close`] has run.
    pub fn is_closed(&self) -> bool {
        self.inner.db.load().is_none()
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(())
    }

    /// Commits queued writes, stops background work and releases the directory. Every
    /// clone and tenant handle then fails with `Closed`. Closing twice is a no-op.
    pub fn close(&self) -> Result<()> {
        self.inner.indexes.shutdown();
        self.inner.writer.shutdown();
        let db = self.inner.db.swap(None);
        drop(db);
        self.inner.lock.lock().take();
        Ok(())
    }

    pub(crate) fn database(&self) -> Result<Arc<Database>> {
        self.inner.db.load_full().ok_or_else(|| err(ErrorKind::Closed, "the engine is closed"))
    }

    /// A read snapshot.
    pub(crate) fn read(&self) -> Result<ReadTransaction> {
        Ok(self.database()?.begin_read()?)
    }

    /// Runs a write operation in the next group commit and waits until it is durable.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        op: impl FnMut(&WriteTransaction, &mut ChangeSet) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.check_open()?;
        self.inner.writer.submit(op)
    }

    /// Store sizes and writer counters.
    pub fn stats(&self) -> Result<EngineStats> {
        use crate::schema::Table;
        let txn = self.read()?;
        let w = &self.inner.writer.stats;
        Ok(EngineStats {
            customers: storage::stores::total_rows(&txn, Table::Customers)?,
            scores: storage::stores::total_rows(&txn, Table::Scores)?,
            latest_scores: storage::stores::total_rows(&txn, Table::LatestScores)?,
            messages: storage::stores::total_rows(&txn, Table::Messages)?,
            commits: w.commits.load(Ordering::Relaxed),
            writes: w.writes.load(Ordering::Relaxed),
            failed_writes: w.failed.load(Ordering::Relaxed),
            max_commit_group: w.max_group.load(Ordering::Relaxed),
        })
    }
}

impl Engine {
    /// Runs a statement that needs no tenant: `CREATE INDEX`, `DROP INDEX`, `ANALYZE`
    /// (empty result). SELECT and EXPLAIN read one tenant's rows: use [`Tenant::query`].
    pub fn execute(&self, sql: &str) -> Result<crate::plan::QueryResult> {
        self.check_open()?;
        crate::plan::execute_engine(self, sql)
    }

    /// Every secondary index, with its state and entry count.
    pub fn indexes(&self) -> Result<Vec<crate::index::IndexInfo>> {
        crate::index::list(self)
    }

    /// Verifies an index against its table in one snapshot (see [`crate::index::IndexCheck`]).
    pub fn check_index(&self, name: &str) -> Result<crate::index::IndexCheck> {
        crate::index::check::check(self, name)
    }

    /// Statistics of an index: entries and distinct key-prefix counts (tenant, tenant +
    /// first column, ...), as the planner sees them.
    pub fn index_stats(&self, name: &str) -> Result<crate::index::stats::KeyStats> {
        let txn = self.read()?;
        let snap = self.inner.indexes.catalog.read(&txn)?;
        let def = snap.by_name(name).ok_or_else(|| err(ErrorKind::NotFound, format!("no such index: {name}")))?;
        crate::index::stats::index_stats(&txn, def)
    }

    /// Removes sliding-window index entries that have left their window now (the
    /// background thread does this periodically); returns how many were removed.
    pub fn expire_index_windows(&self) -> Result<u64> {
        crate::index::window::expire(self)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.writer.shutdown();
    }
}
