//! Watching every statement: fingerprints and their statistics (pg_stat_statements), the
//! slow-query log with plans (auto_explain), alerts with callbacks, export as JSON and
//! Prometheus text, and the index advisor that reads the recorded workload. The SQL layer
//! and the typed fast paths report each execution here. Recording never reads storage;
//! the advisor reads statistics only through the planner's what-if costing
//! (`plan::hypo`) and builds indexes only through `CREATE INDEX`.

pub mod advisor;
pub mod alerts;
mod candidates;
pub mod export;
pub mod fingerprint;
mod histogram;
mod persist;
pub mod registry;
pub(crate) mod timer;

pub use advisor::{Advice, AdviceOptions, HelpedQuery, Recommendation, UnindexedForeignKey, UnusedIndex};
pub use alerts::{Alert, AlertCallback, AlertKind, AlertOptions};
pub use fingerprint::{fingerprint, Fingerprint};
pub use registry::{Entry, FingerprintStats, Observation, Sample};

use crate::model::{Clock, Millis};
use crate::schema::Value;
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
    /// Leave statement texts out of every report (`top`, `stats`, the slow log, the export):
    /// they show the fingerprint, whose constants are `?`, so one tenant's values never
    /// reach a dashboard shared across tenants. The samples stay internal, for the advisor
    /// (default off: an operator usually wants the example).
    pub redact_examples: bool,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions { enabled: true, max_fingerprints: 5000, slow_log_size: 100, alerts: AlertOptions::default(), persist: true, redact_examples: false }
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
    /// Alerts fired since open (the log keeps only the newest).
    pub alerts_fired: u64,
    /// Things an operator should know (e.g. an unreadable saved table set aside).
    pub warnings: Vec<String>,
}

/// One SQL execution as the SQL layer reports it (besides its [`Observation`]).
#[derive(Debug, Clone, Copy)]
pub struct SqlExec<'a> {
    /// The tenant it ran for.
    pub tenant: &'a str,
    /// The exact text.
    pub sql: &'a str,
    /// FNV-1a of `sql` (prepared statements compute it once).
    pub text_hash: u64,
    /// The parameter values.
    pub params: &'a [Value],
    /// A SELECT the advisor can re-plan (kept as the fingerprint's sample when it has none).
    pub replannable: bool,
}

/// The monitor of one engine.
pub struct Monitor {
    opts: MonitorOptions,
    enabled: AtomicBool,
    registry: registry::Registry,
    alerts: alerts::Alerts,
    slow: Mutex<VecDeque<SlowQuery>>,
    warnings: Mutex<Vec<String>>,
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
            warnings: Mutex::new(Vec::new()),
            opts,
            clock,
        }
    }

    /// The settings in force.
    pub fn options(&self) -> &MonitorOptions {
        &self.opts
    }

    /// True when recording.
    #[inline]
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

    /// The live entry of a fingerprint (created when new).
    pub fn entry_for(&self, fp: &Fingerprint) -> Arc<Entry> {
        self.registry.entry(fp)
    }

    /// A live replacement for `e` when the table has evicted it (or been reset); None while
    /// `e` is still live. Holders of an entry call this before recording.
    #[inline]
    pub fn replacement(&self, e: &Entry) -> Option<Arc<Entry>> {
        e.is_evicted().then(|| self.registry.entry(&e.fingerprint))
    }

    /// Every live entry (for the advisor).
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.registry.entries()
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
                sql: if self.opts.redact_examples { entry.fingerprint.text.clone() } else { sql.to_string() },
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

    /// Records one SQL execution: [`Monitor::record`], plus the fingerprint's sample and
    /// same-text count.
    pub fn record_sql(&self, entry: &Entry, x: &SqlExec, o: &Observation, plan: impl FnOnce() -> Option<String>) {
        if !self.enabled() {
            return;
        }
        self.record(entry, x.sql, o, plan);
        if o.ok && x.replannable && entry.wants_sample() {
            entry.set_sample(Sample { tenant: x.tenant.to_string(), sql: x.sql.to_string(), params: x.params.to_vec() }, x.text_hash);
        }
        entry.note_text(x.text_hash);
    }

    /// Alerts of the log that fired within the last alert window (engine clock).
    pub fn active_alerts(&self) -> Vec<Alert> {
        let since = self.clock.now() - self.opts.alerts.window.as_millis() as i64;
        self.alerts.log().into_iter().filter(|a| a.at >= since).collect()
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
        let mut v = self.snapshot();
        v.truncate(n);
        v
    }

    /// The fingerprint table, without examples when they are redacted.
    fn snapshot(&self) -> Vec<FingerprintStats> {
        let mut v = self.registry.snapshot();
        if self.opts.redact_examples {
            v.iter_mut().for_each(|f| f.example = None);
        }
        v
    }

    /// A full snapshot.
    pub fn stats(&self) -> MonitorStats {
        MonitorStats {
            fingerprints: self.snapshot(),
            evicted_fingerprints: self.registry.evicted(),
            slow_queries: self.slow.lock().iter().cloned().collect(),
            alerts: self.alerts.log(),
            alerts_fired: self.alerts.fired(),
            warnings: self.warnings.lock().clone(),
        }
    }

    /// Saves the fingerprint table and `index_usage` (name -> uses) into `dir`.
    pub(crate) fn save(&self, dir: &std::path::Path, index_usage: std::collections::BTreeMap<String, u64>) -> crate::Result<()> {
        let saved = persist::Saved {
            evicted: self.registry.evicted(),
            fingerprints: self.registry.entries().iter().filter(|e| e.calls() > 0).map(|e| e.saved()).collect(),
            index_usage,
            ..Default::default()
        };
        persist::save(dir, saved)
    }

    /// Adds the table saved in `dir` (if any); returns the saved index usage counts.
    pub(crate) fn load(&self, dir: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
        match persist::load(dir) {
            Ok(Some(saved)) => {
                self.registry.add_evicted(saved.evicted);
                for s in &saved.fingerprints {
                    let fp = Fingerprint { id: fingerprint::fnv1a(s.text.as_bytes()), text: s.text.clone() };
                    self.registry.entry(&fp).restore(s);
                }
                saved.index_usage
            }
            Ok(None) => Default::default(),
            Err(w) => {
                self.warnings.lock().push(w);
                Default::default()
            }
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
