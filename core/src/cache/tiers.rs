//! The tiered cache itself: one L1 over the L2/L3 store, with placement by size, lazy
//! expiry, promotion by observed frequency, demotion of L1 victims, and the version checks
//! that keep every fill from installing a value older than the last write.
//!
//! Byte entries (application values, query results) live in exactly one tier at a time:
//! a set places the value by size and removes any older copy below; a promotion moves it
//! up; an L1 eviction moves it down (through a queue the background task drains). Engine
//! records (customers, latest scores) live in L1 only: their source of truth is the data
//! store, so losing them costs one read.

use super::keys::Stripes;
use super::l1::{Evicted, Lookup, L1, NEVER};
use super::options::{ms, CacheOptions};
use super::promote::Promoter;
use super::stats::{CacheStats, Counter, Hourly, TierCounters};
use super::store::{Found, Store, Tier};
use crate::error::{err, ErrorKind, Result};
use crate::model::{Clock, Customer, Score};
use arc_swap::ArcSwapOption;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A value held in L1.
#[derive(Debug, Clone)]
pub enum Cached {
    /// Bytes (application values, query results).
    Bytes(Arc<[u8]>),
    /// A customer record.
    Customer(Arc<Customer>),
    /// A latest score.
    Score(Arc<Score>),
}

/// In-flight `get_or_set` computations: key to the slot its waiters read.
pub(crate) type Inflight = dashmap::DashMap<Arc<[u8]>, Arc<Mutex<Option<Arc<[u8]>>>>>;

/// One L1 victim on its way down: tier, entry, stored bytes, expiry, zstd level.
type Demotion<'a> = (Tier, &'a Evicted<Item>, &'a [u8], i64, i32);

/// An L1 value with the stripe version it was filled under.
#[derive(Debug, Clone)]
pub struct Item {
    /// The value.
    pub val: Cached,
    /// The version of the key's stripe when the value was read or written.
    pub ver: u64,
}

/// Counters of the whole cache.
#[derive(Default)]
pub(crate) struct Counters {
    pub l1: TierCounters,
    pub l2: TierCounters,
    pub l3: TierCounters,
    pub hourly: Hourly,
    pub result_hits: Counter,
    pub result_misses: Counter,
    pub stale_refused: Counter,
    pub warmed: AtomicU64,
}

/// Set bits for keys that may be in L2/L3: a clear bit proves absence, so L1 misses on
/// absent keys skip the redb read. Bits are set before the commit that stores a key and
/// never cleared (a stale bit only costs a read); until the background scan of existing
/// keys finishes, every key counts as possibly present.
pub(crate) struct Presence {
    bits: Box<[AtomicU64]>,
    ready: AtomicBool,
    hasher: foldhash::fast::FixedState,
}

impl Presence {
    fn new() -> Presence {
        Presence {
            bits: (0..(1 << 14)).map(|_| AtomicU64::new(0)).collect(),
            ready: AtomicBool::new(false),
            hasher: foldhash::fast::FixedState::with_seed(0xb10b),
        }
    }
    fn pos(&self, key: &[u8]) -> (usize, u64) {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(key) as usize & ((1 << 20) - 1);
        (h >> 6, 1u64 << (h & 63))
    }
    pub fn mark(&self, key: &[u8]) {
        let (w, b) = self.pos(key);
        self.bits[w].fetch_or(b, Ordering::SeqCst);
    }
    pub fn maybe(&self, key: &[u8]) -> bool {
        if !self.ready.load(Ordering::SeqCst) {
            return true;
        }
        let (w, b) = self.pos(key);
        self.bits[w].load(Ordering::SeqCst) & b != 0
    }
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

/// The tiered cache of one engine.
pub struct Cache {
    pub(crate) l1: L1<Item>,
    store: ArcSwapOption<Store>,
    pub(crate) opts: CacheOptions,
    pub(crate) clock: Clock,
    pub(crate) stripes: Stripes,
    pub(crate) table_versions: Stripes,
    pub(crate) counters: Counters,
    promo: Promoter,
    pub(crate) presence: Presence,
    pub(crate) hot_keys: Mutex<HashSet<Arc<[u8]>>>,
    demote_tx: Sender<Evicted<Item>>,
    demote_rx: Receiver<Evicted<Item>>,
    pub(crate) epoch: u64,
    pub(crate) inflight: Inflight,
    pub(crate) closed: AtomicBool,
    /// True while the background thread flushes the hourly counts every tick (never with
    /// a manual clock); see [`Cache::count_access`].
    pub(crate) ticking: AtomicBool,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) stop: Mutex<Option<Sender<()>>>,
    /// Warnings raised at open (a discarded cache file).
    warnings: Vec<String>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("l1_items", &self.l1.len()).field("epoch", &self.epoch).finish()
    }
}

