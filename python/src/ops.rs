//! The operations layer from Python: the index advisor (`advise`, `advise_apply`),
//! `health`, `optimize` and the combined `metrics` (dict and Prometheus text). The `Engine`
//! methods (engine.rs) stay thin: they check the arguments here, run the core with the GIL
//! released and convert the serde reports here. Reports are plain dicts like
//! `monitor_stats()`; the alerts and cache figures inside them have their `at` /
//! `hour_start` as UTC `datetime`, exactly as `monitor_stats()` and `cache_stats()` give
//! them.

use crate::convert::datetime;
use crate::errors::py_err;
use cidb::{AdviceOptions, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;

fn to_py<'py, T: Serialize>(py: Python<'py>, v: &T, what: &str) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, v)
        .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert {what}: {e}")))
}

/// `min_gain` as the core takes it: a finite fraction in [0, 1], else `InvalidInputError`.
pub fn min_gain(v: f64) -> PyResult<f64> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(py_err(
            ErrorKind::InvalidInput,
            format!("min_gain is {v}; it must be a number from 0 to 1"),
        ))
    }
}

/// A count argument that must be 0 or more.
fn count(name: &str, v: i64) -> PyResult<u64> {
    u64::try_from(v).map_err(|_| {
        py_err(
            ErrorKind::InvalidInput,
            format!("{name} is {v}; it must be 0 or more"),
        )
    })
}

/// The advisor options from `advise(min_gain=, min_calls=, max_recommendations=)`; the
/// rest keep the core defaults.
pub fn advice_options(
    gain: f64,
    min_calls: i64,
    max_recommendations: i64,
) -> PyResult<AdviceOptions> {
    let max = count("max_recommendations", max_recommendations)?;
    Ok(AdviceOptions {
        min_gain: min_gain(gain)?,
        min_calls: count("min_calls", min_calls)?,
        max_recommendations: usize::try_from(max).unwrap_or(usize::MAX),
        ..AdviceOptions::default()
    })
}

/// `advise()`: recommendations, unindexed_foreign_keys, unused_indexes,
/// queries_considered.
pub fn advice_to_py<'py>(py: Python<'py>, a: &cidb::Advice) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, a, "the advice")
}

/// `advise_apply()`: the recommendations built, as a list of dicts.
pub fn recommendations_to_py<'py>(
    py: Python<'py>,
    v: &[cidb::Recommendation],
) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, &v, "the recommendations")
}

/// `health()`: the report with each active alert's `at` as a `datetime`.
pub fn health_to_py<'py>(py: Python<'py>, h: &cidb::Health) -> PyResult<Bound<'py, PyAny>> {
    let d = to_py(py, h, "the health report")?;
    let alerts = d.get_item("active_alerts")?;
    for (item, a) in alerts.cast::<PyList>()?.iter().zip(&h.active_alerts) {
        item.cast::<PyDict>()?.set_item("at", datetime(py, a.at)?)?;
    }
    Ok(d)
}

/// `optimize()`: analyze_ms, applied, skipped, failed, unindexed_foreign_keys,
/// unused_indexes, warmed, elapsed_ms.
pub fn optimize_to_py<'py>(
    py: Python<'py>,
    r: &cidb::OptimizeReport,
) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, r, "the optimize report")
}

/// `metrics()`: `engine` as `stats()`, `cache` as `cache_stats()`, `monitor` as
/// `monitor_stats()`, and `index_usage`.
pub fn metrics_to_py<'py>(py: Python<'py>, m: &cidb::Metrics) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item("engine", to_py(py, &m.engine, "engine stats")?)?;
    d.set_item("cache", crate::cache::cache_stats_to_py(py, &m.cache)?)?;
    d.set_item("monitor", crate::monitor::stats_to_py(py, &m.monitor)?)?;
    d.set_item("index_usage", to_py(py, &m.index_usage, "index usage")?)?;
    Ok(d.into_any())
}
