//! The SQL layer: `tenant.query(sql, params)`, `tenant.prepare(sql)` (the `Statement`
//! class), `tenant.explain(...)`, and the engine-wide `engine.execute(sql)` (DDL) and
//! `engine.indexes()`. Parameters are read on the JS thread (see `convert::sql_param`);
//! rows come back as arrays of cells: `null`, a number (a `bigint` for integers beyond
//! 2^53), a string, or the parsed value of a JSON column. Every error comes through the
//! shared error path (`CIDB_SQL_SYNTAX`, `CIDB_UNKNOWN_TABLE`, ...).

use crate::convert::{boolean, list, object, sql_param, text, Val};
use crate::engine::Engine;
use crate::registry::Lease;
use crate::task::{job, run_async, run_sync, Job, Op};
use crate::tenant::Tenant;
use napi::bindgen_prelude::{sys, AsyncTask, BigInt, Env, Null, ToNapiValue, TypeName, Unknown, ValueType};
use napi_derive::napi;
use std::sync::Arc;

type Result<T> = cidb::Result<T>;

/// The largest integer a JS number holds exactly (2^53 - 1).
const MAX_SAFE: i64 = (1 << 53) - 1;

/// One cell of a result row, converted to JS when the result is handed over.
pub struct Cell(cidb::Value);

impl ToNapiValue for Cell {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        use cidb::Value as V;
        // SAFETY (all arms): forwarded from the caller's contract (env is the live JS env).
        unsafe {
            match val.0 {
                V::Null => Null::to_napi_value(env, Null),
                V::Int(i) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => f64::to_napi_value(env, i as f64),
                V::Int(i) => BigInt::to_napi_value(env, BigInt::from(i)),
                V::Real(f) => f64::to_napi_value(env, f),
                V::Text(s) => String::to_napi_value(env, s),
                V::Json(s) => match serde_json::from_str::<serde_json::Value>(&s) {
                    Ok(j) => serde_json::Value::to_napi_value(env, j),
                    Err(_) => String::to_napi_value(env, s),
                },
            }
        }
    }
}

/// The result of a statement: column names and rows (one array of cells per row).
#[napi(object, object_from_js = false)]
pub struct QueryResult {
    /// Output column names, in order.
    pub columns: Vec<String>,
    /// Output rows; a cell is `null`, a number (`bigint` beyond 2^53), a string, or the
    /// parsed value of a JSON column.
    #[napi(ts_type = "Array<Array<null | number | bigint | string | Record<string, unknown> | unknown[]>>")]
    pub rows: Vec<Vec<Cell>>,
}

impl From<cidb::QueryResult> for QueryResult {
    fn from(r: cidb::QueryResult) -> QueryResult {
        QueryResult { columns: r.columns, rows: r.rows.into_iter().map(|row| row.into_iter().map(Cell).collect()).collect() }
    }
}

/// A secondary index as `engine.indexes()` lists it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct IndexInfo {
    /// Index name.
    pub name: String,
    /// Table it indexes.
    pub table: String,
    /// Column names in key order.
    pub columns: Vec<String>,
    /// True for a UNIQUE index.
    pub unique: bool,
    /// The partial-index predicate as SQL; `null` for a full index.
    pub predicate: Option<String>,
    /// False while an online build is in progress.
    pub ready: bool,
    /// Entries over all tenants.
    pub entries: f64,
}

/// What `explain` returns: the plan text (a string) or, with `json`, the plan tree.
pub struct Plan(serde_json::Value);

impl TypeName for Plan {
    fn type_name() -> &'static str {
        "Plan"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for Plan {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: forwarded from the caller's contract.
        unsafe { serde_json::Value::to_napi_value(env, val.0) }
    }
}

/// Options of `explain`.
pub struct ExplainOptions {
    analyze: bool,
    json: bool,
}

fn params(v: Option<&Unknown<'_>>) -> Result<Vec<cidb::Value>> {
    match v {
        None => Ok(Vec::new()),
        Some(u) => {
            let v = Val::of(u);
            if v.is_absent() {
                return Ok(Vec::new());
            }
            list(v, "params", sql_param)
        }
    }
}

