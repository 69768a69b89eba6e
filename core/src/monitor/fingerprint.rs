//! Statement fingerprints, as pg_stat_statements computes them: the statement's tokens with
//! every constant and parameter replaced by `?`, keywords upper-cased, identifiers
//! lower-cased, whitespace collapsed and constant IN-lists folded to `(...)`. Two statements
//! that differ only in values share a fingerprint; statements of different shape do not.
//! Working on tokens (not the parse tree) means statements that fail to parse are still
//! fingerprinted, so their errors are counted too.

use sqlparser::dialect::SQLiteDialect;
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

fn is_literal(t: &Token) -> bool {
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
    )
}

/// Fingerprints a statement.
pub fn fingerprint(sql: &str) -> Fingerprint {
    let dialect = SQLiteDialect {};
    let tokens = match Tokenizer::new(&dialect, sql).tokenize() {
        Ok(t) => t,
        Err(_) => {
            let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            return Fingerprint { id: fnv1a(text.as_bytes()), text };
        }
    };
    // Significant tokens, literals folded to a marker.
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut prev_sig: Option<&Token> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        i += 1;
        match t {
            Token::Whitespace(_) | Token::EOF | Token::SemiColon => continue,
            Token::Minus => {
                // a unary minus before a number is part of the constant
                let next = tokens[i..].iter().find(|t| !matches!(t, Token::Whitespace(_)));
                let unary = !matches!(prev_sig, Some(Token::Word(_) | Token::Number(..) | Token::RParen))
                    || matches!(prev_sig, Some(Token::Word(w)) if w.keyword != sqlparser::keywords::Keyword::NoKeyword);
                if unary && next.is_some_and(is_literal) {
                    continue;
                }
                out.push("-".into());
            }
            t if is_literal(t) => out.push("?".into()),
            Token::Word(w) if w.quote_style.is_none() && w.keyword != sqlparser::keywords::Keyword::NoKeyword => {
                out.push(w.value.to_ascii_uppercase())
            }
            Token::Word(w) => out.push(w.value.to_ascii_lowercase()),
            other => out.push(other.to_string()),
        }
        prev_sig = Some(t);
    }
    // Fold "( ? , ? , ... )" into "(...)".
    let mut folded: Vec<String> = Vec::with_capacity(out.len());
    let mut j = 0;
    while j < out.len() {
        if out[j] == "(" {
            let mut k = j + 1;
            let mut only_values = false;
            while k < out.len() && out[k] == "?" {
                only_values = true;
                k += 1;
                if k < out.len() && out[k] == "," {
                    k += 1;
                } else {
                    break;
                }
            }
            if only_values && k < out.len() && out[k] == ")" && out[k - 1] == "?" {
                folded.push("(...)".into());
                j = k + 1;
                continue;
            }
        }
        folded.push(out[j].clone());
        j += 1;
    }
    let text = folded.join(" ");
    Fingerprint { id: fnv1a(text.as_bytes()), text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_and_params_share_a_fingerprint() {
        let a = fingerprint("SELECT * FROM customers WHERE department = 'sales' AND created_at > 17 LIMIT 10");
        let b = fingerprint("select *  from Customers where DEPARTMENT='hr' and created_at > -5 limit 99;");
        let c = fingerprint("SELECT * FROM customers WHERE department = ? AND created_at > ? LIMIT ?");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.text, "SELECT * FROM customers WHERE department = ? AND created_at > ? LIMIT ?");
        let d = fingerprint("SELECT id FROM customers WHERE status IN ('a', 'b', 'c')");
        let e = fingerprint("SELECT id FROM customers WHERE status IN ('x')");
        assert_eq!(d, e);
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
        ] {
            assert_ne!(base, fingerprint(other), "{other}");
        }
        assert_ne!(fingerprint("SELECT a - 1 FROM t"), fingerprint("SELECT a FROM t"));
    }

    #[test]
    fn unparsable_text_is_still_fingerprinted() {
        let a = fingerprint("SELEC 'oops");
        assert!(!a.text.is_empty());
        assert_eq!(a, fingerprint("SELEC   'oops"));
    }
}
