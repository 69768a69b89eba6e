//! SQL through JSON: run a statement with its parameters given as a JSON array and get the
//! rows back as JSON (`cidb_tenant_query_json`), EXPLAIN a query, run DDL on the engine
//! (`CREATE INDEX`, `DROP INDEX`, `ANALYZE`), list and verify indexes. Also the conversions
//! between SQL values and JSON that `stmt.rs` shares (parameters, JSON binds). Prepared
//! statements with typed binds live in `stmt.rs`.

use crate::engine::cidb_engine;
use crate::ffi::{arg_ref, arg_str, boundary, c_string, opt_str, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::{Error, ErrorKind, QueryResult, Result, Value};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::ffi::c_char;

/// `CIDB_INVALID_PARAMETER` with `message`.
pub(crate) fn bad_param(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidParameter, message)
}

/// JSON text as a SQL JSON value, in compact form (the form stored attributes and metadata
/// have), so equal documents compare equal whatever their spacing.
pub(crate) fn json_value(arg: &str, text: &str) -> Result<Value> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| crate::ffi::invalid(format!("{arg} is not valid JSON: {e}")))?;
    Ok(Value::Json(v.to_string()))
}

/// The parameters of `params_json`: NULL (no parameters) or a JSON array whose elements are
/// `null` (NULL), integers (INTEGER), other numbers (REAL), strings (TEXT), objects and
/// arrays (JSON). Booleans and integers outside 64 bits are `CIDB_INVALID_PARAMETER`.
pub(crate) fn params_from_json(params_json: Option<&str>) -> Result<Vec<Value>> {
    let Some(text) = params_json else { return Ok(Vec::new()) };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| crate::ffi::invalid(format!("params_json is not valid JSON: {e}")))?;
    let serde_json::Value::Array(items) = v else {
        return Err(crate::ffi::invalid("params_json must be a JSON array of parameter values (or NULL for none)"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            serde_json::Value::Null => Ok(Value::Null),
            serde_json::Value::Bool(b) => Err(bad_param(format!(
                "params_json[{i}] is the boolean {b}; SQL here has no boolean type: pass 0 or 1"
            ))),
            serde_json::Value::Number(n) => match (n.as_i64(), n.is_f64()) {
                (Some(i), _) => Ok(Value::Int(i)),
                (None, true) => Ok(Value::Real(n.as_f64().unwrap_or(f64::NAN))),
                (None, false) => Err(bad_param(format!("params_json[{i}] = {n} does not fit a 64-bit signed integer"))),
            },
            serde_json::Value::String(s) => Ok(Value::Text(s)),
            other => Ok(Value::Json(other.to_string())),
        })
        .collect()
}

/// One SQL value as JSON: NULL → null, INTEGER and REAL → numbers (a REAL always has a `.`
/// or an exponent; NaN and infinities → null), TEXT → string, JSON → the document itself.
pub(crate) struct Cell<'a>(pub(crate) &'a Value);

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_none(),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Real(r) if r.is_finite() => s.serialize_f64(*r),
            Value::Real(_) => s.serialize_none(),
            Value::Text(t) => s.serialize_str(t),
            Value::Json(j) => match serde_json::from_str::<serde_json::Value>(j) {
                Ok(v) => v.serialize(s),
                Err(_) => s.serialize_str(j),
            },
        }
    }
}

struct Row<'a>(&'a [Value]);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Cell))
    }
}

/// `{"columns": [...], "rows": [[...], ...]}` of a result.
struct ResultJson<'a>(&'a QueryResult);

impl Serialize for ResultJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("columns", &self.0.columns)?;
        m.serialize_entry("rows", &RowsJson(&self.0.rows))?;
        m.end()
    }
}

struct RowsJson<'a>(&'a [cidb::Row]);

impl Serialize for RowsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|r| Row(r)))
    }
}

