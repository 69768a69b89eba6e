//! JSON sources: JSON Lines (one object per line, read line by line as bytes so a line that
//! is not UTF-8 or not JSON rejects only itself) and in-memory records (the bindings'
//! dicts and objects). Keys name the columns; an unknown key rejects its row.

use super::batch::Importer;
use super::convert::{ignored_note, map_name, Fields, Raw, Target, MAX_COLS};
use super::{ImportOptions, ImportReport};
use crate::error::{err, Error, ErrorKind, Result};
use crate::schema::Table;
use crate::tenant::Tenant;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};

/// The fields of one JSON object, by target column; `Err` on an unknown key. Skipped keys
/// are noted in the report.
fn fields<'a>(imp: &mut Importer<'_>, obj: &'a Map<String, Value>) -> Result<Fields<'a>> {
    let (table, ignore_unknown) = (imp.table(), imp.opts().ignore_unknown_columns);
    let mut f: Fields<'a> = [None; MAX_COLS];
    for (k, v) in obj {
        match map_name(table, k, ignore_unknown)? {
            Target::Column(c) => f[c] = Some(Raw::from_json(v)),
            Target::Ignore => imp.note(ignored_note(table, k)),
        }
    }
    Ok(f)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Imports JSON Lines from `reader`.
pub(crate) fn import(tenant: &Tenant, table: Table, reader: impl Read, opts: &ImportOptions) -> Result<ImportReport> {
    let mut imp = Importer::new(tenant, table, opts)?;
    let mut r = BufReader::with_capacity(256 << 10, reader);
    let mut buf = Vec::with_capacity(4096);
    let (mut line, mut pos) = (0u64, 0u64);
    while imp.running() {
        buf.clear();
        let n = match r.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(imp.fail(Error::with_source(ErrorKind::InvalidInput, "cannot read the JSONL input", e)))
            }
        };
        line += 1;
        pos += n as u64;
        let mut bytes = buf.as_slice();
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("the line is not valid UTF-8 (bad byte at offset {})", e.valid_up_to());
                imp.reject_row(line, pos, err(ErrorKind::InvalidInput, msg));
                continue;
            }
        };
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => o,
            Ok(other) => {
                let msg = format!("expected a JSON object, got {}", json_kind(&other));
                imp.reject_row(line, pos, err(ErrorKind::InvalidInput, msg));
                continue;
            }
            Err(e) => {
                imp.reject_row(line, pos, err(ErrorKind::InvalidInput, format!("invalid JSON: {e}")));
                continue;
            }
        };
        match fields(&mut imp, &obj) {
            Ok(f) => imp.row(line, pos, n, &f),
            Err(e) => imp.reject_row(line, pos, e),
        }
    }
    imp.finish()
}

/// Imports records; positions are 1-based indexes in `rows`.
pub(crate) fn import_records(
    tenant: &Tenant,
    table: Table,
    rows: impl Iterator<Item = Result<Map<String, Value>>>,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    let mut imp = Importer::new(tenant, table, opts)?;
    if let (lo, Some(hi)) = rows.size_hint() {
        if lo == hi {
            imp.set_total_rows(lo as u64);
        }
    }
    for (i, row) in rows.enumerate() {
        if !imp.running() {
            break;
        }
        let at = i as u64 + 1;
        match row.and_then(|obj| {
            let f = fields(&mut imp, &obj)?;
            // Size for the batch byte cap: a cheap estimate of the row's weight.
            let size = obj.values().map(approx_size).sum::<usize>();
            imp.row(at, 0, size, &f);
            Ok(())
        }) {
            Ok(()) => {}
            Err(e) => imp.reject_row(at, 0, e),
        }
    }
    imp.finish()
}

fn approx_size(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        Value::Array(a) => a.iter().map(approx_size).sum::<usize>() + 2,
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + 3 + approx_size(v)).sum::<usize>() + 2,
        _ => 8,
    }
}
