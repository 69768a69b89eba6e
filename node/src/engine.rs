//! `open()` and the `Engine` class: one JS handle on a (possibly shared) engine. A handle
//! holds a registry lease; `close()` gives it back, after which this handle and every
//! tenant made from it fail with `CIDB_CLOSED` while other handles on the same directory
//! keep working. The engine itself closes with its last handle.

use crate::config::OpenOptions;
use crate::convert::{text, Val};
use crate::registry::Lease;
use crate::task::{job, run_async, run_sync, Job, Op};
use cidb::storage::breaker::BreakerState;
use crate::tenant::Tenant;
use napi::bindgen_prelude::{AsyncTask, Env, Unknown};
use napi_derive::napi;
use std::sync::Arc;

/// Store sizes and write counters of an engine (all tenants).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct EngineStats {
    /// Customers stored (null while storage cannot be read; likewise the other counts).
    pub customers: Option<f64>,
    /// Scores stored (history).
    pub scores: Option<f64>,
    /// Latest-score rows.
    pub latest_scores: Option<f64>,
    /// Messages stored.
    pub messages: Option<f64>,
    /// Durable commits since the engine opened.
    pub commits: f64,
    /// Write operations committed since the engine opened.
    pub writes: f64,
    /// Write operations that failed since the engine opened.
    pub failed_writes: f64,
    /// Largest group of writes committed together.
    pub max_commit_group: f64,
    /// The storage circuit breaker.
    pub breaker: BreakerStats,
}

/// The storage circuit breaker: after repeated storage failures it opens and writes fail
/// fast with `CIDB_UNAVAILABLE` while reads keep working; after a cool-down one probe write
/// is let through (`half_open`).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct BreakerStats {
    /// `closed` (normal), `open` (writes fail fast) or `half_open` (one probe in flight).
    #[napi(ts_type = "'closed' | 'open' | 'half_open'")]
    pub state: String,
    /// Storage failures seen since the engine opened.
    pub failures: f64,
    /// Times the breaker opened.
    pub opened: f64,
    /// Writes refused while open.
    pub rejected: f64,
    /// The last storage failure, if any.
    pub last_error: Option<String>,
}

impl From<cidb::EngineStats> for EngineStats {
    fn from(s: cidb::EngineStats) -> Self {
        EngineStats {
            customers: s.customers.map(|v| v as f64),
            scores: s.scores.map(|v| v as f64),
            latest_scores: s.latest_scores.map(|v| v as f64),
            messages: s.messages.map(|v| v as f64),
            commits: s.commits as f64,
            writes: s.writes as f64,
            failed_writes: s.failed_writes as f64,
            max_commit_group: s.max_commit_group as f64,
            breaker: s.breaker.into(),
        }
    }
}

impl From<cidb::storage::breaker::BreakerStats> for BreakerStats {
    fn from(b: cidb::storage::breaker::BreakerStats) -> Self {
        BreakerStats {
            state: match b.state {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            }
            .into(),
            failures: b.failures as f64,
            opened: b.opened as f64,
            rejected: b.rejected as f64,
            last_error: b.last_error,
        }
    }
}

fn open_job(path: &Unknown<'_>, options: Option<&Unknown<'_>>) -> cidb::Result<Job<Engine>> {
    let path = text(Val::of(path), "path")?;
    let options = OpenOptions::read(options)?;
    Ok(job(move || {
        let (config, settings) = options.load()?;
        Ok(Engine { lease: Lease::acquire(&path, config, &settings)? })
    }))
}

/// Opens the database in directory `path` (created if missing) with the configuration
/// `config(options)` shows: the profile, the TOML file `options.config`, then `CIDB_*`
/// environment variables. Within one process every `open` of the same directory — from the
/// main thread or any worker thread — returns a handle on one shared engine, and must ask
/// for the same effective settings (else `CIDB_ALREADY_OPEN` naming the first that differs);
/// the engine closes when its last handle is closed or garbage-collected. Another process
/// that has the directory open makes this fail with `CIDB_ALREADY_OPEN`; a bad setting is
/// `CIDB_CONFIG`.
#[napi]
pub fn open(
    env: Env,
    #[napi(ts_arg_type = "string")] path: Unknown<'_>,
    #[napi(ts_arg_type = "OpenOptions | null")] options: Option<Unknown<'_>>,
) -> napi::Result<Engine> {
    run_sync(&env, || open_job(&path, options.as_ref()))
}

/// Promise form of `open`.
#[napi(ts_return_type = "Promise<Engine>")]
pub fn open_async(
    #[napi(ts_arg_type = "string")] path: Unknown<'_>,
    #[napi(ts_arg_type = "OpenOptions | null")] options: Option<Unknown<'_>>,
) -> AsyncTask<Op<Engine>> {
    run_async(|| open_job(&path, options.as_ref()))
}

/// A handle on an open database. Made by `open`; not constructible with `new`.
#[napi]
pub struct Engine {
    pub(crate) lease: Arc<Lease>,
}

#[napi]
impl Engine {
    /// The database directory (canonical absolute path).
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.lease.path().to_string_lossy().into_owned()
    }

    /// True once `close()` was called on this handle.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.lease.is_released()
    }

    /// A handle on one tenant's data. The name follows the id rules (1 to 256 bytes). Every
    /// row a tenant handle reads or writes belongs to that tenant only.
    #[napi]
    pub fn tenant(&self, env: Env, #[napi(ts_arg_type = "string")] name: Unknown<'_>) -> napi::Result<Tenant> {
        run_sync(&env, || {
            let name = text(Val::of(&name), "name")?;
            let t = self.lease.engine()?.tenant(&name)?;
            let lease = self.lease.clone();
            Ok(job(move || Ok(Tenant::new(lease, t))))
        })
    }

    /// Store sizes and write counters.
    #[napi]
    pub fn stats(&self, env: Env) -> napi::Result<EngineStats> {
        run_sync(&env, || self.stats_job())
    }

    /// Promise form of `stats`.
    #[napi(ts_return_type = "Promise<EngineStats>")]
    pub fn stats_async(&self) -> AsyncTask<Op<EngineStats>> {
        run_async(|| self.stats_job())
    }

    /// Closes this handle: its tenants then fail with `CIDB_CLOSED`. When it is the last
    /// handle on the directory in this process, queued writes are committed and the
    /// directory is released. Closing twice is a no-op.
    #[napi]
    pub fn close(&self, env: Env) -> napi::Result<()> {
        run_sync(&env, || self.close_job())
    }

    /// Promise form of `close`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close_async(&self) -> AsyncTask<Op<()>> {
        run_async(|| self.close_job())
    }
}

impl Engine {
    fn stats_job(&self) -> cidb::Result<Job<EngineStats>> {
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            Ok(engine.stats()?.into())
        }))
    }

    fn close_job(&self) -> cidb::Result<Job<()>> {
        let lease = self.lease.clone();
        Ok(job(move || lease.release()))
    }
}
