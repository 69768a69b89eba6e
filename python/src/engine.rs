//! `cidb.Engine`: an open database as a Python object. It wraps the core [`cidb::Engine`]
//! (an `Arc`, shared by every tenant handle taken from it) and adds the context-manager
//! protocol; `close()` and leaving the `with` block close the database for every handle.
//! Engine-wide operations live here as thin methods over the area modules (`cache`,
//! `feed`, `monitor`, `ops`); the SQL layer will attach here too (`query.rs`).

use crate::callback::Unlocked;
use crate::errors::{py_err, run};
use crate::feed::{filter_from_py, since_args, PySubscription, Source};
use crate::query::PyQueryResult;
use crate::tenant::PyTenant;
use cidb::ErrorKind;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::path::PathBuf;

/// An open cidb database. Create one with `cidb.open()`; use it as a context manager so it
/// closes when the block ends.
#[pyclass(name = "Engine", module = "cidb", frozen)]
pub struct PyEngine {
    inner: Unlocked<cidb::Engine>,
}

impl PyEngine {
    /// The core engine.
    pub fn core(&self) -> &cidb::Engine {
        &self.inner
    }

    /// The core engine, or `ClosedError`.
    fn open_core(&self) -> PyResult<&cidb::Engine> {
        if self.inner.is_closed() {
            return Err(py_err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(&self.inner)
    }
}

/// Opens (creating if missing) the database directory `path`. The configuration comes
/// from the named `profile` ("development", the default, or "production"), then the TOML
/// file `config` if given, then `CIDB_*` environment variables (`cidb.config()` shows the
/// result and each value's source). Raises `AlreadyOpenError` when another engine, in this
/// or another process, has the directory open, and `ConfigError` for an unknown profile, a
/// bad file, an unknown key or a malformed value.
#[pyfunction]
#[pyo3(signature = (path, profile = None, config = None))]
pub fn open(
    py: Python<'_>,
    path: PathBuf,
    profile: Option<String>,
    config: Option<PathBuf>,
) -> PyResult<PyEngine> {
    let (cfg, _) = crate::config::load(py, profile, config)?;
    let inner = run(py, move || cidb::Engine::open(path, cfg))?;
    Ok(PyEngine {
        inner: Unlocked::new(inner),
    })
}

#[pymethods]
impl PyEngine {
    /// A handle on the tenant `name` (1 to 256 bytes). Every read and write of a tenant's
    /// customers, scores and messages goes through its handle.
    fn tenant(&self, name: String) -> PyResult<PyTenant> {
        let t = self.inner.tenant(&name).map_err(crate::errors::to_py)?;
        Ok(PyTenant::new(t))
    }

    /// Row counts of every store (all tenants) and writer counters, as a dict of ints:
    /// customers, scores, latest_scores, messages, commits, writes, failed_writes,
    /// max_commit_group.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = run(py, || self.inner.stats())?;
        pythonize::pythonize(py, &stats)
            .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert stats: {e}")))
    }

    /// Runs one DDL statement (`CREATE INDEX [CONCURRENTLY] ...`, `DROP INDEX ...`,
    /// `ANALYZE`) and returns its `Result`.
    fn execute(&self, py: Python<'_>, sql: &str) -> PyResult<PyQueryResult> {
        run(py, || self.inner.execute(sql)).map(PyQueryResult::from_rows)
    }

    /// Every index as a dict: name, table, columns, unique, predicate, ready, entries, ...
    fn indexes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let list = run(py, || self.inner.indexes())?;
        pythonize::pythonize(py, &list)
            .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert indexes: {e}")))
    }

