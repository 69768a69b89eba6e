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
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

/// Most operators (AND, OR, NOT, comparisons, arithmetic and other symbols) one statement
/// may hold. A chain of N binary operators parses into a tree N levels deep that the parser's
/// span computation, lowering, binding, planning, evaluation and drop all walk recursively;
/// release builds use about 1 KiB of stack per level, so a chain of a few thousand overflowed
/// a 2 MiB thread stack and aborted the process. 1,000 stays well inside it. Long lists of
/// alternatives belong in `IN (...)`, whose items are not operators and have no such limit.
pub const MAX_OPERATORS: usize = 1_000;

/// True for tokens that can join operands into a deeper expression tree.
fn is_operator(t: &Token) -> bool {
    use sqlparser::keywords::Keyword;
    match t {
        Token::Word(w) => matches!(
            w.keyword,
            Keyword::AND | Keyword::OR | Keyword::XOR | Keyword::NOT | Keyword::IS | Keyword::LIKE | Keyword::ILIKE | Keyword::DIV
        ),
        Token::EOF
        | Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::SingleQuotedRawStringLiteral(_)
        | Token::DoubleQuotedRawStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::QuoteDelimitedStringLiteral(_)
        | Token::NationalQuoteDelimitedStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::Placeholder(_)
        | Token::Comma
        | Token::Whitespace(_)
        | Token::LParen
        | Token::RParen
        | Token::Period
        | Token::SemiColon => false,
        _ => true,
    }
}

fn syntax_error(sql: &str, e: ParserError) -> crate::Error {
    let msg = e.to_string();
    let mut msg = msg.strip_prefix("sql parser error: ").unwrap_or(&msg).to_string();
    if !msg.contains("Line:") {
        let line = sql.lines().count().max(1);
        let col = sql.lines().last().map_or(0, |l| l.chars().count()) + 1;
        msg.push_str(&format!(" at end of input, Line: {line}, Column: {col}"));
    }
    err(ErrorKind::SqlSyntax, msg)
}

/// Parses one statement of the supported subset.
pub fn parse(sql: &str) -> Result<Parsed> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| syntax_error(sql, ParserError::from(e)))?;
    let operators = tokens.iter().filter(|t| is_operator(&t.token)).count();
    if operators > MAX_OPERATORS {
        return Err(err(
            ErrorKind::Unsupported,
            format!(
                "a statement with {operators} operators (AND, OR, comparisons, ...) is not supported; the limit is \
                 {MAX_OPERATORS}: write long lists of alternatives as `column IN (...)`"
            ),
        ));
    }
    let stmts = Parser::new(&dialect).with_tokens_with_locations(tokens).parse_statements().map_err(|e| syntax_error(sql, e))?;
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
