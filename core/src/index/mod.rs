//! Secondary indexes: definitions (composite, UNIQUE, partial, sliding window), the catalog
//! persisted in redb, maintenance inside every write transaction, online builds, sliding
//! window expiry, statistics and verification. Each index is its own redb table `ix_<id>`
//! whose keys are `tenant ++ Key::value(col)... ++ pk` (values empty), so the tenant leads
//! every entry and a tenant's entries are one contiguous range. This module knows rows and
//! keys; it does not plan queries (that is `plan`) or parse SQL (that is `sql`).

pub mod build;
pub mod catalog;
pub mod check;
pub mod def;
pub mod keys;
pub mod maintain;
pub mod stats;
pub mod tally;
pub mod window;

use crate::engine::{Engine, Inner};
use crate::error::Result;
use crate::model::Clock;
use crate::schema::Table;
use crate::storage::writer::TxnHook;
use crate::storage::META;
use catalog::Catalog;
use crossbeam_channel::{RecvTimeoutError, Sender};
use parking_lot::Mutex;
use redb::{ReadableTable, ReadableTableMetadata};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

pub use check::{IndexCheck, SampleCheck};
pub use def::{IndexDef, IndexState};

/// The seven indexes of the reference deployment, run verbatim in a fresh database.
pub const SEED_INDEXES: [&str; 7] = [
    "CREATE INDEX CONCURRENTLY idx_customers_department_status_created_at ON customers(department, status, created_at);",
    "CREATE INDEX CONCURRENTLY idx_customer_scores_customer_id_score_type_created_at ON customer_scores(customer_id, score_type, created_at);",
    "CREATE INDEX CONCURRENTLY idx_conversation_messages_customer_id_timestamp_role ON conversation_messages(customer_id, timestamp, role);",
    "CREATE INDEX CONCURRENTLY idx_customers_tenant_id_status_department ON customers(tenant_id, status, department);",
    "CREATE INDEX CONCURRENTLY idx_customers_email_partial ON customers(email) WHERE email IS NOT NULL;",
    "CREATE INDEX CONCURRENTLY idx_customer_scores_high_score_partial ON customer_scores(score, confidence) WHERE score > 0.7;",
    "CREATE INDEX CONCURRENTLY idx_conversation_messages_recent_partial ON conversation_messages(timestamp, customer_id)\n  WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '30 days';",
];

/// How often the background thread looks for expired sliding-window entries.
const WINDOW_TICK: Duration = Duration::from_millis(250);
/// How long past its window an entry may wait for the background expiry: removals are
/// batched so they commit (and retire readers' snapshot caches) at most about this often.
const WINDOW_GRACE_MS: i64 = 10_000;

/// A description of one index, as [`Engine::indexes`] lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexInfo {
    /// Name.
    pub name: String,
    /// Table.
    #[serde(serialize_with = "ser_table")]
    pub table: Table,
    /// Column names in key order.
    pub columns: Vec<String>,
    /// UNIQUE.
    pub unique: bool,
    /// Partial-index predicate as SQL.
    pub predicate: Option<String>,
    /// False while an online build is in progress.
    pub ready: bool,
    /// Entries (all tenants).
    pub entries: u64,
}

fn ser_table<S: serde::Serializer>(t: &Table, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(t.name())
}

/// The engine's index component: catalog cache, clock, background thread.
pub struct IndexManager {
    pub(crate) catalog: Catalog,
    /// Newest catalog version known committed (published after each DDL returns). A read
    /// snapshot taken after loading this is at least that new; plans check it without
    /// reading the catalog version from storage.
    committed: std::sync::atomic::AtomicU64,
    pub(crate) clock: Clock,
    /// Statistics and row counts kept in memory, persisted lazily.
    pub(crate) tally: Arc<tally::Tally>,
    bg: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
    /// Executions that read each index (by id) since open, plus counts saved by earlier
    /// runs. Plans resolve their counters once, so counting is one atomic add.
    usage: dashmap::DashMap<u32, Arc<std::sync::atomic::AtomicU64>>,
}

impl IndexManager {
    /// A manager for a database whose stored catalog version is `stored_version`.
    pub(crate) fn new(stored_version: u64, clock: Clock) -> Arc<IndexManager> {
        Arc::new(IndexManager {
            catalog: Catalog::new(stored_version),
            committed: std::sync::atomic::AtomicU64::new(0),
            clock,
            tally: Default::default(),
            bg: Mutex::new(None),
            usage: Default::default(),
        })
    }

