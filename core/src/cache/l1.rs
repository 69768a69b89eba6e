//! L1: the in-memory tier. A bounded concurrent map whose hit path takes no lock.
//!
//! Structure (and why):
//! - The index is a [`papaya::HashMap`], a lock-free hash table with epoch-based (seize)
//!   reclamation: `get` is a few atomic loads under a guard, never a mutex or `RwLock`, so
//!   readers scale and are never blocked by writers or by eviction.
//! - A hit records itself without touching shared lists: it sets the entry's `visited` bit
//!   (only when not already set, so hot entries cause no cache-line traffic) and bumps the
//!   [`Sketch`] (atomic 4-bit counters that stop changing once saturated).
//! - Policy is W-TinyLFU with CLOCK queues: new entries enter a small FIFO window (1 % of the
//!   bounds); an entry leaving the window competes with the main queue's CLOCK victim (the
//!   least frequent of the next few unvisited entries), and
//!   the one with the higher sketch frequency stays. Frequency-based admission keeps a
//!   strong hit ratio under skew, and one-hit wonders (scans) die in the window instead of
//!   flushing the main space. CLOCK (second chance via `visited`) replaces LRU so that hits
//!   never reorder a list.
//! - Every mutation of the map (insert, remove, eviction) happens under one policy mutex,
//!   and victims are removed from the map *before* a new entry is published, so the map
//!   never holds more than `max_items` entries or `max_bytes` bytes, at any instant.
//!   Writers pay the mutex; readers never do.
//!
//! An insert may carry an admission check run under that mutex (the engine's version check
//! that refuses a stale fill, see `cache::records`).

use super::sketch::Sketch;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

/// No expiry.
pub const NEVER: i64 = i64::MAX;

/// How many unvisited main-queue entries compete to be the victim (the least frequent
/// goes). Measured on `benches/cache_vs_moka.rs`: 4 gained 0.1-0.3 % hit ratio over 1 at
/// 10 % capacity and cost nothing measurable at 1 %.
const VICTIM_SAMPLE: usize = 4;

const DEAD: u8 = 0;
const WINDOW: u8 = 1;
const MAIN: u8 = 2;

struct Node<V> {
    key: Arc<[u8]>,
    value: V,
    weight: usize,
    hash: u64,
    expires_at: i64,
    visited: AtomicBool,
    queue: AtomicU8,
}

