//! Calling C back from cidb: the `void *user_data` wrapper that lets a C pointer travel to
//! the thread that delivers (cidb never dereferences it), and the [`Gate`] every registered
//! callback runs through, so that unregistering it (a `_free` or `_remove` function, or
//! closing the engine) can promise C that no call is in progress and none will start once it
//! returns, which is what makes releasing `user_data` afterwards safe. Used by `feed.rs`
//! (change-feed subscriptions) and `monitor.rs` (alert callbacks); has no exports of its own.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The `user_data` pointer a C caller registered with a callback. cidb only hands it back to
/// the callback; whatever it points to is the caller's business, including its thread
/// safety, which the header documents for each callback.
#[derive(Clone, Copy)]
pub(crate) struct UserData(*mut c_void);

// SAFETY: cidb never dereferences the pointer; it is an opaque token passed back to C, and
// the documented contract makes the caller responsible for what the callback does with it on
// the delivering thread.
unsafe impl Send for UserData {}
// SAFETY: as above; sharing the token between threads only copies the address.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(p: *mut c_void) -> UserData {
        UserData(p)
    }

    /// The pointer. A method (not field access) so closures capture the whole `Send`
    /// wrapper, not the raw pointer field.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

thread_local! {
    /// The gates whose callbacks are running on this thread, innermost last (an alert
    /// callback can fire inside an event callback that ran a query).
    static INSIDE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Whether a callback may still be called, and a lock held while it runs.
pub(crate) struct Gate {
    active: AtomicBool,
    running: Mutex<()>,
}

/// Pops the thread's innermost gate when a call ends.
struct Leave;

impl Drop for Leave {
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|v| v.borrow_mut().pop());
    }
}

impl Gate {
    pub(crate) fn new() -> Arc<Gate> {
        Arc::new(Gate { active: AtomicBool::new(true), running: Mutex::new(()) })
    }

    fn addr(&self) -> usize {
        self as *const Gate as usize
    }

    /// True when the calling thread is inside this gate's callback.
    fn is_inside(&self) -> bool {
        INSIDE.try_with(|v| v.borrow().contains(&self.addr())).unwrap_or(false)
    }

    /// Runs `f` (the call into C) unless the gate is closed. Calls of one gate never overlap:
    /// they hold its lock, except a nested call on the thread already inside it (which would
    /// otherwise deadlock on itself).
    pub(crate) fn call(&self, f: impl FnOnce()) {
        if self.is_inside() {
            if self.active.load(Ordering::Acquire) {
                f();
            }
            return;
        }
        let _running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let _ = INSIDE.try_with(|v| v.borrow_mut().push(self.addr()));
        let _leave = Leave;
        f();
    }

    /// Closes the gate: no call starts afterwards, and a call in progress on another thread
    /// has returned when this returns. Called from inside the gate's own callback it cannot
    /// wait for itself, so it only stops later calls.
    pub(crate) fn close(&self) {
        self.active.store(false, Ordering::Release);
        if !self.is_inside() {
            // Taking the lock waits for the call holding it; later calls see `active` false.
            drop(self.running.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// True until [`Gate::close`].
    pub(crate) fn is_open(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    #[test]
    fn close_waits_for_a_call_in_progress_and_blocks_later_ones() {
        let gate = Gate::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let (g, c) = (gate.clone(), calls.clone());
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            g.call(|| {
                entered_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                c.fetch_add(1, Ordering::SeqCst);
            })
        });
        entered_rx.recv().unwrap();
        let start = Instant::now();
        gate.close();
        // close returned only after the call finished.
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(start.elapsed() >= Duration::from_millis(50));
        gate.call(|| panic!("a closed gate must not call"));
        assert!(!gate.is_open());
        t.join().unwrap();
    }

    #[test]
    fn close_and_nested_calls_from_inside_do_not_deadlock() {
        let gate = Gate::new();
        let inner_ran = AtomicUsize::new(0);
        gate.call(|| {
            gate.call(|| {
                inner_ran.fetch_add(1, Ordering::SeqCst);
            });
            gate.close(); // from inside: returns at once
            gate.call(|| panic!("closed"));
        });
        assert_eq!(inner_ran.load(Ordering::SeqCst), 1);
        assert!(INSIDE.with(|v| v.borrow().is_empty()));
    }
}
