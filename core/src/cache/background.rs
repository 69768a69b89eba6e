//! The cache's background threads: one warms L1 from the persisted hot set and then builds
//! the L2/L3 presence filter (it ends when done); the other drains demotions, sweeps
//! expired entries, persists the hot set and makes cache commits durable on their
//! intervals until the cache closes, and moves the lookups counted since the last tick into
//! the hourly access counts (`Cache::count_access`). Neither delays `Engine::open`; `Cache::close` stops
//! and joins both.

use super::tiers::Cache;
use std::sync::atomic::Ordering;
use redb::Database;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(20);

impl Cache {
    /// Starts the background threads (no-op when `CacheOptions::background` is off, except
    /// that warming still runs when enabled).
    pub fn start(self: &Arc<Cache>, data: Option<Arc<Database>>) {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        *self.stop.lock() = Some(stop_tx);
        let mut threads = self.threads.lock();
        let c = self.clone();
        let warm = self.opts.warm_on_open;
        threads.push(
            std::thread::Builder::new()
                .name("cidb-cache-warm".into())
                .spawn(move || {
                    if warm {
                        let _ = c.warm(data.as_deref());
                    }
                    let _ = c.build_presence();
                })
                .expect("spawn cache warm thread"),
        );
        if !self.opts.background {
            return;
        }
        let c = self.clone();
        threads.push(
            std::thread::Builder::new()
                .name("cidb-cache".into())
                .spawn(move || {
                    let (mut sweep, mut persist, mut durable) = (Instant::now(), Instant::now(), Instant::now());
                    // Lookups count their hour through this thread's flushes (not with a
                    // manual clock: tests move it and expect each access in its hour).
                    let tick_clock = |c: &Cache| c.counters.hourly.flush(c.clock.now());
                    c.ticking.store(!c.clock.is_manual(), Ordering::Relaxed);
                    // Every tick until the stop message (or the sender's drop).
                    while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(TICK) {
                        tick_clock(&c);
                        let _ = c.drain_demotions();
                        if sweep.elapsed() >= c.opts.sweep_interval {
                            let _ = c.sweep();
                            sweep = Instant::now();
                        }
                        if persist.elapsed() >= c.opts.persist_interval {
                            let _ = c.persist_hot(false);
                            persist = Instant::now();
                        }
                        if durable.elapsed() >= c.opts.durable_interval {
                            if let Ok(s) = c.store() {
                                let _ = s.make_durable();
                            }
                            durable = Instant::now();
                        }
                    }
                    c.ticking.store(false, Ordering::Relaxed);
                    tick_clock(&c);
                })
                .expect("spawn cache thread"),
        );
    }
}
