//! Prepared statements in the sqlite3 shape: `cidb_tenant_prepare` parses and binds a
//! statement once, `cidb_stmt_bind_*` set its `?` parameters (1-based), `cidb_stmt_step`
//! runs it on the first step and then walks its rows, `cidb_stmt_reset` rewinds it (the
//! bindings stay), `cidb_stmt_free` releases it. The column getters of the current row are
//! in `column.rs`.
//!
//! A `cidb_stmt` is not thread-safe: its state sits behind a mutex that is only ever
//! try-locked, so two threads using one statement at once get `CIDB_INVALID_INPUT` instead
//! of a data race. One statement per thread is the rule (preparing is cheap).

use crate::ffi::{arg_ref, arg_str, boundary, c_string, free_box, invalid, Out};
use crate::json;
use crate::sql::bad_param;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::{Error, ErrorKind, ExecStats, Result, Row, Statement, Value};
use std::ffi::{c_char, CString};
use std::sync::{Mutex, TryLockError};

/// A prepared statement of one tenant. Create with `cidb_tenant_prepare`, release with
/// `cidb_stmt_free`. Not thread-safe: use it from one thread at a time (it may move between
/// threads between calls); a call made while another thread is inside a call on the same
/// statement fails with `CIDB_INVALID_INPUT`. Prepare one statement per thread.
pub struct cidb_stmt {
    state: Mutex<State>,
}

pub(crate) struct State {
    pub(crate) stmt: Statement,
    /// Column names as C strings (borrowed by `cidb_stmt_column_name`).
    pub(crate) names: Vec<CString>,
    /// One slot per parameter; `None` until bound.
    binds: Vec<Option<Value>>,
    /// True once `step` ran the statement (until `reset`).
    executed: bool,
    /// Rows not yet stepped to.
    rest: std::vec::IntoIter<Row>,
    /// The row the last `step` moved to.
    pub(crate) current: Option<Row>,
    /// NUL-terminated copies of the current row's text cells, made on demand and kept
    /// until the next step, reset or free (what `cidb_stmt_column_text` lends out).
    pub(crate) texts: Vec<Option<Box<[u8]>>>,
    /// Statistics of the last execution.
    stats: Option<ExecStats>,
}

/// Runs `f` on the statement behind `p` (`CIDB_INVALID_INPUT` when NULL or busy on another
/// thread).
pub(crate) fn with<T>(p: *const cidb_stmt, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    let s = arg_ref(p, "stmt")?;
    let mut guard = match s.state.try_lock() {
        Ok(g) => g,
        // A panic inside an earlier call (reported as CIDB_INTERNAL) leaves plain data.
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err(invalid(
                "stmt is in use by another call (another thread, or a callback inside a call on it): a cidb_stmt is not thread-safe (prepare one per thread)",
            ))
        }
    };
    f(&mut guard)
}

impl State {
    fn rewind(&mut self) {
        self.executed = false;
        self.rest = Vec::new().into_iter();
        self.current = None;
        self.texts.clear();
    }

    fn bind(&mut self, index: usize, v: Value) -> Result<()> {
        let n = self.binds.len();
        if index == 0 || index > n {
            return Err(bad_param(match n {
                0 => format!("parameter index {index} is out of range: the statement has no parameters"),
                _ => format!("parameter index {index} is out of range: the statement has {n} parameter(s), numbered 1..={n}"),
            }));
        }
        if self.executed {
            return Err(bad_param(format!(
                "cannot bind parameter {index} while the statement is running: call cidb_stmt_reset first"
            )));
        }
        self.binds[index - 1] = Some(v);
        Ok(())
    }
}

