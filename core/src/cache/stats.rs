//! Cache analytics: per-tier counters (hits, misses, promotions, demotions, evictions,
//! expirations), sizes, and access counts per hour for the last 24 hours. Counters are
//! kept per thread (cache-line-padded parts only their own thread writes, summed when
//! read), so counting a hit is a plain load and store and two threads never fight over
//! one line. Everything here is serde-serialisable.

use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use parking_lot::Mutex;
use thread_local::ThreadLocal;

/// Adds `n` to a counter only the calling thread writes: a relaxed load and store, which
/// costs a fraction of a locked add and is exact because there is no other writer. The
/// building block of every per-thread count (here and in the monitor).
#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// One thread's part of a counter, on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
struct Padded(AtomicU64);

/// A counter kept per thread: each thread adds to its own part with a relaxed load and
/// store (it is the part's only writer, so no locked instruction is needed and nothing is
/// lost), and [`Counter::get`] sums the parts. Parts of finished threads stay counted.
#[derive(Default)]
pub struct Counter(ThreadLocal<Padded>);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        bump(&self.0.get_or_default().0, n);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1)
    }

    /// The total.
    pub fn get(&self) -> u64 {
        self.0.iter().fold(0u64, |a, p| a.wrapping_add(p.0.load(Ordering::Relaxed)))
    }
}

/// The counters of one tier.
#[derive(Default)]
pub struct TierCounters {
    /// Lookups answered by the tier.
    pub hits: Counter,
    /// Lookups the tier could not answer.
    pub misses: Counter,
    /// Entries moved up into this tier.
    pub promotions: Counter,
    /// Entries moved down into this tier.
    pub demotions: Counter,
    /// Entries pushed out by the size bound.
    pub evictions: Counter,
    /// Entries removed because their TTL passed.
    pub expirations: Counter,
}

/// One tier's figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TierStats {
    /// Lookups answered by the tier.
    pub hits: u64,
    /// Lookups that reached the tier and missed.
    pub misses: u64,
    /// hits / (hits + misses), 0 when there were none.
    pub hit_ratio: f64,
    /// Entries held.
    pub entries: u64,
    /// Bytes held (L1: key + value; L2/L3: stored, i.e. after compression).
    pub bytes: u64,
    /// Entries promoted into the tier.
    pub promotions: u64,
    /// Entries demoted into the tier.
    pub demotions: u64,
    /// Entries evicted from the tier by its bound.
    pub evictions: u64,
    /// Entries expired in the tier.
    pub expirations: u64,
}

impl TierCounters {
    /// A snapshot with the given sizes.
    pub fn snapshot(&self, entries: u64, bytes: u64) -> TierStats {
        let (hits, misses) = (self.hits.get(), self.misses.get());
        TierStats {
            hits,
            misses,
            hit_ratio: if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
            entries,
            bytes,
            promotions: self.promotions.get(),
            demotions: self.demotions.get(),
            evictions: self.evictions.get(),
            expirations: self.expirations.get(),
        }
    }
}

/// Accesses in one clock hour.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HourCount {
    /// Start of the hour, ms since the epoch.
    pub hour_start: i64,
    /// Cache lookups in that hour.
    pub accesses: u64,
}

/// Everything [`crate::Engine::cache_stats`] reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CacheStats {
    /// The memory tier.
    pub l1: TierStats,
    /// The persistent tier for mid-size values.
    pub l2: TierStats,
    /// The persistent tier for large values.
    pub l3: TierStats,
    /// Accesses per hour, oldest first, for the last 24 hours (hours without accesses
    /// included with 0).
    pub hourly: Vec<HourCount>,
    /// Query results answered from the cache.
    pub result_hits: u64,
    /// Query-result lookups that missed (including stale results refused).
    pub result_misses: u64,
    /// Fills refused because a write raced them (the stale-fill guard at work).
    pub stale_fills_refused: u64,
    /// Entries loaded into L1 by warming since open.
    pub warmed: u64,
    /// Things an operator should know (e.g. a damaged cache file discarded at open).
    pub warnings: Vec<String>,
}

