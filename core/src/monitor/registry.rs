//! Per-fingerprint statistics (the pg_stat_statements table): calls, errors, time, a latency
//! histogram, rows examined and returned, index and table scans, joins and peak memory.
//! Recording touches an entry the caller already holds (prepared statements keep theirs):
//! the counters live in per-thread shares that only their own thread writes (a plain load
//! and store, no locked instruction), readers sum the shares, and the latency histogram is
//! one relaxed atomic add; so monitoring costs little on hot paths and every call is
//! counted exactly. The table is
//! bounded: when full, the least-called entry is evicted, flagged (so a prepared statement
//! holding it fetches a live one) and counted.
//!
//! Each entry also keeps one representative execution (tenant, SQL text, parameters) so the
//! index advisor can re-plan the statement, and counts how many calls ran exactly that text
//! (a high share means its constants are common: a partial index may fit).

use super::fingerprint::Fingerprint;
use super::histogram::Histogram;
use crate::schema::Value;
use dashmap::DashMap;
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use thread_local::ThreadLocal;

use crate::cache::stats::bump;

/// One thread's share of an entry's additive counters. Only the owning thread writes it
/// (`thread_local` hands a thread's slot to a later thread only after the first exited, so
/// the counts of finished threads stay); readers sum every share.
#[derive(Default)]
#[repr(align(64))]
struct Share {
    calls: AtomicU64,
    errors: AtomicU64,
    total_ns: AtomicU64,
    rows_examined: AtomicU64,
    rows_returned: AtomicU64,
    index_scans: AtomicU64,
    table_scans: AtomicU64,
    joins: AtomicU64,
}

/// A representative execution of a fingerprint, for re-planning.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The tenant it ran for.
    pub tenant: String,
    /// The exact SQL text.
    pub sql: String,
    /// The parameter values.
    pub params: Vec<Value>,
}

/// What one execution did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// Wall time, ns.
    pub elapsed_ns: u64,
    /// False when the statement failed.
    pub ok: bool,
    /// Rows read to produce the result.
    pub rows_examined: u64,
    /// Rows returned.
    pub rows_returned: u64,
    /// Index searches/scans used.
    pub index_scans: u64,
    /// Full table scans used.
    pub table_scans: u64,
    /// Joins performed.
    pub joins: u64,
    /// Peak memory of the execution, bytes (estimated).
    pub peak_mem_bytes: u64,
}

/// The live counters of one fingerprint.
pub struct Entry {
    /// The fingerprint.
    pub fingerprint: Fingerprint,
    shares: ThreadLocal<Share>,
    // The additive counters below hold only what `restore` added; live calls go to `shares`.
    calls: AtomicU64,
    errors: AtomicU64,
    total_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
    hist: Histogram,
    rows_examined: AtomicU64,
    rows_returned: AtomicU64,
    index_scans: AtomicU64,
    table_scans: AtomicU64,
    joins: AtomicU64,
    peak_mem: AtomicU64,
    has_sample: AtomicBool,
    sample_hash: AtomicU64,
    same_text: AtomicU64,
    sample: Mutex<Option<Arc<Sample>>>,
    evicted: AtomicBool,
}

/// A snapshot of one fingerprint's statistics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FingerprintStats {
    /// Fingerprint id (hex).
    pub id: String,
    /// Normalised statement.
    pub query: String,
    /// Executions.
    pub calls: u64,
    /// Failed executions.
    pub errors: u64,
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
    pub rows_examined: u64,
    /// Rows returned in total.
    pub rows_returned: u64,
    /// Index scans in total.
    pub index_scans: u64,
    /// Table scans in total.
    pub table_scans: u64,
    /// Joins in total.
    pub joins: u64,
    /// Peak memory of one execution, bytes.
    pub peak_mem_bytes: u64,
    /// A representative statement text (one execution's exact SQL), when recorded.
    pub example: Option<String>,
}

impl Entry {
    fn new(fingerprint: Fingerprint) -> Entry {
        let z = || AtomicU64::new(0);
        Entry {
            fingerprint,
            shares: ThreadLocal::new(),
            calls: z(),
            errors: z(),
            total_ns: z(),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: z(),
            hist: Histogram::default(),
            rows_examined: z(),
            rows_returned: z(),
            index_scans: z(),
            table_scans: z(),
            joins: z(),
            peak_mem: z(),
            has_sample: AtomicBool::new(false),
            sample_hash: z(),
            same_text: z(),
            sample: Mutex::new(None),
            evicted: AtomicBool::new(false),
        }
    }

