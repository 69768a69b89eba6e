//! The statement monitor in JS: per-fingerprint statistics (the pg_stat_statements table),
//! the slow-query log, alerts, Prometheus text, and alert callbacks. Everything here reads
//! memory only, so each operation has a sync form only. Alert callbacks run on the JS
//! thread (the monitor fires them from whichever thread observed the statement; they are
//! queued to JS through a threadsafe function that never keeps the process alive). Each is
//! registered through one `Engine` handle and removed with it: `removeAlertCallback`, or
//! closing (or collecting) that handle.

use crate::callback::JsCallback;
use crate::convert::{count, function, number, text, Val};
use crate::engine::Engine;
use crate::task::{job, run_sync};
use cidb::monitor::{Alert as CoreAlert, AlertKind, FingerprintStats as CoreStats, Observation};
use napi::bindgen_prelude::{Env, Unknown};
use napi_derive::napi;
use std::sync::Arc;

type Result<T> = cidb::Result<T>;

/// Release hooks of alert callbacks use the monitor id with this bit set, apart from the
/// subscription hooks' ids (see `registry::hook_id`).
const ALERT_HOOK: u64 = 1 << 63;

/// Statistics of one statement fingerprint (constants stripped).
#[napi(object, object_from_js = false)]
pub struct FingerprintStats {
    /// Fingerprint id (hex).
    pub id: String,
    /// The normalised statement (`fast:get_customer` for the typed fast paths).
    pub query: String,
    /// Executions.
    pub calls: f64,
    /// Failed executions.
    pub errors: f64,
    /// Total time, ms.
    pub total_ms: f64,
    /// Mean time, ms.
    pub mean_ms: f64,
    /// Fastest execution, ms.
    pub min_ms: f64,
    /// Slowest execution, ms.
    pub max_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Rows examined in total.
    pub rows_examined: f64,
    /// Rows returned in total.
    pub rows_returned: f64,
    /// Index scans in total.
    pub index_scans: f64,
    /// Table scans in total.
    pub table_scans: f64,
    /// Joins in total.
    pub joins: f64,
    /// Peak memory of one execution, bytes.
    pub peak_mem_bytes: f64,
}

impl From<CoreStats> for FingerprintStats {
    fn from(f: CoreStats) -> Self {
        FingerprintStats {
            id: f.id,
            query: f.query,
            calls: f.calls as f64,
            errors: f.errors as f64,
            total_ms: f.total_ms,
            mean_ms: f.mean_ms,
            min_ms: f.min_ms,
            max_ms: f.max_ms,
            p50_ms: f.p50_ms,
            p95_ms: f.p95_ms,
            p99_ms: f.p99_ms,
            rows_examined: f.rows_examined as f64,
            rows_returned: f.rows_returned as f64,
            index_scans: f.index_scans as f64,
            table_scans: f.table_scans as f64,
            joins: f.joins as f64,
            peak_mem_bytes: f.peak_mem_bytes as f64,
        }
    }
}

/// One entry of the slow-query log.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SlowQuery {
    /// When it ran, ms since the epoch.
    pub at: i64,
    /// The statement as given.
    pub sql: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Wall time, ms.
    pub elapsed_ms: f64,
    /// The plan as EXPLAIN ANALYZE prints it, when the statement had one.
    pub plan: Option<String>,
}

/// One alert.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Alert {
    /// What it is about.
    #[napi(ts_type = "'slow_query' | 'table_scan_ratio' | 'query_memory' | 'error_rate'")]
    pub kind: String,
    /// When it fired, ms since the epoch.
    pub at: i64,
    /// The measured value: ms (slow_query), a ratio (table_scan_ratio, error_rate) or bytes.
    pub value: f64,
    /// The threshold it crossed, in the same unit.
    pub threshold: f64,
    /// The fingerprint concerned, for per-statement alerts.
    pub fingerprint: Option<String>,
    /// A readable sentence.
    pub message: String,
}

impl From<&CoreAlert> for Alert {
    fn from(a: &CoreAlert) -> Self {
        let kind = match a.kind {
            AlertKind::SlowQuery => "slow_query",
            AlertKind::TableScanRatio => "table_scan_ratio",
            AlertKind::QueryMemory => "query_memory",
            AlertKind::ErrorRate => "error_rate",
        };
        Alert {
            kind: kind.into(),
            at: a.at,
            value: a.value,
            threshold: a.threshold,
            fingerprint: a.fingerprint.clone(),
            message: a.message.clone(),
        }
    }
}

/// Everything the monitor knows.
#[napi(object, object_from_js = false)]
pub struct MonitorStats {
    /// Per fingerprint, by total time, descending.
    pub fingerprints: Vec<FingerprintStats>,
    /// Fingerprints evicted from the bounded table.
    pub evicted_fingerprints: f64,
    /// The slow-query log, oldest first.
    pub slow_queries: Vec<SlowQuery>,
    /// The alert log, oldest first.
    pub alerts: Vec<Alert>,
    /// Alerts fired since the engine opened (the log keeps only the newest).
    pub alerts_fired: f64,
    /// Things an operator should know (e.g. an unreadable saved statistics file set aside).
    pub warnings: Vec<String>,
}

