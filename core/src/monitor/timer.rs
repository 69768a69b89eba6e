//! The stopwatch of the typed fast paths (`Engine::observe`). A point read served from L1
//! takes a few hundred nanoseconds, and two `clock_gettime` calls to time it were a sixth of
//! that; so the elapsed time comes from the CPU's time-stamp counter through `quanta` (one
//! counter read each end, scaled to nanoseconds). Calibrating that counter against the
//! system clock takes up to ~200 ms, so it runs once per process on a thread of its own,
//! started by the first timed call (not at engine open: a process that never takes a fast
//! path, like most CLI commands, never pays for it); until it is done, and wherever `quanta` finds no
//! reliable counter (it then reads the OS clock itself), `std::time::Instant` is used.
//! Every call is still timed: nothing here samples.

use std::sync::{Once, OnceLock};
use std::time::Instant;

static TSC: OnceLock<quanta::Clock> = OnceLock::new();
static CALIBRATE: Once = Once::new();

/// Starts calibrating the counter clock in the background (once per process).
fn calibrate_in_background() {
    CALIBRATE.call_once(|| {
        let spawned = std::thread::Builder::new().name("cidb-clock".into()).spawn(|| {
            let _ = TSC.set(quanta::Clock::new());
        });
        // Without the thread the fast paths keep timing with `Instant`.
        drop(spawned);
    });
}

/// When a timed call began.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Start {
    /// A raw counter reading of the calibrated clock.
    Counter(u64),
    /// The standard clock (before calibration finished).
    Std(Instant),
}

/// Starts timing a call.
#[inline]
pub(crate) fn start() -> Start {
    match TSC.get() {
        Some(c) => Start::Counter(c.raw()),
        None => {
            calibrate_in_background();
            Start::Std(Instant::now())
        }
    }
}

impl Start {
    /// Nanoseconds since `self`.
    #[inline]
    pub(crate) fn elapsed_ns(self) -> u64 {
        match (self, TSC.get()) {
            (Start::Counter(s), Some(c)) => c.delta_as_nanos(s, c.raw()),
            (Start::Std(i), _) => i.elapsed().as_nanos() as u64,
            (Start::Counter(_), None) => 0, // unreachable: the clock is never unset
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_sleep_before_and_after_calibration() {
        // The first `start` begins the calibration.
        for _ in 0..2 {
            let s = start();
            std::thread::sleep(std::time::Duration::from_millis(5));
            let ns = s.elapsed_ns();
            assert!((4_000_000..1_000_000_000).contains(&ns), "{ns} ns for a 5 ms sleep ({s:?})");
            // Give calibration its time, so the second round likely uses the counter.
            while TSC.get().is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        assert!(matches!(start(), Start::Counter(_)));
    }
}
