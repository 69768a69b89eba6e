//! The operations layer in C: the index advisor (report, and building its recommendations
//! online), the health check, `optimize` (ANALYZE + advised indexes + cache warming) and the
//! combined metrics export (JSON and Prometheus text). Every report crosses as JSON text
//! with the field names of the core's serde types; the caller releases it with
//! `cidb_string_free`.

use crate::engine::cidb_engine;
use crate::ffi::{boundary, c_string, invalid, Out};
use crate::json;
use crate::monitor::open_engine;
use crate::status::cidb_status;
use cidb::Result;
use std::ffi::c_char;

/// The shape every report export shares: reset `*out_json`, check the engine is open, run
/// `report` on it and hand its JSON to C (released with `cidb_string_free`).
fn report_json<T: serde::Serialize>(
    engine: *const cidb_engine,
    out_json: *mut *mut c_char,
    report: impl FnOnce(&cidb::Engine) -> Result<T>,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let r = report(&open_engine(engine)?.engine)?;
        out.set(c_string(json::to_text(&r)?)?);
        Ok(())
    })
}

/// Checks a gain threshold: a fraction of the estimated cost saved, 0 to 1 inclusive.
fn gain(min_gain: f64) -> Result<f64> {
    if min_gain.is_nan() || !(0.0..=1.0).contains(&min_gain) {
        return Err(invalid(format!(
            "min_gain must be a fraction between 0 and 1 (the share of the estimated cost an index must save), got {min_gain}"
        )));
    }
    Ok(min_gain)
}

/// Stores in `*out_json` the index advisor's report on the recorded workload (the
/// statements the monitor has seen, with their call counts), as a JSON object:
/// `{"recommendations": [{"name", "table", "columns": [...], "predicate": text | null,
/// "create_sql": "CREATE INDEX CONCURRENTLY ...", "cost_before", "cost_after", "gain": 0..1,
/// "queries": [{"fingerprint", "query", "calls", "cost_before", "cost_after",
/// "plan_before", "plan_after"}, ...]}, ...] (best first; a recommendation saves at least
/// half the estimated cost of the queries it helps), "unindexed_foreign_keys": [{"table",
/// "column", "references", "create_sql"}, ...], "unused_indexes": [{"name", "table",
/// "entries", "unique", "drop_sql"}, ...] (empty until a SELECT has been recorded),
/// "queries_considered": n}`. Nothing is built. `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_advise_json(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    report_json(engine, out_json, |e| e.advise())
}

/// Runs the advisor and builds, online (`CREATE INDEX CONCURRENTLY`: readers and writers go
/// on meanwhile), every recommendation whose `gain` is at least `min_gain`, a fraction from
/// 0 to 1 of the estimated cost of the queries it helps (0.5 is the advisor's default).
/// Stores in `*out_json` the JSON array of the recommendations built, each as in
/// `cidb_engine_advise_json` (`[]` when nothing qualified). Returns when every index is
/// ready. Errors: `CIDB_INVALID_INPUT` when `min_gain` is NaN or outside 0..=1 (nothing is
/// built), the error of a failed build (those built before it stay), `CIDB_CLOSED`.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_advise_apply_json(
    engine: *const cidb_engine,
    min_gain: f64,
    out_json: *mut *mut c_char,
) -> cidb_status {
    report_json(engine, out_json, |e| e.advise_apply(gain(min_gain)?))
}

/// Checks that the engine can do its job and stores the verdict in `*out_json`:
/// `{"healthy": bool, "status": "ok" | "degraded" | "unhealthy", "storage_writable": bool
/// (a real probe write went through the writer), "storage_error": text | null, "breaker":
/// {"state", ...}, "cache_open": bool, "indexes": [sampled index checks], "active_alerts":
/// [alert objects as in cidb_alert_callback], "problems": ["...", ...]}`. `degraded` means
/// it works but alerts fired recently. An unhealthy engine is still `CIDB_OK` (the report
/// says why); `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_health_json(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    report_json(engine, out_json, |e| e.health())
}

/// Does what an operator would after reading the advisor: refreshes the planner's
/// statistics (ANALYZE), builds online every recommendation with `gain >= min_gain` (a
/// fraction from 0 to 1), and warms the cache from its persisted hot set. Stores the report
/// in `*out_json`: `{"analyze_ms", "applied": [recommendations built], "skipped":
/// [recommendations under min_gain], "failed": [{"recommendation", "error"}, ...],
/// "unindexed_foreign_keys": [...], "unused_indexes": [...] (reported, never dropped),
/// "warmed": n, "elapsed_ms"}`. Errors: `CIDB_INVALID_INPUT` when `min_gain` is NaN or
/// outside 0..=1 (nothing is done), `CIDB_CLOSED`.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_optimize_json(
    engine: *const cidb_engine,
    min_gain: f64,
    out_json: *mut *mut c_char,
) -> cidb_status {
    report_json(engine, out_json, |e| e.optimize(gain(min_gain)?))
}

/// Stores in `*out_json` everything the engine can tell about itself as one JSON object:
/// `{"engine": {as cidb_engine_stats}, "cache": {tier counters}, "monitor": {as
/// cidb_engine_monitor_json}, "index_usage": [{"name", "table", "uses", ...}, ...]}`.
/// `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_metrics_json(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    report_json(engine, out_json, |e| e.metrics())
}

/// Stores in `*out_text` the same metrics in the Prometheus text exposition format 0.0.4
/// (`cidb_rows{table="customers"} 400`, `cidb_commits_total`, cache and breaker families,
/// `cidb_index_uses_total{index="..."}` and the statement families of
/// `cidb_engine_prometheus`), each family once with `# HELP` and `# TYPE`.
/// `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_text` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_metrics_prometheus(engine: *const cidb_engine, out_text: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_text, "out_text", std::ptr::null_mut())?;
        let text = open_engine(engine)?.engine.metrics_prometheus()?;
        out.set(c_string(text)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{cidb_engine_free, cidb_engine_open};
    use std::ffi::{CStr, CString};

    #[test]
    fn min_gain_outside_0_to_1_is_invalid_input_and_builds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = CString::new(dir.path().to_str().unwrap()).unwrap();
        let mut e = std::ptr::null_mut();
        assert_eq!(cidb_engine_open(path.as_ptr(), &mut e), cidb_status::CIDB_OK);
        for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
            let mut out = std::ptr::dangling_mut::<c_char>(); // not NULL: the call must reset it
            assert_eq!(cidb_engine_advise_apply_json(e, bad, &mut out), cidb_status::CIDB_INVALID_INPUT, "{bad}");
            assert!(out.is_null());
            let msg = unsafe { CStr::from_ptr(crate::error::cidb_last_error_message()) }.to_str().unwrap().to_string();
            assert!(msg.contains("min_gain") && msg.contains("between 0 and 1"), "{msg}");
            assert_eq!(cidb_engine_optimize_json(e, bad, &mut out), cidb_status::CIDB_INVALID_INPUT, "{bad}");
        }
        for good in [0.0, 1.0] {
            let mut out = std::ptr::null_mut();
            assert_eq!(cidb_engine_advise_apply_json(e, good, &mut out), cidb_status::CIDB_OK);
            assert_eq!(unsafe { CStr::from_ptr(out) }.to_str().unwrap(), "[]", "no workload recorded: nothing built");
            crate::ffi::cidb_string_free(out);
        }
        cidb_engine_free(e);
    }
}
