//! The application key-value cache (the role Redis played): `tenant.cache()` gives a handle
//! whose keys are namespaced by the tenant inside the cache key, so tenants cannot see or
//! overwrite each other's entries. Names here (`get`, `set`, `delete`, `get_or_set`) are
//! the ones every binding exposes.

use super::keys::{build, check_app_key, Kind};
use super::tiers::Cache;
use crate::error::{err, ErrorKind, Result};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// A TTL from signed milliseconds (for bindings): zero or negative is `InvalidTtl`.
pub fn ttl_from_millis(ms: i64) -> Result<Duration> {
    if ms <= 0 {
        return Err(err(ErrorKind::InvalidTtl, format!("TTL must be positive; got {ms} ms")));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn check_ttl(ttl: Option<Duration>) -> Result<()> {
    match ttl {
        Some(t) if t.is_zero() => Err(err(ErrorKind::InvalidTtl, "TTL must be positive; got 0")),
        _ => Ok(()),
    }
}

/// One tenant's view of the application cache. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct TenantCache {
    cache: Arc<Cache>,
    tenant: Arc<str>,
}

impl TenantCache {
    pub(crate) fn new(cache: Arc<Cache>, tenant: Arc<str>) -> TenantCache {
        TenantCache { cache, tenant }
    }

    fn key(&self, key: &str) -> Result<Arc<[u8]>> {
        self.cache.check_open()?;
        check_app_key(key)?;
        Ok(build(Kind::App, &self.tenant, key.as_bytes()))
    }

    /// Which tier holds `key`: 1, 2 or 3, or 0 when absent (diagnostics; records no access).
    pub fn tier_of(&self, key: &str) -> Result<u8> {
        let k = self.key(key)?;
        self.cache.tier_of(&k)
    }

    /// The value of `key`, or `None` when absent or expired.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let k = self.key(key)?;
        Ok(self.cache.get_bytes(&k)?.map(|v| v.to_vec()))
    }

    /// Sets `key` to `value`; `ttl` overrides the default of the tier the value's size
    /// places it in (L1: none, L2: 1 hour, L3: 2 hours).
    pub fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let k = self.key(key)?;
        check_ttl(ttl)?;
        let max = self.cache.opts.max_value;
        if value.len() > max {
            return Err(err(ErrorKind::ValueTooLarge, format!("cache value is {} bytes; the limit is {max}", value.len())));
        }
        self.cache.set_bytes(k, value, ttl)
    }

    /// Removes `key`; true when a live entry existed.
    pub fn delete(&self, key: &str) -> Result<bool> {
        let k = self.key(key)?;
        self.cache.delete_bytes(&k)
    }

    /// The value of `key`; when absent, computes it with `f`, stores it with `ttl` and
    /// returns it. Concurrent callers for the same key wait for the first one, so `f`
    /// runs once (unless it fails, in which case the next waiter tries).
    pub fn get_or_set(&self, key: &str, ttl: Option<Duration>, f: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        let k = self.key(key)?;
        check_ttl(ttl)?;
        if let Some(v) = self.cache.get_bytes(&k)? {
            return Ok(v.to_vec());
        }
        let slot = self.cache.inflight.entry(k.clone()).or_insert_with(|| Arc::new(Mutex::new(None))).clone();
        let result = (|| {
            let mut done = slot.lock();
            if let Some(v) = done.as_ref() {
                return Ok(v.to_vec());
            }
            if let Some(v) = self.cache.get_bytes(&k)? {
                return Ok(v.to_vec());
            }
            let v = f()?;
            self.set(key, &v, ttl)?;
            *done = Some(v.as_slice().into());
            Ok(v)
        })();
        self.cache.inflight.remove_if(&k, |_, s| Arc::strong_count(s) <= 2);
        result
    }
}
