//! `cidb.Cache`: a tenant's application key-value cache (the role Redis played), from
//! `tenant.cache`. Keys are `str`, values `bytes`; a TTL is seconds or a `timedelta`. Keys
//! are namespaced by the tenant in the core, so tenants never see each other's entries.
//! `get_or_set` calls its Python producer from inside the core's single-flight section,
//! attached to the interpreter for that call only, so concurrent callers for one key wait
//! (GIL released) and the producer runs once. Also the `cache_stats()` conversion.

use crate::callback::{callable, Pending};
use crate::convert::{datetime, opt_ttl, type_name};
use crate::errors::{py_err, run};
use cidb::{ErrorKind, TenantCache};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList};
use std::borrow::Cow;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// The bytes of a `bytes` (borrowed), `bytearray` or `memoryview` (copied); `TypeError`
/// otherwise (a `str` must be encoded first).
fn value_bytes<'a>(v: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    if type_name(v) == "memoryview" {
        let b = v.call_method0("tobytes")?;
        return Ok(Cow::Owned(b.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    let hint = if v.is_instance_of::<pyo3::types::PyString>() {
        " (encode a str first, e.g. value.encode())"
    } else {
        ""
    };
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes, bytearray or memoryview, not {}{hint}",
        type_name(v)
    )))
}

/// One tenant's application cache (from `Tenant.cache`). Values are bytes; serialise
/// objects yourself (json, pickle, msgpack). Safe to share between threads.
#[pyclass(name = "Cache", module = "cidb", frozen)]
pub struct PyCache {
    inner: TenantCache,
    tenant: String,
    /// The engine's directory: with the tenant, names the cache for [`Producing`].
    dir: PathBuf,
}

impl PyCache {
    pub fn new(inner: TenantCache, tenant: &str, dir: &Path) -> PyCache {
        PyCache {
            inner,
            tenant: tenant.to_string(),
            dir: dir.to_path_buf(),
        }
    }
}

thread_local! {
    /// The (engine dir, tenant, key) whose `get_or_set` producer this thread is running.
    static PRODUCING: RefCell<Vec<(PathBuf, String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Marks a producer running on this thread. A producer that asks for its own key would
/// wait for itself forever (the core's single-flight lock is not reentrant), so that call
/// is refused instead.
struct Producing;

impl Producing {
    fn id(c: &PyCache, key: &str) -> (PathBuf, String, String) {
        (c.dir.clone(), c.tenant.clone(), key.to_string())
    }

    /// `InvalidInputError` when this thread is producing `key` already.
    fn check(c: &PyCache, key: &str) -> PyResult<()> {
        let id = Producing::id(c, key);
        if PRODUCING.with(|p| p.borrow().contains(&id)) {
            return Err(py_err(
                ErrorKind::InvalidInput,
                format!("get_or_set({key:?}) called from its own fn would wait for itself"),
            ));
        }
        Ok(())
    }

    fn enter(c: &PyCache, key: &str) -> Producing {
        PRODUCING.with(|p| p.borrow_mut().push(Producing::id(c, key)));
        Producing
    }
}

impl Drop for Producing {
    fn drop(&mut self) {
        PRODUCING.with(|p| {
            p.borrow_mut().pop();
        });
    }
}

#[pymethods]
impl PyCache {
    /// The value of `key` as bytes, or None when absent or expired.
    fn get<'py>(&self, py: Python<'py>, key: String) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let v = run(py, || self.inner.get(&key))?;
        Ok(v.map(|v| PyBytes::new(py, &v)))
    }

    /// Sets `key` (1 byte to 1 KiB of text) to `value` (bytes). `ttl` (seconds or a
    /// timedelta, greater than zero) overrides the default of the tier the value's size
    /// places it in: none in memory (under 10 KB), 1 hour under 100 KB, 2 hours above.
    /// Raises `InvalidCacheKeyError`, `ValueTooLargeError` (over 16 MiB by default) or
    /// `InvalidTtlError`.
    #[pyo3(signature = (key, value, ttl = None))]
    fn set(
        &self,
        py: Python<'_>,
        key: String,
        value: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let ttl = opt_ttl(ttl, "ttl")?;
        let value = value_bytes(value, "value")?;
        run(py, || self.inner.set(&key, &value, ttl))
    }

    /// Removes `key`; True when a live entry existed.
    fn delete(&self, py: Python<'_>, key: String) -> PyResult<bool> {
        run(py, || self.inner.delete(&key))
    }

    /// The value of `key`; when absent, calls `fn()` (no arguments; it returns bytes),
    /// stores the result with `ttl` and returns it. Threads asking for the same missing key
    /// at once wait for the first one, so `fn` runs once; if it raises, the exception
    /// propagates to that caller, nothing is stored and the next waiter calls `fn` itself.
    #[pyo3(signature = (key, r#fn, ttl = None))]
    fn get_or_set<'py>(
        &self,
        py: Python<'py>,
        key: String,
        r#fn: &Bound<'py, PyAny>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let f = callable(r#fn, "fn")?;
        let ttl = opt_ttl(ttl, "ttl")?;
        Producing::check(self, &key)?;
        let pending = Pending::default();
        let produce = || {
            Python::attach(|py| {
                let _producing = Producing::enter(self, &key);
                let v = f.bind(py).call0()?;
                Ok(value_bytes(&v, "the value fn returned")?.into_owned())
            })
            .map_err(|e: PyErr| {
                pending.keep(e);
                cidb::Error::new(ErrorKind::Internal, "the cache producer raised")
            })
        };
        let v = pending.or(run(py, || self.inner.get_or_set(&key, ttl, produce)))?;
        Ok(PyBytes::new(py, &v))
    }

    /// Which tier holds `key`: 1 (memory), 2 or 3 (persistent), or 0 when absent. For
    /// diagnostics; it does not count as an access.
    fn tier_of(&self, py: Python<'_>, key: String) -> PyResult<u8> {
        run(py, || self.inner.tier_of(&key))
    }

    fn __repr__(&self) -> String {
        format!("<cidb.Cache tenant={:?}>", self.tenant)
    }
}

/// `Engine.cache_stats()`: the core's figures as a dict, with `hourly[i]["hour_start"]` as
/// a UTC `datetime`.
pub fn cache_stats_to_py<'py>(
    py: Python<'py>,
    stats: &cidb::CacheStats,
) -> PyResult<Bound<'py, PyAny>> {
    let out = pythonize::pythonize(py, stats).map_err(|e| {
        py_err(
            ErrorKind::Internal,
            format!("cannot convert cache stats: {e}"),
        )
    })?;
    let hourly = out.get_item("hourly")?;
    let hourly = hourly.cast::<PyList>()?;
    for (item, h) in hourly.iter().zip(&stats.hourly) {
        item.cast::<PyDict>()?
            .set_item("hour_start", datetime(py, h.hour_start)?)?;
    }
    Ok(out)
}
