//! Planning and execution: the logical plan of a bound query, the cost model and access
//! path choice, the streaming executor, and EXPLAIN / EXPLAIN ANALYZE. It reads storage
//! through one redb read transaction per statement and never writes (DDL is delegated to
//! `index`).

pub mod access;
pub mod columns;
pub mod cost;
pub mod decode;
pub mod eval;
pub mod exec;
pub mod explain;
pub mod hypo;
pub mod keyrange;
pub mod output;
mod parallel;
pub mod planner;
pub mod result;
pub mod rowcodec;
pub mod statement;
pub mod terms;

pub use columns::{Column, ColumnData, Columns, Offsets, ValueRef};
pub use explain::{Explain, ExplainStep};
pub use hypo::{cost_with_hypothetical, parse_index_def, HypotheticalCost};
pub use result::{ExecStats, QueryResult};
pub use statement::Statement;

use crate::engine::Engine;
use crate::error::{err, ErrorKind, Result};
use crate::sql::ast::Statement as Ast;

fn no_params(n: usize, what: &str) -> Result<()> {
    if n > 0 {
        return Err(err(
            ErrorKind::InvalidParameter,
            format!("{what} takes no parameters; found {n}"),
        ));
    }
    Ok(())
}

/// Runs DDL (CREATE INDEX, DROP INDEX, ANALYZE) and publishes the new catalog version.
pub(crate) fn run_ddl(engine: &Engine, stmt: &Ast, params: usize) -> Result<Option<QueryResult>> {
    let r = run_ddl_inner(engine, stmt, params);
    if matches!(r, Ok(Some(_)) | Err(_)) {
        engine.inner.indexes.publish(engine.read()?.txn())?;
    }
    r
}

fn run_ddl_inner(engine: &Engine, stmt: &Ast, params: usize) -> Result<Option<QueryResult>> {
    match stmt {
        Ast::CreateIndex(ci) => {
            no_params(params, "CREATE INDEX")?;
            crate::index::build::create_index(engine, ci)?;
        }
        Ast::DropIndex { name, if_exists } => {
            crate::index::build::drop_index(engine, name, *if_exists)?;
        }
        Ast::Analyze { target } => {
            crate::index::analyze(engine, target.clone())?;
        }
        _ => return Ok(None),
    }
    Ok(Some(QueryResult::default()))
}

/// `Engine::execute`: DDL only.
pub(crate) fn execute_engine(engine: &Engine, sql: &str) -> Result<QueryResult> {
    let parsed = crate::sql::parse(sql)?;
    match run_ddl(engine, &parsed.stmt, parsed.params)? {
        Some(r) => Ok(r),
        None => Err(err(
            ErrorKind::InvalidInput,
            "SELECT and EXPLAIN read one tenant's rows: run them with Tenant::query",
        )),
    }
}