/// Runs one statement of the tenant with the parameters in `params_json` and stores the
/// result in `*out_json` as `{"columns": ["id", ...], "rows": [["c1", ...], ...]}`.
///
/// The statement is a SELECT (its rows), `EXPLAIN [QUERY PLAN | ANALYZE] SELECT ...` (one
/// column `plan`, one text line per row) or DDL (`CREATE INDEX`, `DROP INDEX`, `ANALYZE`;
/// no rows). `params_json` is NULL (no parameters) or a JSON array, one element per `?`:
/// `null`, an integer (INTEGER), another number such as `0.5` or `1.0` (REAL), a string
/// (TEXT), an object or array (JSON). Values come back as JSON the same way: INTEGER as an
/// integer, REAL as a number with a `.` or an exponent, TEXT as a string, JSON columns
/// (`attributes`, `metadata`) as the document itself, NULL as `null`.
///
/// Errors: `CIDB_SQL_SYNTAX`, `CIDB_UNKNOWN_TABLE`, `CIDB_UNKNOWN_COLUMN`,
/// `CIDB_TYPE_MISMATCH`, `CIDB_UNSUPPORTED` (the message names the construct and its
/// line:column), `CIDB_INVALID_PARAMETER` (wrong number of parameters, a boolean or an
/// integer beyond 64 bits), `CIDB_INVALID_INPUT` (`params_json` not a JSON array),
/// `CIDB_CLOSED`.
///
/// Ownership: `sql` and `params_json` are borrowed for the call. The caller owns `*out_json`
/// and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_query_json(
    tenant: *const cidb_tenant,
    sql: *const c_char,
    params_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let sql = arg_str(sql, "sql")?;
        let params = params_from_json(opt_str(params_json, "params_json")?)?;
        let r = t.query(sql, &params)?;
        out.set(c_string(json::to_text(&ResultJson(&r))?)?);
        Ok(())
    })
}

/// Stores in `*out_text` the plan of a SELECT (or of the query inside an `EXPLAIN ...`)
/// with the parameters in `params_json` (NULL or a JSON array, as for
/// `cidb_tenant_query_json`; the values may steer the choice between a partial index and a
/// scan).
///
/// `as_json` false gives SQLite-style text lines (`QUERY PLAN`, then
/// `` `--SEARCH customers USING INDEX idx_... (department=? AND status=?)  [est rows=.. cost=..]``);
/// true gives `{"plan": [{"detail", "table", "index", "est_rows", "est_cost", "children"?},
/// ...], "est_rows", "est_cost"}`. With `analyze` true the query runs and every step also
/// carries the actual rows, rows examined, loops and time (`actual_rows`, `examined`,
/// `loops`, `time_ns` in JSON), plus the total `actual_rows` and `time_ns`.
///
/// Errors: as `cidb_tenant_query_json`, and `CIDB_INVALID_INPUT` for DDL (it has no plan).
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_text` and must
/// release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_explain(
    tenant: *const cidb_tenant,
    sql: *const c_char,
    params_json: *const c_char,
    analyze: bool,
    as_json: bool,
    out_text: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_text, "out_text", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let sql = arg_str(sql, "sql")?;
        let params = params_from_json(opt_str(params_json, "params_json")?)?;
        let e = t.explain(sql, &params, analyze)?;
        let text = if as_json { json::to_text(&e.to_json())? } else { e.text() };
        out.set(c_string(text)?);
        Ok(())
    })
}

/// Runs a statement that belongs to no tenant: `CREATE INDEX [CONCURRENTLY] [IF NOT EXISTS]
/// name ON table(columns) [WHERE ...]`, `DROP INDEX [IF EXISTS] name` or `ANALYZE [table |
/// index]`. An index is built online: readers and writers go on meanwhile, and the call
/// returns when it is ready. Stores the result (today always
/// `{"columns":[],"rows":[]}`) in `*out_json` unless `out_json` is NULL.
///
/// Errors: `CIDB_INVALID_INPUT` for SELECT or EXPLAIN (they read one tenant's rows: use
/// `cidb_tenant_query_json` or a statement), `CIDB_ALREADY_EXISTS`, `CIDB_NOT_FOUND` (DROP
/// INDEX of a missing index), `CIDB_SQL_SYNTAX`, `CIDB_UNKNOWN_TABLE`,
/// `CIDB_UNKNOWN_COLUMN`, `CIDB_UNSUPPORTED`, `CIDB_CLOSED`.
///
/// Ownership: `sql` is borrowed for the call. The caller owns `*out_json` and must release
/// it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_execute(engine: *const cidb_engine, sql: *const c_char, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = if out_json.is_null() { None } else { Some(Out::new(out_json, "out_json", std::ptr::null_mut())?) };
        let e = &arg_ref(engine, "engine")?.engine;
        let r = e.execute(arg_str(sql, "sql")?)?;
        if let Some(out) = out {
            out.set(c_string(json::to_text(&ResultJson(&r))?)?);
        }
        Ok(())
    })
}

