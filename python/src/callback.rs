//! Python callables run by the engine: change-feed deliveries (on a delivery thread of the
//! subscription), alerts (on whatever thread records the statement or judges the window),
//! import progress and `get_or_set` producers (on the calling thread, while the GIL is
//! released). This module owns the rules they share: attach to the interpreter for the
//! call only, never let a Python exception or a panic escape into an engine thread, and
//! never touch the interpreter once it is shutting down.
//!
//! Why the last rule: at interpreter exit CPython ends any thread that tries to take the
//! GIL during finalization with `pthread_exit`, and that forced unwind through Rust frames
//! aborts the process. So `cidb/__init__.py` registers [`_shutdown`] with `atexit` (which
//! runs before finalization): from then on no engine thread calls into Python, and it
//! waits, with the GIL released, until every callback in progress and every subscription
//! wait that released the GIL has taken it back.

use crate::convert::type_name;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Held while a thread is inside a callback or waits with the GIL released; `_shutdown`
/// waits for every one to be dropped.
pub struct Active(());

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An [`Active`] guard, or None once the interpreter is shutting down.
pub fn active() -> Option<Active> {
    if SHUTTING_DOWN.load(Ordering::Acquire) {
        return None;
    }
    ACTIVE.fetch_add(1, Ordering::AcqRel);
    let guard = Active(());
    if SHUTTING_DOWN.load(Ordering::Acquire) {
        return None; // raced with _shutdown: dropping the guard undoes the count
    }
    Some(guard)
}

/// Stops every engine thread from calling into Python and waits (GIL released) for those
/// inside a callback or a subscription wait to finish. Registered with `atexit` by the
/// package; private.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::Release);
    py.detach(|| {
        while ACTIVE.load(Ordering::Acquire) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// A value whose drop runs with the GIL released. Engine handles hold one: dropping the
/// last handle of an engine joins its background threads, and one of them may be waiting
/// for the GIL to call an alert callback; dropping with the GIL held (as the garbage
/// collector does) would deadlock.
pub struct Unlocked<T: Send>(Option<T>);

impl<T: Send> Unlocked<T> {
    pub fn new(v: T) -> Unlocked<T> {
        Unlocked(Some(v))
    }
}

impl<T: Send> Deref for Unlocked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(v) => v,
            None => unreachable!("Unlocked is only emptied by drop"),
        }
    }
}

impl<T: Send> Drop for Unlocked<T> {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            // Without an interpreter (exit) the closure is dropped, and `v` with it.
            let _ = Python::try_attach(move |py| py.detach(move || drop(v)));
        }
    }
}

/// `f` as a stored callable; `TypeError` naming `what` when it cannot be called.
pub fn callable(f: &Bound<'_, PyAny>, what: &str) -> PyResult<Py<PyAny>> {
    if !f.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be callable, not {}",
            type_name(f)
        )));
    }
    Ok(f.clone().unbind())
}

/// Calls `f(arg)` from a thread the engine owns, where nobody could catch an exception:
/// one raised by `f` (or by building its argument) goes to `sys.unraisablehook`, which
/// prints it by default. Does nothing once the interpreter is shutting down.
pub fn notify(f: &Py<PyAny>, arg: impl FnOnce(Python<'_>) -> PyResult<Bound<'_, PyAny>>) {
    let Some(_active) = active() else {
        return;
    };
    let _ = Python::try_attach(|py| {
        let f = f.bind(py);
        if let Err(e) = arg(py).and_then(|a| f.call1((a,))) {
            e.write_unraisable(py, Some(f));
        }
    });
}

/// Where a Python exception raised inside engine work waits until the work returns, so the
/// caller can raise it instead of the engine error that stopped the work.
#[derive(Default)]
pub struct Pending(Mutex<Option<PyErr>>);

impl Pending {
    /// Keeps `e` (the first one wins; later ones are usually consequences of it).
    pub fn keep(&self, e: PyErr) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    /// The kept exception, if any.
    pub fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// `r`, unless an exception was kept: then that exception.
    pub fn or<T>(&self, r: PyResult<T>) -> PyResult<T> {
        match self.take() {
            Some(e) => Err(e),
            None => r,
        }
    }
}
