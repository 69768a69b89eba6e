//! `cidb._cidb`, the native half of the Python package `cidb`. The pure-Python package
//! (`python/cidb/`) re-exports everything here; type stubs live in `cidb/_cidb.pyi`.
//!
//! Layout: `errors` (the exception tree from `ErrorKind::binding()`, and `run`, the one
//! way into the core: GIL released, panics caught), `callback` (Python callables run by
//! engine threads), `convert` (single values: timestamps, TTLs, JSON, text), `records`
//! (dict <-> Customer / Score / Message / Context), `config` (`cidb.config`, the loading
//! `cidb.open` uses), `engine` (`cidb.open`, `Engine`), `tenant` (`Tenant`), and one module
//! per area: `cache` (`Cache`), `feed` (`Subscription`), `monitor`, `ops` (advisor,
//! health, optimize, metrics), `import`. New areas
//! (the SQL layer: `query.rs` with prepared statements and Arrow results) get their own
//! module, keep `Engine` / `Tenant` methods thin, and register classes in [`_cidb`] below.
//!
//! Adding one operation (say `Tenant::foo` in the core):
//! 1. a `#[pymethods]` method of the same name in `tenant.rs` (or `engine.rs`): convert the
//!    arguments with `convert` / `records` while attached, call the core inside
//!    [`errors::run`] (GIL released, panics caught), convert the result back;
//! 2. its signature and docstring in `cidb/_cidb.pyi` (stubtest fails until they match);
//! 3. pytest cases in `python/tests/` for the result and for every error it can raise.
//!
//! Errors never get a hand-written class: a new `ErrorKind` appears in Python from
//! `ErrorKind::binding()` at import, and stubtest then asks for its stub.

#![deny(unsafe_code)]

// Modules with `unsafe`: zero-copy Arrow buffers and the C Data Interface export,
// each block with its safety argument.
#[allow(unsafe_code)]
mod arrow;
mod cache;
mod callback;
mod config;
mod convert;
mod engine;
mod errors;
mod feed;
mod import;
mod monitor;
mod ops;
// `unsafe` for the datetime C API capsule (see the module's layout check).
#[allow(unsafe_code)]
mod pydatetime;
mod query;
mod records;
mod tenant;

use pyo3::prelude::*;
use pyo3::types::PyList;

/// The native module. Its `__all__` lists the public names, built from the same sources
/// as the module itself (the exception names come from the error table).
#[pymodule]
fn _cidb(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(engine::open, m)?)?;
    m.add_function(wrap_pyfunction!(config::config, m)?)?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<tenant::PyTenant>()?;
    m.add_class::<cache::PyCache>()?;
    m.add_class::<feed::PySubscription>()?;
    m.add_class::<query::PyQueryResult>()?;
    m.add_class::<query::PyStatement>()?;
    m.add_class::<arrow::PyArrowArray>()?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(errors::_error_table, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(monitor::_record_statement, m)?)?;
    m.add_function(wrap_pyfunction!(callback::_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(pydatetime::_datetime_path, m)?)?;
    m.add_function(wrap_pyfunction!(query::_chunked_result, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let public = [
        "open",
        "config",
        "Engine",
        "Tenant",
        "Cache",
        "Subscription",
        "Result",
        "Statement",
    ]
    .into_iter()
    .chain(errors::class_names());
    m.add("__all__", PyList::new(m.py(), public)?)?;
    Ok(())
}
