//! The engine: owns the database directory (lock, data file, writer thread) and hands out
//! tenant handles. It is cheap to clone (an `Arc`); every clone sees the same state, and
//! `close` on any clone closes them all. Reads share a redb read transaction (a consistent
//! snapshot) until the next commit; writes go through the group-commit writer.

use crate::cache::{Cache, CacheStats, ResultCache};
use crate::config::Config;
use crate::error::{err, Error, ErrorKind, Result};
use crate::model::check_id;
use crate::storage::breaker::{Breaker, BreakerStats};
use crate::storage::redo::RedoLog;
use crate::storage::store::{Store, StoreOptions};
use crate::storage::{self, lock::DirLock, writer::Writer, ChangeSet};
use crate::feed::{self, CallbackSubscription, Delivery, Event, FeedInner, Filter, Subscription, SubscriptionStream};
use crate::monitor::Monitor;
use crate::runtime::Background;
use crate::tenant::Tenant;
use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, WriteTransaction};
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
    store: Arc<Store>,
    pub(crate) writer: Writer,
    pub(crate) breaker: Arc<Breaker>,
    pub(crate) bg: Background,
    pub(crate) monitor: Arc<Monitor>,
    pub(crate) feed: Arc<FeedInner>,
    /// Monitor entries of the fast paths, fetched at first use.
    fast: [arc_swap::ArcSwapOption<crate::monitor::Entry>; FastPath::COUNT],
    pub(crate) cache: Arc<Cache>,
    lock: Mutex<Option<DirLock>>,
    pub(crate) indexes: Arc<crate::index::IndexManager>,
}

/// The typed fast paths the monitor records under their own fingerprints.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FastPath {
    GetCustomer,
    LatestScore,
    ScoreHistory,
    MessagesForCustomer,
    MessagesForConversation,
    CountCustomers,
    GetContext,
}

impl FastPath {
    const COUNT: usize = 7;
    const NAMES: [&'static str; FastPath::COUNT] = [
        "fast:get_customer",
        "fast:latest_score",
        "fast:score_history",
        "fast:messages_for_customer",
        "fast:messages_for_conversation",
        "fast:count_customers",
        "fast:get_context",
    ];
}

