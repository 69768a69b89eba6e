//! Online backup in C: a consistent copy of the whole database, taken from one read snapshot
//! while reads and writes continue.

use crate::engine::cidb_engine;
use crate::ffi::{arg_ref, arg_str, boundary, c_string, invalid, Out};
use crate::json;
use crate::status::cidb_status;
use std::ffi::c_char;

/// Writes a consistent copy of the database (every tenant, context and change-feed log, as
/// of one moment) into directory `dest_dir`, created if missing, while other threads keep
/// reading and writing. The copy is a complete cidb directory: open it with
/// `cidb_engine_open`. Stores in `*out_report_json` what was copied: `{"tables": n,
/// "entries": n, "bytes": size of the new data file}`.
///
/// Errors: `CIDB_ALREADY_EXISTS` when `dest_dir` already holds a database,
/// `CIDB_STORAGE` when it cannot be created or written, `CIDB_INVALID_INPUT` (`dest_dir`
/// NULL, empty or not UTF-8), `CIDB_CLOSED`.
///
/// Ownership: `dest_dir` is borrowed for the call. The caller owns `*out_report_json` and
/// must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_backup(
    engine: *const cidb_engine,
    dest_dir: *const c_char,
    out_report_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_report_json, "out_report_json", std::ptr::null_mut())?;
        let e = &arg_ref(engine, "engine")?.engine;
        let dest = arg_str(dest_dir, "dest_dir")?;
        if dest.is_empty() {
            return Err(invalid("dest_dir is empty"));
        }
        let report = e.backup(dest)?;
        out.set(c_string(json::to_text(&report)?)?);
        Ok(())
    })
}
