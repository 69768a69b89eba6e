//! The statement monitor in C: its statistics as JSON and as Prometheus text, and alert
//! callbacks. Each registered C callback runs through a [`Gate`] kept on the engine handle,
//! so removing it (or closing the engine) returns only when no call of it is in progress.

use crate::callback::{Gate, UserData};
use crate::engine::cidb_engine;
use crate::ffi::{arg_ref, boundary, c_string, invalid, Out};
use crate::json;
use crate::status::cidb_status;
use cidb::monitor::Alert;
use cidb::{Engine, Error, ErrorKind, Result};
use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex, PoisonError};

/// An alert callback: `alert_json` is one alert, `{"kind": "slow_query" | "table_scan_ratio"
/// | "query_memory" | "error_rate", "at": ms, "value": 153.2, "threshold": 100.0,
/// "fingerprint": "select * from customers where id = ?" | null, "message": "slow query:
/// ..."}` (`value` and `threshold` are ms, a ratio or bytes, by kind). `user_data` is the
/// pointer given at registration.
///
/// Ownership: `alert_json` is owned by cidb and valid only during the call.
pub type cidb_alert_callback = Option<unsafe extern "C" fn(alert_json: *const c_char, user_data: *mut c_void)>;

/// The alert callbacks registered through one engine handle, by id.
#[derive(Default)]
pub(crate) struct AlertCallbacks(Mutex<Vec<(u64, Arc<Gate>)>>);

impl AlertCallbacks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<Gate>)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Unregisters every callback and waits for calls in progress (engine close).
    pub(crate) fn stop_all(&self, engine: &Engine) {
        let all = std::mem::take(&mut *self.lock());
        for (id, gate) in all {
            engine.monitor().remove_alert_callback(id);
            gate.close();
        }
    }
}

/// The engine behind a handle argument, or `CIDB_CLOSED` when it was closed.
pub(crate) fn open_engine<'a>(engine: *const cidb_engine) -> Result<&'a cidb_engine> {
    let e = arg_ref(engine, "engine")?;
    if e.engine.is_closed() {
        return Err(Error::new(ErrorKind::Closed, "the engine is closed"));
    }
    Ok(e)
}

/// Stores in `*out_json` everything the statement monitor knows, as a JSON object:
/// `{"fingerprints": [{"id", "query", "calls", "errors", "total_ms", "mean_ms", "min_ms",
/// "max_ms", "p50_ms", "p95_ms", "p99_ms", "rows_examined", "rows_returned", "index_scans",
/// "table_scans", "joins", "peak_mem_bytes"}, ...] (by total time, descending),
/// "evicted_fingerprints": n, "slow_queries": [{"at", "sql", "fingerprint", "elapsed_ms",
/// "plan"}, ...], "alerts": [alert objects as in cidb_alert_callback, oldest first],
/// "alerts_fired": n (since open; the log keeps only the newest), "warnings": ["...", ...]
/// (things an operator should know, e.g. an unreadable saved statement table set aside)}`.
/// `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_monitor_json(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let stats = open_engine(engine)?.engine.monitor().stats();
        out.set(c_string(json::to_text(&stats)?)?);
        Ok(())
    })
}

/// Stores in `*out_text` the monitor's statistics in the Prometheus text exposition format
/// 0.0.4 (`cidb_statement_calls_total{fingerprint="...",query="..."} 3`, latency
/// summaries, `cidb_alerts_total`, ...), ready to serve on a `/metrics` endpoint.
/// `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_text` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_prometheus(engine: *const cidb_engine, out_text: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_text, "out_text", std::ptr::null_mut())?;
        let text = open_engine(engine)?.engine.monitor().prometheus();
        out.set(c_string(text)?);
        Ok(())
    })
}

