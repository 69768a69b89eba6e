//! Watching every statement: fingerprints and their statistics (pg_stat_statements), the
//! slow-query log with plans (auto_explain), alerts with callbacks, and export as JSON and
//! Prometheus text. The SQL layer and the typed fast paths report each execution here; this
//! module never reads storage itself.

pub mod alerts;
mod export;
pub mod fingerprint;
mod histogram;
pub mod registry;

pub use alerts::{Alert, AlertCallback, AlertKind, AlertOptions};
pub use fingerprint::{fingerprint, Fingerprint};
pub use registry::{Entry, FingerprintStats, Observation};

use crate::model::{Clock, Millis};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Monitor settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorOptions {
    /// Record statements at all (default on).
    pub enabled: bool,
    /// Most fingerprints kept (default 5,000).
    pub max_fingerprints: usize,
    /// Slow queries kept with their plans (default 100).
    pub slow_log_size: usize,
    /// Alert thresholds.
    pub alerts: AlertOptions,
    /// Save the fingerprint table (with samples) and index usage counts in the database
    /// directory at close and load them at open, so `cidb top` / `cidb advise` see the
    /// workload of earlier processes (default on).
    pub persist: bool,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions { enabled: true, max_fingerprints: 5000, slow_log_size: 100, alerts: AlertOptions::default(), persist: true }
    }
}

/// One entry of the slow-query log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowQuery {
    /// When it ran, ms since the epoch.
    pub at: Millis,
    /// The statement as given.
    pub sql: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Wall time, ms.
    pub elapsed_ms: f64,
    /// The plan as EXPLAIN ANALYZE prints it, when the statement had one.
    pub plan: Option<String>,
}

/// Everything the monitor knows, for export.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonitorStats {
    /// Per fingerprint, by total time descending.
    pub fingerprints: Vec<FingerprintStats>,
    /// Fingerprints evicted from the bounded table.
    pub evicted_fingerprints: u64,
    /// The slow-query log, oldest first.
    pub slow_queries: Vec<SlowQuery>,
    /// The alert log, oldest first.
    pub alerts: Vec<Alert>,
}

/// The monitor of one engine.
pub struct Monitor {
    opts: MonitorOptions,
    enabled: AtomicBool,
    registry: registry::Registry,
    alerts: alerts::Alerts,
    slow: Mutex<VecDeque<SlowQuery>>,
    clock: Clock,
}

impl Monitor {
    /// A monitor with `opts`, reading time from `clock`.
    pub fn new(opts: MonitorOptions, clock: Clock) -> Monitor {
        Monitor {
            enabled: AtomicBool::new(opts.enabled),
            registry: registry::Registry::new(opts.max_fingerprints),
            alerts: alerts::Alerts::new(opts.alerts, clock.clone()),
            slow: Mutex::new(VecDeque::new()),
            opts,
            clock,
        }
    }

    /// True when recording.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns recording on or off.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// The entry for a statement's text (fingerprinted here). Prepared statements call this
    /// once and keep the entry.
    pub fn entry_for_sql(&self, sql: &str) -> Arc<Entry> {
        self.registry.entry(&fingerprint(sql))
    }

    /// The entry for a typed fast path, e.g. `fast:get_customer`.
    pub fn entry_named(&self, name: &str) -> Arc<Entry> {
        self.registry.entry(&Fingerprint::named(name))
    }

    /// Records one execution. `plan` is called only for slow statements.
    pub fn record(&self, entry: &Entry, sql: &str, o: &Observation, plan: impl FnOnce() -> Option<String>) {
        if !self.enabled() {
            return;
        }
        entry.add(o);
        self.alerts.observe(entry.fingerprint.id, &entry.fingerprint.text, o);
        if o.elapsed_ns > self.opts.alerts.slow_query.as_nanos() as u64 {
            let q = SlowQuery {
                at: self.clock.now(),
                sql: sql.to_string(),
                fingerprint: entry.fingerprint.text.clone(),
                elapsed_ms: o.elapsed_ns as f64 / 1e6,
                plan: plan(),
            };
            let mut slow = self.slow.lock();
            if slow.len() >= self.opts.slow_log_size.max(1) {
                slow.pop_front();
            }
            slow.push_back(q);
        }
    }

    /// Judges the alert window (the engine calls this every second).
    pub fn evaluate_alerts(&self) -> Vec<Alert> {
        self.alerts.evaluate()
    }

    /// Registers an alert callback; returns its id.
    pub fn on_alert(&self, cb: AlertCallback) -> u64 {
        self.alerts.subscribe(cb)
    }

    /// Removes an alert callback.
    pub fn remove_alert_callback(&self, id: u64) -> bool {
        self.alerts.unsubscribe(id)
    }

    /// The alert log.
    pub fn alert_log(&self) -> Vec<Alert> {
        self.alerts.log()
    }

    /// Fingerprints by total time, at most `n`.
    pub fn top(&self, n: usize) -> Vec<FingerprintStats> {
        let mut v = self.registry.snapshot();
        v.truncate(n);
        v
    }

    /// A full snapshot.
    pub fn stats(&self) -> MonitorStats {
        MonitorStats {
            fingerprints: self.registry.snapshot(),
            evicted_fingerprints: self.registry.evicted(),
            slow_queries: self.slow.lock().iter().cloned().collect(),
            alerts: self.alerts.log(),
        }
    }

    /// Forgets every fingerprint and the slow log (alerts stay in their log).
    pub fn reset(&self) {
        self.registry.reset();
        self.slow.lock().clear();
    }

    /// Prometheus text exposition of the statement statistics.
    pub fn prometheus(&self) -> String {
        export::prometheus(&self.stats())
    }
}

#[cfg(test)]
mod tests;
