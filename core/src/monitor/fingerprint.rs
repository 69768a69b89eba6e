//! Statement fingerprints, as pg_stat_statements computes them: the statement's tokens with
//! every constant and parameter replaced by `?`, constant IN-lists folded to `IN (...)`,
//! the structural keywords upper-cased, every other word (names, and keywords used as
//! names such as `timestamp`) lower-cased, whitespace and comments dropped. Two statements
//! that differ only in values share a fingerprint; statements of different shape do not.
//! Working on tokens (not the parse tree) means statements that fail to parse are still
//! fingerprinted, so their errors are counted too; text the tokenizer rejects (an
//! unterminated string) is fingerprinted by its whitespace-collapsed form.
//!
//! This is the only fingerprint function of the crate: the monitor counts statements by it,
//! the advisor reads it, and `sql::fingerprint` re-exports it.

use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A fingerprint: a 64-bit id and the normalised text it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// FNV-1a of `text`.
    pub id: u64,
    /// The normalised statement.
    pub text: String,
}

impl Fingerprint {
    /// A fingerprint of a typed fast path (e.g. `fast:get_customer`).
    pub fn named(name: &str) -> Fingerprint {
        Fingerprint { id: fnv1a(name.as_bytes()), text: name.to_string() }
    }
}

/// FNV-1a, 64-bit: small, stable across runs and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn is_constant(t: &Token) -> bool {
    matches!(
        t,
        Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
    ) || matches!(t, Token::Word(w) if w.quote_style.is_none() && matches!(w.keyword, Keyword::NULL | Keyword::TRUE | Keyword::FALSE))
}

/// Keywords printed in upper case; every other unquoted word is lower-cased.
const STRUCTURAL: &[Keyword] = &[
    Keyword::SELECT, Keyword::FROM, Keyword::WHERE, Keyword::AND, Keyword::OR, Keyword::NOT, Keyword::IN,
    Keyword::IS, Keyword::NULL, Keyword::BETWEEN, Keyword::JOIN, Keyword::INNER, Keyword::LEFT, Keyword::ON,
    Keyword::GROUP, Keyword::ORDER, Keyword::BY, Keyword::ASC, Keyword::DESC, Keyword::NULLS, Keyword::FIRST,
    Keyword::LAST, Keyword::LIMIT, Keyword::OFFSET, Keyword::AS, Keyword::COUNT, Keyword::SUM, Keyword::AVG,
    Keyword::MIN, Keyword::MAX, Keyword::EXPLAIN, Keyword::ANALYZE, Keyword::QUERY, Keyword::PLAN,
    Keyword::CREATE, Keyword::UNIQUE, Keyword::INDEX, Keyword::CONCURRENTLY, Keyword::IF, Keyword::EXISTS,
    Keyword::DROP, Keyword::CURRENT_TIMESTAMP, Keyword::INTERVAL, Keyword::DISTINCT, Keyword::HAVING,
    Keyword::INSERT, Keyword::INTO, Keyword::VALUES, Keyword::UPDATE, Keyword::SET, Keyword::DELETE,
    Keyword::LIKE, Keyword::CASE, Keyword::WHEN, Keyword::THEN, Keyword::ELSE, Keyword::END,
];

/// Tokens before which a `-` is a sign, not a subtraction.
fn sign_context(prev: Option<&String>) -> bool {
    prev.is_none_or(|p| {
        matches!(p.as_str(), "=" | "<>" | "!=" | "<" | "<=" | ">" | ">=" | "(" | "," | "BETWEEN" | "AND" | "OR" | "LIMIT" | "OFFSET" | "SELECT" | "WHERE" | "IN" | "NOT" | "THEN" | "ELSE" | "WHEN")
    })
}

/// Fingerprints a statement. Never fails.
pub fn fingerprint(sql: &str) -> Fingerprint {
    let tokens = match Tokenizer::new(&GenericDialect {}, sql).tokenize() {
        Ok(t) => t,
        Err(_) => {
            let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            return Fingerprint { id: fnv1a(text.as_bytes()), text };
        }
    };
    let toks: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF)).collect();
    let mut out: Vec<String> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        // `IN ( c, c, ... )` of constants (signed or not) -> `IN (...)`
        if matches!(t, Token::Word(w) if w.keyword == Keyword::IN) && matches!(toks.get(i + 1), Some(Token::LParen)) {
            let mut j = i + 2;
            let mut all_const = true;
            while j < toks.len() && !matches!(toks[j], Token::RParen) {
                if !(is_constant(toks[j]) || matches!(toks[j], Token::Comma | Token::Minus | Token::Plus)) {
                    all_const = false;
                    break;
                }
                j += 1;
            }
            if all_const && j < toks.len() && j > i + 2 {
                out.push("IN".into());
                out.push("(...)".into());
                i = j + 1;
                continue;
            }
        }
        // A sign directly before a number is part of the constant.
        if matches!(t, Token::Minus | Token::Plus) && toks.get(i + 1).is_some_and(|n| is_constant(n)) && sign_context(out.last()) {
            i += 1;
            continue;
        }
        let s = match t {
            c if is_constant(c) => "?".to_string(),
            Token::Word(w) if w.quote_style.is_none() && STRUCTURAL.contains(&w.keyword) => w.value.to_ascii_uppercase(),
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
            Token::SemiColon if toks[i + 1..].iter().all(|t| matches!(t, Token::SemiColon)) => break,
            other => other.to_string(),
        };
        out.push(s);
        i += 1;
    }
    let text = render(&out);
    Fingerprint { id: fnv1a(text.as_bytes()), text }
}

