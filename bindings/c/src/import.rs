//! Bulk import in C: CSV, JSON Lines and SQLite files, or CSV / JSON Lines text in memory,
//! into one of the three stores of a tenant, with the core's rules (see the `cidb::import`
//! module docs): valid rows land batch by batch, each bad row is reported with its line and
//! reason, nothing is half-written. The report comes back as JSON.

use crate::ffi::{arg_str, boundary, c_string, invalid, opt_str, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::import::import_table;
use cidb::{ImportFormat, ImportOptions, Result};
use std::ffi::c_char;
use std::path::Path;

/// Import options from `{"batch_size": n, "max_rejects": n, "ignore_unknown_columns": b,
/// "delimiter": "c"}` (every key optional; NULL or `{}` keeps the defaults).
fn options(options_json: *const c_char) -> Result<ImportOptions> {
    let mut o = ImportOptions::default();
    let Some(text) = opt_str(options_json, "options_json")? else { return Ok(o) };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(format!("options_json is not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| invalid("options_json must be a JSON object"))?;
    for (k, v) in obj {
        let count = |min: u64| {
            v.as_u64().filter(|n| *n >= min).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
                invalid(format!("options_json.{k} must be an integer of at least {min}, got {v}"))
            })
        };
        match k.as_str() {
            "batch_size" => o.batch_size = count(1)?,
            "max_rejects" => o.max_rejects_reported = count(0)?,
            "ignore_unknown_columns" => {
                o.ignore_unknown_columns =
                    v.as_bool().ok_or_else(|| invalid(format!("options_json.{k} must be true or false, got {v}")))?
            }
            "delimiter" => {
                o.delimiter = match v.as_str().map(str::as_bytes) {
                    Some([b]) if b.is_ascii() => *b,
                    _ => return Err(invalid(format!("options_json.delimiter must be one ASCII character, got {v}"))),
                }
            }
            _ => {
                return Err(invalid(format!(
                    "options_json has unknown key {k:?}; expected batch_size, max_rejects, ignore_unknown_columns or delimiter"
                )))
            }
        }
    }
    Ok(o)
}

/// Imports the file at `path` into `table` (`"customers"`, `"customer_scores"` or
/// `"conversation_messages"`) of the tenant. `format` is `"csv"`, `"jsonl"` or `"sqlite"`,
/// or NULL to take it from the file name (`.csv`/`.tsv`, `.jsonl`/`.ndjson`/`.json`,
/// `.sqlite`/`.sqlite3`/`.db`). `options_json` is NULL or `{"batch_size": n,
/// "max_rejects": n, "ignore_unknown_columns": bool, "delimiter": "c"}`.
///
/// Stores in `*out_report_json` `{"imported": n, "rejected": n, "rejects": [{"line": n,
/// "kind": "invalid_score", "reason": "..."}], "batches": n, "elapsed_ms": x, "notes": [...],
/// "stopped_early": false}`. Rejected rows do not fail the call.
///
/// Errors: `CIDB_UNKNOWN_TABLE`, `CIDB_UNKNOWN_COLUMN` (a column the table lacks, unless
/// `ignore_unknown_columns`; nothing is written), `CIDB_INVALID_INPUT` (NULL or non-UTF-8
/// argument, `latest_scores` (derived by the engine), unreadable file, unknown format, bad
/// options, a header lacking a required column), `CIDB_UNSUPPORTED` (SQLite files when the
/// library was built without its `sqlite` feature), `CIDB_STORAGE`, `CIDB_UNAVAILABLE`,
/// `CIDB_CLOSED`. Batches committed before a fatal error stay; the message says how many.
///
/// Ownership: the string arguments are borrowed for the call. The caller owns
/// `*out_report_json` and releases it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_import_file(
    tenant: *const cidb_tenant,
    table: *const c_char,
    path: *const c_char,
    format: *const c_char,
    options_json: *const c_char,
    out_report_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_report_json, "out_report_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let table = import_table(arg_str(table, "table")?)?;
        let path = arg_str(path, "path")?;
        let format = opt_str(format, "format")?.map(str::parse::<ImportFormat>).transpose()?;
        let report = t.import_file(table, Path::new(path), format, &options(options_json)?)?;
        out.set(c_string(json::to_text(&report)?)?);
        Ok(())
    })
}

/// Imports `len` bytes of CSV (header row first) or JSON Lines text at `data` into `table`
/// of the tenant; `format` is `"csv"` or `"jsonl"`. Options, report, errors and ownership
/// as for `cidb_tenant_import_file` (`data` is borrowed for the call and may hold invalid
/// UTF-8: such rows are rejected and the import goes on).
#[no_mangle]
pub extern "C" fn cidb_tenant_import_buffer(
    tenant: *const cidb_tenant,
    table: *const c_char,
    format: *const c_char,
    data: *const u8,
    len: usize,
    options_json: *const c_char,
    out_report_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_report_json, "out_report_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let table = import_table(arg_str(table, "table")?)?;
        let format: ImportFormat = arg_str(format, "format")?.parse()?;
        let bytes = crate::cache::bytes_arg(data, len, "data")?;
        let opts = options(options_json)?;
        let report = match format {
            ImportFormat::Csv => t.import_csv(table, bytes, &opts)?,
            ImportFormat::Jsonl => t.import_jsonl(table, bytes, &opts)?,
            ImportFormat::Sqlite => return Err(invalid("a SQLite database cannot come from a buffer; use cidb_tenant_import_file")),
        };
        out.set(c_string(json::to_text(&report)?)?);
        Ok(())
    })
}