/// One entry pushed out of L1 (by the policy, or replaced), handed back to the caller.
#[derive(Debug, Clone)]
pub struct Evicted<V> {
    /// The entry's key.
    pub key: Arc<[u8]>,
    /// Its value.
    pub value: V,
    /// Its expiry (ms since the epoch; [`NEVER`] for none).
    pub expires_at: i64,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<V> {
    /// A live entry.
    Hit(V),
    /// An entry whose expiry has passed (the caller may remove it).
    Expired,
    /// Nothing.
    Miss,
}

/// The outcome of an insert.
#[derive(Debug)]
pub struct Inserted<V> {
    /// False when the admission check refused it, it weighed more than the byte bound, or
    /// the policy rejected it in favour of a more frequent entry.
    pub stored: bool,
    /// Entries evicted to make room (the caller may demote them).
    pub evicted: Vec<Evicted<V>>,
}

struct Policy<V> {
    window: VecDeque<Arc<Node<V>>>,
    main: VecDeque<Arc<Node<V>>>,
    w_items: usize,
    w_bytes: usize,
    m_items: usize,
    m_bytes: usize,
}

/// The L1 tier: a bounded lock-free-read map with W-TinyLFU admission.
pub struct L1<V> {
    map: papaya::HashMap<Arc<[u8]>, Arc<Node<V>>, foldhash::fast::FixedState>,
    hasher: foldhash::fast::FixedState,
    policy: Mutex<Policy<V>>,
    sketch: Sketch,
    max_items: usize,
    max_bytes: usize,
    w_cap_items: usize,
    w_cap_bytes: usize,
    items: AtomicUsize,
    bytes: AtomicUsize,
    evictions: AtomicU64,
}

impl<V: Clone + Send + Sync + 'static> L1<V> {
    /// An empty L1 bounded by `max_items` entries and `max_bytes` bytes (key + value).
    pub fn new(max_items: usize, max_bytes: usize) -> L1<V> {
        let max_items = max_items.max(1);
        let max_bytes = max_bytes.max(1);
        L1 {
            map: papaya::HashMap::builder()
                .capacity(max_items.min(1 << 20))
                .hasher(foldhash::fast::FixedState::with_seed(0x5eed))
                .build(),
            hasher: foldhash::fast::FixedState::with_seed(0x1f1f_2e2e),
            policy: Mutex::new(Policy {
                window: VecDeque::new(),
                main: VecDeque::new(),
                w_items: 0,
                w_bytes: 0,
                m_items: 0,
                m_bytes: 0,
            }),
            sketch: Sketch::new(max_items),
            max_items,
            max_bytes,
            w_cap_items: (max_items / 100).max(1),
            w_cap_bytes: (max_bytes / 100).max(1),
            items: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The hash used by the sketch (independent of the map's own hashing).
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Looks `key` up at time `now`. Lock-free: a guarded map read, a relaxed bit and the
    /// sketch increment.
    #[inline]
    pub fn get(&self, key: &[u8], now: i64) -> Lookup<V> {
        let guard = self.map.guard();
        match self.map.get(key, &guard) {
            Some(n) if n.expires_at > now => {
                self.touch(n);
                Lookup::Hit(n.value.clone())
            }
            Some(_) => Lookup::Expired,
            None => Lookup::Miss,
        }
    }

    /// [`L1::get`] for a caller that only needs something of the live value: `f` sees it
    /// in place (no clone of `V`, so no reference-count traffic for `Arc` values), and the
    /// clock is read (`now`) only when the entry has an expiry. `None` for a miss or an
    /// expired entry.
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], now: impl FnOnce() -> i64, f: impl FnOnce(&V) -> R) -> Option<R> {
        let guard = self.map.guard();
        let n = self.map.get(key, &guard)?;
        if n.expires_at != NEVER && n.expires_at <= now() {
            return None;
        }
        self.touch(n);
        Some(f(&n.value))
    }

    /// Records a hit on `n`: sets its CLOCK bit (only when not already set, so hot entries
    /// cause no cache-line traffic) and bumps its sketch frequency.
    #[inline]
    fn touch(&self, n: &Node<V>) {
        if !n.visited.load(Ordering::Relaxed) {
            n.visited.store(true, Ordering::Relaxed);
        }
        self.sketch.increment(n.hash);
    }

    /// Reads without recording an access (stats, tests, the hot-set snapshot).
    pub fn peek(&self, key: &[u8]) -> Option<(V, i64)> {
        let guard = self.map.guard();
        self.map.get(key, &guard).map(|n| (n.value.clone(), n.expires_at))
    }

    /// True when `key` is present (expired or not).
    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.pin().contains_key(key)
    }

    /// Inserts (or replaces) `key`. `admit` runs under the policy lock and can refuse the
    /// insert (the stale-fill check). Entries heavier than the byte bound are not stored.
    pub fn insert(
        &self,
        key: Arc<[u8]>,
        value: V,
        weight: usize,
        expires_at: i64,
        admit: impl FnOnce() -> bool,
    ) -> Inserted<V> {
        let hash = self.hash(&key);
        self.sketch.increment(hash);
        let mut out = Inserted { stored: false, evicted: Vec::new() };
        if weight > self.max_bytes {
            return out;
        }
        let mut p = self.policy.lock();
        if !admit() {
            return out;
        }
        let guard = self.map.guard();
        if let Some(old) = self.map.remove(&key[..], &guard) {
            self.unlink(&mut p, old.clone());
        }
        let node = Arc::new(Node {
            key: key.clone(),
            value,
            weight,
            hash,
            expires_at,
            visited: AtomicBool::new(false),
            queue: AtomicU8::new(WINDOW),
        });
        p.window.push_back(node.clone());
        p.w_items += 1;
        p.w_bytes += weight;
        self.maintain(&mut p, &guard, &mut out.evicted);
        if node.queue.load(Ordering::Relaxed) != DEAD {
            self.map.insert(key, node, &guard);
            out.stored = true;
        }
        self.publish(&p);
        out
    }

    /// Removes `key`; returns its value when it was present.
    pub fn remove(&self, key: &[u8]) -> Option<V> {
        self.remove_where(key, |_| true)
    }

    /// Removes `key` if it expired by `now`; true when removed.
    pub fn remove_expired(&self, key: &[u8], now: i64) -> bool {
        self.remove_where(key, |e| e <= now).is_some()
    }

