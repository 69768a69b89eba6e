//! Alerts: slow queries and query memory fire as they happen (once per fingerprint per
//! window); the table-scan ratio and the error rate are judged per window of the engine's
//! clock, once the window has seen enough statements to mean something. Every alert goes to
//! the registered callbacks and into a bounded log with its time.

use crate::model::{Clock, Millis};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thread_local::ThreadLocal;

/// One thread's running totals of the statements it observed (only that thread writes
/// them; see `cache::stats::bump`). The window's counts are the totals' growth since the
/// window began.
#[derive(Default)]
#[repr(align(64))]
struct Tally {
    calls: AtomicU64,
    errors: AtomicU64,
    index_scans: AtomicU64,
    table_scans: AtomicU64,
}

/// Alert thresholds and sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertOptions {
    /// A statement slower than this is a slow query (default 100 ms).
    pub slow_query: Duration,
    /// Table scans over all scans above this ratio in a window (default 0.8).
    pub table_scan_ratio: f64,
    /// Query memory above this many bytes (default 100 MB).
    pub query_memory_bytes: u64,
    /// Errors over calls above this ratio in a window (default 0.01).
    pub error_rate: f64,
    /// The window rates are judged over (default 60 s).
    pub window: Duration,
    /// Statements a window needs before its rates are judged (default 20).
    pub min_window_calls: u64,
    /// Alerts kept in the log (default 1,000).
    pub log_size: usize,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            slow_query: Duration::from_millis(100),
            table_scan_ratio: 0.8,
            query_memory_bytes: 100 << 20,
            error_rate: 0.01,
            window: Duration::from_secs(60),
            min_window_calls: 20,
            log_size: 1000,
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A statement exceeded the slow-query threshold.
    SlowQuery,
    /// Too many table scans in a window.
    TableScanRatio,
    /// A statement used more memory than allowed.
    QueryMemory,
    /// Too many errors in a window.
    ErrorRate,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// When it fired, ms since the epoch (engine clock).
    pub at: Millis,
    /// The measured value (ms, ratio or bytes).
    pub value: f64,
    /// The threshold it crossed.
    pub threshold: f64,
    /// The fingerprint concerned, for per-statement alerts.
    pub fingerprint: Option<String>,
    /// A readable sentence.
    pub message: String,
}

/// A registered alert callback.
pub type AlertCallback = Arc<dyn Fn(&Alert) + Send + Sync>;

#[derive(Default)]
struct Window {
    start: Millis,
    fired: HashMap<(AlertKind, u64), Millis>,
    /// The summed totals (calls, errors, index scans, table scans) when the window began.
    taken: [u64; 4],
}

/// The alert engine.
pub struct Alerts {
    opts: AlertOptions,
    clock: Clock,
    tally: ThreadLocal<Tally>,
    window: Mutex<Window>,
    log: Mutex<VecDeque<Alert>>,
    callbacks: RwLock<Vec<(u64, AlertCallback)>>,
    next_cb: AtomicU64,
    fired: AtomicU64,
}

impl Alerts {
    /// An alert engine reading time from `clock`.
    pub fn new(opts: AlertOptions, clock: Clock) -> Alerts {
        let start = clock.now();
        Alerts {
            opts,
            clock,
            tally: ThreadLocal::new(),
            window: Mutex::new(Window { start, fired: HashMap::new(), taken: [0; 4] }),
            log: Mutex::new(VecDeque::new()),
            callbacks: RwLock::new(Vec::new()),
            next_cb: AtomicU64::new(1),
            fired: AtomicU64::new(0),
        }
    }

    /// The thresholds in force.
    pub fn options(&self) -> &AlertOptions {
        &self.opts
    }

    /// Registers a callback; returns an id for [`Alerts::unsubscribe`].
    pub fn subscribe(&self, cb: AlertCallback) -> u64 {
        let id = self.next_cb.fetch_add(1, Ordering::Relaxed);
        self.callbacks.write().push((id, cb));
        id
    }