/// Counts reported by [`Engine::stats`]. Row counts are read from storage; they are
/// `None` (JSON null) while storage cannot be read, and the rest is still reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EngineStats {
    /// Customers stored (all tenants).
    pub customers: Option<u64>,
    /// Scores stored (all tenants).
    pub scores: Option<u64>,
    /// Latest-score rows (all tenants).
    pub latest_scores: Option<u64>,
    /// Messages stored (all tenants).
    pub messages: Option<u64>,
    /// Durable commits made since open.
    pub commits: u64,
    /// Write operations committed since open.
    pub writes: u64,
    /// Write operations failed since open.
    pub failed_writes: u64,
    /// Largest commit group since open.
    pub max_commit_group: u64,
    /// The storage circuit breaker.
    pub breaker: BreakerStats,
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
        let opts = StoreOptions {
            faults: config.faults.clone(),
            verify: config.verify_on_open,
            commit_log: config.commit_log,
            page_cache_bytes: config.page_cache_bytes,
        };
        let store = Arc::new(Store::open(dir.join(storage::DATA_FILE), opts)?);
        let indexes = {
            let db = store.db()?;
            let catalog_version = crate::index::catalog::create_tables(&db)?;
            let indexes = crate::index::IndexManager::new(catalog_version, config.clock.clone());
            crate::index::seed(&db, &indexes, config.seed_indexes)?;
            crate::index::tally::recover(&indexes, &db)?;
            indexes
        };
        // Records of the redo log are replayed below, once every hook is in place. With the
        // log off no log file is created, but one left by an earlier open is still read.
        let redo = if config.redo_log || dir.join(storage::redo::REDO_FILE).exists() {
            Some(RedoLog::open(&dir, config.faults.clone(), config.redo_log)?)
        } else {
            None
        };
        let writer = Writer::start(store.clone(), config.writer, redo);
        writer.hooks.txn.write().push(indexes.hook());
        writer.hooks.state.write().push(indexes.tally.clone());
        let breaker = Arc::new(Breaker::new(config.breaker, config.clock.clone()));
        *writer.hooks.guard.write() = Some(breaker.clone());
        let cache = Arc::new(Cache::open(&dir, config.l1_max_items, config.l1_max_bytes, config.cache.clone(), config.clock.clone())?);
        let hook = cache.clone();
        writer.hooks.commit.write().push(Arc::new(move |cs: &ChangeSet| hook.on_commit(cs)));
        cache.start(store.db().ok());
        let bg = Background::start(config.background_workers)?;
        let monitor = Arc::new(Monitor::new(config.monitor, config.clock.clone()));
        let saved_usage = if config.monitor.persist { monitor.load(&dir) } else { Default::default() };
        let feed = Arc::new(FeedInner::default());
        let fast = FastPath::NAMES.map(|_| arc_swap::ArcSwapOption::empty());
        let inner = Arc::new(Inner {
            dir,
            config,
            store,
            writer,
            breaker,
            cache,
            bg,
            monitor,
            feed,
            fast,
            lock: Mutex::new(Some(lock)),
            indexes,
        });
        inner.indexes.publish(&inner.store.db()?.begin_read()?)?;
        let engine = Engine { inner };
        engine.restore_index_usage(saved_usage)?;
        engine.install_feed();
        *engine.inner.writer.hooks.replayer.write() = Some(crate::redo::replayer());
        engine.inner.writer.recover()?;
        // Only now may anything write: the index thread resumes interrupted builds at once,
        // and a write before the replay would reach the writer ahead of the recovery (which
        // it refuses) or log a record numbered below what the data file already covers.
        engine.inner.indexes.start_background(Arc::downgrade(&engine.inner));
        engine.start_background();
        Ok(engine)
    }

    /// Opens with the default (development) configuration.
    pub fn open_default(dir: impl AsRef<Path>) -> Result<Engine> {
        Engine::open(dir, Config::default())
    }

    /// True when both handles are clones of the same engine.
    pub fn ptr_eq(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
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
        self.inner.store.is_closed()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(())
    }

    /// Runs a typed fast path and records it in the monitor (rows from `rows`).
    pub(crate) fn observe<T>(&self, path: FastPath, f: impl FnOnce() -> Result<T>, rows: impl Fn(&T) -> u64) -> Result<T> {
        let m = &self.inner.monitor;
        if !m.enabled() {
            return f();
        }
        let start = crate::monitor::timer::start();
        let r = f();
        let n = r.as_ref().map(&rows).unwrap_or(0);
        let o = crate::monitor::Observation {
            elapsed_ns: start.elapsed_ns(),
            ok: r.is_ok(),
            rows_examined: n,
            rows_returned: n,
            index_scans: 1,
            ..Default::default()
        };
        let slot = &self.inner.fast[path as usize];
        let g = slot.load();
        let fresh = match g.as_deref() {
            Some(e) => m.replacement(e),
            None => Some(m.entry_named(FastPath::NAMES[path as usize])),
        };
        if let Some(live) = &fresh {
            slot.store(Some(live.clone()));
        }
        if let Some(e) = fresh.as_deref().or(g.as_deref()) {
            m.record(e, &e.fingerprint.text, &o, || None);
        }
        r
    }

    /// The statement monitor: fingerprints, slow log, alerts, export.
    pub fn monitor(&self) -> &Monitor {
        &self.inner.monitor
    }

    fn install_feed(&self) {
        let persist = !self.inner.config.feed.retention.is_zero();
        let (f, clock) = (self.inner.feed.clone(), self.inner.config.clock.clone());
        self.inner.writer.hooks.txn.write().push(Arc::new(move |txn, ch| {
            let live = f.has_subscribers();
            if persist || live {
                feed::record(txn, ch, clock.now(), persist, live)?;
            }
            Ok(())
        }));
        let f = self.inner.feed.clone();
        self.inner.writer.hooks.commit.write().push(Arc::new(move |all| f.deliver(&all.events)));
    }

    /// Subscribes to committed changes of every tenant (administrative use).
    pub fn subscribe(&self, filter: Filter) -> Result<Subscription> {
        self.check_open()?;
        Ok(self.inner.feed.subscribe(None, filter, self.inner.config.feed.queue_capacity))
    }

    /// Subscribes with a callback (run on a delivery thread of its own), every tenant.
    pub fn subscribe_callback(&self, filter: Filter, f: impl Fn(Delivery) + Send + 'static) -> Result<CallbackSubscription> {
        self.check_open()?;
        Ok(self.inner.feed.subscribe_callback(None, filter, self.inner.config.feed.queue_capacity, f))
    }

    /// Subscribes as a tokio `Stream`, every tenant.
    pub fn subscribe_stream(&self, filter: Filter) -> Result<SubscriptionStream> {
        self.check_open()?;
        Ok(self.inner.feed.subscribe_stream(None, filter, self.inner.config.feed.queue_capacity))
    }

    /// Logged events with `seq >= from`, oldest first, at most `limit`, every tenant.
    pub fn events_since(&self, from: u64, limit: usize) -> Result<Vec<Event>> {
        feed::read(self.read()?.txn(), from, limit, None)
    }

    fn start_background(&self) {
        let monitor = Arc::downgrade(&self.inner.monitor);
        self.inner.bg.every(std::time::Duration::from_secs(1), move || match monitor.upgrade() {
            Some(m) => {
                m.evaluate_alerts();
                true
            }
            None => false,
        });
        let weak = Arc::downgrade(&self.inner);
        self.inner.bg.every(self.inner.config.sweep_interval, move || match weak.upgrade() {
            Some(inner) => {
                let _ = Engine { inner }.sweep_expired();
                true
            }
            None => false,
        });
    }

    /// Deletes expired data now (the background sweep does this every
    /// `Config::sweep_interval`). Returns how many contexts were removed.
    pub fn sweep_expired(&self) -> Result<usize> {
        let now = self.inner.config.clock.now();
        let mut total = 0;
        while crate::context::any_expired(self.read()?.txn(), now)? {
            total += self.write(move |txn, _| crate::context::sweep(txn, now, 1000))?;
        }
        let retention = self.inner.config.feed.retention.as_millis() as i64;
        if retention > 0 {
            let cutoff = now.saturating_sub(retention);
            while feed::any_older(self.read()?.txn(), cutoff)? {
                self.write(move |txn, _| feed::trim(txn, cutoff, 10_000))?;
            }
        }
        Ok(total)
    }

    /// Writes a consistent copy of the database into the new directory `dest` while reads
    /// and writes continue. The copy opens like any cidb directory.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<storage::backup::BackupReport> {
        let txn = self.read()?;
        storage::backup::backup(&txn, dest.as_ref())
    }

    /// The clock the engine reads (manual in tests).
    pub fn clock(&self) -> &crate::model::Clock {
        &self.inner.config.clock
    }

    /// Commits queued writes, stops background work and releases the directory. Every
    /// clone and tenant handle then fails with `Closed`. Closing twice is a no-op.
    pub fn close(&self) -> Result<()> {
        if self.inner.config.monitor.persist && !self.is_closed() {
            // Statement statistics are disposable: failing to save them never fails close.
            let _ = self.save_monitor();
        }
        self.inner.feed.clear();
        self.inner.bg.shutdown();
        self.inner.indexes.shutdown();
        if self.inner.indexes.tally.stale_mask() != 0 {
            // Saves the in-memory statistics, so the next open need not recount them.
            let t = self.inner.indexes.tally.clone();
            let _ = self.inner.writer.submit(move |_, _| {
                t.persist_with_commit();
                Ok(())
            });
        }
        self.inner.writer.shutdown();
        let cached = self.inner.cache.close();
        self.inner.store.close();
        self.inner.lock.lock().take();
        cached
    }

    /// Writes the monitor's fingerprint table and index usage into the directory.
    fn save_monitor(&self) -> Result<()> {
        let usage = crate::index::usage(self)?.into_iter().map(|u| (u.name, u.uses)).collect();
        self.inner.monitor.save(&self.inner.dir, usage)
    }

    fn restore_index_usage(&self, saved: std::collections::BTreeMap<String, u64>) -> Result<()> {
        if saved.is_empty() {
            return Ok(());
        }
        let txn = self.read()?;
        let snap = self.inner.indexes.catalog.read(&txn)?;
        for d in &snap.indexes {
            if let Some(n) = saved.get(&d.name) {
                self.inner.indexes.usage_counter(d.id).fetch_add(*n, Ordering::Relaxed);
            }
        }
        Ok(())
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
        self.inner.store.db()
    }

    /// A read snapshot holding every write that returned before this call: the one shared
    /// by all readers until the next commit (see [`storage::snapshot`]).
    pub(crate) fn read(&self) -> Result<Arc<storage::snapshot::Snapshot>> {
        self.inner.store.snapshot()
    }

    /// Row-cache hits made by the calling thread so far, over every snapshot and table
    /// (for tests and benchmarks, which take the difference around their reads; see
    /// [`storage::rowcache`]). Counted per thread so the hot path bumps no shared counter.
    #[doc(hidden)]
    pub fn snapshot_row_cache_hits(&self) -> Result<u64> {
        self.check_open()?;
        Ok(storage::rowcache::thread_hits())
    }

    /// Runs blocking read work on the engine's blocking pool and awaits it.
    pub(crate) async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        self.check_open()?;
        self.inner
            .bg
            .handle()
            .spawn_blocking(f)
            .await
            .unwrap_or_else(|e| Err(err(ErrorKind::Internal, format!("background task failed: {e}"))))
    }

    /// [`Engine::write`] for an operation on the base stores only (the tenant's upserts,
    /// deletes, appends and context updates): its index and feed hooks may run together
    /// with its neighbours' (see `Writer::submit_store_with`).
    pub(crate) fn write_store<T: Send + 'static>(&self, op: crate::tenant::Op<T>) -> Result<T> {
        self.check_open()?;
        self.inner.writer.submit_logged(op.run, op.redo)
    }

    /// [`Engine::write_store`] that resolves when the operation is durable, without blocking
    /// a thread while it waits.
    pub(crate) async fn write_store_async<T: Send + 'static>(&self, op: crate::tenant::Op<T>) -> Result<T> {
        self.check_open()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.writer.submit_logged_with(op.run, op.redo, move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or_else(|_| Err(err(ErrorKind::Internal, "writer stopped without replying")))
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
        self.check_open()?;
        let txn = self.read().ok();
        let count = |t: Table| txn.as_ref().and_then(|txn| storage::stores::total_rows(txn, t).ok());
        let w = &self.inner.writer.stats;
        Ok(EngineStats {
            customers: count(Table::Customers),
            scores: count(Table::Scores),
            latest_scores: count(Table::LatestScores),
            messages: count(Table::Messages),
            commits: w.commits.load(Ordering::Relaxed),
            writes: w.writes.load(Ordering::Relaxed),
            failed_writes: w.failed.load(Ordering::Relaxed),
            max_commit_group: w.max_group.load(Ordering::Relaxed),
            breaker: self.inner.breaker.stats(),
        })
    }
}

