//! Reading a statement's result: column count and names (known from prepare), and the type
//! and value of each cell of the current row (the row the last `cidb_stmt_step` moved to).
//! Getters are strict: a cell of another type is `CIDB_TYPE_MISMATCH`, except that an
//! INTEGER may be read as a double and JSON as text. Column indexes are 0-based.

use crate::ffi::{boundary, invalid, Out};
use crate::sql::bad_param;
use crate::status::cidb_status;
use crate::stmt::{cidb_stmt, with, State};
use cidb::{Error, ErrorKind, Result, Value};
use std::ffi::c_char;

/// The type of a value in a result row.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cidb_value_type {
    /// SQL NULL.
    CIDB_VALUE_NULL = 0,
    /// A 64-bit signed integer (`cidb_stmt_column_int64`; also readable as a double).
    CIDB_VALUE_INTEGER = 1,
    /// A double (`cidb_stmt_column_double`).
    CIDB_VALUE_REAL = 2,
    /// UTF-8 text (`cidb_stmt_column_text`).
    CIDB_VALUE_TEXT = 3,
    /// A JSON document, read as its text (`cidb_stmt_column_text`).
    CIDB_VALUE_JSON = 4,
}

fn check_col(s: &State, col: usize) -> Result<()> {
    let n = s.names.len();
    if col >= n {
        return Err(bad_param(match n {
            0 => format!("column index {col} is out of range: the statement returns no columns"),
            _ => format!("column index {col} is out of range: the statement has {n} column(s), numbered 0..={}", n - 1),
        }));
    }
    Ok(())
}

/// The cell `col` of the current row.
fn cell(s: &State, col: usize) -> Result<&Value> {
    check_col(s, col)?;
    let row = s
        .current
        .as_ref()
        .ok_or_else(|| invalid("the statement has no current row: cidb_stmt_step has not returned a row since the last step, reset or prepare"))?;
    row.get(col).ok_or_else(|| Error::new(ErrorKind::Internal, format!("row has {} cells, fewer than its columns", row.len())))
}

fn mismatch(s: &State, col: usize, v: &Value, want: &str) -> Error {
    let name = s.names[col].to_string_lossy();
    Error::new(
        ErrorKind::TypeMismatch,
        format!("column {col} ({name}) is {} in this row, not {want} (check cidb_stmt_column_type)", v.type_name()),
    )
}

/// Stores in `*out_count` the number of result columns (0 for DDL). Known from prepare.
///
/// Ownership: `out_count` is written only.
#[no_mangle]
pub extern "C" fn cidb_stmt_column_count(stmt: *mut cidb_stmt, out_count: *mut usize) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_count, "out_count", 0)?;
        out.set(with(stmt, |s| Ok(s.names.len()))?);
        Ok(())
    })
}

/// Stores in `*out_name` the name of column `col` (0-based): the alias, or the column name,
/// or the expression text such as `COUNT(*)`. `CIDB_INVALID_PARAMETER` when `col` is not
/// below the column count. Known from prepare.
///
/// Ownership: cidb owns the name; it stays valid until `cidb_stmt_free`. Never free it.
#[no_mangle]
pub extern "C" fn cidb_stmt_column_name(stmt: *mut cidb_stmt, col: usize, out_name: *mut *const c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_name, "out_name", std::ptr::null())?;
        out.set(with(stmt, |s| {
            check_col(s, col)?;
            Ok(s.names[col].as_ptr())
        })?);
        Ok(())
    })
}

