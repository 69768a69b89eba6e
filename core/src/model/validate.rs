//! Validation rules shared by every record type. A rejected write changes nothing because
//! every record is validated in full before any storage work starts.

use crate::error::{err, ErrorKind, Result};

/// Longest accepted id (customer id, conversation id, score type, tenant), in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Limits that depend on configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message content, in bytes (default 1 MiB).
    pub max_content_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_content_bytes: 1 << 20 }
    }
}

/// Checks an id: not empty, at most [`MAX_ID_BYTES`] bytes, no NUL byte.
pub fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(err(ErrorKind::InvalidId, format!("{field} is empty")));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(err(
            ErrorKind::InvalidId,
            format!("{field} is {} bytes long; the maximum is {MAX_ID_BYTES}", id.len()),
        ));
    }
    if id.contains('\0') {
        return Err(err(ErrorKind::InvalidId, format!("{field} contains a NUL character")));
    }
    Ok(())
}

/// Checks a short label such as a department or status: at most 256 bytes.
pub fn check_label(field: &str, v: &str) -> Result<()> {
    if v.len() > MAX_ID_BYTES {
        return Err(err(
            ErrorKind::InvalidInput,
            format!("{field} is {} bytes long; the maximum is {MAX_ID_BYTES}", v.len()),
        ));
    }
    Ok(())
}

/// Checks a probability-like value: finite and in `[0, 1]`.
pub fn check_unit(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() {
        return Err(err(ErrorKind::InvalidScore, format!("{field} is {v}; it must be a finite number")));
    }
    if !(0.0..=1.0).contains(&v) {
        return Err(err(ErrorKind::InvalidScore, format!("{field} is {v}; it must be in [0, 1]")));
    }
    Ok(())
}

/// Deepest nesting of arrays and objects accepted in `attributes` / `metadata`, counting
/// the top-level object as 1. JSON is stored as text and serde_json's parser stops at 128
/// levels, so without a limit a deeper value could be written but never read back.
pub const MAX_JSON_DEPTH: usize = 64;

/// Checks a JSON value is an object nested at most [`MAX_JSON_DEPTH`] levels deep.
pub fn check_object(field: &str, v: &serde_json::Value) -> Result<()> {
    if !v.is_object() {
        let what = match v {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
        };
        return Err(err(ErrorKind::InvalidAttributes, format!("{field} must be a JSON object, got {what}")));
    }
    if nesting_exceeds(v, MAX_JSON_DEPTH) {
        return Err(err(
            ErrorKind::InvalidAttributes,
            format!("{field} is nested more than {MAX_JSON_DEPTH} levels deep"),
        ));
    }
    Ok(())
}

/// True when arrays/objects in `v` nest more than `max` levels (`v` itself is level 1).
/// Iterative, so a value of any depth is judged without recursion.
fn nesting_exceeds(v: &serde_json::Value, max: usize) -> bool {
    use serde_json::Value;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if level > max {
            return true;
        }
        stack.extend(children.filter(|c| c.is_array() || c.is_object()).map(|c| (c, level + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// `levels` nested containers: objects `{"d": ...}`, with an array every third level.
    fn nested(levels: usize) -> Value {
        let mut v = json!({});
        for i in 1..levels {
            let outermost = i + 1 == levels;
            v = if i % 3 == 0 && !outermost { json!([1, v]) } else { json!({ "x": 1, "d": v }) };
        }
        v
    }

    fn depth(v: &Value) -> usize {
        match v {
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted_and_one_more_is_not() {
        for levels in [1, 2, 63, 64] {
            let v = nested(levels);
            assert_eq!(depth(&v), levels);
            check_object("attributes", &v).unwrap();
        }
        for levels in [65, 66, 500] {
            let v = nested(levels);
            assert_eq!(depth(&v), levels);
            let e = check_object("metadata", &v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidAttributes);
            assert_eq!(e.message(), "metadata is nested more than 64 levels deep");
        }
    }

    #[test]
    fn only_the_deepest_branch_counts() {
        // A wide, shallow value with one deep branch at the end.
        let mut wide = serde_json::Map::new();
        for i in 0..1000 {
            wide.insert(format!("k{i}"), json!([[1], {"a": [2]}]));
        }
        wide.insert("deep".into(), nested(64));
        assert!(check_object("attributes", &Value::Object(wide.clone())).is_err()); // 1 + 64
        wide.insert("deep".into(), nested(63));
        check_object("attributes", &Value::Object(wide)).unwrap();
    }
}