/// Parses and binds `sql` for this tenant and stores a new statement in `*out_stmt`. The
/// plan is made at the first step and kept; the statement re-plans by itself after
/// `CREATE INDEX`, `DROP INDEX`, `ANALYZE` or a large change in table sizes.
///
/// The statement is a SELECT, an `EXPLAIN [QUERY PLAN | ANALYZE] SELECT ...` (column
/// `plan`, one text line per row) or DDL (`CREATE INDEX`, `DROP INDEX`, `ANALYZE`; no
/// rows). Parameters are `?`, `?N` or `$N`, numbered from 1 as in SQLite.
///
/// Errors: `CIDB_SQL_SYNTAX`, `CIDB_UNKNOWN_TABLE`, `CIDB_UNKNOWN_COLUMN`,
/// `CIDB_TYPE_MISMATCH`, `CIDB_UNSUPPORTED` (the message names the construct and its
/// line:column), `CIDB_INVALID_PARAMETER`, `CIDB_CLOSED`.
///
/// Ownership: `sql` is borrowed for the call. The caller owns `*out_stmt` and must release
/// it with `cidb_stmt_free`. The statement keeps the engine's data alive but not the engine
/// open: after `cidb_engine_close` its steps return `CIDB_CLOSED`.
#[no_mangle]
pub extern "C" fn cidb_tenant_prepare(tenant: *const cidb_tenant, sql: *const c_char, out_stmt: *mut *mut cidb_stmt) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_stmt, "out_stmt", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let stmt = t.prepare(arg_str(sql, "sql")?)?;
        let names = stmt.columns().iter().map(|c| CString::new(c.replace('\0', "\\0")).unwrap_or_default()).collect();
        let state = State {
            binds: vec![None; stmt.param_count()],
            stmt,
            names,
            executed: false,
            rest: Vec::new().into_iter(),
            current: None,
            texts: Vec::new(),
            stats: None,
        };
        out.set(Box::into_raw(Box::new(cidb_stmt { state: Mutex::new(state) })));
        Ok(())
    })
}

/// Releases a statement (and the rows and text it still holds). NULL is accepted and
/// ignored.
///
/// Ownership: `stmt` and every pointer obtained from it (column names and text) are
/// invalid after the call; it must not be used or freed again, nor freed while another
/// thread is inside a call on it.
#[no_mangle]
pub extern "C" fn cidb_stmt_free(stmt: *mut cidb_stmt) {
    crate::ffi::boundary_value((), || free_box(stmt))
}

/// Stores in `*out_count` the number of parameters of the statement (the highest `?N`).
///
/// Ownership: `out_count` is written only.
#[no_mangle]
pub extern "C" fn cidb_stmt_param_count(stmt: *mut cidb_stmt, out_count: *mut usize) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_count, "out_count", 0)?;
        out.set(with(stmt, |s| Ok(s.binds.len()))?);
        Ok(())
    })
}

/// Binds SQL NULL to parameter `index` (1-based). Errors for every `cidb_stmt_bind_*`:
/// `CIDB_INVALID_PARAMETER` when `index` is 0 or above the parameter count, or when the
/// statement is running (stepped and not reset: call `cidb_stmt_reset` first). A parameter
/// of the wrong type for its place is reported by `cidb_stmt_step` (`CIDB_TYPE_MISMATCH`,
/// naming the parameter).
#[no_mangle]
pub extern "C" fn cidb_stmt_bind_null(stmt: *mut cidb_stmt, index: usize) -> cidb_status {
    boundary(|| with(stmt, |s| s.bind(index, Value::Null)))
}

/// Binds a 64-bit integer (SQL INTEGER) to parameter `index` (1-based). Timestamps are
/// integers (milliseconds since the epoch).
#[no_mangle]
pub extern "C" fn cidb_stmt_bind_int64(stmt: *mut cidb_stmt, index: usize, value: i64) -> cidb_status {
    boundary(|| with(stmt, |s| s.bind(index, Value::Int(value))))
}