    /// Removes a callback; true when it was registered.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut cbs = self.callbacks.write();
        let before = cbs.len();
        cbs.retain(|(i, _)| *i != id);
        cbs.len() != before
    }

    /// The alert log, oldest first.
    pub fn log(&self) -> Vec<Alert> {
        self.log.lock().iter().cloned().collect()
    }

    /// Alerts fired since open (the log keeps only the newest).
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    fn fire(&self, a: Alert) {
        self.fired.fetch_add(1, Ordering::Relaxed);
        {
            let mut log = self.log.lock();
            if log.len() >= self.opts.log_size.max(1) {
                log.pop_front();
            }
            log.push_back(a.clone());
        }
        let cbs: Vec<AlertCallback> = self.callbacks.read().iter().map(|(_, c)| c.clone()).collect();
        for cb in cbs {
            // A panicking callback must not take the engine down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&a)));
        }
    }

    /// True the first time `(kind, key)` asks in the current window.
    fn first_in_window(&self, kind: AlertKind, key: u64, now: Millis) -> bool {
        let mut w = self.window.lock();
        let win = self.opts.window.as_millis() as i64;
        match w.fired.get(&(kind, key)) {
            Some(at) if now - at < win => false,
            _ => {
                w.fired.insert((kind, key), now);
                true
            }
        }
    }

    /// Counts one statement into the window and fires per-statement alerts.
    pub fn observe(&self, fp_id: u64, fp_text: &str, o: &super::Observation) {
        use crate::cache::stats::bump;
        let t = self.tally.get_or_default();
        bump(&t.calls, 1);
        if !o.ok {
            bump(&t.errors, 1);
        }
        if o.index_scans > 0 {
            bump(&t.index_scans, o.index_scans);
        }
        if o.table_scans > 0 {
            bump(&t.table_scans, o.table_scans);
        }
        let slow_ns = self.opts.slow_query.as_nanos() as u64;
        if o.elapsed_ns > slow_ns {
            let now = self.clock.now();
            if self.first_in_window(AlertKind::SlowQuery, fp_id, now) {
                self.fire(Alert {
                    kind: AlertKind::SlowQuery,
                    at: now,
                    value: o.elapsed_ns as f64 / 1e6,
                    threshold: slow_ns as f64 / 1e6,
                    fingerprint: Some(fp_text.to_string()),
                    message: format!("slow query: {:.1} ms > {:.1} ms: {fp_text}", o.elapsed_ns as f64 / 1e6, slow_ns as f64 / 1e6),
                });
            }
        }
        if o.peak_mem_bytes > self.opts.query_memory_bytes {
            let now = self.clock.now();
            if self.first_in_window(AlertKind::QueryMemory, fp_id, now) {
                self.fire(Alert {
                    kind: AlertKind::QueryMemory,
                    at: now,
                    value: o.peak_mem_bytes as f64,
                    threshold: self.opts.query_memory_bytes as f64,
                    fingerprint: Some(fp_text.to_string()),
                    message: format!("query memory {} bytes > {} bytes: {fp_text}", o.peak_mem_bytes, self.opts.query_memory_bytes),
                });
            }
        }
    }

    /// Judges the window if it has ended (call periodically; the engine does every second).
    /// Returns the alerts fired.
    pub fn evaluate(&self) -> Vec<Alert> {
        let now = self.clock.now();
        let win = self.opts.window.as_millis() as i64;
        let [calls, errors, idx, tbl] = {
            let mut w = self.window.lock();
            if now - w.start < win {
                return Vec::new();
            }
            w.start = now;
            let r = Ordering::Relaxed;
            let mut totals = [0u64; 4];
            for t in self.tally.iter() {
                for (sum, c) in totals.iter_mut().zip([&t.calls, &t.errors, &t.index_scans, &t.table_scans]) {
                    *sum = sum.wrapping_add(c.load(r));
                }
            }
            let was = std::mem::replace(&mut w.taken, totals);
            std::array::from_fn(|i| totals[i].wrapping_sub(was[i]))
        };
        let mut fired = Vec::new();
        if calls >= self.opts.min_window_calls {
            let rate = errors as f64 / calls as f64;
            if rate > self.opts.error_rate {
                fired.push(Alert {
                    kind: AlertKind::ErrorRate,
                    at: now,
                    value: rate,
                    threshold: self.opts.error_rate,
                    fingerprint: None,
                    message: format!("error rate {:.1} % > {:.1} % ({errors} of {calls} statements)", rate * 100.0, self.opts.error_rate * 100.0),
                });
            }
            let scans = idx + tbl;
            if scans > 0 {
                let ratio = tbl as f64 / scans as f64;
                if ratio > self.opts.table_scan_ratio {
                    fired.push(Alert {
                        kind: AlertKind::TableScanRatio,
                        at: now,
                        value: ratio,
                        threshold: self.opts.table_scan_ratio,
                        fingerprint: None,
                        message: format!("table scans are {:.0} % of scans > {:.0} % ({tbl} of {scans})", ratio * 100.0, self.opts.table_scan_ratio * 100.0),
                    });
                }
            }
        }
        for a in &fired {
            self.fire(a.clone());
        }
        fired
    }
}