impl Cache {
    /// Counts one lookup into the hourly access counts: without reading the clock or a
    /// locked instruction while the background thread ticks (it attributes the count to
    /// the hour at its next tick), with the precise clock otherwise (no background thread,
    /// or a manual clock that tests move and expect the effect of at once).
    #[inline]
    pub(crate) fn count_access(&self) {
        if self.ticking.load(Ordering::Relaxed) {
            self.counters.hourly.record_pending();
        } else {
            self.counters.hourly.record(self.clock.now());
        }
    }

    /// Opens the cache file in `dir`. Background work is started separately
    /// ([`Cache::start`]) so that `open` never waits for it.
    pub fn open(dir: &Path, l1_items: usize, l1_bytes: usize, opts: CacheOptions, clock: Clock) -> Result<Cache> {
        let (store, epoch, warning) = Store::open_or_rebuild(dir)?;
        let (demote_tx, demote_rx) = crossbeam_channel::unbounded();
        Ok(Cache {
            l1: L1::new(l1_items, l1_bytes),
            store: ArcSwapOption::new(Some(Arc::new(store))),
            opts,
            clock,
            stripes: Stripes::default(),
            table_versions: Stripes::default(),
            counters: Counters::default(),
            promo: Promoter::default(),
            presence: Presence::new(),
            hot_keys: Mutex::new(HashSet::new()),
            demote_tx,
            demote_rx,
            epoch,
            inflight: Default::default(),
            closed: AtomicBool::new(false),
            ticking: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            stop: Mutex::new(None),
            warnings: warning.into_iter().collect(),
        })
    }

    /// The memory tier (tests, benchmarks, diagnostics).
    pub fn l1(&self) -> &L1<Item> {
        &self.l1
    }

    pub(crate) fn store(&self) -> Result<Arc<Store>> {
        self.store.load_full().ok_or_else(|| err(ErrorKind::Closed, "the engine is closed"))
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(())
    }

    fn tier_counters(&self, t: Tier) -> &TierCounters {
        match t {
            Tier::L2 => &self.counters.l2,
            Tier::L3 => &self.counters.l3,
        }
    }