/// Binds a double (SQL REAL) to parameter `index` (1-based). NaN is `CIDB_INVALID_PARAMETER`
/// (it compares with nothing; bind NULL instead); infinities are accepted.
#[no_mangle]
pub extern "C" fn cidb_stmt_bind_double(stmt: *mut cidb_stmt, index: usize, value: f64) -> cidb_status {
    boundary(|| {
        if value.is_nan() {
            return Err(bad_param(format!("parameter {index} is NaN: bind NULL for a missing value")));
        }
        with(stmt, |s| s.bind(index, Value::Real(value)))
    })
}

/// The bytes of a text argument: `len` bytes at `p`, or up to the NUL when `len` is negative.
fn text_arg<'a>(p: *const c_char, len: i64, name: &str) -> Result<&'a str> {
    if len < 0 {
        return arg_str(p, name);
    }
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL (bind SQL NULL with cidb_stmt_bind_null)")));
    }
    let len = usize::try_from(len).map_err(|_| invalid(format!("{name}: length {len} is too large")))?;
    // SAFETY: the caller passes `len` readable bytes at `p` (the contract).
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|e| invalid(format!("{name} is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to())))
}

/// Binds text (SQL TEXT) to parameter `index` (1-based): `len` bytes of UTF-8 at `value`
/// (which may hold NUL bytes), or, when `len` is negative, the bytes up to the first NUL.
/// `CIDB_INVALID_INPUT` when `value` is NULL or not UTF-8.
///
/// Ownership: `value` is copied; it may be released when the call returns.
#[no_mangle]
pub extern "C" fn cidb_stmt_bind_text(stmt: *mut cidb_stmt, index: usize, value: *const c_char, len: i64) -> cidb_status {
    boundary(|| {
        let text = text_arg(value, len, "value")?;
        with(stmt, |s| s.bind(index, Value::Text(text.to_string())))
    })
}

/// Binds a JSON document (SQL JSON, the type of `attributes` and `metadata`) to parameter
/// `index` (1-based): `len` bytes at `value`, or up to the NUL when `len` is negative. The
/// document is checked and stored in compact form, like the JSON columns, so it compares
/// equal to a stored document with the same content. Where text is expected it acts as its
/// text. `CIDB_INVALID_INPUT` when `value` is NULL, not UTF-8 or not JSON.
///
/// Ownership: `value` is copied; it may be released when the call returns.
#[no_mangle]
pub extern "C" fn cidb_stmt_bind_json(stmt: *mut cidb_stmt, index: usize, value: *const c_char, len: i64) -> cidb_status {
    boundary(|| {
        let v = crate::sql::json_value("value", text_arg(value, len, "value")?)?;
        with(stmt, |s| s.bind(index, v))
    })
}

/// Unbinds every parameter (the next execution then needs new binds). Allowed at any time;
/// rows already being stepped through are not affected.
#[no_mangle]
pub extern "C" fn cidb_stmt_clear_bindings(stmt: *mut cidb_stmt) -> cidb_status {
    boundary(|| {
        with(stmt, |s| {
            s.binds.iter_mut().for_each(|b| *b = None);
            Ok(())
        })
    })
}

/// Moves to the next row: `*out_has_row` is true when there is one (read it with the
/// `cidb_stmt_column_*` functions), false when the rows are exhausted.
///
/// The first step after prepare or `cidb_stmt_reset` executes the statement with the
/// current bindings (`CIDB_INVALID_PARAMETER` naming the first unbound parameter if any is
/// unbound) and keeps the whole result; later steps walk it. After the last row, step keeps
/// returning false until `cidb_stmt_reset`. A failed execution leaves the statement ready
/// to execute again. DDL runs on the first step and has no rows.
///
/// Errors: `CIDB_INVALID_PARAMETER`, `CIDB_TYPE_MISMATCH` (a bound value of the wrong type
/// for its place), `CIDB_CLOSED`, `CIDB_STORAGE`; DDL errors as for `cidb_engine_execute`.
///
/// Ownership: text pointers from the previous row become invalid.
#[no_mangle]
pub extern "C" fn cidb_stmt_step(stmt: *mut cidb_stmt, out_has_row: *mut bool) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_has_row, "out_has_row", false)?;
        with(stmt, |s| {
            s.texts.clear();
            s.current = None;
            if !s.executed {
                let mut params = Vec::with_capacity(s.binds.len());
                for (i, b) in s.binds.iter().enumerate() {
                    match b {
                        Some(v) => params.push(v.clone()),
                        None => {
                            return Err(bad_param(format!(
                                "parameter {} of {} is not bound (bind every parameter before cidb_stmt_step)",
                                i + 1,
                                s.binds.len()
                            )))
                        }
                    }
                }
                let r = s.stmt.query(&params)?;
                s.executed = true;
                s.rest = r.rows.into_iter();
                s.stats = Some(r.stats);
            }
            s.current = s.rest.next();
            out.set(s.current.is_some());
            Ok(())
        })
    })
}

