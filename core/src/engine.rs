//! The engine: owns the database directory (lock, data file, writer thread) and hands out
//! tenant handles. It is cheap to clone (an `Arc`); every clone sees the same state, and
//! `close` on any clone closes them all. Reads open a redb read transaction (a consistent
//! snapshot); writes go through the group-commit writer.

use crate::cache::{Cache, CacheStats, ResultCache};
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
    pub(crate) cache: Arc<Cache>,
    lock: Mutex<Option<DirLock>>,
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
        let db = Arc::new(db);
        let writer = Writer::start(db.clone(), config.writer);
        let cache = Arc::new(Cache::open(&dir, config.l1_max_items, config.l1_max_bytes, config.cache.clone(), config.clock.clone())?);
        let hook = cache.clone();
        writer.hooks.commit.write().push(Arc::new(move |cs: &ChangeSet| hook.on_commit(cs)));
        cache.start(Some(db.clone()));
        let inner = Arc::new(Inner {
            dir,
            config,
            db: ArcSwapOption::new(Some(db)),
            writer,
            cache,
            lock: Mutex::new(Some(lock)),
        });
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

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(())
    }

    /// Commits queued writes, stops background work and releases the directory. Every
    /// clone and tenant handle then fails with `Closed`. Closing twice is a no-op.
    pub fn close(&self) -> Result<()> {
        self.inner.writer.shutdown();
        let cached = self.inner.cache.close();
        let db = self.inner.db.swap(None);
        drop(db);
        self.inner.lock.lock().take();
        cached
    }

    /// Per-tier cache analytics (hits, misses, ratios, sizes, promotions, demotions,
    /// evictions, expirations, hourly accesses).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// The query-result cache (used by the SQL layer).
    pub fn result_cache(&self) -> ResultCache {
        ResultCache::new(self.inner.cache.clone())
    }

    /// The tiered cache (advanced use, tests and benchmarks).
    pub fn cache(&self) -> &Arc<Cache> {
        &self.inner.cache
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

impl Drop for Inner {
    fn drop(&mut self) {
        self.writer.shutdown();
        let _ = self.cache.close();
    }
}
