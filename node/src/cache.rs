//! The application cache in JS (the role Redis played): `tenant.cacheGet/cacheSet/
//! cacheDelete/cacheGetOrSet` over the engine's tiers, keys namespaced by tenant, values as
//! Buffers; and `engine.cacheStats()`, the per-tier analytics. Values are accepted as a
//! Buffer (or any ArrayBuffer view), an ArrayBuffer or a string (stored as UTF-8) and are
//! always returned as Buffers.
//!
//! `cacheGetOrSet` has a sync form only: its producer is a JS function, which can only run
//! on the JS thread, and the core runs it while holding the key's single-flight slot (so
//! concurrent callers, e.g. other worker threads, wait for one computation). Running it from
//! the thread pool would need the JS thread while that thread might itself be waiting on the
//! slot. Async producers use `cacheGetAsync` then `cacheSetAsync`.

use crate::convert::{bytes, call0, function, is_promise, object, text, ttl_ms, Val};
use crate::engine::Engine;
use crate::errors::to_napi;
use crate::task::{guarded, job, run_async, run_sync, Job, Op};
use crate::tenant::Tenant;
use cidb::{Error, ErrorKind};
use napi::bindgen_prelude::{AsyncTask, Buffer, Env, Unknown};
use napi_derive::napi;
use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Duration;

type Result<T> = cidb::Result<T>;

/// Options for `cacheSet` and `cacheGetOrSet`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct CacheSetOptions {
    /// Time to live in ms (> 0). Absent: the default of the tier the value's size places it
    /// in (under 10 KB: memory, no TTL; under 100 KB: 1 hour; larger: 2 hours).
    #[napi(ts_type = "number | bigint | null")]
    pub ttl_ms: Option<i64>,
}

fn read_ttl(options: Option<&Unknown<'_>>) -> Result<Option<Duration>> {
    let Some(v) = options.map(Val::of).filter(|v| !v.is_absent()) else { return Ok(None) };
    let o = object(v, "options")?;
    let ttl = o.get("ttlMs", "options.ttlMs")?;
    if ttl.is_absent() {
        return Ok(None);
    }
    ttl_ms(ttl, "options.ttlMs").map(Some)
}

/// One tier's figures.
#[napi(object, object_from_js = false)]
pub struct TierStats {
    /// Lookups answered by the tier.
    pub hits: f64,
    /// Lookups that reached the tier and missed.
    pub misses: f64,
    /// hits / (hits + misses); 0 when there were none.
    pub hit_ratio: f64,
    /// Entries held.
    pub entries: f64,
    /// Bytes held (memory tier: key + value; persistent tiers: stored, after compression).
    pub bytes: f64,
    /// Entries promoted into the tier.
    pub promotions: f64,
    /// Entries demoted into the tier.
    pub demotions: f64,
    /// Entries evicted from the tier by its bound.
    pub evictions: f64,
    /// Entries expired in the tier.
    pub expirations: f64,
}

impl From<cidb::cache::TierStats> for TierStats {
    fn from(t: cidb::cache::TierStats) -> Self {
        TierStats {
            hits: t.hits as f64,
            misses: t.misses as f64,
            hit_ratio: t.hit_ratio,
            entries: t.entries as f64,
            bytes: t.bytes as f64,
            promotions: t.promotions as f64,
            demotions: t.demotions as f64,
            evictions: t.evictions as f64,
            expirations: t.expirations as f64,
        }
    }
}

/// Cache lookups in one clock hour.
#[napi(object, object_from_js = false)]
pub struct HourCount {
    /// Start of the hour, ms since the epoch.
    pub hour_start: i64,
    /// Lookups in that hour.
    pub accesses: f64,
}

