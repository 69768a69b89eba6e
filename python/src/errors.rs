//! The Python exception tree. `cidb.Error` derives from `Exception`; every
//! [`cidb::ErrorKind`] gets one subclass, named and based exactly as
//! [`cidb::ErrorKind::binding`] says (`InvalidIdError(Error, ValueError)`, ...). The classes
//! are created from that table at import, never from a list kept here, and every
//! `cidb::Error` crossing into Python goes through [`to_py`]. This module owns nothing else.

use cidb::{Error, ErrorKind};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

/// `cidb.Error` and one class per kind, in `ErrorKind::ALL` order.
struct Classes {
    base: Py<PyType>,
    kinds: Vec<(ErrorKind, Py<PyType>)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

const BASE_DOC: &str = "Base class of every error cidb raises.\n\n\
`kind` names the failure (`\"invalid_id\"`, `\"closed\"`, ...) and `c_status` is the number \
the C API uses for it; both are class attributes of each subclass. The message names the \
problem; a lower-level cause, when there is one, is appended as `(cause: ...)`.";

fn make_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: Bound<'py, PyTuple>,
    doc: &str,
    kind: Option<&str>,
    c_status: Option<i32>,
) -> PyResult<Bound<'py, PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "cidb")?;
    ns.set_item("__qualname__", name)?;
    ns.set_item("__doc__", doc)?;
    ns.set_item("kind", kind)?;
    ns.set_item("c_status", c_status)?;
    let class = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(class.cast_into::<PyType>()?)
}

fn build(py: Python<'_>) -> PyResult<Classes> {
    let builtins = py.import("builtins")?;
    let exception = py.get_type::<PyException>();
    let base = make_class(
        py,
        "Error",
        PyTuple::new(py, [exception])?,
        BASE_DOC,
        None,
        None,
    )?;
    let mut kinds = Vec::with_capacity(ErrorKind::ALL.len());
    for kind in ErrorKind::ALL {
        let b = kind.binding();
        let mut bases = vec![base.clone().into_any()];
        let mut doc = format!("cidb error of kind `{kind}` (C status {}).", b.c_status);
        if !b.python_base.is_empty() {
            bases.push(builtins.getattr(b.python_base)?);
            doc.push_str(&format!(" Also a `{}`.", b.python_base));
        }
        let class = make_class(
            py,
            b.python_class,
            PyTuple::new(py, bases)?,
            &doc,
            Some(kind.as_str()),
            Some(b.c_status),
        )?;
        kinds.push((kind, class.unbind()));
    }
    Ok(Classes {
        base: base.unbind(),
        kinds,
    })
}

/// The classes, built at import by `register` (or here, if an error is raised first).
fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || build(py))
}

/// Adds `Error` and every kind's class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = CLASSES.get_or_try_init(py, || build(py))?;
    m.add("Error", c.base.bind(py))?;
    for (kind, class) in &c.kinds {
        m.add(kind.binding().python_class, class.bind(py))?;
    }
    Ok(())
}

/// The names `register` adds, for the module's `__all__`.
pub fn class_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("Error").chain(ErrorKind::ALL.iter().map(|k| k.binding().python_class))
}

/// The class for `kind`.
pub fn class_of(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    let c = classes(py)?;
    Ok(match c.kinds.iter().find(|(k, _)| *k == kind) {
        Some((_, class)) => class.bind(py).clone(),
        // ErrorKind is non_exhaustive and ALL is its complete list; a kind missing from
        // ALL is a core bug, reported as the base class rather than a crash.
        None => c.base.bind(py).clone(),
    })
}

/// The text a Python user sees: the message, then the cause if there is one.
pub fn message_of(e: &Error) -> String {
    match e.cause_text() {
        Some(cause) => format!("{} (cause: {cause})", e.message()),
        None => e.message().to_string(),
    }
}

/// Converts a cidb error into the Python exception of its kind.
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| match class_of(py, e.kind()) {
        Ok(class) => PyErr::from_type(class, message_of(&e)),
        // Only if the classes could not be created at all (import would have failed).
        Err(_) => pyo3::exceptions::PyRuntimeError::new_err(e.to_string()),
    })
}

/// A cidb error of `kind` raised from the binding itself (bad Python input).
pub fn py_err(kind: ErrorKind, message: impl Into<String>) -> PyErr {
    to_py(Error::new(kind, message))
}

/// The mapping table as Python data: one dict per kind with `kind`, `c_status`, `c_name`,
/// `python_class`, `python_base`, `node_code`. Tests walk it to prove nothing is unmapped.
#[pyfunction]
pub fn _error_table(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows = PyList::empty(py);
    for kind in ErrorKind::ALL {
        let b = kind.binding();
        let d = PyDict::new(py);
        d.set_item("kind", kind.as_str())?;
        d.set_item("c_status", b.c_status)?;
        d.set_item("c_name", b.c_name)?;
        d.set_item("python_class", b.python_class)?;
        d.set_item("python_base", b.python_base)?;
        d.set_item("node_code", b.node_code)?;
        rows.append(d)?;
    }
    Ok(rows)
}

/// Raises the exception a core error of `kind` (snake_case name) with `message` becomes, by
/// the same path every engine call uses. For tests of the mapping.
#[pyfunction]
pub fn _raise_error(kind: String, message: String) -> PyResult<()> {
    match ErrorKind::ALL.iter().find(|k| k.as_str() == kind) {
        Some(k) => Err(to_py(Error::new(*k, message))),
        None => Err(py_err(
            ErrorKind::InvalidInput,
            format!("unknown error kind {kind:?}"),
        )),
    }
}

/// Runs engine work with the GIL released (other Python threads keep running), turns a
/// panic into `InternalError` and a cidb error into its exception. Every call into the
/// core goes through here.
pub fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> cidb::Result<T> + Send) -> PyResult<T> {
    py.detach(|| catch_panic(f)).map_err(to_py)
}

fn catch_panic<T>(f: impl FnOnce() -> cidb::Result<T>) -> cidb::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(
                ErrorKind::Internal,
                format!("cidb panicked: {what}"),
            ))
        }
    }
}