/// Joins normalised tokens the way people write SQL: `f(x, y)`, `c.id`, `COUNT(*)`.
fn render(tokens: &[String]) -> String {
    let callable = |p: &str| {
        matches!(p, "COUNT" | "SUM" | "AVG" | "MIN" | "MAX")
            || p.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_' || c == '"' || c == '`')
    };
    let mut s = String::with_capacity(tokens.iter().map(|t| t.len() + 1).sum());
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            let prev = tokens[i - 1].as_str();
            let glue = matches!(t.as_str(), "," | ")" | ".") || matches!(prev, "(" | ".") || (t == "(" && callable(prev));
            if !glue {
                s.push(' ');
            }
        }
        s.push_str(t);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_and_params_share_a_fingerprint() {
        let a = fingerprint("SELECT * FROM customers WHERE department = 'sales' AND created_at > 17 LIMIT 10");
        let b = fingerprint("select *  from Customers where DEPARTMENT='hr' and created_at > -5 limit 99;");
        let c = fingerprint("SELECT *\n FROM customers WHERE department = ? AND created_at > ? LIMIT ?");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.text, "SELECT * FROM customers WHERE department = ? AND created_at > ? LIMIT ?");
        let d = fingerprint("SELECT id FROM customers WHERE status IN ('a', 'b', 'c')");
        let e = fingerprint("SELECT id FROM customers WHERE status IN (?)");
        let f = fingerprint("SELECT id FROM customers WHERE status IN (-1, 2)");
        assert_eq!(d, e);
        assert_eq!(d, f);
        assert!(d.text.ends_with("IN (...)"), "{}", d.text);
        assert_eq!(fingerprint("SELECT * FROM t WHERE a IS NULL").text, "SELECT * FROM t WHERE a IS ?");
        assert_eq!(
            fingerprint("SELECT * FROM conversation_messages WHERE timestamp > 5 -- recent").text,
            "SELECT * FROM conversation_messages WHERE timestamp > ?"
        );
    }

    #[test]
    fn different_shapes_differ() {
        let base = fingerprint("SELECT * FROM customers WHERE department = 'x'");
        for other in [
            "SELECT * FROM customers WHERE status = 'x'",
            "SELECT id FROM customers WHERE department = 'x'",
            "SELECT * FROM customers WHERE department > 'x'",
            "SELECT * FROM customer_scores WHERE department = 'x'",
            "SELECT * FROM customers WHERE department = 'x' ORDER BY id",
            "SELECT * FROM customers WHERE department = a - 1",
            "SELECT * FROM customers WHERE department IN (a, b)",
        ] {
            assert_ne!(base, fingerprint(other), "{other}");
        }
        assert_ne!(fingerprint("SELECT a - 1 FROM t"), fingerprint("SELECT a FROM t"));
        assert_eq!(fingerprint("SELECT a - 1 FROM t").text, "SELECT a - ? FROM t");
        assert_eq!(
            fingerprint("select c.id,count( * ) from customers c join x on x.a=c.id where (a=1 or b in(2,3)) group by c.id").text,
            "SELECT c.id, COUNT(*) FROM customers c JOIN x ON x.a = c.id WHERE (a = ? OR b IN (...)) GROUP BY c.id"
        );
        assert_eq!(
            fingerprint("CREATE INDEX i ON customers(department,status) WHERE score > 0.7").text,
            "CREATE INDEX i ON customers(department, status) WHERE score > ?"
        );
    }

    #[test]
    fn unparsable_text_is_still_fingerprinted() {
        let a = fingerprint("SELEC 'oops");
        assert!(!a.text.is_empty());
        assert_eq!(a, fingerprint("SELEC   'oops"));
        let b = fingerprint("SELECT FROM WHERE = = 3");
        assert_eq!(b, fingerprint("select from where = = 4"));
        assert_ne!(a, b);
    }
}
