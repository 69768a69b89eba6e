//! Warming: the hot set (the most frequent L1 entries) is written to the cache file
//! periodically and at close; at open a background thread loads it back into L1 while the
//! engine already serves requests. Application values are persisted with their bytes;
//! engine records as keys only, re-read from the data store through the same version-
//! checked fill as a normal read. Query results are not persisted (they are bound to the
//! open epoch).
//!
//! A key touched by a write after open is never overwritten by warming: stripe versions
//! start at 0 at open and every write bumps them, so warming fills only keys whose stripe
//! is still 0. Keys in the persisted set are remembered; a set or delete of one removes it
//! from the file so a crash cannot bring back the older value.

use super::keys::{split, Kind};
use super::l1::NEVER;
use super::store::HotEntry;
use super::tiers::{Cache, Cached, Item};
use crate::error::Result;
use crate::storage::keys::KeyReader;
use crate::storage::stores;
use redb::{Database, ReadableDatabase};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Cache {
    /// Writes the current hot set (replacing the previous one).
    pub fn persist_hot(&self, durable: bool) -> Result<()> {
        let store = self.store()?;
        let n = if self.opts.hot_set_size == 0 { self.l1.max_items() } else { self.opts.hot_set_size };
        let now = self.clock.now();
        let mut entries = Vec::new();
        let mut app_keys = Vec::new();
        for (e, freq) in self.l1.hottest(n) {
            if e.expires_at <= now {
                continue;
            }
            let value = match (Kind::of(&e.key), &e.value.val) {
                (Some(Kind::App), Cached::Bytes(b)) => {
                    app_keys.push(e.key.clone());
                    Some(b.to_vec())
                }
                (Some(Kind::Customer | Kind::Latest), _) => None,
                _ => continue,
            };
            entries.push(HotEntry { key: e.key.to_vec(), freq, expires_at: e.expires_at, value });
        }
        // Remember the keys first: a write racing this snapshot then removes its row.
        self.hot_keys.lock().extend(app_keys);
        store.save_hot(&entries, durable)
    }

    /// Loads the persisted hot set into L1; returns how many entries were loaded. Stops
    /// early when the cache closes.
    pub fn warm(&self, data: Option<&Database>) -> Result<usize> {
        let store = self.store()?;
        let hot = store.load_hot()?;
        let now = self.clock.now();
        let mut loaded = 0;
        for e in hot {
            if self.closed.load(Ordering::Acquire) {
                break;
            }
            if e.expires_at <= now {
                continue;
            }
            let key: Arc<[u8]> = e.key.into();
            let ok = match Kind::of(&key) {
                Some(Kind::App) => {
                    let Some(v) = e.value else { continue };
                    self.hot_keys.lock().insert(key.clone());
                    if self.stripes.get(&key) != 0 {
                        // Written since open: the persisted value is outdated.
                        if self.hot_keys.lock().remove(&key) {
                            store.forget_hot(&key)?;
                        }
                        continue;
                    }
                    let item = Item { val: Cached::Bytes(v.as_slice().into()), ver: 0 };
                    let r = self.l1.insert(key.clone(), item, super::records::entry_weight(key.len(), super::records::alloc_size(16 + v.len())), e.expires_at, || self.stripes.get(&key) == 0);
                    self.handle_evicted(r.evicted);
                    r.stored
                }
                Some(Kind::Customer) => match data {
                    Some(db) => self.warm_record(db, &key, true)?,
                    None => false,
                },
                Some(Kind::Latest) => match data {
                    Some(db) => self.warm_record(db, &key, false)?,
                    None => false,
                },
                _ => false,
            };
            if ok {
                loaded += 1;
                self.counters.warmed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(loaded)
    }

    fn warm_record(&self, db: &Database, key: &Arc<[u8]>, customer: bool) -> Result<bool> {
        let Some((tenant, rest)) = split(key) else { return Ok(false) };
        let mut r = KeyReader::new(rest);
        let v0 = self.stripes.get(key);
        if v0 != 0 {
            return Ok(false);
        }
        let txn = db.begin_read()?;
        let (val, weight) = if customer {
            let id = r.str()?;
            match stores::get_customer(&txn.open_table(crate::storage::CUSTOMERS)?, &tenant, &id)? {
                Some(c) => {
                    let w = super::records::customer_weight(&c);
                    (Cached::Customer(Arc::new(c)), w)
                }
                None => return Ok(false),
            }
        } else {
            let (cid, ty) = (r.str()?, r.str()?);
            match stores::latest_score(&txn.open_table(crate::storage::LATEST)?, &tenant, &cid, &ty)? {
                Some(s) => {
                    let w = super::records::score_weight(&s);
                    (Cached::Score(Arc::new(s)), w)
                }
                None => return Ok(false),
            }
        };
        let item = Item { val, ver: v0 };
        let r = self.l1.insert(key.clone(), item, super::records::entry_weight(key.len(), weight), NEVER, || self.stripes.get(key) == v0);
        Ok(r.stored)
    }

    /// Marks every key already in L2/L3 in the presence filter, then lets it answer.
    pub fn build_presence(&self) -> Result<()> {
        let store = self.store()?;
        store.for_each_key(|k| self.presence.mark(k))?;
        self.presence.set_ready();
        Ok(())
    }
}
