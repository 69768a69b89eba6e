//! A lock-free latency histogram: log-linear buckets (4 per power of two) over
//! nanoseconds, so a percentile is within about 19 % of the true value at any scale, and
//! recording is one atomic add. Good enough for p50/p95/p99 the way pg_stat_statements
//! users read them; exact min/max/total are kept beside it.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB: usize = 4; // buckets per power of two
const BUCKETS: usize = 64 * SUB;

/// The histogram.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let log = 63 - v.leading_zeros() as usize; // >= 2
    let frac = ((v >> (log - 2)) & (SUB as u64 - 1)) as usize;
    (log * SUB + frac).min(BUCKETS - 1)
}

/// The upper bound of a bucket (a value that lands in it, roughly its middle).
fn bucket_value(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let log = b / SUB;
    let frac = (b % SUB) as u64;
    ((SUB as u64 + frac) << (log - 2)) + ((1u64 << (log - 2)) / 2)
}

impl Histogram {
    /// Records one value.
    pub fn record(&self, v: u64) {
        self.counts[bucket(v)].fetch_add(1, Ordering::Relaxed);
    }

    /// Non-empty buckets as (bucket, count), for saving.
    pub fn buckets(&self) -> Vec<(u16, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter_map(|(b, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then_some((b as u16, n))
            })
            .collect()
    }

    /// Adds saved bucket counts back (unknown buckets are ignored).
    pub fn restore(&self, buckets: &[(u16, u64)]) {
        for &(b, n) in buckets {
            if let Some(c) = self.counts.get(b as usize) {
                c.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// The value at quantile `q` in `[0, 1]` (0 when empty).
    pub fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_value(b);
            }
        }
        bucket_value(BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close_to_exact() {
        let h = Histogram::default();
        let mut vals: Vec<u64> = (1..=10_000u64).map(|i| i * i % 1_000_003 + 100).collect();
        for v in &vals {
            h.record(*v);
        }
        vals.sort_unstable();
        for q in [0.5, 0.95, 0.99] {
            let exact = vals[(q * vals.len() as f64) as usize - 1] as f64;
            let got = h.quantile(q) as f64;
            assert!((got - exact).abs() / exact < 0.2, "q{q}: {got} vs {exact}");
        }
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }

    #[test]
    fn buckets_are_monotonic() {
        let mut last = 0;
        for v in [0u64, 1, 3, 4, 5, 7, 8, 100, 1000, 1 << 40, u64::MAX] {
            let b = bucket(v);
            assert!(b >= last);
            last = b;
        }
    }
}