/// Rewinds the statement: the next step executes it again (seeing writes made since) with
/// the bindings it has, which `cidb_stmt_reset` keeps. Releases the rows not yet stepped.
///
/// Ownership: text pointers from the current row become invalid.
#[no_mangle]
pub extern "C" fn cidb_stmt_reset(stmt: *mut cidb_stmt) -> cidb_status {
    boundary(|| {
        with(stmt, |s| {
            s.rewind();
            Ok(())
        })
    })
}

/// Stores in `*out_json` the statistics of the statement's last execution:
/// `{"rows_examined": n, "rows_returned": n, "index_scans": n, "table_scans": n, "joins": n,
/// "elapsed_ns": n, "plan": "SEARCH customers USING INDEX ...", "tables": [...],
/// "indexes": [...], "temp_btree": false, "peak_memory_bytes": n}` (kept across
/// `cidb_stmt_reset`). `CIDB_NOT_FOUND` before the first execution.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_stmt_stats_json(stmt: *mut cidb_stmt, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let text = with(stmt, |s| match &s.stats {
            Some(st) => json::to_text(st),
            None => Err(Error::new(ErrorKind::NotFound, "the statement has not been executed yet (call cidb_stmt_step)")),
        })?;
        out.set(c_string(text)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_busy_on_another_thread_is_refused_not_raced() {
        let dir = tempfile::tempdir().unwrap();
        let engine = cidb::Engine::open_default(dir.path()).unwrap();
        let t = cidb_tenant { tenant: engine.tenant("a").unwrap() };
        let mut s = std::ptr::null_mut();
        assert_eq!(cidb_tenant_prepare(&t, c"SELECT id FROM customers WHERE id = ?".as_ptr(), &mut s), cidb_status::CIDB_OK);
        let addr = s as usize;
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        // Another thread is inside a call (holds the statement's lock) ...
        let holder = std::thread::spawn(move || {
            // SAFETY: the statement outlives this thread (freed after join).
            let stmt = unsafe { &*(addr as *const cidb_stmt) };
            let _inside = stmt.state.lock().unwrap();
            held_tx.send(()).unwrap();
            done_rx.recv().unwrap();
        });
        held_rx.recv().unwrap();
        // ... so this thread's calls fail cleanly instead of racing.
        let mut n = 7usize;
        assert_eq!(cidb_stmt_param_count(s, &mut n), cidb_status::CIDB_INVALID_INPUT);
        assert_eq!(n, 0);
        assert!(crate::error::last_error().unwrap().contains("not thread-safe"));
        assert_eq!(cidb_stmt_bind_int64(s, 1, 3), cidb_status::CIDB_INVALID_INPUT);
        done_tx.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(cidb_stmt_param_count(s, &mut n), cidb_status::CIDB_OK);
        assert_eq!(n, 1);
        cidb_stmt_free(s);
        engine.close().unwrap();
    }
}