/// Everything `cacheStats` reports.
#[napi(object, object_from_js = false)]
pub struct CacheStats {
    /// The memory tier.
    pub l1: TierStats,
    /// The persistent tier for mid-size values.
    pub l2: TierStats,
    /// The persistent tier for large values.
    pub l3: TierStats,
    /// Lookups per hour for the last 24 hours, oldest first (hours without any included).
    pub hourly: Vec<HourCount>,
    /// Query results answered from the cache.
    pub result_hits: f64,
    /// Query-result lookups that missed.
    pub result_misses: f64,
    /// Result fills refused because a write raced them.
    pub stale_fills_refused: f64,
    /// Entries loaded into memory by warming since open.
    pub warmed: f64,
    /// Things an operator should know (e.g. a damaged cache file discarded at open).
    pub warnings: Vec<String>,
}

impl From<cidb::CacheStats> for CacheStats {
    fn from(s: cidb::CacheStats) -> Self {
        CacheStats {
            l1: s.l1.into(),
            l2: s.l2.into(),
            l3: s.l3.into(),
            hourly: s.hourly.into_iter().map(|h| HourCount { hour_start: h.hour_start, accesses: h.accesses as f64 }).collect(),
            result_hits: s.result_hits as f64,
            result_misses: s.result_misses as f64,
            stale_fills_refused: s.stale_fills_refused as f64,
            warmed: s.warmed as f64,
            warnings: s.warnings,
        }
    }
}

thread_local! {
    /// (tenant, key) pairs whose `cacheGetOrSet` producer is running on this thread.
    static PRODUCING: RefCell<HashSet<(String, String)>> = RefCell::new(HashSet::new());
}

/// Marks a (tenant, key) as producing on this thread until dropped.
struct Producing((String, String));

impl Producing {
    fn enter(tenant: &str, key: &str) -> Result<Producing> {
        let k = (tenant.to_string(), key.to_string());
        if !PRODUCING.with(|p| p.borrow_mut().insert(k.clone())) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("cacheGetOrSet({key:?}) was called from its own producer; it would wait for itself forever"),
            ));
        }
        Ok(Producing(k))
    }
}

impl Drop for Producing {
    fn drop(&mut self) {
        let _ = PRODUCING.try_with(|p| p.borrow_mut().remove(&self.0));
    }
}

impl Tenant {
    fn cache_get_job(&self, key: &Unknown<'_>) -> Result<Job<Option<Buffer>>> {
        let key = text(Val::of(key), "key")?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.cache().get(&key)?.map(Buffer::from))
        }))
    }

    fn cache_set_job(&self, key: &Unknown<'_>, value: &Unknown<'_>, options: Option<&Unknown<'_>>) -> Result<Job<()>> {
        let key = text(Val::of(key), "key")?;
        let value = bytes(Val::of(value), "value")?;
        let ttl = read_ttl(options)?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            t.cache().set(&key, &value, ttl)
        }))
    }

    fn cache_delete_job(&self, key: &Unknown<'_>) -> Result<Job<bool>> {
        let key = text(Val::of(key), "key")?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            t.cache().delete(&key)
        }))
    }
}

#[napi]
impl Tenant {
    /// The cached value of `key` (1 to 1024 bytes of UTF-8), or `null` when absent or expired.
    #[napi(ts_return_type = "Buffer | null")]
    pub fn cache_get(&self, env: Env, #[napi(ts_arg_type = "string")] key: Unknown<'_>) -> napi::Result<Option<Buffer>> {
        run_sync(&env, || self.cache_get_job(&key))
    }