    fn remove_where(&self, key: &[u8], pred: impl FnOnce(i64) -> bool) -> Option<V> {
        let mut p = self.policy.lock();
        let guard = self.map.guard();
        let node = self.map.get(key, &guard)?.clone();
        if !pred(node.expires_at) {
            return None;
        }
        self.map.remove(key, &guard);
        let v = node.value.clone();
        self.unlink(&mut p, node);
        self.compact(&mut p);
        self.publish(&p);
        Some(v)
    }

    /// Removes every entry expired by `now`; returns how many.
    pub fn purge_expired(&self, now: i64) -> usize {
        let keys: Vec<Arc<[u8]>> = {
            let guard = self.map.guard();
            self.map.iter(&guard).filter(|(_, n)| n.expires_at <= now).map(|(k, _)| k.clone()).collect()
        };
        keys.iter().filter(|k| self.remove_expired(k, now)).count()
    }

    /// Removes every entry whose key satisfies `pred`; returns how many.
    pub fn remove_matching(&self, pred: impl Fn(&[u8]) -> bool) -> usize {
        let keys: Vec<Arc<[u8]>> = {
            let guard = self.map.guard();
            self.map.iter(&guard).filter(|(k, _)| pred(k)).map(|(k, _)| k.clone()).collect()
        };
        keys.iter().filter(|k| self.remove(k).is_some()).count()
    }