    /// The newest catalog version known committed.
    pub(crate) fn committed_version(&self) -> u64 {
        self.committed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Publishes the committed catalog version (call after DDL returns).
    pub(crate) fn publish(&self, txn: &redb::ReadTransaction) -> Result<()> {
        let v = txn
            .open_table(META)?
            .get(catalog::CATALOG_VERSION)?
            .map(|v| v.value())
            .unwrap_or(0);
        self.committed
            .fetch_max(v, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// The usage counter of index `id` (created at 0).
    pub(crate) fn usage_counter(&self, id: u32) -> Arc<std::sync::atomic::AtomicU64> {
        self.usage.entry(id).or_default().clone()
    }

    /// Executions that used index `id`.
    pub(crate) fn uses(&self, id: u32) -> u64 {
        self.usage.get(&id).map_or(0, |c| c.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The write hook that maintains indexes and counts.
    pub(crate) fn hook(self: &Arc<Self>) -> TxnHook {
        let m = self.clone();
        Arc::new(move |txn, changes| maintain::apply(&m, txn, &changes.changes))
    }

    /// Starts the background thread: first it finishes index builds a crash interrupted,
    /// then it expires sliding-window entries periodically. It holds the engine weakly.
    pub(crate) fn start_background(&self, engine: Weak<Inner>) {
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let handle = std::thread::Builder::new()
            .name("cidb-index".into())
            .spawn(move || {
                let mut resumed = false;
                loop {
                    match rx.recv_timeout(if resumed { WINDOW_TICK } else { Duration::ZERO }) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let Some(inner) = engine.upgrade() else {
                        return;
                    };
                    let engine = Engine { inner };
                    if engine.is_closed() {
                        return;
                    }
                    if !resumed {
                        resumed = true;
                        let _ = build::resume_builds(&engine);
                        continue;
                    }
                    let has_window = engine
                        .read()
                        .and_then(|t| engine.inner.indexes.catalog.read(&t))
                        .map(|s| s.indexes.iter().any(|d| d.window().is_some()))
                        .unwrap_or(false);
                    if has_window {
                        let _ = window::expire_batched(&engine, WINDOW_GRACE_MS);
                    }
                }
            })
            .expect("spawn index thread");
        *self.bg.lock() = Some((tx, handle));
    }

    /// Stops the background thread and waits for it (unless called from it).
    pub(crate) fn shutdown(&self) {
        if let Some((tx, handle)) = self.bg.lock().take() {
            drop(tx);
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for IndexManager {
    fn drop(&mut self) {
        // Never join here: the last engine reference may be dropped on the thread itself.
        self.bg.lock().take();
    }
}

/// Creates the seed indexes in a fresh database, in one transaction at open (later opens
/// never re-create them, so a dropped seed index stays dropped).
pub(crate) fn seed(db: &redb::Database, m: &IndexManager, on: bool) -> Result<()> {
    let txn = db.begin_write()?;
    let seeded = txn.open_table(META)?.get(catalog::SEEDED)?.is_some();
    if seeded {
        return Ok(());
    }
    if on {
        for sql in SEED_INDEXES {
            match crate::sql::parse(sql)?.stmt {
                crate::sql::ast::Statement::CreateIndex(ci) => {
                    build::create_index_in(m, &txn, &ci)?;
                }
                _ => {
                    return Err(crate::error::err(
                        crate::ErrorKind::Internal,
                        "seed statement is not CREATE INDEX",
                    ))
                }
            }
        }
    }
    txn.open_table(META)?.insert(catalog::SEEDED, 1)?;
    txn.commit()?;
    Ok(())
}

/// How often recorded statements used one index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexUsage {
    /// Index name.
    pub name: String,
    /// Table (SQL name).
    pub table: String,
    /// Executions whose plan read the index (since the monitor's table was started; saved
    /// across restarts with it).
    pub uses: u64,
}

/// Usage of every index.
pub(crate) fn usage(engine: &Engine) -> Result<Vec<IndexUsage>> {
    let txn = engine.read()?;
    let snap = engine.inner.indexes.catalog.read(&txn)?;
    Ok(snap
        .indexes
        .iter()
        .map(|d| IndexUsage { name: d.name.clone(), table: d.table.name().to_string(), uses: engine.inner.indexes.uses(d.id) })
        .collect())
}

/// Every index with its state and entry count.
pub(crate) fn list(engine: &Engine) -> Result<Vec<IndexInfo>> {
    let txn = engine.read()?;
    let snap = engine.inner.indexes.catalog.read(&txn)?;
    let mut out = Vec::new();
    for d in &snap.indexes {
        let name = d.table_name();
        out.push(IndexInfo {
            name: d.name.clone(),
            table: d.table,
            columns: d.column_names(),
            unique: d.unique,
            predicate: d.predicate_sql.clone(),
            ready: d.state == IndexState::Ready,
            entries: txn.open_table(maintain::entries_def(&name))?.len()?,
        });
    }
    Ok(out)
}

/// Runs ANALYZE through the writer.
pub(crate) fn analyze(engine: &Engine, target: Option<String>) -> Result<()> {
    let m = engine.inner.indexes.clone();
    engine.write(move |txn, _| {
        let snap = m.catalog.write(txn)?;
        stats::analyze(txn, &m.tally, &snap, target.as_deref())?;
        m.catalog.bump(txn)?;
        Ok(())
    })
}