impl Engine {
    /// Runs a statement that needs no tenant: `CREATE INDEX`, `DROP INDEX`, `ANALYZE`
    /// (empty result). SELECT and EXPLAIN read one tenant's rows: use [`Tenant::query`].
    pub fn execute(&self, sql: &str) -> Result<crate::plan::QueryResult> {
        self.check_open()?;
        let m = &self.inner.monitor;
        if !m.enabled() {
            return crate::plan::execute_engine(self, sql);
        }
        let start = std::time::Instant::now();
        let r = crate::plan::execute_engine(self, sql);
        let o = crate::monitor::Observation { elapsed_ns: start.elapsed().as_nanos() as u64, ok: r.is_ok(), ..Default::default() };
        let x = crate::monitor::SqlExec {
            tenant: "",
            sql,
            text_hash: crate::monitor::fingerprint::fnv1a(sql.as_bytes()),
            params: &[],
            replannable: false,
        };
        m.record_sql(&m.entry_for_sql(sql), &x, &o, || None);
        r
    }

    /// How often recorded statements used each index (saved across restarts with the
    /// monitor's table).
    pub fn index_usage(&self) -> Result<Vec<crate::index::IndexUsage>> {
        crate::index::usage(self)
    }

    /// Checks `sample` rows and `sample` entries of an index from random places (see
    /// [`crate::index::SampleCheck`]); cheap on any table size.
    pub fn check_index_sample(&self, name: &str, sample: usize) -> Result<crate::index::SampleCheck> {
        crate::index::check::check_sample(self, name, sample)
    }