fn explain_options(v: Option<&Unknown<'_>>) -> Result<ExplainOptions> {
    let mut o = ExplainOptions { analyze: false, json: false };
    let Some(u) = v else { return Ok(o) };
    let v = Val::of(u);
    if v.is_absent() {
        return Ok(o);
    }
    let obj = object(v, "options")?;
    let a = obj.get("analyze", "options.analyze")?;
    if !a.is_absent() {
        o.analyze = boolean(a, "options.analyze")?;
    }
    let j = obj.get("json", "options.json")?;
    if !j.is_absent() {
        o.json = boolean(j, "options.json")?;
    }
    Ok(o)
}

impl Tenant {
    fn query_job(&self, sql: &Unknown<'_>, p: Option<&Unknown<'_>>) -> Result<Job<QueryResult>> {
        let sql = text(Val::of(sql), "sql")?;
        let p = params(p)?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.query(&sql, &p)?.into())
        }))
    }

    fn prepare_job(&self, sql: &Unknown<'_>) -> Result<Job<Statement>> {
        let sql = text(Val::of(sql), "sql")?;
        let (t, lease) = self.live()?;
        Ok(job(move || Ok(Statement { stmt: t.prepare(&sql)?, lease })))
    }

    fn explain_job(&self, sql: &Unknown<'_>, p: Option<&Unknown<'_>>, o: Option<&Unknown<'_>>) -> Result<Job<Plan>> {
        let sql = text(Val::of(sql), "sql")?;
        let p = params(p)?;
        let o = explain_options(o)?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            let e = t.explain(&sql, &p, o.analyze)?;
            Ok(Plan(if o.json { e.to_json() } else { serde_json::Value::String(e.text()) }))
        }))
    }
}

#[napi]
impl Tenant {
    /// Runs one SQL statement over this tenant's rows: a SELECT, an EXPLAIN [ANALYZE]
    /// (one column `plan`), or CREATE INDEX / DROP INDEX / ANALYZE (no rows). `params`
    /// binds `?` placeholders in order.
    #[napi(ts_return_type = "QueryResult")]
    pub fn query(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] sql: Unknown<'_>,
        #[napi(ts_arg_type = "Array<null | undefined | number | bigint | string | boolean | Date | Record<string, unknown> | unknown[]> | null")] params: Option<Unknown<'_>>,
    ) -> napi::Result<QueryResult> {
        run_sync(&env, || self.query_job(&sql, params.as_ref()))
    }

    /// Promise form of `query`.
    #[napi(ts_return_type = "Promise<QueryResult>")]
    pub fn query_async(
        &self,
        #[napi(ts_arg_type = "string")] sql: Unknown<'_>,
        #[napi(ts_arg_type = "Array<null | undefined | number | bigint | string | boolean | Date | Record<string, unknown> | unknown[]> | null")] params: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<QueryResult>> {
        run_async(|| self.query_job(&sql, params.as_ref()))
    }

    /// Parses and binds a statement once for repeated use (planned on its first run, and
    /// re-planned by itself when indexes or table sizes change).
    #[napi(ts_return_type = "Statement")]
    pub fn prepare(&self, env: Env, #[napi(ts_arg_type = "string")] sql: Unknown<'_>) -> napi::Result<Statement> {
        run_sync(&env, || self.prepare_job(&sql))
    }

    /// The plan of a SELECT (SQLite-style text, or the plan tree as an object with
    /// `{ json: true }`); with `{ analyze: true }` the query runs and the plan carries
    /// the actual row counts.
    #[napi(ts_return_type = "string | Record<string, unknown>")]
    pub fn explain(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] sql: Unknown<'_>,
        #[napi(ts_arg_type = "Array<null | undefined | number | bigint | string | boolean | Date | Record<string, unknown> | unknown[]> | null")] params: Option<Unknown<'_>>,
        #[napi(ts_arg_type = "{ analyze?: boolean, json?: boolean }")] options: Option<Unknown<'_>>,
    ) -> napi::Result<Plan> {
        run_sync(&env, || self.explain_job(&sql, params.as_ref(), options.as_ref()))
    }

    /// Promise form of `explain`.
    #[napi(ts_return_type = "Promise<string | Record<string, unknown>>")]
    pub fn explain_async(
        &self,
        #[napi(ts_arg_type = "string")] sql: Unknown<'_>,
        #[napi(ts_arg_type = "Array<null | undefined | number | bigint | string | boolean | Date | Record<string, unknown> | unknown[]> | null")] params: Option<Unknown<'_>>,
        #[napi(ts_arg_type = "{ analyze?: boolean, json?: boolean }")] options: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<Plan>> {
        run_async(|| self.explain_job(&sql, params.as_ref(), options.as_ref()))
    }
}