/// Registers `cb(alert_json, user_data)` to be called for every alert the monitor fires
/// (slow query over 100 ms, query memory over 100 MB: once per statement fingerprint per
/// minute; table-scan ratio over 80 % and error rate over 1 %: judged once a minute) and
/// stores its id in `*out_id`. Per-statement alerts are called on the thread that ran the
/// statement, during its cidb call; rate alerts on an engine background thread. Calls of one
/// callback never overlap. The callback may call cidb functions, including
/// `cidb_engine_remove_alert_callback` for itself. Errors: `CIDB_INVALID_INPUT` (`cb` NULL),
/// `CIDB_CLOSED`.
///
/// Ownership: cidb never dereferences `user_data`, which must stay valid until
/// `cidb_engine_remove_alert_callback(engine, id)` or `cidb_engine_close` returns.
#[no_mangle]
pub extern "C" fn cidb_engine_on_alert(
    engine: *const cidb_engine,
    cb: cidb_alert_callback,
    user_data: *mut c_void,
    out_id: *mut u64,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_id, "out_id", 0)?;
        let e = arg_ref(engine, "engine")?;
        let cb = cb.ok_or_else(|| invalid("cb is NULL"))?;
        let gate = Gate::new();
        let (g, ud) = (gate.clone(), UserData::new(user_data));
        let call = move |a: &Alert| {
            let Some(text) = serde_json::to_string(a).ok().and_then(|s| CString::new(s).ok()) else { return };
            // SAFETY: `cb` is the caller's function with the documented signature; the text
            // lives until after the call returns.
            g.call(|| unsafe { cb(text.as_ptr(), ud.get()) });
        };
        // Checked under the lock that `cidb_engine_close` takes after closing, so a callback
        // is never left registered on a closed engine.
        let mut cbs = e.alerts.lock();
        if e.engine.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the engine is closed"));
        }
        let id = e.engine.monitor().on_alert(Arc::new(call));
        cbs.push((id, gate));
        out.set(id);
        Ok(())
    })
}