    /// Every secondary index, with its state and entry count.
    pub fn indexes(&self) -> Result<Vec<crate::index::IndexInfo>> {
        crate::index::list(self)
    }

    /// Verifies an index against its table in one snapshot (see [`crate::index::IndexCheck`]).
    pub fn check_index(&self, name: &str) -> Result<crate::index::IndexCheck> {
        crate::index::check::check(self, name)
    }

    /// Rows of `table` held by `tenant`, as the planner sees them (kept in memory, exact as
    /// of the last commit).
    pub fn planner_rows(&self, table: crate::schema::Table, tenant: &str) -> Result<u64> {
        self.check_open()?;
        Ok(self.inner.indexes.tally.rows(table, tenant))
    }

    /// Statistics of an index: entries and distinct key-prefix counts (tenant, tenant +
    /// first column, ...), as the planner sees them.
    pub fn index_stats(&self, name: &str) -> Result<crate::index::stats::KeyStats> {
        let txn = self.read()?;
        let snap = self.inner.indexes.catalog.read(&txn)?;
        let def = snap.by_name(name).ok_or_else(|| err(ErrorKind::NotFound, format!("no such index: {name}")))?;
        crate::index::stats::index_stats(&txn, &self.inner.indexes.tally, def)
    }

    /// Removes sliding-window index entries that have left their window now (the
    /// background thread does this periodically); returns how many were removed.
    pub fn expire_index_windows(&self) -> Result<u64> {
        crate::index::window::expire(self)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Drop may run anywhere, including inside a thread-local destructor, where a panic
        // aborts the process. Every acknowledged write is already durable; what runs here saves
        // warm-start state, so a failure (or a panic) is dropped rather than propagated.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.bg.shutdown();
            self.writer.shutdown();
            let _ = self.cache.close();
        }));
    }
}
