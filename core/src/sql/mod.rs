//! The SQL front end: parses text with the `sqlparser` crate, lowers the result into cidb's
//! own statement model ([`ast`]) and resolves names and types against the schema ([`bind`]).
//! It owns syntax, the supported subset, parameters and type rules; it never touches storage
//! and never plans or executes (that is `plan`).

pub mod ast;
pub mod bind;
pub mod bound;
/// Statement fingerprints (the one implementation lives in the monitor).
pub use crate::monitor::fingerprint;
mod lower;

pub(crate) use lower::unsupported;

use crate::error::{err, ErrorKind, Result};
use ast::Parsed;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// Parses one statement of the supported subset.
pub fn parse(sql: &str) -> Result<Parsed> {
    let stmts = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| {
        let msg = e.to_string();
        let mut msg = msg
            .strip_prefix("sql parser error: ")
            .unwrap_or(&msg)
            .to_string();
        if !msg.contains("Line:") {
            let line = sql.lines().count().max(1);
            let col = sql.lines().last().map_or(0, |l| l.chars().count()) + 1;
            msg.push_str(&format!(" at end of input, Line: {line}, Column: {col}"));
        }
        err(ErrorKind::SqlSyntax, msg)
    })?;
    let stmt = match stmts.as_slice() {
        [] => return Err(err(ErrorKind::SqlSyntax, "empty statement")),
        [s] => s,
        [_, second, ..] => {
            use sqlparser::ast::Spanned;
            let p = second.span().start;
            return Err(err(
                ErrorKind::Unsupported,
                format!(
                    "several statements in one call are not supported (second one at {}:{})",
                    p.line, p.column
                ),
            ));
        }
    };
    let mut l = lower::Lowerer::new();
    let stmt = l.statement(stmt)?;
    Ok(Parsed {
        stmt,
        params: l.max_param,
    })
}