    /// Up to `n` entries, most frequent first (the hot set), with their sketch frequency.
    pub fn hottest(&self, n: usize) -> Vec<(Evicted<V>, u8)> {
        // An owned guard takes no thread-local slot: the hot set is saved when the engine
        // closes, which may be while the thread's locals are being destroyed (an engine
        // kept in a `thread_local!`), where a local guard panics.
        let guard = self.map.owned_guard();
        let mut all: Vec<(Evicted<V>, u8)> = self
            .map
            .iter(&guard)
            .map(|(k, node)| {
                let freq = self.sketch.frequency(node.hash);
                (Evicted { key: k.clone(), value: node.value.clone(), expires_at: node.expires_at }, freq)
            })
            .collect();
        all.sort_by_key(|a| std::cmp::Reverse(a.1));
        all.truncate(n);
        all
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (sum of entry weights).
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Entries in the map itself (equals [`L1::len`] whenever no insert is mid-flight).
    pub fn map_len(&self) -> usize {
        self.map.len()
    }

    /// Entries evicted by the policy since creation.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The item bound.
    pub fn max_items(&self) -> usize {
        self.max_items
    }

    /// The byte bound.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks the internal invariants (tests): map and accounting agree and both bounds
    /// hold. Takes the policy lock.
    pub fn check_invariants(&self) -> Result<(), String> {
        let p = self.policy.lock();
        let guard = self.map.guard();
        let (mut n, mut b) = (0usize, 0usize);
        for (k, node) in self.map.iter(&guard) {
            n += 1;
            b += node.weight;
            if node.queue.load(Ordering::Relaxed) == DEAD {
                return Err(format!("dead node in map for key {k:?}"));
            }
        }
        let live = |q: &VecDeque<Arc<Node<V>>>, which| q.iter().filter(|x| x.queue.load(Ordering::Relaxed) == which).count();
        if live(&p.window, WINDOW) != p.w_items || live(&p.main, MAIN) != p.m_items {
            return Err("queue accounting differs from queue contents".into());
        }
        if n != p.w_items + p.m_items || b != p.w_bytes + p.m_bytes {
            return Err(format!("map has {n} entries / {b} bytes, policy {} / {}", p.w_items + p.m_items, p.w_bytes + p.m_bytes));
        }
        if n > self.max_items || b > self.max_bytes {
            return Err(format!("bound exceeded: {n} items, {b} bytes"));
        }
        Ok(())
    }

    fn publish(&self, p: &Policy<V>) {
        self.items.store(p.w_items + p.m_items, Ordering::Relaxed);
        self.bytes.store(p.w_bytes + p.m_bytes, Ordering::Relaxed);
    }

    /// Marks a node dead and takes it out of the accounting (it stays in its queue until
    /// popped or compacted).
    fn unlink(&self, p: &mut Policy<V>, node: Arc<Node<V>>) {
        match node.queue.swap(DEAD, Ordering::Relaxed) {
            WINDOW => {
                p.w_items -= 1;
                p.w_bytes -= node.weight;
            }
            MAIN => {
                p.m_items -= 1;
                p.m_bytes -= node.weight;
            }
            _ => {}
        }
    }

    fn compact(&self, p: &mut Policy<V>) {
        if p.window.len() > 2 * p.w_items + 64 {
            p.window.retain(|n| n.queue.load(Ordering::Relaxed) == WINDOW);
        }
        if p.main.len() > 2 * p.m_items + 64 {
            p.main.retain(|n| n.queue.load(Ordering::Relaxed) == MAIN);
        }
    }

    fn evict(&self, p: &mut Policy<V>, node: Arc<Node<V>>, guard: &impl papaya::Guard, out: &mut Vec<Evicted<V>>) {
        let _ = self.map.remove_if(&node.key[..], |_, cur| Arc::ptr_eq(cur, &node), guard);
        let e = Evicted { key: node.key.clone(), value: node.value.clone(), expires_at: node.expires_at };
        self.unlink(p, node);
        self.evictions.fetch_add(1, Ordering::Relaxed);
        out.push(e);
    }

    /// The next CLOCK victim of the main queue (popped; a visited entry gets a second
    /// chance at the back). Among the first few unvisited entries the one with the lowest
    /// sketch frequency is chosen; the others go back to the front in their order.
    fn main_victim(&self, p: &mut Policy<V>) -> Option<Arc<Node<V>>> {
        let mut budget = p.main.len() * 2 + 1;
        // A fixed array, not a Vec: this runs on every eviction, under the policy lock.
        let mut picked: [Option<Arc<Node<V>>>; VICTIM_SAMPLE] = Default::default();
        let mut k = 0;
        while k < VICTIM_SAMPLE {
            let Some(n) = p.main.pop_front() else { break };
            if n.queue.load(Ordering::Relaxed) != MAIN {
                continue;
            }
            if budget > 0 && n.visited.swap(false, Ordering::Relaxed) {
                budget -= 1;
                p.main.push_back(n);
                continue;
            }
            picked[k] = Some(n);
            k += 1;
        }
        let best = (0..k).min_by_key(|&i| picked[i].as_ref().map_or(u8::MAX, |n| self.sketch.frequency(n.hash)))?;
        let victim = picked[best].take();
        for n in picked[..k].iter_mut().rev().filter_map(Option::take) {
            p.main.push_front(n);
        }
        victim
    }

    fn pop_window(p: &mut Policy<V>) -> Option<Arc<Node<V>>> {
        while let Some(n) = p.window.pop_front() {
            if n.queue.load(Ordering::Relaxed) == WINDOW {
                p.w_items -= 1;
                p.w_bytes -= n.weight;
                return Some(n);
            }
        }
        None
    }

    fn to_main(p: &mut Policy<V>, n: Arc<Node<V>>) {
        n.queue.store(MAIN, Ordering::Relaxed);
        p.m_items += 1;
        p.m_bytes += n.weight;
        p.main.push_back(n);
    }

    /// Restores both bounds (and the window's share), evicting as the policy decides.
    fn maintain(&self, p: &mut Policy<V>, guard: &impl papaya::Guard, out: &mut Vec<Evicted<V>>) {
        loop {
            let items = p.w_items + p.m_items;
            let bytes = p.w_bytes + p.m_bytes;
            let over_total = items > self.max_items || bytes > self.max_bytes;
            let over_window = p.w_items > self.w_cap_items || p.w_bytes > self.w_cap_bytes;
            if !over_total && !over_window {
                break;
            }
            if over_window || p.m_items == 0 {
                let Some(cand) = Self::pop_window(p) else { break };
                // The candidate is out of the window's accounting; count it back while it
                // competes so a failed duel can evict it cleanly.
                let over = items > self.max_items || bytes > self.max_bytes;
                if !over {
                    Self::to_main(p, cand);
                    continue;
                }
                cand.queue.store(MAIN, Ordering::Relaxed);
                p.m_items += 1;
                p.m_bytes += cand.weight;
                match self.main_victim(p) {
                    Some(victim) if !Arc::ptr_eq(&victim, &cand) => {
                        if self.sketch.frequency(cand.hash) > self.sketch.frequency(victim.hash) {
                            self.evict(p, victim, guard, out);
                            p.main.push_back(cand);
                        } else {
                            p.main.push_front(victim);
                            self.evict(p, cand, guard, out);
                        }
                    }
                    _ => self.evict(p, cand, guard, out),
                }
            } else if let Some(victim) = self.main_victim(p) {
                self.evict(p, victim, guard, out);
            } else if let Some(n) = Self::pop_window(p) {
                p.w_items += 1;
                p.w_bytes += n.weight;
                self.evict(p, n, guard, out);
            } else {
                break;
            }
        }
        self.compact(p);
    }
}
