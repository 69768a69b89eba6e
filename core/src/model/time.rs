//! Timestamps: integer milliseconds since the Unix epoch (UTC). This module owns the valid
//! range and the clock the engine reads, which tests can replace to control time.

use crate::error::{err, ErrorKind, Result};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// The earliest accepted timestamp: the epoch.
pub const MIN_TIMESTAMP: Millis = 0;
/// The latest accepted timestamp: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP: Millis = 253_402_300_799_999;

/// Checks a timestamp is in `[MIN_TIMESTAMP, MAX_TIMESTAMP]`.
pub fn check_timestamp(field: &str, t: Millis) -> Result<()> {
    if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&t) {
        return Err(err(
            ErrorKind::InvalidTimestamp,
            format!("{field} = {t} is out of range (0 ..= {MAX_TIMESTAMP} ms since the epoch)"),
        ));
    }
    Ok(())
}

/// A source of "now". The system clock by default; a manual clock in tests.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that reads `start` until moved with [`Clock::set`] or [`Clock::advance`].
    pub fn manual(start: Millis) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(start))) }
    }

    /// Now, in milliseconds since the epoch.
    pub fn now(&self) -> Millis {
        match &self.manual {
            Some(m) => m.load(Ordering::SeqCst),
            None => now_millis(),
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set(&self, t: Millis) {
        if let Some(m) = &self.manual {
            m.store(t, Ordering::SeqCst);
        }
    }

    /// Moves a manual clock forward by `ms` (no effect on the system clock).
    pub fn advance(&self, ms: Millis) {
        if let Some(m) = &self.manual {
            m.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// True for a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

/// The system time in milliseconds since the epoch.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