/// Stores in `*out_json` every secondary index as a JSON array of
/// `{"name": "idx_...", "table": "customers", "columns": ["department", ...], "unique":
/// false, "predicate": null | "email IS NOT NULL", "ready": true, "entries": 1500}`
/// (`ready` is false while an online build runs; `entries` counts every tenant).
/// `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_indexes_json(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let e = &arg_ref(engine, "engine")?.engine;
        if e.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the engine is closed"));
        }
        out.set(c_string(json::to_text(&e.indexes()?)?)?);
        Ok(())
    })
}

/// Verifies index `name` against its table in one snapshot (like PostgreSQL's amcheck) and
/// stores in `*out_json` `{"entries": n, "expected": n, "missing": n, "extra": n, "stale":
/// n, "exact": true}`: `missing` rows the index lacks, `extra` entries matching no row,
/// `stale` sliding-window entries waiting for background expiry; `exact` is true when
/// `missing` and `extra` are 0. `CIDB_NOT_FOUND` for an unknown index, `CIDB_CLOSED`.
///
/// Ownership: `name` is borrowed for the call. The caller owns `*out_json` and must release
/// it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_check_index(engine: *const cidb_engine, name: *const c_char, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let e = &arg_ref(engine, "engine")?.engine;
        if e.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the engine is closed"));
        }
        let c = e.check_index(arg_str(name, "name")?)?;
        let mut v = serde_json::to_value(&c).map_err(|e| Error::with_source(ErrorKind::Internal, "cannot serialise", e))?;
        v["exact"] = c.is_exact().into();
        out.set(c_string(v.to_string())?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_map_json_types_to_sql_values() {
        let p = params_from_json(Some(r#"[null, 1, -2, 1.0, 0.5, "x", {"b":1, "a":[2]}, [1]]"#)).unwrap();
        assert_eq!(
            p,
            vec![
                Value::Null,
                Value::Int(1),
                Value::Int(-2),
                Value::Real(1.0),
                Value::Real(0.5),
                Value::Text("x".into()),
                Value::Json(r#"{"a":[2],"b":1}"#.into()),
                Value::Json("[1]".into()),
            ]
        );
        assert!(params_from_json(None).unwrap().is_empty());
        // Exact parsing (serde_json's float_roundtrip): the default parser is one ulp off here.
        let p = params_from_json(Some("[0.99981854516836921]")).unwrap();
        assert_eq!(p, vec![Value::Real("0.99981854516836921".parse().unwrap())]);
        let e = params_from_json(Some("[true]")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        assert!(e.message().contains("params_json[0]") && e.message().contains("boolean"), "{e}");
        let e = params_from_json(Some("[1, 18446744073709551615]")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
        assert!(e.message().contains("params_json[1]"), "{e}");
        assert_eq!(params_from_json(Some("{}")).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(params_from_json(Some("[")).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn results_render_each_type() {
        let r = QueryResult {
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Value::Int(3), Value::Real(1.0)],
                vec![Value::Null, Value::Real(f64::NAN)],
                vec![Value::Text("q\"\0".into()), Value::Json(r#"{"k":[1,2]}"#.into())],
                vec![Value::Json("not json".into()), Value::Real(2.5e-7)],
            ],
            stats: Default::default(),
        };
        assert_eq!(
            json::to_text(&ResultJson(&r)).unwrap(),
            r#"{"columns":["a","b"],"rows":[[3,1.0],[null,null],["q\"\u0000",{"k":[1,2]}],["not json",2.5e-7]]}"#
        );
    }
}
