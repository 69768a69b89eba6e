//! The query-result cache: results keyed by (tenant, statement fingerprint, parameter
//! bytes), stored in the tiers like any byte entry, with a TTL that grows with the time the
//! statement took (slow statements stay cached longer) and is clamped to configured bounds.
//!
//! Results are never stale: each stored result carries the version of every
//! (tenant, table) it read, as seen *before* execution began ([`ResultCache::ticket`]);
//! every commit bumps the versions of the tables it changed, and `get` refuses a result
//! whose versions moved. Taking the ticket before the read snapshot matters: a write that
//! lands between the snapshot and `put` then makes the result unusable instead of letting
//! an old answer be stamped with a new version. Keys also carry the cache file's open
//! epoch, so results from an earlier run (whose versions meant something else) never match.
//!
//! The SQL layer is expected to call, per statement: `get` → on a miss, `ticket` before
//! executing → execute → `put` with the measured execution time.

use super::keys::{build, Kind};
use super::tiers::Cache;
use crate::error::Result;
use crate::schema::Table;
use std::sync::Arc;
use std::time::Duration;

/// The (tenant, table) versions a result was computed against.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultTicket {
    tenant: Arc<str>,
    versions: Vec<(Table, u64)>,
}

impl ResultTicket {
    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The tables read.
    pub fn tables(&self) -> impl Iterator<Item = Table> + '_ {
        self.versions.iter().map(|(t, _)| *t)
    }
}

/// Handle on the engine's query-result cache. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ResultCache {
    cache: Arc<Cache>,
}

pub(crate) fn table_key(tenant: &str, table: Table) -> Vec<u8> {
    let mut k = crate::storage::keys::Key::tenant(tenant).0;
    k.push(table_tag(table));
    k
}

fn table_tag(t: Table) -> u8 {
    Table::ALL.iter().position(|x| *x == t).unwrap_or(0) as u8
}

fn result_key(epoch: u64, tenant: &str, fingerprint: u64, params: &[u8]) -> Arc<[u8]> {
    let mut rest = Vec::with_capacity(16 + params.len());
    rest.extend_from_slice(&epoch.to_be_bytes());
    rest.extend_from_slice(&fingerprint.to_be_bytes());
    rest.extend_from_slice(params);
    build(Kind::Result, tenant, &rest)
}

impl ResultCache {
    pub(crate) fn new(cache: Arc<Cache>) -> ResultCache {
        ResultCache { cache }
    }

    /// True when result caching is on (`CacheOptions::result_cache`).
    pub fn enabled(&self) -> bool {
        self.cache.opts.result_cache
    }

    /// The TTL a result that took `exec_time` gets, or `None` when it is too cheap to cache
    /// (below `CacheOptions::result_min_exec`) or caching is off.
    pub fn ttl_for(&self, exec_time: Duration) -> Option<Duration> {
        let o = &self.cache.opts;
        if !o.result_cache || exec_time < o.result_min_exec {
            return None;
        }
        let ttl = exec_time.saturating_mul(o.result_ttl_factor);
        Some(ttl.clamp(o.result_ttl_min, o.result_ttl_max.max(o.result_ttl_min)))
    }

    /// Records the current versions of `tables_read` for `tenant`. Take it before opening
    /// the snapshot the statement reads.
    pub fn ticket(&self, tenant: &str, tables_read: &[Table]) -> ResultTicket {
        let mut versions: Vec<(Table, u64)> =
            tables_read.iter().map(|&t| (t, self.cache.table_versions.get(&table_key(tenant, t)))).collect();
        versions.sort_by_key(|(t, _)| *t);
        versions.dedup_by_key(|(t, _)| *t);
        ResultTicket { tenant: tenant.into(), versions }
    }

    fn current(&self, tenant: &str, versions: &[(Table, u64)]) -> bool {
        versions.iter().all(|&(t, v)| self.cache.table_versions.get(&table_key(tenant, t)) == v)
    }

    /// A cached result, or `None` (absent, expired, or made stale by a write).
    pub fn get(&self, tenant: &str, fingerprint: u64, params: &[u8]) -> Result<Option<Vec<u8>>> {
        self.cache.check_open()?;
        let c = &self.cache;
        let key = result_key(c.epoch, tenant, fingerprint, params);
        let Some(payload) = c.get_bytes(&key)? else {
            c.counters.result_misses.inc();
            return Ok(None);
        };
        match decode(&payload) {
            Some((versions, value)) if self.current(tenant, &versions) => {
                c.counters.result_hits.inc();
                Ok(Some(value.to_vec()))
            }
            _ => {
                c.counters.result_misses.inc();
                c.delete_bytes(&key)?;
                Ok(None)
            }
        }
    }

    /// Stores a result computed under `ticket`. Returns false (and stores nothing) when
    /// caching is off, the statement was too cheap, the value is over the size limit, or a
    /// table it read has changed since the ticket.
    pub fn put(&self, ticket: &ResultTicket, fingerprint: u64, params: &[u8], exec_time: Duration, value: &[u8]) -> Result<bool> {
        self.cache.check_open()?;
        let Some(ttl) = self.ttl_for(exec_time) else { return Ok(false) };
        if value.len() + 1 + 9 * ticket.versions.len() > self.cache.opts.max_value || !self.current(&ticket.tenant, &ticket.versions) {
            return Ok(false);
        }
        let mut payload = Vec::with_capacity(1 + 9 * ticket.versions.len() + value.len());
        payload.push(ticket.versions.len() as u8);
        for &(t, v) in &ticket.versions {
            payload.push(table_tag(t));
            payload.extend_from_slice(&v.to_le_bytes());
        }
        payload.extend_from_slice(value);
        let key = result_key(self.cache.epoch, &ticket.tenant, fingerprint, params);
        self.cache.set_bytes(key, &payload, Some(ttl))?;
        Ok(true)
    }
}

/// A decoded entry: the (table, version) pairs it depends on, and the result bytes.
type Decoded<'a> = (Vec<(Table, u64)>, &'a [u8]);

fn decode(p: &[u8]) -> Option<Decoded<'_>> {
    let n = *p.first()? as usize;
    let body = p.get(1..1 + 9 * n)?;
    let versions = body
        .chunks_exact(9)
        .map(|c| Some((*Table::ALL.get(c[0] as usize)?, u64::from_le_bytes(c[1..9].try_into().ok()?))))
        .collect::<Option<Vec<_>>>()?;
    Some((versions, &p[1 + 9 * n..]))
}