/// Unregisters the alert callback with id `id` (from `cidb_engine_on_alert`). When this
/// returns, the callback is not running on another thread and will not be called again
/// (called from inside the callback itself, it only prevents later calls).
/// `CIDB_NOT_FOUND` when no callback has that id (already removed); `CIDB_CLOSED` when
/// closed (closing removed every callback).
#[no_mangle]
pub extern "C" fn cidb_engine_remove_alert_callback(engine: *const cidb_engine, id: u64) -> cidb_status {
    boundary(|| {
        let e = open_engine(engine)?;
        let gate = {
            let mut cbs = e.alerts.lock();
            let pos = cbs
                .iter()
                .position(|(i, _)| *i == id)
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no alert callback with id {id}")))?;
            cbs.remove(pos).1
        };
        e.engine.monitor().remove_alert_callback(id);
        gate.close();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{cidb_engine_close, cidb_engine_free, cidb_engine_open};
    use cidb::monitor::Observation;
    use std::ffi::CStr;

    /// What the test callback saw: alert JSON texts, and the engine/id to remove itself with.
    #[derive(Default)]
    struct Seen {
        alerts: Mutex<Vec<String>>,
        remove_self: Option<(*const cidb_engine, u64)>,
    }

    unsafe extern "C" fn collect(alert_json: *const c_char, user_data: *mut c_void) {
        let seen = unsafe { &*(user_data as *const Seen) };
        let text = unsafe { CStr::from_ptr(alert_json) }.to_str().unwrap().to_string();
        seen.alerts.lock().unwrap().push(text);
        if let Some((engine, id)) = seen.remove_self {
            assert_eq!(cidb_engine_remove_alert_callback(engine, id), cidb_status::CIDB_OK);
        }
    }

    fn slow(engine: &cidb_engine, sql: &str) {
        let m = engine.engine.monitor();
        let entry = m.entry_for_sql(sql);
        let o = Observation { elapsed_ns: 250_000_000, ok: true, ..Default::default() };
        m.record(&entry, sql, &o, || None);
    }

    fn open() -> (tempfile::TempDir, *mut cidb_engine) {
        let dir = tempfile::tempdir().unwrap();
        let path = CString::new(dir.path().to_str().unwrap()).unwrap();
        let mut e = std::ptr::null_mut();
        assert_eq!(cidb_engine_open(path.as_ptr(), &mut e), cidb_status::CIDB_OK);
        (dir, e)
    }

    #[test]
    fn a_slow_statement_calls_the_c_callback_with_user_data_until_removed() {
        let (_dir, e) = open();
        let seen = Seen::default();
        let mut id = 0;
        let ud = &seen as *const Seen as *mut c_void;
        assert_eq!(cidb_engine_on_alert(e, Some(collect), ud, &mut id), cidb_status::CIDB_OK);
        assert!(id > 0);
        slow(unsafe { &*e }, "SELECT * FROM customers WHERE id = 'c1'");
        {
            let got = seen.alerts.lock().unwrap();
            assert_eq!(got.len(), 1, "{got:?}");
            let a: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
            assert_eq!(a["kind"], "slow_query");
            assert_eq!(a["value"], 250.0);
            assert_eq!(a["threshold"], 100.0);
            assert!(a["fingerprint"].as_str().unwrap().contains("customers"), "{a}");
        }
        // The alert is in the monitor JSON too.
        let mut json = std::ptr::null_mut();
        assert_eq!(cidb_engine_monitor_json(e, &mut json), cidb_status::CIDB_OK);
        let m: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(json) }.to_str().unwrap()).unwrap();
        crate::ffi::cidb_string_free(json);
        assert_eq!(m["alerts"].as_array().unwrap().len(), 1);
        assert_eq!(m["fingerprints"][0]["calls"], 1);
        assert_eq!(m["slow_queries"].as_array().unwrap().len(), 1);

        assert_eq!(cidb_engine_remove_alert_callback(e, id), cidb_status::CIDB_OK);
        assert_eq!(cidb_engine_remove_alert_callback(e, id), cidb_status::CIDB_NOT_FOUND);
        slow(unsafe { &*e }, "SELECT * FROM customer_scores"); // another fingerprint: fires, not to us
        assert_eq!(seen.alerts.lock().unwrap().len(), 1);
        cidb_engine_free(e);
    }

    #[test]
    fn a_callback_may_remove_itself_and_close_removes_the_rest() {
        let (_dir, e) = open();
        let mut me = Seen::default();
        let mut id = 0;
        // Register, then tell the callback its own id (nothing fires in between).
        assert_eq!(cidb_engine_on_alert(e, Some(collect), &mut me as *mut Seen as *mut c_void, &mut id), cidb_status::CIDB_OK);
        me.remove_self = Some((e, id));
        let other = Seen::default();
        let mut id2 = 0;
        assert_eq!(cidb_engine_on_alert(e, Some(collect), &other as *const Seen as *mut c_void, &mut id2), cidb_status::CIDB_OK);
        slow(unsafe { &*e }, "SELECT 1 FROM customers");
        slow(unsafe { &*e }, "SELECT 2 FROM customers WHERE x = 1 AND y = 2");
        assert_eq!(me.alerts.lock().unwrap().len(), 1, "removed itself after the first");
        assert_eq!(other.alerts.lock().unwrap().len(), 2);
        assert_eq!(cidb_engine_close(e), cidb_status::CIDB_OK);
        slow(unsafe { &*e }, "SELECT 3 FROM latest_scores");
        assert_eq!(other.alerts.lock().unwrap().len(), 2, "close removed it");
        assert_eq!(cidb_engine_remove_alert_callback(e, id2), cidb_status::CIDB_CLOSED);
        assert_eq!(cidb_engine_on_alert(e, Some(collect), std::ptr::null_mut(), &mut id), cidb_status::CIDB_CLOSED);
        assert_eq!(id, 0);
        cidb_engine_free(e);
    }
}
