//! Statement fingerprints, as pg_stat_statements makes them: constants and parameters are
//! replaced by `?`, IN lists collapse to `IN (...)`, keywords are upper-cased, whitespace
//! and comments disappear, so `WHERE id = 'a'` and `where id=?` share one fingerprint.
//! The monitor counts statements by it and the index advisor reads it.

use crate::error::{err, ErrorKind, Result};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A normalised statement and its 64-bit hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The normalised text.
    pub text: String,
    /// FNV-1a hash of `text`.
    pub hash: u64,
}

fn is_constant(t: &Token) -> bool {
    matches!(
        t,
        Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
    ) || matches!(t, Token::Word(w) if matches!(w.keyword, Keyword::NULL | Keyword::TRUE | Keyword::FALSE))
}

/// Keywords printed in upper case; every other unquoted word (names, and keywords used as
/// names, such as `id`) is lower-cased.
const STRUCTURAL: &[Keyword] = &[
    Keyword::SELECT,
    Keyword::FROM,
    Keyword::WHERE,
    Keyword::AND,
    Keyword::OR,
    Keyword::NOT,
    Keyword::IN,
    Keyword::IS,
    Keyword::NULL,
    Keyword::BETWEEN,
    Keyword::JOIN,
    Keyword::INNER,
    Keyword::LEFT,
    Keyword::ON,
    Keyword::GROUP,
    Keyword::ORDER,
    Keyword::BY,
    Keyword::ASC,
    Keyword::DESC,
    Keyword::NULLS,
    Keyword::FIRST,
    Keyword::LAST,
    Keyword::LIMIT,
    Keyword::OFFSET,
    Keyword::AS,
    Keyword::COUNT,
    Keyword::SUM,
    Keyword::AVG,
    Keyword::MIN,
    Keyword::MAX,
    Keyword::EXPLAIN,
    Keyword::ANALYZE,
    Keyword::QUERY,
    Keyword::PLAN,
    Keyword::CREATE,
    Keyword::UNIQUE,
    Keyword::INDEX,
    Keyword::CONCURRENTLY,
    Keyword::IF,
    Keyword::EXISTS,
    Keyword::DROP,
    Keyword::CURRENT_TIMESTAMP,
    Keyword::INTERVAL,
    Keyword::DISTINCT,
    Keyword::HAVING,
];

/// Fingerprints SQL text (it needs to tokenize, not to parse).
pub fn fingerprint(sql: &str) -> Result<Fingerprint> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| err(ErrorKind::SqlSyntax, e.to_string()))?;
    let mut out: Vec<String> = Vec::new();
    let toks: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        // `IN ( c, c, ... )` of constants -> `IN (...)`
        if matches!(t, Token::Word(w) if w.keyword == Keyword::IN)
            && matches!(toks.get(i + 1), Some(Token::LParen))
        {
            let mut j = i + 2;
            let mut all_const = true;
            while j < toks.len() && !matches!(toks[j], Token::RParen) {
                let c = toks[j];
                if !(is_constant(c) || matches!(c, Token::Comma | Token::Minus)) {
                    all_const = false;
                    break;
                }
                j += 1;
            }
            if all_const && j < toks.len() && j > i + 2 {
                out.push("IN (...)".into());
                i = j + 1;
                continue;
            }
        }
        // A sign directly before a number is part of the constant.
        if matches!(t, Token::Minus)
            && matches!(toks.get(i + 1), Some(Token::Number(..)))
            && out.last().is_none_or(|p| {
                matches!(
                    p.as_str(),
                    "=" | "<>"
                        | "<"
                        | "<="
                        | ">"
                        | ">="
                        | "("
                        | ","
                        | "BETWEEN"
                        | "AND"
                        | "LIMIT"
                        | "OFFSET"
                )
            })
        {
            out.push("?".into());
            i += 2;
            continue;
        }
        let s = match t {
            c if is_constant(c) => "?".to_string(),
            Token::Word(w) if w.quote_style.is_none() && STRUCTURAL.contains(&w.keyword) => {
                w.value.to_ascii_uppercase()
            }
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
            Token::SemiColon if i + 1 == toks.len() => {
                i += 1;
                continue;
            }
            other => other.to_string(),
        };
        out.push(s);
        i += 1;
    }
    let text = out.join(" ");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Ok(Fingerprint { text, hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_and_parameters_share_a_fingerprint() {
        let a = fingerprint("select * from customers where id = 'c1' and created_at > 5 limit 10")
            .unwrap();
        let b = fingerprint("SELECT *\n FROM Customers WHERE id=? AND created_at > -3 LIMIT ?;")
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.text,
            "SELECT * FROM customers WHERE id = ? AND created_at > ? LIMIT ?"
        );
        let c = fingerprint("SELECT * FROM customers WHERE status IN ('a', 'b', 'c')").unwrap();
        let d = fingerprint("SELECT * FROM customers WHERE status IN (?)").unwrap();
        assert_eq!(c, d);
        assert!(c.text.ends_with("IN (...)"));
        let e = fingerprint("SELECT * FROM customers WHERE status = 'a' -- comment").unwrap();
        let f = fingerprint("SELECT * FROM customers WHERE department = 'a'").unwrap();
        assert_ne!(e.hash, f.hash);
        assert_eq!(
            fingerprint("SELECT a - 1 FROM t").unwrap().text,
            "SELECT a - ? FROM t"
        );
    }
}
