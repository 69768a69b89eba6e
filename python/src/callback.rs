//! Python callables run by the engine: change-feed deliveries (on a delivery thread of the
//! subscription), alerts (on whatever thread records the statement or judges the window),
//! import progress and `get_or_set` producers (on the calling thread, while the GIL is
//! released). This module owns the one rule they share: attach to the interpreter for the
//! call only, and never let a Python exception or a panic escape into an engine thread.

use crate::convert::type_name;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::sync::Mutex;

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
