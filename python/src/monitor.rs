//! The statement monitor from Python: statistics per fingerprint (`top`, `monitor_stats`),
//! Prometheus text, and alert callbacks. Alerts fire on the thread that records the
//! statement or on the engine's background thread; the callback is called attached to the
//! interpreter for the call only, and an exception in it goes to `sys.unraisablehook`.
//! `_record_statement` (private, for tests) feeds the monitor one observation with a chosen
//! duration and counts, so alert and slow-log thresholds are tested without slow statements.

use crate::callback::{callable, notify};
use crate::convert::datetime;
use crate::engine::PyEngine;
use crate::errors::{py_err, run};
use cidb::monitor::{Alert, Observation};
use cidb::ErrorKind;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use std::sync::Arc;

fn to_py<'py, T: Serialize>(py: Python<'py>, v: &T, what: &str) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, v)
        .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert {what}: {e}")))
}

/// Replaces the int-ms `at` of each dict in `list` with a UTC `datetime`.
fn at_to_datetime(
    py: Python<'_>,
    list: &Bound<'_, PyAny>,
    ats: impl Iterator<Item = i64>,
) -> PyResult<()> {
    for (item, at) in list.cast::<PyList>()?.iter().zip(ats) {
        item.cast::<PyDict>()?.set_item("at", datetime(py, at)?)?;
    }
    Ok(())
}

/// One alert as a dict: kind, at (datetime), value, threshold, fingerprint, message.
pub fn alert_to_py<'py>(py: Python<'py>, a: &Alert) -> PyResult<Bound<'py, PyAny>> {
    let d = to_py(py, a, "alert")?;
    d.cast::<PyDict>()?.set_item("at", datetime(py, a.at)?)?;
    Ok(d)
}

/// `monitor_stats()`: fingerprints, evicted_fingerprints, slow_queries, alerts.
pub fn stats_to_py<'py>(
    py: Python<'py>,
    s: &cidb::monitor::MonitorStats,
) -> PyResult<Bound<'py, PyAny>> {
    let d = to_py(py, s, "monitor stats")?;
    at_to_datetime(
        py,
        &d.get_item("slow_queries")?,
        s.slow_queries.iter().map(|q| q.at),
    )?;
    at_to_datetime(py, &d.get_item("alerts")?, s.alerts.iter().map(|a| a.at))?;
    Ok(d)
}

/// `top(n)`: the fingerprint statistics as a list of dicts.
pub fn fingerprints_to_py<'py>(
    py: Python<'py>,
    v: &[cidb::monitor::FingerprintStats],
) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, &v, "fingerprint stats")
}

/// Registers `f` for every alert; returns its id.
pub fn on_alert(engine: &cidb::Engine, f: &Bound<'_, PyAny>) -> PyResult<u64> {
    let f = callable(f, "callback")?;
    let cb = move |a: &Alert| notify(&f, |py| alert_to_py(py, a));
    Ok(engine.monitor().on_alert(Arc::new(cb)))
}

/// Records one execution of `sql` in the engine's monitor, as the SQL layer does for every
/// statement it runs; alerts fire as they would. Private: the SQL layer is not built yet,
/// so this is how tests put statements into `top()`, `monitor_stats()` and `prometheus()`.
#[pyfunction]
#[pyo3(signature = (engine, sql, elapsed_ms, *, ok = true, rows_examined = 0, rows_returned = 0,
                    index_scans = 0, table_scans = 0, joins = 0, peak_mem_bytes = 0))]
#[allow(clippy::too_many_arguments)]
pub fn _record_statement(
    py: Python<'_>,
    engine: &PyEngine,
    sql: String,
    elapsed_ms: f64,
    ok: bool,
    rows_examined: u64,
    rows_returned: u64,
    index_scans: u64,
    table_scans: u64,
    joins: u64,
    peak_mem_bytes: u64,
) -> PyResult<()> {
    if !elapsed_ms.is_finite() || elapsed_ms < 0.0 {
        return Err(py_err(
            ErrorKind::InvalidInput,
            format!("elapsed_ms is {elapsed_ms}; it must be zero or more"),
        ));
    }
    let o = Observation {
        elapsed_ns: (elapsed_ms * 1e6) as u64,
        ok,
        rows_examined,
        rows_returned,
        index_scans,
        table_scans,
        joins,
        peak_mem_bytes,
    };
    let e = engine.core().clone();
    run(py, move || {
        if e.is_closed() {
            return Err(cidb::Error::new(ErrorKind::Closed, "the engine is closed"));
        }
        let m = e.monitor();
        let entry = m.entry_for_sql(&sql);
        m.record(&entry, &sql, &o, || None);
        Ok(())
    })
}