/// Stores in `*out_type` the type of cell `col` (0-based) of the current row (a column's
/// type can differ between rows only by being NULL). Errors for every cell getter:
/// `CIDB_INVALID_PARAMETER` when `col` is not below the column count, `CIDB_INVALID_INPUT`
/// when there is no current row (no step yet, the last step returned false, or a reset).
///
/// Ownership: `out_type` is written only.
#[no_mangle]
pub extern "C" fn cidb_stmt_column_type(stmt: *mut cidb_stmt, col: usize, out_type: *mut cidb_value_type) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_type, "out_type", cidb_value_type::CIDB_VALUE_NULL)?;
        out.set(with(stmt, |s| {
            Ok(match cell(s, col)? {
                Value::Null => cidb_value_type::CIDB_VALUE_NULL,
                Value::Int(_) => cidb_value_type::CIDB_VALUE_INTEGER,
                Value::Real(_) => cidb_value_type::CIDB_VALUE_REAL,
                Value::Text(_) => cidb_value_type::CIDB_VALUE_TEXT,
                Value::Json(_) => cidb_value_type::CIDB_VALUE_JSON,
            })
        })?);
        Ok(())
    })
}

/// Stores in `*out_value` the INTEGER in cell `col` (0-based) of the current row.
/// `CIDB_TYPE_MISMATCH` for any other type, NULL included (check `cidb_stmt_column_type`).
///
/// Ownership: `out_value` is written only.
#[no_mangle]
pub extern "C" fn cidb_stmt_column_int64(stmt: *mut cidb_stmt, col: usize, out_value: *mut i64) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_value, "out_value", 0)?;
        out.set(with(stmt, |s| match cell(s, col)? {
            Value::Int(i) => Ok(*i),
            v => Err(mismatch(s, col, v, "INTEGER")),
        })?);
        Ok(())
    })
}

/// Stores in `*out_value` the REAL in cell `col` (0-based) of the current row, or an
/// INTEGER converted to double (exact up to 2^53). `CIDB_TYPE_MISMATCH` for any other
/// type, NULL included.
///
/// Ownership: `out_value` is written only.
#[no_mangle]
pub extern "C" fn cidb_stmt_column_double(stmt: *mut cidb_stmt, col: usize, out_value: *mut f64) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_value, "out_value", 0.0)?;
        out.set(with(stmt, |s| match cell(s, col)? {
            Value::Real(r) => Ok(*r),
            Value::Int(i) => Ok(*i as f64),
            v => Err(mismatch(s, col, v, "REAL")),
        })?);
        Ok(())
    })
}

/// Stores in `*out_text` the TEXT or JSON in cell `col` (0-based) of the current row, as
/// NUL-terminated UTF-8, and its length in bytes (without the NUL) in `*out_len` unless
/// `out_len` is NULL. Text may hold NUL bytes; `*out_len` is then the whole length.
/// `CIDB_TYPE_MISMATCH` for any other type, NULL included.
///
/// Ownership: cidb owns the text. It stays valid until the next `cidb_stmt_step`,
/// `cidb_stmt_reset` or `cidb_stmt_free` on this statement; copy it to keep it. Never free
/// it.
#[no_mangle]
pub extern "C" fn cidb_stmt_column_text(
    stmt: *mut cidb_stmt,
    col: usize,
    out_text: *mut *const c_char,
    out_len: *mut usize,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_text, "out_text", std::ptr::null())?;
        let out_len = if out_len.is_null() { None } else { Some(Out::new(out_len, "out_len", 0)?) };
        let (p, n) = with(stmt, |s| {
            match cell(s, col)? {
                Value::Text(_) | Value::Json(_) => {}
                v => return Err(mismatch(s, col, v, "TEXT")),
            }
            if s.texts.len() < s.names.len() {
                s.texts.resize_with(s.names.len(), || None);
            }
            // Disjoint borrows: the cell is read, its NUL-terminated copy is written.
            let State { current, texts, .. } = s;
            let Some(Value::Text(text) | Value::Json(text)) = current.as_ref().and_then(|r| r.get(col)) else {
                return Err(Error::new(ErrorKind::Internal, "text cell vanished"));
            };
            let buf = texts[col].get_or_insert_with(|| {
                let mut b = Vec::with_capacity(text.len() + 1);
                b.extend_from_slice(text.as_bytes());
                b.push(0);
                b.into_boxed_slice()
            });
            Ok((buf.as_ptr().cast::<c_char>(), buf.len() - 1))
        })?;
        out.set(p);
        if let Some(l) = out_len {
            l.set(n);
        }
        Ok(())
    })
}