const HOUR: i64 = 3_600_000;

/// Access counts per hour in a 24-slot ring. A lookup either counts itself into its hour
/// ([`Hourly::record`], which needs the time) or, while the cache's background thread
/// ticks, only bumps a per-thread counter ([`Hourly::record_pending`]); each tick
/// ([`Hourly::flush`]) moves what accumulated into the current hour, so an access lands in
/// the hour of a tick at most one tick (20 ms) later.
pub struct Hourly {
    slots: [(AtomicI64, AtomicU64); 24],
    pending: Counter,
    flushed: Mutex<u64>,
}

impl Default for Hourly {
    fn default() -> Self {
        Hourly { slots: std::array::from_fn(|_| (AtomicI64::new(-1), AtomicU64::new(0))), pending: Counter::default(), flushed: Mutex::new(0) }
    }
}

impl Hourly {
    /// Counts one access at `now`.
    #[inline]
    pub fn record(&self, now: i64) {
        self.add(now, 1)
    }

    /// Counts one access into the hour of the next [`Hourly::flush`] (no clock read, no
    /// locked instruction).
    #[inline]
    pub fn record_pending(&self) {
        self.pending.inc()
    }

    /// Moves the accesses counted by [`Hourly::record_pending`] since the last flush into
    /// the hour of `now`.
    pub fn flush(&self, now: i64) {
        let mut flushed = self.flushed.lock();
        let total = self.pending.get();
        let n = total.wrapping_sub(*flushed);
        if n > 0 {
            self.add(now, n);
        }
        *flushed = total;
    }

    fn add(&self, now: i64, n: u64) {
        let h = now.div_euclid(HOUR);
        let (hour, count) = &self.slots[h.rem_euclid(24) as usize];
        let cur = hour.load(Ordering::Relaxed);
        if cur != h {
            if cur < h && hour.compare_exchange(cur, h, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                count.store(0, Ordering::Relaxed);
            } else if hour.load(Ordering::Relaxed) != h {
                return; // an older hour than the slot holds: out of the window
            }
        }
        count.fetch_add(n, Ordering::Relaxed);
    }

    /// The last 24 hours ending with the hour of `now`, oldest first.
    pub fn snapshot(&self, now: i64) -> Vec<HourCount> {
        self.flush(now);
        let cur = now.div_euclid(HOUR);
        (cur - 23..=cur)
            .map(|h| {
                let (hour, count) = &self.slots[h.rem_euclid(24) as usize];
                let n = if hour.load(Ordering::Relaxed) == h { count.load(Ordering::Relaxed) } else { 0 };
                HourCount { hour_start: h * HOUR, accesses: n }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_ring_keeps_24_hours() {
        let h = Hourly::default();
        let t0 = 100 * HOUR;
        h.record(t0);
        h.record(t0 + 10);
        h.record(t0 + HOUR);
        let s = h.snapshot(t0 + HOUR);
        assert_eq!(s.len(), 24);
        assert_eq!(s[22], HourCount { hour_start: t0, accesses: 2 });
        assert_eq!(s[23].accesses, 1);
        // 24 hours later the first slot is reused and the old count is gone.
        h.record(t0 + 24 * HOUR);
        let s = h.snapshot(t0 + 24 * HOUR);
        assert_eq!(s[23].accesses, 1);
        assert_eq!(s.iter().map(|c| c.accesses).sum::<u64>(), 2);
    }

    #[test]
    fn pending_accesses_land_in_the_hour_of_their_flush() {
        let h = Hourly::default();
        let t0 = 100 * HOUR;
        h.record_pending();
        h.record_pending();
        h.flush(t0 + 5);
        h.flush(t0 + 6); // nothing new: nothing added
        std::thread::scope(|s| {
            s.spawn(|| h.record_pending());
        });
        h.record(t0 + HOUR);
        let s = h.snapshot(t0 + HOUR); // flushes the other thread's access into this hour
        assert_eq!(s[22], HourCount { hour_start: t0, accesses: 2 });
        assert_eq!(s[23].accesses, 2);
    }
}
