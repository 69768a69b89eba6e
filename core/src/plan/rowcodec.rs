//! A compact byte encoding of value lists, for the query-result cache: rows of a result
//! (its payload) and a statement's exact text plus parameter values (its key). Each value
//! is a tag byte and its bytes (integers and reals as 8 little-endian bytes, so REAL
//! round-trips bit for bit; text with a u32 length). Decoding checks every length and
//! returns None on anything malformed, so a damaged cache entry is a miss, never a panic.

use super::columns::{ColumnData, Columns, ValueRef};
use crate::schema::{Row, Value};

const NULL: u8 = 0;
const INT: u8 = 1;
const REAL: u8 = 2;
const TEXT: u8 = 3;
const JSON: u8 = 4;

fn put_value(out: &mut Vec<u8>, v: &Value) {
    put_ref(out, ValueRef::from(v))
}

fn put_ref(out: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => out.push(NULL),
        ValueRef::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        ValueRef::Real(r) => {
            out.push(REAL);
            out.extend_from_slice(&r.to_bits().to_le_bytes());
        }
        ValueRef::Text(s) | ValueRef::Json(s) => {
            out.push(if matches!(v, ValueRef::Text(_)) { TEXT } else { JSON });
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn value(&mut self) -> Option<Value> {
        Some(match self.take(1)?[0] {
            NULL => Value::Null,
            INT => Value::Int(self.u64()? as i64),
            REAL => Value::Real(f64::from_bits(self.u64()?)),
            tag @ (TEXT | JSON) => {
                let n = self.u32()? as usize;
                let s = std::str::from_utf8(self.take(n)?).ok()?.to_string();
                if tag == TEXT { Value::Text(s) } else { Value::Json(s) }
            }
            _ => return None,
        })
    }
}

/// Encodes result rows of `width` columns.
pub fn encode_rows(rows: &[Row], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + rows.len() * width * 9);
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    for r in rows {
        for v in r.iter().take(width) {
            put_value(&mut out, v);
        }
        out.resize(out.len() + width.saturating_sub(r.len()), NULL);
    }
    out
}

/// Encodes column-wise rows given as chunks in order: the same bytes as [`encode_rows`]
/// of the same rows.
pub fn encode_columns(chunks: &[Columns]) -> Vec<u8> {
    let width = chunks.first().map_or(0, |c| c.columns.len());
    let rows: usize = chunks.iter().map(|c| c.rows).sum();
    let mut out = Vec::with_capacity(encoded_len(chunks));
    out.extend_from_slice(&(rows as u32).to_le_bytes());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    for c in chunks {
        for i in 0..c.rows {
            for col in &c.columns {
                put_ref(&mut out, col.get(i));
            }
        }
    }
    out
}

/// An upper bound of `encode_columns(chunks).len()`, without encoding.
pub fn encoded_len(chunks: &[Columns]) -> usize {
    let one = |c: &Columns| {
        let text: usize = c
            .columns
            .iter()
            .map(|col| match col.data() {
                ColumnData::Text { data, .. } => data.len(),
                ColumnData::Mixed(v) => v.iter().map(|v| v.as_str().map_or(0, str::len)).sum(),
                _ => 0,
            })
            .sum::<usize>();
        c.rows * c.columns.len() * 9 + text
    };
    8 + chunks.iter().map(one).sum::<usize>()
}

/// Decodes rows; None when the bytes are not rows of `width` columns.
pub fn decode_rows(bytes: &[u8], width: usize) -> Option<Vec<Row>> {
    let mut r = Reader { b: bytes };
    let n = r.u32()? as usize;
    if r.u32()? as usize != width {
        return None;
    }
    let mut rows = Vec::with_capacity(n.min(bytes.len()));
    for _ in 0..n {
        let row = (0..width).map(|_| r.value()).collect::<Option<Row>>()?;
        rows.push(row);
    }
    r.b.is_empty().then_some(rows)
}

/// The result-cache key material of one execution: the exact statement text and the
/// parameter values (the text, not its fingerprint, because constants matter).
pub fn statement_key(sql: &str, params: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + sql.len() + params.len() * 9);
    out.extend_from_slice(&(sql.len() as u32).to_le_bytes());
    out.extend_from_slice(sql.as_bytes());
    for p in params {
        put_value(&mut out, p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Real),
            ".{0,20}".prop_map(Value::Text),
            ".{0,20}".prop_map(Value::Json),
        ]
    }

    proptest! {
        #[test]
        fn rows_round_trip(rows in proptest::collection::vec(proptest::collection::vec(value(), 3), 0..20)) {
            let bytes = encode_rows(&rows, 3);
            let back = decode_rows(&bytes, 3).unwrap();
            prop_assert_eq!(back.len(), rows.len());
            for (a, b) in back.iter().zip(&rows) {
                for (x, y) in a.iter().zip(b) {
                    match (x, y) {
                        (Value::Real(p), Value::Real(q)) => prop_assert_eq!(p.to_bits(), q.to_bits()),
                        _ => prop_assert_eq!(x, y),
                    }
                }
            }
            prop_assert!(decode_rows(&bytes, 2).is_none());
            if !bytes.is_empty() {
                // every truncation is refused, never a panic
                for cut in 0..bytes.len() {
                    let _ = decode_rows(&bytes[..cut], 3);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn columns_encode_like_rows(rows in proptest::collection::vec(proptest::collection::vec(value(), 3), 0..20), cut in 0usize..20) {
            // One chunk, and the same rows cut into two chunks.
            let cut = cut.min(rows.len());
            let chunk = |rows: &[Row]| {
                let mut c = Columns::new(vec!["a".into(), "b".into(), "c".into()]);
                c.extend_rows(rows);
                c
            };
            for chunks in [vec![chunk(&rows)], vec![chunk(&rows[..cut]), chunk(&rows[cut..])]] {
                let bytes = encode_columns(&chunks);
                prop_assert_eq!(&bytes, &encode_rows(&rows, 3));
                prop_assert!(bytes.len() <= encoded_len(&chunks));
            }
        }
    }

    #[test]
    fn keys_separate_text_and_values() {
        let a = statement_key("SELECT ?", &[Value::Int(1)]);
        assert_ne!(a, statement_key("SELECT ?", &[Value::Real(1.0)]));
        assert_ne!(a, statement_key("SELECT ?", &[Value::Text("1".into())]));
        assert_ne!(statement_key("SELECT 1", &[]), statement_key("SELECT 2", &[]));
        assert_eq!(a, statement_key("SELECT ?", &[Value::Int(1)]));
    }
}
