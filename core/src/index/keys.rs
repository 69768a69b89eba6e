//! Index-entry key structure: where each component (tenant, then one per indexed column)
//! ends, how many leading components two keys share, and decoding a component back into a
//! value. Statistics maintenance and covering (index-only) scans read keys through this.

use crate::error::{err, ErrorKind, Result};
use crate::schema::{ColumnType, Value};
use crate::storage::keys::KeyReader;

fn corrupt(what: &str) -> crate::Error {
    err(ErrorKind::Corrupted, format!("malformed index key: {what}"))
}

/// End offset of the escaped string starting at `at` (after its `00 00` terminator).
pub fn str_end(key: &[u8], mut at: usize) -> Result<usize> {
    loop {
        // memchr finds the next 00 (escape or terminator) with SIMD.
        let z = key.get(at..).and_then(|r| memchr::memchr(0, r)).ok_or_else(|| corrupt("unterminated string"))?;
        at += z;
        match key.get(at + 1) {
            Some(0) => return Ok(at + 2),
            Some(0xFF) => at += 2,
            _ => return Err(corrupt("bad escape")),
        }
    }
}

/// End offset of the nullable value of type `ty` starting at `at`.
pub fn value_end(key: &[u8], at: usize, ty: ColumnType) -> Result<usize> {
    match key.get(at) {
        Some(0x01) => Ok(at + 1),
        Some(0x02) => match ty {
            ColumnType::Int | ColumnType::Real => {
                if key.len() < at + 9 {
                    Err(corrupt("truncated number"))
                } else {
                    Ok(at + 9)
                }
            }
            ColumnType::Text | ColumnType::Json => str_end(key, at + 1),
        },
        _ => Err(corrupt("bad value tag")),
    }
}

/// Fills `ends` with the end offset of each component: the tenant, then each column.
pub fn component_ends(key: &[u8], types: &[ColumnType], ends: &mut Vec<usize>) -> Result<()> {
    ends.clear();
    let mut at = str_end(key, 0)?;
    ends.push(at);
    for &t in types {
        at = value_end(key, at, t)?;
        ends.push(at);
    }
    Ok(())
}

/// How many leading components `other` shares with the key whose component ends are `ends`.
pub fn shared_components(key: &[u8], ends: &[usize], other: &[u8]) -> usize {
    let common = common_prefix(key, other);
    ends.iter().take_while(|&&e| e <= common).count()
}

/// Length of the longest common prefix of `a` and `b`, eight bytes at a time.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Decodes the nullable value of type `ty` at `at`; returns it and the end offset.
pub fn decode_value(key: &[u8], at: usize, ty: ColumnType) -> Result<(Value, usize)> {
    match key.get(at) {
        Some(0x01) => Ok((Value::Null, at + 1)),
        Some(0x02) => {
            let mut r = KeyReader::new(&key[at + 1..]);
            let v = match ty {
                ColumnType::Int => Value::Int(r.i64()?),
                ColumnType::Real => Value::Real(r.f64()?),
                ColumnType::Text => Value::Text(r.str()?),
                ColumnType::Json => Value::Json(r.str()?),
            };
            Ok((v, key.len() - r.rest().len()))
        }
        _ => Err(corrupt("bad value tag")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::keys::Key;

    #[test]
    fn ends_and_sharing() {
        let types = [ColumnType::Text, ColumnType::Int, ColumnType::Real];
        let mut a = Key::tenant("t1");
        a.value(&Value::Text("x\0y".into()))
            .value(&Value::Null)
            .value(&Value::Real(0.5))
            .raw(b"pk");
        let mut b = Key::tenant("t1");
        b.value(&Value::Text("x\0y".into()))
            .value(&Value::Int(3))
            .value(&Value::Real(0.5))
            .raw(b"pk");
        let mut ends = Vec::new();
        component_ends(&a.0, &types, &mut ends).unwrap();
        assert_eq!(ends.len(), 4);
        assert_eq!(&a.0[ends[3]..], b"pk");
        assert_eq!(shared_components(&a.0, &ends, &b.0), 2);
        assert_eq!(shared_components(&a.0, &ends, &a.0), 4);
        let (v, at) = decode_value(&a.0, ends[0], ColumnType::Text).unwrap();
        assert_eq!(v, Value::Text("x\0y".into()));
        assert_eq!(at, ends[1]);
        let (v, _) = decode_value(&b.0, ends[1], ColumnType::Int).unwrap();
        assert_eq!(v, Value::Int(3));
    }

    proptest::proptest! {
        #[test]
        fn common_prefix_is_the_bytewise_one(a in proptest::collection::vec(0u8..4, 0..40), b in proptest::collection::vec(0u8..4, 0..40)) {
            let naive = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            proptest::prop_assert_eq!(common_prefix(&a, &b), naive);
        }

        #[test]
        fn str_end_finds_the_terminator(s in "[a\\x00b]{0,30}", tail in proptest::collection::vec(proptest::num::u8::ANY, 0..5)) {
            let mut k = Key::new();
            k.str(&s);
            let end = k.0.len();
            k.raw(&tail);
            proptest::prop_assert_eq!(str_end(&k.0, 0).unwrap(), end);
            let mut r = KeyReader::new(&k.0);
            proptest::prop_assert_eq!(r.str().unwrap(), s);
        }
    }
}
