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

/// Deepest nesting of arrays and objects accepted in `attributes` and `metadata` (the object
/// itself is level 1). Stored JSON is read back with serde_json, which refuses more than 127
/// levels: a deeper value would be written and then fail every read of its row as corrupted.
pub const MAX_JSON_DEPTH: usize = 100;

/// True when `v` nests arrays and objects more than `max` levels deep (iterative, so a deep
/// value cannot overflow the stack here; a flat object allocates nothing).
fn deeper_than(v: &serde_json::Value, max: usize) -> bool {
    use serde_json::Value;
    fn container(v: &&Value) -> bool {
        v.is_array() || v.is_object()
    }
    let mut pending: Vec<(&Value, usize)> = Vec::new();
    let mut next = Some((v, 1usize));
    while let Some((v, depth)) = next.take().or_else(|| pending.pop()) {
        if depth > max {
            return true;
        }
        match v {
            Value::Array(a) => pending.extend(a.iter().filter(container).map(|c| (c, depth + 1))),
            Value::Object(o) => pending.extend(o.values().filter(container).map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    false
}

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
    if deeper_than(v, MAX_JSON_DEPTH) {
        return Err(err(
            ErrorKind::InvalidAttributes,
            format!("{field} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"),
        ));
    }
    Ok(())
}