    /// Checks index `name` against its table: dict of entries, expected, missing, extra,
    /// stale (missing and extra are 0 for a sound index).
    fn check_index<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let c = run(py, || self.inner.check_index(name))?;
        pythonize::pythonize(py, &c)
            .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert check: {e}")))
    }

    /// Per-tier cache figures as a dict: `l1`, `l2`, `l3` (hits, misses, hit_ratio,
    /// entries, bytes, promotions, demotions, evictions, expirations), `hourly` (accesses
    /// per hour for the last 24 hours, oldest first), `result_hits`, `result_misses`,
    /// `stale_fills_refused`, `warmed`.
    fn cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.open_core()?;
        let stats = py.detach(|| e.cache_stats());
        crate::cache::cache_stats_to_py(py, &stats)
    }

    /// Deletes expired conversation contexts (and change-feed events past their retention)
    /// now, instead of waiting for the background sweep; returns how many contexts went.
    fn sweep_expired(&self, py: Python<'_>) -> PyResult<usize> {
        run(py, || self.inner.sweep_expired())
    }

    /// Subscribes to committed changes of every tenant; see `Tenant.subscribe`.
    #[pyo3(signature = (callback = None, *, tables = None, ops = None, score_type = None, crossing = None))]
    fn subscribe(
        &self,
        py: Python<'_>,
        callback: Option<&Bound<'_, PyAny>>,
        tables: Option<&Bound<'_, PyAny>>,
        ops: Option<&Bound<'_, PyAny>>,
        score_type: Option<String>,
        crossing: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySubscription> {
        let filter = filter_from_py(tables, ops, score_type, crossing)?;
        PySubscription::start(py, Source::Engine(self.inner.clone()), filter, callback)
    }

    /// Logged events of every tenant with sequence number >= `seq`, oldest first, at most
    /// `limit`; each as the `event` dict of a delivery. Events are kept for the retention
    /// window (1 hour by default).
    #[pyo3(signature = (seq = 0, limit = 1000))]
    fn events_since<'py>(
        &self,
        py: Python<'py>,
        seq: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let (seq, limit) = since_args(seq, limit)?;
        let events = run(py, || self.inner.events_since(seq, limit))?;
        crate::feed::events_to_py(py, &events)
    }

    /// Everything the statement monitor knows, as a dict: `fingerprints` (per statement
    /// shape, by total time), `evicted_fingerprints`, `slow_queries` and `alerts`.
    fn monitor_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.open_core()?;
        let stats = py.detach(|| e.monitor().stats());
        crate::monitor::stats_to_py(py, &stats)
    }

    /// The statement statistics in the Prometheus text format (0.0.4).
    fn prometheus(&self, py: Python<'_>) -> PyResult<String> {
        let e = self.open_core()?;
        Ok(py.detach(|| e.monitor().prometheus()))
    }

    /// The `n` statement fingerprints with the most total time, as dicts (calls, errors,
    /// total/mean/min/max/p50/p95/p99 ms, rows examined and returned, scans, joins, ...).
    #[pyo3(signature = (n = 10))]
    fn top<'py>(&self, py: Python<'py>, n: i64) -> PyResult<Bound<'py, PyAny>> {
        let e = self.open_core()?;
        let n = usize::try_from(n).map_err(|_| {
            py_err(
                ErrorKind::InvalidInput,
                format!("n is {n}; it must be 0 or more"),
            )
        })?;
        let top = py.detach(|| e.monitor().top(n));
        crate::monitor::fingerprints_to_py(py, &top)
    }

    /// Calls `callback(alert)` for every alert from now on (slow query, table-scan ratio,
    /// query memory, error rate); `alert` is a dict with kind, at, value, threshold,
    /// fingerprint and message. The call happens on an engine thread; an exception in the
    /// callback is reported through `sys.unraisablehook`. Returns an id for
    /// `remove_alert_callback`.
    fn on_alert(&self, callback: &Bound<'_, PyAny>) -> PyResult<u64> {
        crate::monitor::on_alert(self.open_core()?, callback)
    }

    /// Stops calling the alert callback `id`; True when it was registered.
    fn remove_alert_callback(&self, id: u64) -> PyResult<bool> {
        Ok(self.open_core()?.monitor().remove_alert_callback(id))
    }

    /// The index advisor's report, from the statements the monitor recorded, as a dict:
    /// `recommendations` (best first; each with name, table, columns, predicate,
    /// create_sql, cost_before, cost_after, gain and the `queries` it helps, with their
    /// plans before and after), `unindexed_foreign_keys`, `unused_indexes` and
    /// `queries_considered`. A recommendation must cut the estimated cost of the queries it
    /// helps by at least `min_gain` (a fraction from 0 to 1); statements with fewer than
    /// `min_calls` calls are ignored; at most `max_recommendations` are returned. Nothing
    /// is built: see `advise_apply` / `optimize`. Raises `InvalidInputError` for a bad
    /// argument.
    #[pyo3(signature = (*, min_gain = 0.5, min_calls = 1, max_recommendations = 10))]
    fn advise<'py>(
        &self,
        py: Python<'py>,
        min_gain: f64,
        min_calls: i64,
        max_recommendations: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = crate::ops::advice_options(min_gain, min_calls, max_recommendations)?;
        let e = self.open_core()?;
        let advice = run(py, || e.advise_with(&opts))?;
        crate::ops::advice_to_py(py, &advice)
    }

    /// Advises, then builds online (`CREATE INDEX CONCURRENTLY`) every recommendation with
    /// a gain of at least `min_gain` (0 to 1); returns the recommendations built, as
    /// `advise()` describes them.
    #[pyo3(signature = (min_gain = 0.5))]
    fn advise_apply<'py>(&self, py: Python<'py>, min_gain: f64) -> PyResult<Bound<'py, PyAny>> {
        let min_gain = crate::ops::min_gain(min_gain)?;
        let e = self.open_core()?;
        let built = run(py, || e.advise_apply(min_gain))?;
        crate::ops::recommendations_to_py(py, &built)
    }

    /// Whether the engine can do its job, as a dict: `healthy`, `status` ("ok",
    /// "degraded" when alerts fired within the alert window, "unhealthy"),
    /// `storage_writable` (a real probe write), `storage_error`, `breaker`, `cache_open`,
    /// `indexes` (a sampled check of each ready index), `active_alerts` and `problems`
    /// (readable reasons for not being "ok").
    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.open_core()?;
        let h = run(py, || e.health())?;
        crate::ops::health_to_py(py, &h)
    }

    /// Runs ANALYZE, builds every advisor recommendation with a gain of at least
    /// `min_gain` (0 to 1) and warms the cache; returns what it did as a dict: analyze_ms,
    /// applied, skipped (below the threshold), failed (recommendation and error),
    /// unindexed_foreign_keys, unused_indexes (reported, never dropped), warmed,
    /// elapsed_ms.
    #[pyo3(signature = (min_gain = 0.5))]
    fn optimize<'py>(&self, py: Python<'py>, min_gain: f64) -> PyResult<Bound<'py, PyAny>> {
        let min_gain = crate::ops::min_gain(min_gain)?;
        let e = self.open_core()?;
        let r = run(py, || e.optimize(min_gain))?;
        crate::ops::optimize_to_py(py, &r)
    }

    /// Everything the engine can tell about itself, as a dict: `engine` (as `stats()`),
    /// `cache` (as `cache_stats()`), `monitor` (as `monitor_stats()`) and `index_usage`
    /// (name, table, uses: executions whose plan read each index).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.open_core()?;
        let m = run(py, || e.metrics())?;
        crate::ops::metrics_to_py(py, &m)
    }

    /// `metrics()` in the Prometheus text format (0.0.4): the statement families of
    /// `prometheus()` plus rows, writer, breaker, cache and index-usage families.
    fn metrics_prometheus(&self, py: Python<'_>) -> PyResult<String> {
        let e = self.open_core()?;
        run(py, || e.metrics_prometheus())
    }

    /// Writes a consistent copy of the database into the new directory `dest` while reads
    /// and writes go on, and returns what it copied: tables, entries, bytes. Raises
    /// `AlreadyExistsError` when `dest` already holds a database.
    fn backup<'py>(&self, py: Python<'py>, dest: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let report = run(py, || self.inner.backup(&dest))?;
        pythonize::pythonize(py, &report).map_err(|e| {
            py_err(
                ErrorKind::Internal,
                format!("cannot convert the report: {e}"),
            )
        })
    }

    /// Commits queued writes and closes the database; every handle on it then raises
    /// `ClosedError`. Closing twice does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        run(py, || self.inner.close())
    }

    /// True once the engine is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The database directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.dir().to_path_buf()
    }

    /// The configuration profile the engine was opened with.
    #[getter]
    fn profile(&self) -> &'static str {
        self.inner.config().profile.as_str()
    }

    /// Returns the engine itself; raises `ClosedError` if it is already closed.
    fn __enter__(slf: Py<Self>) -> PyResult<Py<Self>> {
        if slf.get().inner.is_closed() {
            return Err(py_err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(slf)
    }

    /// Closes the engine. Exceptions from the block propagate.
    #[pyo3(signature = (exc_type, exc_value, traceback, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc_value, traceback);
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<cidb.Engine path='{}' profile='{}'{}>",
            self.inner.dir().display(),
            self.profile(),
            if self.inner.is_closed() {
                " closed"
            } else {
                ""
            }
        )
    }
}
