//! The circuit breaker around storage. After `threshold` storage failures within `window`
//! it opens: writes fail fast with `Unavailable` naming the last cause, while reads keep
//! being served. After `cooldown` one write is let through as a half-open probe; its
//! success closes the breaker, its failure re-opens it for another cooldown.

use super::writer::StorageGuard;
use crate::error::{err, Error, ErrorKind, Result};
use crate::model::Clock;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOptions {
    /// Failures within `window` that open the breaker (default 5).
    pub threshold: u32,
    /// The window failures are counted in (default 60 s).
    pub window: Duration,
    /// How long the breaker stays open before one probe (default 60 s).
    pub cooldown: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions { threshold: 5, window: Duration::from_secs(60), cooldown: Duration::from_secs(60) }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Storage is used normally.
    Closed,
    /// Writes fail fast.
    Open,
    /// One probe write is in flight.
    HalfOpen,
}

/// State and counts, for stats.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BreakerStats {
    /// Current state.
    pub state: BreakerState,
    /// Storage failures seen since open.
    pub failures: u64,
    /// Times the breaker opened.
    pub opened: u64,
    /// Writes refused while open.
    pub rejected: u64,
    /// The last storage failure, if any.
    pub last_error: Option<String>,
}

struct Inner {
    state: BreakerState,
    recent: VecDeque<i64>,
    opened_at: i64,
    stats: BreakerStats,
}

/// A circuit breaker reading time from the engine's clock.
pub struct Breaker {
    opts: BreakerOptions,
    clock: Clock,
    inner: Mutex<Inner>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(opts: BreakerOptions, clock: Clock) -> Breaker {
        Breaker {
            opts,
            clock,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                recent: VecDeque::new(),
                opened_at: 0,
                stats: BreakerStats { state: BreakerState::Closed, failures: 0, opened: 0, rejected: 0, last_error: None },
            }),
        }
    }

    /// A snapshot of the state and counts.
    pub fn stats(&self) -> BreakerStats {
        let g = self.inner.lock();
        BreakerStats { state: g.state, ..g.stats.clone() }
    }
}

impl StorageGuard for Breaker {
    fn admit(&self) -> Result<bool> {
        let mut g = self.inner.lock();
        match g.state {
            BreakerState::Closed => Ok(false),
            BreakerState::HalfOpen => Ok(true),
            BreakerState::Open => {
                if self.clock.now() - g.opened_at >= self.opts.cooldown.as_millis() as i64 {
                    g.state = BreakerState::HalfOpen;
                    return Ok(true);
                }
                g.stats.rejected += 1;
                let cause = g.stats.last_error.clone().unwrap_or_default();
                Err(err(
                    ErrorKind::Unavailable,
                    format!("storage circuit breaker is open after repeated failures; last cause: {cause}"),
                ))
            }
        }
    }

    fn success(&self) {
        let mut g = self.inner.lock();
        if g.state == BreakerState::HalfOpen {
            g.state = BreakerState::Closed;
            g.recent.clear();
        }
    }

    fn failure(&self, e: &Error) {
        let now = self.clock.now();
        let mut g = self.inner.lock();
        g.stats.failures += 1;
        // redb reports every failure after the first as "previous I/O error"; keep the root
        // cause, which is what an operator needs to read.
        let text = e.to_string();
        if !(text.contains("Previous I/O error") && g.stats.last_error.is_some()) {
            g.stats.last_error = Some(text);
        }
        let window = self.opts.window.as_millis() as i64;
        g.recent.push_back(now);
        while g.recent.front().is_some_and(|t| now - t > window) {
            g.recent.pop_front();
        }
        let trip = g.state == BreakerState::HalfOpen || g.recent.len() as u32 >= self.opts.threshold;
        if trip && g.state != BreakerState::Open {
            g.state = BreakerState::Open;
            g.opened_at = now;
            g.stats.opened += 1;
        }
    }
}
