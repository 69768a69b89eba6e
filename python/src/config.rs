//! Configuration from Python: `cidb.open(path, profile=, config=)` and `cidb.config()`
//! build the engine's configuration exactly as the core's [`cidb::config::load`] does
//! (profile defaults, machine-derived sizes, an optional TOML file, then `CIDB_*`
//! environment variables, each overriding the one before), so the Python package, the C
//! API and the `cidb` command agree on every value and on where it came from.

use crate::errors::run;
use cidb::Config;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;

/// The `CIDB_*` variables of the process environment (read now, so `os.environ` changes
/// made before the call count). Variables that are not valid UTF-8 are left out here and
/// cannot configure anything.
fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("CIDB_"))
        .collect()
}

/// The effective configuration and each setting's source (`ConfigError` for an unknown
/// profile, an unreadable or invalid file, an unknown key or a malformed value).
pub fn load(
    py: Python<'_>,
    profile: Option<String>,
    file: Option<PathBuf>,
) -> PyResult<(Config, Vec<cidb::config::Setting>)> {
    let env = environment();
    run(py, move || {
        cidb::config::load(profile.as_deref(), file.as_deref(), env)
    })
}

/// The configuration `cidb.open(path, profile, config)` would use, as a list of dicts with
/// `key`, `value` (text, as in a TOML file) and `source` (`profile:<name>`, `machine`,
/// `file:<path>`, `env:CIDB_<KEY>`, `argument` or `default`), in a fixed key order.
/// Raises `ConfigError` as `open` would.
#[pyfunction]
#[pyo3(signature = (profile = None, config = None))]
pub fn config(
    py: Python<'_>,
    profile: Option<String>,
    config: Option<PathBuf>,
) -> PyResult<Bound<'_, PyList>> {
    let (_, settings) = load(py, profile, config)?;
    let out = PyList::empty(py);
    for s in settings {
        let d = PyDict::new(py);
        d.set_item("key", s.key)?;
        d.set_item("value", s.value)?;
        d.set_item("source", s.source)?;
        out.append(d)?;
    }
    Ok(out)
}