    /// Reads a byte entry through the tiers.
    pub(crate) fn get_bytes(&self, key: &Arc<[u8]>) -> Result<Option<Arc<[u8]>>> {
        let now = self.clock.now();
        self.count_access();
        match self.l1.get(key, now) {
            Lookup::Hit(Item { val: Cached::Bytes(b), .. }) => {
                self.counters.l1.hits.inc();
                return Ok(Some(b));
            }
            Lookup::Hit(_) => return Ok(None),
            Lookup::Expired => {
                self.counters.l1.misses.inc();
                if self.l1.remove_expired(key, now) {
                    self.counters.l1.expirations.inc();
                }
                return Ok(None);
            }
            Lookup::Miss => self.counters.l1.misses.inc(),
        }
        if !self.presence.maybe(key) {
            self.counters.l2.misses.inc();
            self.counters.l3.misses.inc();
            return Ok(None);
        }
        let store = self.store()?;
        let v0 = self.stripes.get(key);
        match store.get(key, now)? {
            Found::Live(tier, data, exp) => {
                if tier == Tier::L3 {
                    self.counters.l2.misses.inc();
                }
                self.tier_counters(tier).hits.inc();
                let data: Arc<[u8]> = data.into();
                self.maybe_promote(&store, key, tier, &data, exp, v0, now)?;
                Ok(Some(data))
            }
            Found::Expired(tier) => {
                if tier == Tier::L3 {
                    self.counters.l2.misses.inc();
                }
                self.tier_counters(tier).misses.inc();
                if store.remove(key, |e| e.is_some_and(|e| e <= now))?.is_some() {
                    self.tier_counters(tier).expirations.inc();
                }
                Ok(None)
            }
            Found::Absent => {
                self.counters.l2.misses.inc();
                self.counters.l3.misses.inc();
                Ok(None)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn maybe_promote(&self, store: &Store, key: &Arc<[u8]>, tier: Tier, data: &Arc<[u8]>, exp: i64, v0: u64, now: i64) -> Result<()> {
        let o = &self.opts;
        match tier {
            Tier::L3 => {
                if self.promo.hit(key, now, ms(o.l3_promote_window), o.l3_promote_hits)
                    && store.promote(key, || self.stripes.get(key) == v0)?
                {
                    self.counters.l2.promotions.inc();
                }
            }
            Tier::L2 => {
                if data.len() < o.l1_max_value && self.promo.hit(key, now, ms(o.l2_promote_window), o.l2_promote_hits) {
                    let item = Item { val: Cached::Bytes(data.clone()), ver: v0 };
                    let r = self.l1.insert(key.clone(), item, super::records::entry_weight(key.len(), super::records::alloc_size(16 + data.len())), exp, || self.stripes.get(key) == v0);
                    self.handle_evicted(r.evicted);
                    if r.stored {
                        self.counters.l1.promotions.inc();
                        store.remove(key, |_| self.stripes.get(key) == v0 && self.l1.contains(key))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes a byte entry, placed by size; `ttl` overrides the tier's default.
    pub(crate) fn set_bytes(&self, key: Arc<[u8]>, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let store = self.store()?;
        let now = self.clock.now();
        let ver = self.stripes.bump(&key);
        self.promo.forget(&key);
        self.forget_hot(&store, &key)?;
        let o = &self.opts;
        if value.len() < o.l1_max_value {
            if self.presence.maybe(&key) {
                store.remove(&key, |_| true)?;
            }
            let exp = ttl.map_or(NEVER, |t| now.saturating_add(ms(t)));
            let item = Item { val: Cached::Bytes(value.into()), ver };
            let r = self.l1.insert(key.clone(), item, super::records::entry_weight(key.len(), super::records::alloc_size(16 + value.len())), exp, || self.stripes.get(&key) == ver);
            self.handle_evicted(r.evicted);
        } else {
            let (tier, def, level) = if value.len() < o.l2_max_value {
                (Tier::L2, o.l2_ttl, o.l2_zstd_level)
            } else {
                (Tier::L3, o.l3_ttl, o.l3_zstd_level)
            };
            self.l1.remove(&key);
            self.presence.mark(&key);
            let exp = now.saturating_add(ms(ttl.unwrap_or(def)));
            store.put(tier, &key, value, exp, level, o.compress_over, || self.stripes.get(&key) == ver)?;
        }
        Ok(())
    }

    /// Removes a byte entry from every tier; true when a live one existed.
    pub(crate) fn delete_bytes(&self, key: &Arc<[u8]>) -> Result<bool> {
        let store = self.store()?;
        let now = self.clock.now();
        self.stripes.bump(key);
        self.promo.forget(key);
        self.forget_hot(&store, key)?;
        let in_l1 = self.l1.peek(key).is_some_and(|(_, e)| e > now);
        self.l1.remove(key);
        let mut below = false;
        if self.presence.maybe(key) {
            store.remove(key, |e| {
                below = e.is_some_and(|e| e > now);
                true
            })?;
        }
        Ok(in_l1 || below)
    }

    fn forget_hot(&self, store: &Store, key: &[u8]) -> Result<()> {
        if self.hot_keys.lock().remove(key) {
            store.forget_hot(key)?;
        }
        Ok(())
    }

    /// Takes L1 victims: byte entries go to the demotion queue, records are dropped.
    pub(crate) fn handle_evicted(&self, evicted: Vec<Evicted<Item>>) {
        for e in evicted {
            if let Cached::Bytes(_) = e.value.val {
                let _ = self.demote_tx.send(e);
            }
        }
    }

    /// Writes queued L1 victims to L2 (or L3 by size) in one commit; a victim whose key was
    /// written since is dropped (version check inside the transaction).
    pub fn drain_demotions(&self) -> Result<usize> {
        let batch: Vec<Evicted<Item>> = self.demote_rx.try_iter().take(4096).collect();
        if batch.is_empty() {
            return Ok(0);
        }
        let store = self.store()?;
        let now = self.clock.now();
        let o = &self.opts;
        let live: Vec<Demotion<'_>> = batch
            .iter()
            .filter(|e| e.expires_at > now)
            .filter_map(|e| match &e.value.val {
                Cached::Bytes(b) => {
                    let (tier, def, level) = if b.len() < o.l2_max_value {
                        (Tier::L2, o.l2_ttl, o.l2_zstd_level)
                    } else {
                        (Tier::L3, o.l3_ttl, o.l3_zstd_level)
                    };
                    let exp = if e.expires_at == NEVER { now.saturating_add(ms(def)) } else { e.expires_at };
                    Some((tier, e, &b[..], exp, level))
                }
                _ => None,
            })
            .collect();
        for (_, e, ..) in &live {
            self.presence.mark(&e.key);
        }
        let demoted = AtomicU64::new(0);
        let refused = AtomicU64::new(0);
        let items = live.iter().map(|(tier, e, b, exp, level)| {
            let (key, ver, tier) = (e.key.clone(), e.value.ver, *tier);
            let (demoted, refused) = (&demoted, &refused);
            let check: Box<dyn FnOnce() -> bool + '_> = Box::new(move || {
                let ok = self.stripes.get(&key) == ver && !self.l1.contains(&key);
                if ok {
                    let c = if tier == Tier::L2 { &self.counters.l2 } else { &self.counters.l3 };
                    c.demotions.inc();
                    demoted.fetch_add(1, Ordering::Relaxed);
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                ok
            });
            (tier, &e.key[..], *b, *exp, *level, check)
        });
        store.put_many(items, o.compress_over)?;
        Ok(demoted.load(Ordering::Relaxed) as usize)
    }

    /// One round of background work, also callable directly (tests with a manual clock):
    /// drain demotions, sweep expired entries from every tier, make commits durable.
    pub fn maintain(&self) -> Result<()> {
        self.drain_demotions()?;
        self.sweep()?;
        self.store()?.make_durable()
    }

    /// Removes expired entries: L2/L3 through the expiry index, L1 by a pass over the map.
    pub fn sweep(&self) -> Result<()> {
        let now = self.clock.now();
        let store = self.store()?;
        loop {
            let n = store.sweep(now, 4096)?;
            self.counters.l2.expirations.add(n[0]);
            self.counters.l3.expirations.add(n[1]);
            if n[0] + n[1] < 4096 {
                break;
            }
        }
        let n = self.l1.purge_expired(now);
        self.counters.l1.expirations.add(n as u64);
        Ok(())
    }

    /// The analytics snapshot.
    pub fn stats(&self) -> CacheStats {
        let now = self.clock.now();
        let (entries, bytes) = match self.store.load_full() {
            Some(s) => (s.entries().unwrap_or([0, 0]), s.bytes()),
            None => ([0, 0], [0, 0]),
        };
        let mut l1 = self.counters.l1.snapshot(self.l1.len() as u64, self.l1.bytes() as u64);
        l1.evictions = self.l1.evictions();
        CacheStats {
            l1,
            l2: self.counters.l2.snapshot(entries[0], bytes[0]),
            l3: self.counters.l3.snapshot(entries[1], bytes[1]),
            hourly: self.counters.hourly.snapshot(now),
            result_hits: self.counters.result_hits.get(),
            result_misses: self.counters.result_misses.get(),
            stale_fills_refused: self.counters.stale_refused.get(),
            warmed: self.counters.warmed.load(Ordering::Relaxed),
            warnings: self.warnings.clone(),
        }
    }

    /// Where a key currently is: 1, 2, 3, or 0 when absent (tests and diagnostics; it
    /// records no access).
    pub fn tier_of(&self, key: &[u8]) -> Result<u8> {
        if self.l1.contains(key) {
            return Ok(1);
        }
        Ok(match self.store()?.get(key, i64::MIN)? {
            Found::Live(Tier::L2, ..) | Found::Expired(Tier::L2) => 2,
            Found::Live(Tier::L3, ..) | Found::Expired(Tier::L3) => 3,
            Found::Absent => 0,
        })
    }

    /// Stops background work, writes queued demotions, persists the hot set durably and
    /// closes the cache file. Idempotent.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.stop.lock().take();
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        let r = self.drain_demotions().and_then(|_| self.persist_hot(true)).and_then(|_| self.store()?.make_durable());
        self.store.store(None);
        r
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
