//! Measuring one workload: a log-linear latency histogram (fixed size, so recording never
//! allocates and the histogram itself does not show up in the memory column), process CPU
//! time from `getrusage`, resident memory from `/proc/self/status` (VmRSS, and VmHWM after
//! resetting the peak through `/proc/self/clear_refs`), and the timed loops that drive a
//! workload on one or many threads until its time budget or operation cap is reached.

use std::time::{Duration, Instant};

/// Sub-buckets per power of two: values are kept to within 1/32 (about 3 %).
const SUB: u32 = 32;
const BUCKETS: usize = ((64 - 5) * SUB) as usize;

/// A latency histogram in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS].into_boxed_slice(), total: 0 }
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= 5
    ((e - 4) * SUB + ((v >> (e - 5)) as u32 & (SUB - 1))) as usize
}

fn bucket_mid(i: usize) -> f64 {
    let i = i as u32;
    if i < SUB {
        return i as f64;
    }
    let e = i / SUB + 4;
    let lo = ((SUB + i % SUB) as u64) << (e - 5);
    lo as f64 + ((1u64 << (e - 5)) as f64 - 1.0) / 2.0
}

impl Histogram {
    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket(ns)] += 1;
        self.total += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.total += o.total;
    }

    /// The `q` quantile (0..=1) in nanoseconds; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_mid(i);
            }
        }
        bucket_mid(BUCKETS - 1)
    }
}

/// Process CPU time (user + system) so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass; a zeroed rusage is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Resident set size now, in bytes (0 where /proc is unavailable).
pub fn rss_bytes() -> u64 {
    status_kb("VmRSS:").unwrap_or(0) * 1024
}

/// Peak resident set size, in bytes.
pub fn hwm_bytes() -> u64 {
    status_kb("VmHWM:").unwrap_or(0) * 1024
}

/// Resets the peak RSS to the current RSS (Linux 4.0+); false when not possible.
pub fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Bytes of heap in use (glibc `mallinfo2`: small chunks in use plus mmapped ones).
pub fn heap_bytes() -> u64 {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as u64
}

/// What a workload measured.
#[derive(Clone, Default)]
pub struct Measured {
    /// Wall time.
    pub elapsed: Duration,
    /// Operations attempted.
    pub ops: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Rows (or items) the operations returned or wrote.
    pub rows: u64,
    /// Per-operation latency.
    pub hist: Histogram,
    /// Process CPU time during the run.
    pub cpu: Duration,
    /// Peak RSS during the run minus RSS before it.
    pub mem_bytes: u64,
}

/// Resource readings taken around a run.
pub struct Probe {
    start: Instant,
    cpu: Duration,
    rss: u64,
    hwm_reset: bool,
    hwm: u64,
}

impl Probe {
    /// Starts measuring.
    pub fn start() -> Probe {
        let hwm_reset = reset_hwm();
        Probe { rss: rss_bytes(), hwm: hwm_bytes(), hwm_reset, cpu: cpu_time(), start: Instant::now() }
    }

    /// Fills the resource fields of `m`.
    pub fn finish(self, m: &mut Measured) {
        m.elapsed = self.start.elapsed();
        m.cpu = cpu_time().saturating_sub(self.cpu);
        let peak = hwm_bytes();
        // Without a reset the peak may predate the run; then only growth of the peak counts.
        m.mem_bytes = if self.hwm_reset { peak.saturating_sub(self.rss) } else { peak.saturating_sub(self.hwm) };
    }
}

/// How long a timed loop runs.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Stop after this much wall time ...
    pub time: Duration,
    /// ... or this many operations (per thread), whichever comes first ...
    pub max_ops: u64,
    /// ... but never before this many operations (per thread).
    pub min_ops: u64,
}

impl Budget {
    /// A budget of `time` with a cap of `max_ops`.
    pub fn new(time: Duration, max_ops: u64) -> Budget {
        Budget { time, max_ops, min_ops: 1 }
    }
}

/// The outcome of one operation: rows it returned or wrote.
pub type OpResult = Result<u64, String>;

/// Runs `op(i)` for i = 0, 1, ... on the calling thread within `budget`.
pub fn run_single(budget: Budget, mut op: impl FnMut(u64) -> OpResult) -> Measured {
    let mut m = Measured::default();
    let probe = Probe::start();
    let start = Instant::now();
    let mut i = 0u64;
    while i < budget.max_ops && (i < budget.min_ops || (i % 16 != 0 || start.elapsed() < budget.time)) {
        let t = Instant::now();
        let r = op(i);
        m.hist.record(t.elapsed().as_nanos() as u64);
        match r {
            Ok(n) => m.rows += n,
            Err(e) => note_error(&mut m, &e),
        }
        i += 1;
    }
    m.ops = i;
    probe.finish(&mut m);
    m
}

fn note_error(m: &mut Measured, e: &str) {
    if m.errors == 0 {
        eprintln!("  first error: {e}");
    }
    m.errors += 1;
}

/// Runs `threads` threads; thread `t` builds its operation with `make(t)` (so it can own a
/// connection) and runs it within `budget`. All threads start together.
pub fn run_threads<F>(threads: usize, budget: Budget, make: impl Fn(usize) -> F + Sync) -> Measured
where
    F: FnMut(u64) -> OpResult,
{
    let barrier = std::sync::Barrier::new(threads + 1);
    let mut total = Measured::default();
    let mut probe = None;
    let parts: Vec<Measured> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, make) = (&barrier, &make);
                s.spawn(move || {
                    let mut op = make(t);
                    barrier.wait();
                    let mut m = Measured::default();
                    let start = Instant::now();
                    let mut i = 0u64;
                    while i < budget.max_ops && (i < budget.min_ops || start.elapsed() < budget.time) {
                        let t0 = Instant::now();
                        let r = op(i);
                        m.hist.record(t0.elapsed().as_nanos() as u64);
                        match r {
                            Ok(n) => m.rows += n,
                            Err(e) => note_error(&mut m, &e),
                        }
                        i += 1;
                    }
                    m.ops = i;
                    m
                })
            })
            .collect();
        probe = Some(Probe::start());
        barrier.wait();
        hs.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for p in &parts {
        total.ops += p.ops;
        total.errors += p.errors;
        total.rows += p.rows;
        total.hist.merge(&p.hist);
    }
    if let Some(p) = probe {
        p.finish(&mut total);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_close() {
        let mut last = 0;
        for v in [0u64, 1, 31, 32, 33, 63, 64, 100, 1_000, 123_456, 9_999_999_999] {
            let b = bucket(v);
            assert!(b >= last, "bucket order at {v}");
            last = b;
            let mid = bucket_mid(b);
            assert!((mid - v as f64).abs() <= v as f64 / 32.0 + 1.0, "{v} -> {mid}");
        }
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5);
        let p99 = h.quantile(0.99);
        assert!((p50 - 500_000.0).abs() < 500_000.0 * 0.04, "{p50}");
        assert!((p99 - 990_000.0).abs() < 990_000.0 * 0.04, "{p99}");
        assert_eq!(Histogram::default().quantile(0.5), 0.0);
    }
}