    /// Promise form of `cacheGet`.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn cache_get_async(&self, #[napi(ts_arg_type = "string")] key: Unknown<'_>) -> AsyncTask<Op<Option<Buffer>>> {
        run_async(|| self.cache_get_job(&key))
    }

    /// Caches `value` (at most 16 MiB; a string is stored as UTF-8) under `key`, replacing
    /// any value, with `options.ttlMs` or the default TTL of the tier its size places it in.
    #[napi]
    pub fn cache_set(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] key: Unknown<'_>,
        #[napi(ts_arg_type = "Buffer | Uint8Array | ArrayBuffer | string")] value: Unknown<'_>,
        #[napi(ts_arg_type = "CacheSetOptions | null")] options: Option<Unknown<'_>>,
    ) -> napi::Result<()> {
        run_sync(&env, || self.cache_set_job(&key, &value, options.as_ref()))
    }

    /// Promise form of `cacheSet` (the value is copied on the call).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn cache_set_async(
        &self,
        #[napi(ts_arg_type = "string")] key: Unknown<'_>,
        #[napi(ts_arg_type = "Buffer | Uint8Array | ArrayBuffer | string")] value: Unknown<'_>,
        #[napi(ts_arg_type = "CacheSetOptions | null")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<()>> {
        run_async(|| self.cache_set_job(&key, &value, options.as_ref()))
    }

    /// Removes `key`; `true` when a live entry existed.
    #[napi]
    pub fn cache_delete(&self, env: Env, #[napi(ts_arg_type = "string")] key: Unknown<'_>) -> napi::Result<bool> {
        run_sync(&env, || self.cache_delete_job(&key))
    }

    /// Promise form of `cacheDelete`.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn cache_delete_async(&self, #[napi(ts_arg_type = "string")] key: Unknown<'_>) -> AsyncTask<Op<bool>> {
        run_async(|| self.cache_delete_job(&key))
    }

    /// The cached value of `key`; when absent, calls `producer()` (on this thread), caches
    /// what it returns (a Buffer, Uint8Array, ArrayBuffer or string) with `options.ttlMs`
    /// and returns it as a Buffer. Concurrent callers for one key (other worker threads)
    /// wait for the first, so the producer runs once. Sync form only (see the README); an
    /// exception from the producer is rethrown as is and caches nothing.
    #[napi]
    pub fn cache_get_or_set(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] key: Unknown<'_>,
        #[napi(ts_arg_type = "() => Buffer | Uint8Array | ArrayBuffer | string")] producer: Unknown<'_>,
        #[napi(ts_arg_type = "CacheSetOptions | null")] options: Option<Unknown<'_>>,
    ) -> napi::Result<Buffer> {
        let mut thrown: Option<Val> = None;
        let result = guarded(|| {
            let key = text(Val::of(&key), "key")?;
            let producer = function(Val::of(&producer), "producer")?;
            let ttl = read_ttl(options.as_ref())?;
            let (t, _lease) = self.live()?;
            let _producing = Producing::enter(t.name(), &key)?;
            t.cache().get_or_set(&key, ttl, || match call0(producer) {
                Ok(v) if is_promise(v) => Err(Error::new(
                    ErrorKind::TypeMismatch,
                    "the producer returned a Promise; cacheGetOrSet needs a value now (use cacheGetAsync and cacheSetAsync for async producers)",
                )),
                Ok(v) => bytes(v, "the producer's result"),
                Err(exception) => {
                    thrown = Some(exception);
                    Err(Error::new(ErrorKind::InvalidInput, "the producer threw"))
                }
            })
        });
        match (result, thrown) {
            (Ok(v), _) => Ok(Buffer::from(v)),
            (Err(_), Some(exception)) => {
                // Rethrown as is (any value, primitives included): throw it now and tell napi
                // an exception is pending.
                // SAFETY: the exception value belongs to this call's environment and scope.
                unsafe { napi::sys::napi_throw(env.raw(), exception.raw()) };
                Err(napi::Error::new(napi::Status::PendingException, "the producer threw"))
            }
            (Err(e), None) => Err(to_napi(&env, e)),
        }
    }
}

impl Engine {
    fn cache_stats_job(&self) -> Result<Job<CacheStats>> {
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            Ok(engine.cache_stats().into())
        }))
    }
}

#[napi]
impl Engine {
    /// Per-tier cache analytics: hits, misses, ratios, sizes, promotions, demotions,
    /// evictions, expirations, and lookups per hour.
    #[napi]
    pub fn cache_stats(&self, env: Env) -> napi::Result<CacheStats> {
        run_sync(&env, || self.cache_stats_job())
    }

    /// Promise form of `cacheStats`.
    #[napi(ts_return_type = "Promise<CacheStats>")]
    pub fn cache_stats_async(&self) -> AsyncTask<Op<CacheStats>> {
        run_async(|| self.cache_stats_job())
    }
}