/// A prepared statement of one tenant. Made by `tenant.prepare(sql)`; run it any number of
/// times with different parameters.
#[napi]
pub struct Statement {
    stmt: cidb::Statement,
    lease: Arc<Lease>,
}

impl Statement {
    fn query_job(&self, p: Option<&Unknown<'_>>) -> Result<Job<QueryResult>> {
        let p = params(p)?;
        self.lease.engine()?;
        let (stmt, lease) = (self.stmt.clone(), self.lease.clone());
        Ok(job(move || {
            let _keep = lease;
            Ok(stmt.query(&p)?.into())
        }))
    }
}

#[napi]
impl Statement {
    /// The SQL text.
    #[napi(getter)]
    pub fn sql(&self) -> String {
        self.stmt.sql().to_string()
    }

    /// Number of `?` placeholders.
    #[napi(getter)]
    pub fn param_count(&self) -> u32 {
        self.stmt.param_count() as u32
    }

    /// Output column names.
    #[napi(getter)]
    pub fn columns(&self) -> Vec<String> {
        self.stmt.columns().to_vec()
    }

    /// Runs the statement with `params` bound to its placeholders.
    #[napi(ts_return_type = "QueryResult")]
    pub fn query(&self, env: Env, #[napi(ts_arg_type = "Array<null | undefined | number | bigint | string | boolean | Date | Record<string, unknown> | unknown[]> | null")] params: Option<Unknown<'_>>) -> napi::Result<QueryResult> {
        run_sync(&env, || self.query_job(params.as_ref()))
    }

    /// Promise form of `query`.
    #[napi(ts_return_type = "Promise<QueryResult>")]
    pub fn query_async(&self, #[napi(ts_arg_type = "Array<null | undefined | number | bigint | string | boolean | Date | Record<string, unknown> | unknown[]> | null")] params: Option<Unknown<'_>>) -> AsyncTask<Op<QueryResult>> {
        run_async(|| self.query_job(params.as_ref()))
    }
}

impl Engine {
    fn execute_job(&self, sql: &Unknown<'_>) -> Result<Job<QueryResult>> {
        let sql = text(Val::of(sql), "sql")?;
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            Ok(engine.execute(&sql)?.into())
        }))
    }
}

#[napi]
impl Engine {
    /// Runs a statement that needs no tenant: `CREATE INDEX`, `DROP INDEX`, `ANALYZE`.
    /// SELECT and EXPLAIN read one tenant's rows: use `tenant.query`.
    #[napi(ts_return_type = "QueryResult")]
    pub fn execute(&self, env: Env, #[napi(ts_arg_type = "string")] sql: Unknown<'_>) -> napi::Result<QueryResult> {
        run_sync(&env, || self.execute_job(&sql))
    }

    /// Promise form of `execute`.
    #[napi(ts_return_type = "Promise<QueryResult>")]
    pub fn execute_async(&self, #[napi(ts_arg_type = "string")] sql: Unknown<'_>) -> AsyncTask<Op<QueryResult>> {
        run_async(|| self.execute_job(&sql))
    }

    /// Every secondary index, with its state and entry count.
    #[napi(ts_return_type = "IndexInfo[]")]
    pub fn indexes(&self, env: Env) -> napi::Result<Vec<IndexInfo>> {
        run_sync(&env, || {
            let list = self.lease.engine()?.indexes()?;
            Ok(job(move || {
                Ok(list
                    .into_iter()
                    .map(|i| IndexInfo {
                        name: i.name,
                        table: i.table.name().to_string(),
                        columns: i.columns,
                        unique: i.unique,
                        predicate: i.predicate,
                        ready: i.ready,
                        entries: i.entries as f64,
                    })
                    .collect())
            }))
        })
    }
}
