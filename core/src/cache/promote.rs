//! Promotion bookkeeping: counts hits on L2/L3 entries in a sliding window per key and
//! says when a key has earned a move up (L3→L2 after 2 hits in an hour, L2→L1 after 3 hits
//! in 5 minutes by default). Only the L2/L3 read path touches it, never the L1 hit path.
//! The table is bounded: past `MAX_TRACKED` keys, windows that already ended are dropped.

use dashmap::DashMap;
use std::sync::Arc;

const MAX_TRACKED: usize = 100_000;

/// Per-key hit windows.
#[derive(Default)]
pub struct Promoter {
    hits: DashMap<Arc<[u8]>, (i64, u32)>,
}

impl Promoter {
    /// Records a hit on `key` at `now`; true when it reached `threshold` hits within
    /// `window_ms` (the key's record is then cleared).
    pub fn hit(&self, key: &Arc<[u8]>, now: i64, window_ms: i64, threshold: u32) -> bool {
        if threshold <= 1 {
            return true;
        }
        let reached = {
            let mut e = self.hits.entry(key.clone()).or_insert((now, 0));
            if now - e.0 > window_ms {
                *e = (now, 0);
            }
            e.1 += 1;
            e.1 >= threshold
        };
        if reached {
            self.hits.remove(key);
        } else if self.hits.len() > MAX_TRACKED {
            self.hits.retain(|_, v| now - v.0 <= window_ms);
        }
        reached
    }

    /// Forgets `key` (it was overwritten or deleted).
    pub fn forget(&self, key: &[u8]) {
        self.hits.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_within_window() {
        let p = Promoter::default();
        let k: Arc<[u8]> = Arc::from(&b"k"[..]);
        assert!(!p.hit(&k, 0, 1000, 3));
        assert!(!p.hit(&k, 500, 1000, 3));
        assert!(p.hit(&k, 900, 1000, 3));
        // A new window: hits spread wider than the window never promote.
        assert!(!p.hit(&k, 10_000, 1000, 3));
        assert!(!p.hit(&k, 10_600, 1000, 3));
        assert!(!p.hit(&k, 11_200, 1000, 3), "the window restarted at 11_200 - 10_000 > 1000");
    }
}
