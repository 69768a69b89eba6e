//! The engine's own hot records in L1: customers and latest scores. A read consults L1
//! first; on a miss it notes the key's stripe version *before* opening its read snapshot,
//! reads, and installs the value only if the version is unchanged (checked under the L1
//! policy lock). Every write bumps the version of each key it changes and then removes the
//! key from L1, in a post-commit hook that runs before the writer acknowledges callers.
//! So a value read from a snapshot older than a commit can never be installed after that
//! commit's invalidation, and a read after a write never sees the old value.

use super::keys::{build, record_key, Kind, RecordKey};
use super::l1::NEVER;
use super::tiers::{Cache, Cached, Item};
use crate::error::Result;
use crate::model::{Customer, Score};
use crate::schema::Table;
use crate::storage::ChangeSet;
use std::sync::Arc;

/// Heap bytes one allocation of `n` bytes takes (glibc malloc: an 8-byte header, 16-byte
/// granules, 32 bytes at least; nothing for `n == 0`).
pub(crate) fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// L1's own memory per entry besides the key bytes and the value: the node (behind an
/// `Arc`), the map's entry, the key's `Arc` header and the policy queue's slot, calibrated
/// against measured heap (`cidb bench`'s L1 byte-bound probe).
pub(crate) const L1_ENTRY_OVERHEAD: usize = 200;

/// What an L1 entry of `key_len` key bytes and a value taking `value_heap` heap bytes
/// really costs, so that the L1 byte bound bounds memory, not just payload.
pub(crate) fn entry_weight(key_len: usize, value_heap: usize) -> usize {
    L1_ENTRY_OVERHEAD + alloc_size(16 + key_len) + value_heap
}

fn string_heap(s: &str) -> usize {
    alloc_size(s.len())
}

/// Heap bytes of a customer behind an `Arc` (for the L1 byte bound).
pub(crate) fn customer_weight(c: &Customer) -> usize {
    alloc_size(16 + std::mem::size_of::<Customer>())
        + string_heap(&c.id)
        + c.email.as_deref().map_or(0, string_heap)
        + c.name.as_deref().map_or(0, string_heap)
        + string_heap(&c.department)
        + string_heap(&c.status)
        + json_heap(&c.attributes)
}

/// Heap bytes of a JSON value outside its own slot. Objects are B-tree maps: one node of
/// eleven key/value slots per (up to) eleven entries.
fn json_heap(v: &serde_json::Value) -> usize {
    const NODE: usize = 8 + 11 * (std::mem::size_of::<String>() + std::mem::size_of::<serde_json::Value>()) + 4;
    match v {
        serde_json::Value::String(s) => string_heap(s),
        serde_json::Value::Array(a) => alloc_size(a.len() * std::mem::size_of::<serde_json::Value>()) + a.iter().map(json_heap).sum::<usize>(),
        serde_json::Value::Object(o) => o.len().div_ceil(11) * alloc_size(NODE) + o.iter().map(|(k, v)| string_heap(k) + json_heap(v)).sum::<usize>(),
        _ => 0,
    }
}

/// Heap bytes of a score behind an `Arc`.
pub(crate) fn score_weight(s: &Score) -> usize {
    alloc_size(16 + std::mem::size_of::<Score>()) + string_heap(&s.customer_id) + string_heap(&s.score_type) + s.model.as_deref().map_or(0, string_heap)
}

/// The L1 key of a customer (the storage primary key after the tenant).
#[inline]
pub(crate) fn customer_key(tenant: &str, id: &str) -> RecordKey {
    record_key(Kind::Customer, tenant, &[id])
}

/// The L1 key of a latest score.
#[inline]
pub(crate) fn latest_key(tenant: &str, customer_id: &str, score_type: &str) -> RecordKey {
    record_key(Kind::Latest, tenant, &[customer_id, score_type])
}

impl Cache {
    fn read_through<T>(
        &self,
        key: RecordKey,
        unwrap: impl Fn(&Cached) -> Option<&Arc<T>>,
        wrap: impl FnOnce(Arc<T>) -> Cached,
        weight: impl FnOnce(&T) -> usize,
        load: impl FnOnce() -> Result<Option<T>>,
    ) -> Result<Option<Arc<T>>> {
        // Records never expire in L1 (NEVER): the hit path reads no clock.
        self.count_access();
        if let Some(Some(v)) = self.l1.get_with(&key, || self.clock.now(), |item| unwrap(&item.val).cloned()) {
            self.counters.l1.hits.inc();
            return Ok(Some(v));
        }
        self.counters.l1.misses.inc();
        let v0 = self.stripes.get(&key);
        let loaded = load()?.map(Arc::new);
        if let Some(v) = &loaded {
            let key: Arc<[u8]> = Arc::from(&*key);
            let w = entry_weight(key.len(), weight(v));
            let item = Item { val: wrap(v.clone()), ver: v0 };
            let r = self.l1.insert(key.clone(), item, w, NEVER, || self.stripes.get(&key) == v0);
            if !r.stored && self.stripes.get(&key) != v0 {
                self.counters.stale_refused.inc();
            }
            self.handle_evicted(r.evicted);
        }
        Ok(loaded)
    }

    /// A customer through L1; `load` reads the data store on a miss (and its result is
    /// installed only if no write to that customer committed since the lookup began).
    /// The record is shared with L1 (an `Arc`), never deep-copied here.
    pub fn customer(&self, tenant: &str, id: &str, load: impl FnOnce() -> Result<Option<Customer>>) -> Result<Option<Arc<Customer>>> {
        self.read_through(
            customer_key(tenant, id),
            |c| if let Cached::Customer(c) = c { Some(c) } else { None },
            Cached::Customer,
            customer_weight,
            load,
        )
    }

    /// A latest score through L1; `load` reads the data store on a miss (version-checked
    /// like [`Cache::customer`]).
    pub fn latest_score(
        &self,
        tenant: &str,
        customer_id: &str,
        score_type: &str,
        load: impl FnOnce() -> Result<Option<Score>>,
    ) -> Result<Option<Arc<Score>>> {
        self.read_through(
            latest_key(tenant, customer_id, score_type),
            |c| if let Cached::Score(s) = c { Some(s) } else { None },
            Cached::Score,
            score_weight,
            load,
        )
    }

    /// The post-commit hook: bumps versions and invalidates every cached record the commit
    /// changed, and bumps the (tenant, table) versions that query results depend on.
    pub fn on_commit(&self, cs: &ChangeSet) {
        let mut tables: Vec<(&str, Table)> = Vec::new();
        for c in &cs.changes {
            if !tables.iter().any(|(t, tb)| *t == &*c.tenant && *tb == c.table) {
                tables.push((&c.tenant, c.table));
            }
            let kind = match c.table {
                Table::Customers => Kind::Customer,
                Table::LatestScores => Kind::Latest,
                _ => continue,
            };
            let key = build(kind, &c.tenant, &c.pk);
            self.stripes.bump(&key);
            self.l1.remove(&key);
        }
        for (tenant, table) in tables {
            self.table_versions.bump(&super::result::table_key(tenant, table));
        }
    }
}
