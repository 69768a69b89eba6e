//! `cidb.Engine`: an open database as a Python object. It wraps the core [`cidb::Engine`]
//! (an `Arc`, shared by every tenant handle taken from it) and adds the context-manager
//! protocol; `close()` and leaving the `with` block close the database for every handle.
//! Later engine-level operations (SQL, cache, stats export, advisor) attach here.

use crate::errors::{py_err, run};
use crate::tenant::PyTenant;
use cidb::{Config, ErrorKind, Profile};
use pyo3::prelude::*;
use std::path::PathBuf;

/// An open cidb database. Create one with `cidb.open()`; use it as a context manager so it
/// closes when the block ends.
#[pyclass(name = "Engine", module = "cidb", frozen)]
pub struct PyEngine {
    inner: cidb::Engine,
}

/// Opens (creating if missing) the database directory `path` with the named configuration
/// `profile` ("development" or "production"). Raises `AlreadyOpenError` when another engine,
/// in this or another process, has the directory open, and `ConfigError` for an unknown
/// profile.
#[pyfunction]
#[pyo3(signature = (path, profile = "development"))]
pub fn open(py: Python<'_>, path: PathBuf, profile: &str) -> PyResult<PyEngine> {
    let profile: Profile = profile.parse().map_err(crate::errors::to_py)?;
    let inner = run(py, move || {
        cidb::Engine::open(path, Config::profile(profile))
    })?;
    Ok(PyEngine { inner })
}

#[pymethods]
impl PyEngine {
    /// A handle on the tenant `name` (1 to 256 bytes). Every read and write of a tenant's
    /// customers, scores and messages goes through its handle.
    fn tenant(&self, name: String) -> PyResult<PyTenant> {
        let t = self.inner.tenant(&name).map_err(crate::errors::to_py)?;
        Ok(PyTenant::new(t))
    }

    /// Row counts of every store (all tenants) and writer counters, as a dict of ints:
    /// customers, scores, latest_scores, messages, commits, writes, failed_writes,
    /// max_commit_group.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = run(py, || self.inner.stats())?;
        pythonize::pythonize(py, &stats)
            .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert stats: {e}")))
    }

    /// Commits queued writes and closes the database; every handle on it then raises
    /// `ClosedError`. Closing twice does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        run(py, || self.inner.close())
    }

    /// True once the engine is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The database directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.dir().to_path_buf()
    }

    /// The configuration profile the engine was opened with.
    #[getter]
    fn profile(&self) -> &'static str {
        self.inner.config().profile.as_str()
    }

    /// Returns the engine itself; raises `ClosedError` if it is already closed.
    fn __enter__(slf: Py<Self>) -> PyResult<Py<Self>> {
        if slf.get().inner.is_closed() {
            return Err(py_err(ErrorKind::Closed, "the engine is closed"));
        }
        Ok(slf)
    }

    /// Closes the engine. Exceptions from the block propagate.
    #[pyo3(signature = (exc_type, exc_value, traceback, /))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc_value, traceback);
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<cidb.Engine path='{}' profile='{}'{}>",
            self.inner.dir().display(),
            self.profile(),
            if self.inner.is_closed() {
                " closed"
            } else {
                ""
            }
        )
    }
}