    /// True when no representative execution is kept yet (one relaxed load).
    #[inline]
    pub fn wants_sample(&self) -> bool {
        !self.has_sample.load(Ordering::Relaxed)
    }

    /// Keeps `s` as the representative execution (the first one offered wins); `text_hash`
    /// is the FNV-1a of its SQL text.
    pub fn set_sample(&self, s: Sample, text_hash: u64) {
        let mut g = self.sample.lock();
        if g.is_none() {
            *g = Some(Arc::new(s));
            self.sample_hash.store(text_hash, Ordering::Relaxed);
            self.has_sample.store(true, Ordering::Release);
        }
    }

    /// The representative execution, if any.
    pub fn sample(&self) -> Option<Arc<Sample>> {
        self.sample.lock().clone()
    }

    /// Counts a call whose exact SQL text hashes to `text_hash` (see [`Entry::same_text_share`]).
    #[inline]
    pub fn note_text(&self, text_hash: u64) {
        if self.has_sample.load(Ordering::Relaxed) && self.sample_hash.load(Ordering::Relaxed) == text_hash {
            self.same_text.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Share of calls that ran exactly the sample's text (so with its constants), 0..=1.
    pub fn same_text_share(&self) -> f64 {
        let calls = self.calls();
        if calls == 0 {
            return 0.0;
        }
        (self.same_text.load(Ordering::Relaxed) as f64 / calls as f64).min(1.0)
    }

    /// True once the bounded table has evicted this entry (its holder should fetch a new one).
    #[inline]
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Adds one execution.
    #[inline]
    pub fn add(&self, o: &Observation) {
        let r = Ordering::Relaxed;
        let sh = self.shares.get_or_default();
        bump(&sh.calls, 1);
        if !o.ok {
            bump(&sh.errors, 1);
        }
        bump(&sh.total_ns, o.elapsed_ns);
        // fetch_min/max are compare-and-swap loops on x86; once the extremes have settled
        // almost every call can tell from a plain load that it changes neither.
        if o.elapsed_ns < self.min_ns.load(r) {
            self.min_ns.fetch_min(o.elapsed_ns, r);
        }
        if o.elapsed_ns > self.max_ns.load(r) {
            self.max_ns.fetch_max(o.elapsed_ns, r);
        }
        self.hist.record(o.elapsed_ns);
        if o.rows_examined > 0 {
            bump(&sh.rows_examined, o.rows_examined);
        }
        if o.rows_returned > 0 {
            bump(&sh.rows_returned, o.rows_returned);
        }
        if o.index_scans > 0 {
            bump(&sh.index_scans, o.index_scans);
        }
        if o.table_scans > 0 {
            bump(&sh.table_scans, o.table_scans);
        }
        if o.joins > 0 {
            bump(&sh.joins, o.joins);
        }
        if o.peak_mem_bytes > 0 {
            self.peak_mem.fetch_max(o.peak_mem_bytes, r);
        }
    }

    /// `base` (what was restored) plus every thread's share of one counter.
    fn sum(&self, base: &AtomicU64, f: impl Fn(&Share) -> &AtomicU64) -> u64 {
        let r = Ordering::Relaxed;
        self.shares.iter().fold(base.load(r), |a, s| a.wrapping_add(f(s).load(r)))
    }

    /// Executions so far.
    pub fn calls(&self) -> u64 {
        self.sum(&self.calls, |s| &s.calls)
    }

    /// A snapshot.
    pub fn stats(&self) -> FingerprintStats {
        let r = Ordering::Relaxed;
        let calls = self.calls();
        let ms = |ns: u64| ns as f64 / 1e6;
        let total = self.sum(&self.total_ns, |s| &s.total_ns);
        let min = self.min_ns.load(r);
        let max = self.max_ns.load(r);
        // A bucket's representative value can lie outside the observed range (a single
        // 250 ms call reported a p50 of 251.7 ms); clamp into [min, max]. Read without a
        // lock, min may briefly exceed max: never panic on that.
        let (lo, hi) = (min.min(max), max.max(min));
        let quantile = |q: f64| if calls == 0 { 0 } else { self.hist.quantile(q).max(lo).min(hi) };
        FingerprintStats {
            id: format!("{:016x}", self.fingerprint.id),
            query: self.fingerprint.text.clone(),
            calls,
            errors: self.sum(&self.errors, |s| &s.errors),
            total_ms: ms(total),
            mean_ms: if calls == 0 { 0.0 } else { ms(total) / calls as f64 },
            min_ms: if min == u64::MAX { 0.0 } else { ms(min) },
            max_ms: ms(max),
            p50_ms: ms(quantile(0.50)),
            p95_ms: ms(quantile(0.95)),
            p99_ms: ms(quantile(0.99)),
            rows_examined: self.sum(&self.rows_examined, |s| &s.rows_examined),
            rows_returned: self.sum(&self.rows_returned, |s| &s.rows_returned),
            index_scans: self.sum(&self.index_scans, |s| &s.index_scans),
            table_scans: self.sum(&self.table_scans, |s| &s.table_scans),
            joins: self.sum(&self.joins, |s| &s.joins),
            peak_mem_bytes: self.peak_mem.load(r),
            example: self.sample.lock().as_ref().map(|s| s.sql.clone()),
        }
    }

    /// The raw counters, for saving.
    pub(crate) fn saved(&self) -> super::persist::SavedEntry {
        let r = Ordering::Relaxed;
        super::persist::SavedEntry {
            text: self.fingerprint.text.clone(),
            calls: self.calls(),
            errors: self.sum(&self.errors, |s| &s.errors),
            total_ns: self.sum(&self.total_ns, |s| &s.total_ns),
            min_ns: self.min_ns.load(r),
            max_ns: self.max_ns.load(r),
            hist: self.hist.buckets(),
            rows_examined: self.sum(&self.rows_examined, |s| &s.rows_examined),
            rows_returned: self.sum(&self.rows_returned, |s| &s.rows_returned),
            index_scans: self.sum(&self.index_scans, |s| &s.index_scans),
            table_scans: self.sum(&self.table_scans, |s| &s.table_scans),
            joins: self.sum(&self.joins, |s| &s.joins),
            peak_mem: self.peak_mem.load(r),
            same_text: self.same_text.load(r),
            sample: self.sample().map(|s| super::persist::SavedSample::from(&*s)),
        }
    }

    /// Adds saved counters to this entry.
    pub(crate) fn restore(&self, s: &super::persist::SavedEntry) {
        let r = Ordering::Relaxed;
        self.calls.fetch_add(s.calls, r);
        self.errors.fetch_add(s.errors, r);
        self.total_ns.fetch_add(s.total_ns, r);
        self.min_ns.fetch_min(s.min_ns, r);
        self.max_ns.fetch_max(s.max_ns, r);
        self.hist.restore(&s.hist);
        self.rows_examined.fetch_add(s.rows_examined, r);
        self.rows_returned.fetch_add(s.rows_returned, r);
        self.index_scans.fetch_add(s.index_scans, r);
        self.table_scans.fetch_add(s.table_scans, r);
        self.joins.fetch_add(s.joins, r);
        self.peak_mem.fetch_max(s.peak_mem, r);
        if let Some(sample) = s.sample.as_ref().and_then(|x| x.to_sample()) {
            let h = super::fingerprint::fnv1a(sample.sql.as_bytes());
            self.set_sample(sample, h);
            self.same_text.fetch_add(s.same_text, r);
        }
    }
}

/// The bounded fingerprint table.
pub struct Registry {
    entries: DashMap<u64, Arc<Entry>>,
    max: usize,
    evicted: AtomicU64,
}

impl Registry {
    /// A table holding at most `max` fingerprints.
    pub fn new(max: usize) -> Registry {
        Registry { entries: DashMap::new(), max: max.max(1), evicted: AtomicU64::new(0) }
    }

    /// The entry of `fp`, created (evicting the least-called entry when full) if new.
    pub fn entry(&self, fp: &Fingerprint) -> Arc<Entry> {
        if let Some(e) = self.entries.get(&fp.id) {
            return e.clone();
        }
        if self.entries.len() >= self.max {
            let victim = self.entries.iter().min_by_key(|e| e.calls()).map(|e| *e.key());
            if let Some(v) = victim {
                if let Some((_, e)) = self.entries.remove(&v) {
                    e.evicted.store(true, Ordering::Relaxed);
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.entries.entry(fp.id).or_insert_with(|| Arc::new(Entry::new(fp.clone()))).clone()
    }

    /// Entries evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Number of fingerprints held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Snapshots of every entry that has run, by total time descending.
    pub fn snapshot(&self) -> Vec<FingerprintStats> {
        let mut v: Vec<_> = self.entries.iter().filter(|e| e.calls() > 0).map(|e| e.stats()).collect();
        v.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms).then(a.id.cmp(&b.id)));
        v
    }

    /// Every live entry.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries.iter().map(|e| e.value().clone()).collect()
    }

    /// Adds to the evicted count (restoring a saved table).
    pub(crate) fn add_evicted(&self, n: u64) {
        self.evicted.fetch_add(n, Ordering::Relaxed);
    }

    /// Forgets every entry (holders of an entry fetch a new one on their next call).
    pub fn reset(&self) {
        for e in self.entries.iter() {
            e.evicted.store(true, Ordering::Relaxed);
        }
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::fingerprint::fingerprint;

    #[test]
    fn bounded_with_least_used_evicted() {
        let r = Registry::new(3);
        let obs = Observation { elapsed_ns: 10, ok: true, ..Default::default() };
        for (i, n) in [5, 1, 7].iter().enumerate() {
            let e = r.entry(&fingerprint(&format!("SELECT c{i} FROM t")));
            for _ in 0..*n {
                e.add(&obs);
            }
        }
        r.entry(&fingerprint("SELECT other FROM t"));
        assert_eq!(r.len(), 3);
        assert_eq!(r.evicted(), 1);
        let names: Vec<_> = r.snapshot().into_iter().map(|s| s.query).collect();
        assert!(!names.contains(&"SELECT c1 FROM t".to_string()), "the least-called went: {names:?}");
        let kept = r.entry(&fingerprint("SELECT c0 FROM t"));
        assert!(!kept.is_evicted());
        let gone = r.entries().into_iter().find(|e| e.fingerprint.text == "SELECT other FROM t").unwrap();
        r.entry(&fingerprint("SELECT yet_another FROM t"));
        assert!(gone.is_evicted(), "the evicted entry says so to whoever still holds it");
    }

    #[test]
    fn stats_add_up() {
        let r = Registry::new(10);
        let e = r.entry(&fingerprint("SELECT 1"));
        e.add(&Observation { elapsed_ns: 1_000_000, ok: true, rows_examined: 10, rows_returned: 1, index_scans: 1, ..Default::default() });
        e.add(&Observation { elapsed_ns: 3_000_000, ok: false, table_scans: 1, peak_mem_bytes: 99, ..Default::default() });
        let s = e.stats();
        assert_eq!((s.calls, s.errors, s.rows_examined, s.index_scans, s.table_scans, s.peak_mem_bytes), (2, 1, 10, 1, 1, 99));
        assert_eq!((s.min_ms, s.max_ms, s.total_ms, s.mean_ms), (1.0, 3.0, 4.0, 2.0));
    }

    #[test]
    fn per_thread_shares_count_every_call_including_finished_threads() {
        let r = Registry::new(10);
        let e = r.entry(&fingerprint("SELECT a FROM t"));
        let obs = Observation { elapsed_ns: 5, ok: true, rows_returned: 2, index_scans: 1, ..Default::default() };
        // Concurrent writers, then more threads after those exited (their slots are reused).
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| e.add(&obs)));
            }
        });
        for _ in 0..3 {
            std::thread::spawn({
                let e = e.clone();
                move || (0..100).for_each(|_| e.add(&Observation { ok: false, ..obs }))
            })
            .join()
            .unwrap();
        }
        e.add(&obs);
        let st = e.stats();
        assert_eq!((st.calls, st.errors, st.rows_returned, st.index_scans), (4301, 300, 8602, 4301));
        assert_eq!(st.total_ms, 4301.0 * 5.0 / 1e6);
        // restore adds on top of the live shares
        let e2 = r.entry(&fingerprint("SELECT b FROM t"));
        e2.add(&obs);
        e2.restore(&e.saved());
        assert_eq!(e2.calls(), 4302);
    }

    #[test]
    fn first_sample_wins_and_same_text_share_counts_calls() {
        let r = Registry::new(10);
        let e = r.entry(&fingerprint("SELECT * FROM t WHERE a = 1"));
        let obs = Observation { elapsed_ns: 1, ok: true, ..Default::default() };
        assert!(e.wants_sample());
        let s = |sql: &str| Sample { tenant: "t".into(), sql: sql.into(), params: vec![] };
        e.set_sample(s("SELECT * FROM t WHERE a = 1"), 11);
        e.set_sample(s("SELECT * FROM t WHERE a = 2"), 22);
        assert!(!e.wants_sample());
        assert_eq!(e.sample().unwrap().sql, "SELECT * FROM t WHERE a = 1");
        for h in [11, 11, 11, 22] {
            e.add(&obs);
            e.note_text(h);
        }
        assert_eq!(e.same_text_share(), 0.75);
        // saving and restoring keeps counters, histogram and sample
        let r2 = Registry::new(10);
        let e2 = r2.entry(&e.fingerprint);
        e2.restore(&e.saved());
        assert_eq!(e2.stats(), e.stats());
        assert_eq!(e2.same_text_share(), 0.75);
    }
}
