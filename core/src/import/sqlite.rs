//! SQLite source (feature `sqlite`): reads one table or view of a SQLite database file,
//! opened read-only, row by row from a single statement (constant memory). Column names
//! are the header; SQLite's dynamic types map to [`Raw`] (INTEGER, REAL, TEXT, NULL; a BLOB
//! or text that is not UTF-8 rejects its row). Rows are reported by rowid, or by 1-based
//! position when the source has none (views, `WITHOUT ROWID` tables).

use super::batch::Importer;
use super::convert::{map_header, Fields, Raw, Target, MAX_COLS};
use super::{ImportOptions, ImportReport};
use crate::error::{err, Error, ErrorKind, Result};
use crate::schema::Table;
use crate::tenant::Tenant;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

fn sql_error(what: String) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::with_source(ErrorKind::InvalidInput, what, e)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The source table: the one asked for, else one named like the target, else the only one.
fn pick_source(conn: &Connection, path: &Path, table: Table, asked: Option<&str>) -> Result<String> {
    let what = format!("cannot read the tables of SQLite database {}", path.display());
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(sql_error(what.clone()))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(sql_error(what))?;
    let find = |want: &str| names.iter().find(|n| n.eq_ignore_ascii_case(want)).cloned();
    let listed = || if names.is_empty() { "none".to_string() } else { names.join(", ") };
    match asked {
        Some(want) => find(want).ok_or_else(|| {
            err(
                ErrorKind::UnknownTable,
                format!("{} has no table {want:?} (tables: {})", path.display(), listed()),
            )
        }),
        None => match find(table.name()) {
            Some(n) => Ok(n),
            None if names.len() == 1 => Ok(names[0].clone()),
            None => Err(err(
                ErrorKind::InvalidInput,
                format!(
                    "{} has no table named {} and {} tables; name the source table (tables: {})",
                    path.display(),
                    table.name(),
                    if names.is_empty() { "no other" } else { "several" },
                    listed()
                ),
            )),
        },
    }
}

/// Imports rows of a SQLite table into `table`.
pub(crate) fn import(
    tenant: &Tenant,
    table: Table,
    path: &Path,
    source_table: Option<&str>,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    if !path.is_file() {
        return Err(err(ErrorKind::InvalidInput, format!("{} is not a readable file", path.display())));
    }
    let mut imp = Importer::new(tenant, table, opts)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(sql_error(format!("cannot open SQLite database {}", path.display())))?;
    let source = pick_source(&conn, path, table, source_table)?;
    let q = quote(&source);
    let what = format!("cannot read table {source:?} of {}", path.display());
    let (mut stmt, with_rowid) = match conn.prepare(&format!("SELECT rowid, * FROM {q}")) {
        Ok(s) => (s, true),
        Err(_) => (conn.prepare(&format!("SELECT * FROM {q}")).map_err(sql_error(what.clone()))?, false),
    };
    let skip = usize::from(with_rowid);
    let names: Vec<String> = stmt.column_names().into_iter().skip(skip).map(str::to_string).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (targets, notes) = map_header(table, &name_refs, opts.ignore_unknown_columns)?;
    for n in notes {
        imp.note(n);
    }
    if let Ok(n) = conn.query_row(&format!("SELECT count(*) FROM {q}"), [], |r| r.get::<_, i64>(0)) {
        imp.set_total_rows(n.max(0) as u64);
    }

    let mut rows = stmt.query([]).map_err(sql_error(what.clone()))?;
    let mut ordinal = 0u64;
    while imp.running() {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(imp.fail(Error::with_source(ErrorKind::InvalidInput, what, e))),
        };
        ordinal += 1;
        let line = if with_rowid { row.get::<_, i64>(0).map_or(ordinal, |r| r.max(0) as u64) } else { ordinal };
        let mut f: Fields<'_> = [None; MAX_COLS];
        let mut size = 0usize;
        let mut bad = None;
        for (i, target) in targets.iter().enumerate() {
            let Target::Column(c) = *target else { continue };
            let v = match row.get_ref(i + skip) {
                Ok(v) => v,
                Err(e) => {
                    bad = Some(Error::with_source(ErrorKind::InvalidInput, format!("cannot read column {:?}", names[i]), e));
                    break;
                }
            };
            f[c] = Some(match v {
                ValueRef::Null => Raw::Null,
                ValueRef::Integer(n) => Raw::Int(n),
                ValueRef::Real(r) => Raw::Real(r),
                ValueRef::Text(b) => match std::str::from_utf8(b) {
                    Ok(s) => {
                        size += s.len();
                        Raw::Text(s)
                    }
                    Err(e) => {
                        let msg = format!("field {:?} is not valid UTF-8 (bad byte at offset {})", names[i], e.valid_up_to());
                        bad = Some(err(ErrorKind::InvalidInput, msg));
                        break;
                    }
                },
                ValueRef::Blob(_) => {
                    let msg = format!("field {:?} is a BLOB; expected text or a number", names[i]);
                    bad = Some(err(ErrorKind::TypeMismatch, msg));
                    break;
                }
            });
            size += 8;
        }
        match bad {
            None => imp.row(line, 0, size, &f),
            Some(e) => imp.reject_row(line, 0, e),
        }
    }
    drop(rows);
    imp.finish()
}
