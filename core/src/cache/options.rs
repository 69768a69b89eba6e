//! Cache settings: placement thresholds, TTLs, compression levels, promotion rules, the
//! result-cache policy and the background intervals. The L1 bounds themselves stay in
//! [`crate::Config::l1_max_items`] / [`crate::Config::l1_max_bytes`] (set by the profile).

use std::time::Duration;

/// Every knob of the tiered cache except the L1 bounds.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Values smaller than this (bytes) are placed in L1.
    pub l1_max_value: usize,
    /// Values smaller than this (and not L1-sized) are placed in L2; larger ones in L3.
    pub l2_max_value: usize,
    /// The largest value the cache accepts (`ValueTooLarge` above it).
    pub max_value: usize,
    /// Default TTL of entries placed in (or demoted to) L2.
    pub l2_ttl: Duration,
    /// Default TTL of entries placed in L3.
    pub l3_ttl: Duration,
    /// Values larger than this are zstd-compressed in L2/L3.
    pub compress_over: usize,
    /// zstd level in L2.
    pub l2_zstd_level: i32,
    /// zstd level in L3 (higher: better ratio, slower).
    pub l3_zstd_level: i32,
    /// Hits that promote an L3 entry to L2 ...
    pub l3_promote_hits: u32,
    /// ... within this window.
    pub l3_promote_window: Duration,
    /// Hits that promote an L2 entry to L1 ...
    pub l2_promote_hits: u32,
    /// ... within this window.
    pub l2_promote_window: Duration,
    /// Entries kept in the persisted hot set (0 = the L1 item bound).
    pub hot_set_size: usize,
    /// Load the persisted hot set into L1 in the background at open.
    pub warm_on_open: bool,
    /// How often the background task sweeps expired entries.
    pub sweep_interval: Duration,
    /// How often the hot set is persisted.
    pub persist_interval: Duration,
    /// How often non-durable cache commits are made durable.
    pub durable_interval: Duration,
    /// Run the background task at all (tests may drive [`crate::cache::Cache::maintain`]).
    pub background: bool,
    /// Cache query results.
    pub result_cache: bool,
    /// Only statements whose estimated plan cost is at least this consult the result cache
    /// (planner cost units: a point lookup is about 7, a scan of 1,000 rows about 1,600).
    pub result_min_cost: f64,
    /// Only results whose execution took at least this long are cached.
    pub result_min_exec: Duration,
    /// TTL of a result = execution time × this factor, clamped to the bounds below.
    pub result_ttl_factor: u32,
    /// Shortest result TTL.
    pub result_ttl_min: Duration,
    /// Longest result TTL.
    pub result_ttl_max: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            l1_max_value: 10 << 10,
            l2_max_value: 100 << 10,
            max_value: 16 << 20,
            l2_ttl: Duration::from_secs(3600),
            l3_ttl: Duration::from_secs(7200),
            compress_over: 1 << 10,
            l2_zstd_level: 3,
            l3_zstd_level: 9,
            l3_promote_hits: 2,
            l3_promote_window: Duration::from_secs(3600),
            l2_promote_hits: 3,
            l2_promote_window: Duration::from_secs(300),
            hot_set_size: 0,
            warm_on_open: true,
            sweep_interval: Duration::from_secs(1),
            persist_interval: Duration::from_secs(60),
            durable_interval: Duration::from_secs(1),
            background: true,
            result_cache: true,
            result_min_cost: 1000.0,
            result_min_exec: Duration::from_millis(2),
            result_ttl_factor: 1000,
            result_ttl_min: Duration::from_secs(10),
            result_ttl_max: Duration::from_secs(3600),
        }
    }
}

/// A duration in whole milliseconds (saturating).
pub(crate) fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}