impl From<cidb::monitor::MonitorStats> for MonitorStats {
    fn from(s: cidb::monitor::MonitorStats) -> Self {
        MonitorStats {
            fingerprints: s.fingerprints.into_iter().map(FingerprintStats::from).collect(),
            evicted_fingerprints: s.evicted_fingerprints as f64,
            slow_queries: s
                .slow_queries
                .into_iter()
                .map(|q| SlowQuery { at: q.at, sql: q.sql, fingerprint: q.fingerprint, elapsed_ms: q.elapsed_ms, plan: q.plan })
                .collect(),
            alerts: s.alerts.iter().map(Alert::from).collect(),
            alerts_fired: s.alerts_fired as f64,
            warnings: s.warnings,
        }
    }
}

impl Engine {
    fn monitor(&self) -> Result<&cidb::monitor::Monitor> {
        Ok(self.lease.engine()?.monitor())
    }
}

#[napi]
impl Engine {
    /// Everything the statement monitor knows: fingerprints, the slow-query log, alerts.
    #[napi]
    pub fn monitor_stats(&self, env: Env) -> napi::Result<MonitorStats> {
        run_sync(&env, || {
            let s = self.monitor()?.stats();
            Ok(job(move || Ok(s.into())))
        })
    }

    /// The statement statistics in the Prometheus text exposition format 0.0.4, ready to
    /// serve on a `/metrics` endpoint.
    #[napi]
    pub fn prometheus(&self, env: Env) -> napi::Result<String> {
        run_sync(&env, || {
            let text = self.monitor()?.prometheus();
            Ok(job(move || Ok(text)))
        })
    }

    /// The `n` fingerprints with the most total time, most first.
    #[napi(ts_return_type = "FingerprintStats[]")]
    pub fn top(&self, env: Env, #[napi(ts_arg_type = "number")] n: Unknown<'_>) -> napi::Result<Vec<FingerprintStats>> {
        run_sync(&env, || {
            let n = usize::try_from(count(Val::of(&n), "n")?).unwrap_or(usize::MAX);
            let top = self.monitor()?.top(n);
            Ok(job(move || Ok(top.into_iter().map(FingerprintStats::from).collect())))
        })
    }

    /// Calls `callback` on the JS thread with every alert fired from now on (slow queries,
    /// table-scan ratio, query memory, error rate); returns an id for `removeAlertCallback`.
    /// The callback does not keep the process alive. A callback that throws raises an
    /// uncaught exception.
    #[napi]
    pub fn on_alert(&self, env: Env, #[napi(ts_arg_type = "(alert: Alert) => void")] callback: Unknown<'_>) -> napi::Result<f64> {
        run_sync(&env, || {
            let f = function(Val::of(&callback), "callback")?;
            let monitor = self.monitor()?;
            let cb = Arc::new(JsCallback::<Alert>::new(f.env(), f.raw(), false)?);
            let sender = cb.clone();
            let id = monitor.on_alert(Arc::new(move |a: &CoreAlert| {
                let _ = sender.call(a.into());
            }));
            let engine = self.lease.engine()?.clone();
            let registered = self.lease.on_release(id | ALERT_HOOK, move || {
                engine.monitor().remove_alert_callback(id);
                cb.close();
            });
            if let Err(e) = registered {
                monitor.remove_alert_callback(id);
                return Err(e);
            }
            Ok(job(move || Ok(id as f64)))
        })
    }

    /// Removes an alert callback registered through this handle; `true` when it was. No call
    /// of it runs after this returns.
    #[napi]
    pub fn remove_alert_callback(&self, env: Env, #[napi(ts_arg_type = "number")] id: Unknown<'_>) -> napi::Result<bool> {
        run_sync(&env, || {
            let id = count(Val::of(&id), "id")?;
            self.lease.engine()?;
            let removed = id < ALERT_HOOK && self.lease.run_hook(id | ALERT_HOOK);
            Ok(job(move || Ok(removed)))
        })
    }
}

/// Test support (not part of the typed API): records one execution of `sql` taking
/// `elapsedMs` in `engine`'s monitor, through the same path every statement takes, so tests
/// can make the slow-query alert fire without a slow query.
#[napi(js_name = "__recordForTest", skip_typescript)]
pub fn record_for_test(env: Env, engine: &Engine, sql: Unknown<'_>, elapsed_ms: Unknown<'_>) -> napi::Result<()> {
    run_sync(&env, || {
        let sql = text(Val::of(&sql), "sql")?;
        let ms = number(Val::of(&elapsed_ms), "elapsedMs")?;
        let monitor = engine.monitor()?;
        let entry = monitor.entry_for_sql(&sql);
        let o = Observation { elapsed_ns: (ms * 1e6) as u64, ok: true, rows_returned: 1, rows_examined: 1, index_scans: 1, ..Default::default() };
        monitor.record(&entry, &sql, &o, || Some("SEARCH customers USING INDEX (test)".into()));
        Ok(job(|| Ok(())))
    })
}
