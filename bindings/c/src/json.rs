//! Records cross the C boundary as JSON text: this module turns caller JSON into the core
//! model types (with errors that name the argument, the array index and the field, and the
//! error kind the core would use, e.g. `CIDB_INVALID_ROLE` for an unknown role) and turns
//! results into JSON text for C.

use crate::ffi::invalid;
use cidb::feed::{Filter, CONTEXT_TABLE};
use cidb::{Error, NewMessage, Result, Role};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::OnceLock;

/// Parses `text` (argument `arg`) as one `T` given as a JSON object.
pub fn parse_one<T: DeserializeOwned + Checked>(arg: &str, text: &str) -> Result<T> {
    let v = parse_value(arg, text)?;
    from_value(arg, v)
}

/// Parses `text` (argument `arg`) as a JSON array of `T`.
pub fn parse_many<T: DeserializeOwned + Checked>(arg: &str, text: &str) -> Result<Vec<T>> {
    match parse_value(arg, text)? {
        Value::Array(items) => {
            items.into_iter().enumerate().map(|(i, v)| from_value(&format!("{arg}[{i}]"), v)).collect()
        }
        other => Err(invalid(format!("{arg} must be a JSON array, got {}", kind_of(&other)))),
    }
}

/// JSON text of a result.
pub fn to_text<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| Error::with_source(cidb::ErrorKind::Internal, "cannot serialise result as JSON", e))
}

fn parse_value(arg: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| invalid(format!("{arg} is not valid JSON: {e}")))
}

fn from_value<T: DeserializeOwned + Checked>(arg: &str, v: Value) -> Result<T> {
    if !v.is_object() {
        return Err(invalid(format!("{arg} must be a JSON object, got {}", kind_of(&v))));
    }
    check_fields::<T>(arg, &v)?;
    T::precheck(&v).map_err(|e| prefixed(arg, e))?;
    let t = T::deserialize(&v).map_err(|e| {
        let msg = e.to_string();
        match culprit::<T>(&v, &msg) {
            Some(k) => invalid(format!("{arg}: field `{k}`: {msg}")),
            None => invalid(format!("{arg}: {msg}")),
        }
    })?;
    t.check().map_err(|e| prefixed(arg, e))?;
    Ok(t)
}

/// The field a serde error is about (serde's own message for a wrong type, e.g. "invalid
/// type: integer `5`, expected a string", does not say): the key whose removal leaves a
/// valid record, or one that only lacks that key. None for a missing field (the message
/// names it). Only runs on the error path.
fn culprit<T: DeserializeOwned>(v: &Value, msg: &str) -> Option<String> {
    if msg.starts_with("missing field") {
        return None;
    }
    let obj = v.as_object()?;
    obj.keys()
        .find(|k| {
            let mut o = obj.clone();
            o.remove(k.as_str());
            T::deserialize(&Value::Object(o)).map_or_else(|e| e.to_string() == format!("missing field `{k}`"), |_| true)
        })
        .cloned()
}

/// Rejects keys the record type does not have: serde would drop them silently, and a
/// misspelt field (`"emial"`) would then be data lost without an error.
fn check_fields<T: Checked>(arg: &str, v: &Value) -> Result<()> {
    let Some(obj) = v.as_object() else { return Ok(()) };
    let fields = T::fields();
    match obj.keys().find(|k| !fields.contains(k)) {
        Some(k) => Err(invalid(format!("{arg}: unknown field `{k}`; expected one of {}", fields.join(", ")))),
        None => Ok(()),
    }
}

/// The JSON field names of a record type, read from serialising a sample so they follow
/// the model types' serde attributes.
fn field_names(sample: impl Serialize) -> Vec<String> {
    match serde_json::to_value(sample) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// `e` with the argument name in front of its message, kind unchanged.
fn prefixed(arg: &str, e: Error) -> Error {
    Error::new(e.kind(), format!("{arg}: {}", e.message()))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks a record type runs on its JSON (before serde) and on the parsed value, so errors
/// carry the core's kind and the argument's name.
pub trait Checked {
    /// The JSON keys the type accepts.
    fn fields() -> &'static [String];
    /// Checks on the raw object that serde would report less precisely.
    fn precheck(_v: &Value) -> Result<()> {
        Ok(())
    }
    /// The record's own validation.
    fn check(&self) -> Result<()>;
}

impl Checked for cidb::Customer {
    fn fields() -> &'static [String] {
        static F: OnceLock<Vec<String>> = OnceLock::new();
        F.get_or_init(|| field_names(cidb::Customer::new("x", 0)))
    }
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

impl Checked for cidb::Score {
    fn fields() -> &'static [String] {
        static F: OnceLock<Vec<String>> = OnceLock::new();
        F.get_or_init(|| {
            field_names(cidb::Score {
                customer_id: String::new(),
                score_type: String::new(),
                score: 0.0,
                confidence: 0.0,
                created_at: 0,
                model: None,
            })
        })
    }
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

impl Checked for NewMessage {
    fn fields() -> &'static [String] {
        static F: OnceLock<Vec<String>> = OnceLock::new();
        F.get_or_init(|| {
            field_names(NewMessage {
                customer_id: String::new(),
                conversation_id: String::new(),
                role: Role::User,
                timestamp: 0,
                content: String::new(),
                metadata: Value::Null,
            })
        })
    }
    /// An unknown role is `CIDB_INVALID_ROLE`, not a generic JSON shape error.
    fn precheck(v: &Value) -> Result<()> {
        match v.get("role") {
            Some(Value::String(r)) => r.parse::<Role>().map(|_| ()),
            _ => Ok(()),
        }
    }
    /// Content size is checked by the tenant against the engine's configured limit.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Checked for cidb::ContextEntry {
    fn fields() -> &'static [String] {
        static F: OnceLock<Vec<String>> = OnceLock::new();
        F.get_or_init(|| {
            field_names(cidb::ContextEntry { role: Role::User, content: String::new(), timestamp: 0, metadata: Value::Null })
        })
    }
    /// An unknown role is `CIDB_INVALID_ROLE`, as for messages.
    fn precheck(v: &Value) -> Result<()> {
        NewMessage::precheck(v)
    }
    /// Content size is checked by the tenant against the engine's configured limit.
    fn check(&self) -> Result<()> {
        cidb::model::time::check_timestamp("timestamp", self.timestamp)
    }
}

impl Checked for Filter {
    fn fields() -> &'static [String] {
        static F: OnceLock<Vec<String>> = OnceLock::new();
        F.get_or_init(|| field_names(Filter::default()))
    }
    /// Table names are checked (a misspelt one would match nothing, silently), and so are
    /// the keys of `crossing`.
    fn precheck(v: &Value) -> Result<()> {
        if let Some(Value::Array(tables)) = v.get("tables") {
            for t in tables {
                let Some(name) = t.as_str() else { continue }; // serde reports the type
                let known = cidb::Table::from_name(name).is_some() || name.eq_ignore_ascii_case(CONTEXT_TABLE);
                if !known {
                    let mut all: Vec<&str> = cidb::Table::ALL.iter().map(|t| t.name()).collect();
                    all.push(CONTEXT_TABLE);
                    return Err(invalid(format!("unknown table {name:?} in tables; expected one of {}", all.join(", "))));
                }
            }
        }
        if let Some(Value::Object(c)) = v.get("crossing") {
            const KEYS: [&str; 3] = ["score_type", "threshold", "above"];
            if let Some(k) = c.keys().find(|k| !KEYS.contains(&k.as_str())) {
                return Err(invalid(format!("unknown field `{k}` in crossing; expected one of {}", KEYS.join(", "))));
            }
        }
        Ok(())
    }
    fn check(&self) -> Result<()> {
        match &self.crossing {
            Some(c) if !c.threshold.is_finite() => Err(invalid("crossing.threshold must be a finite number")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cidb::{Customer, ErrorKind};

    #[test]
    fn parse_errors_name_argument_index_and_kind() {
        let e = parse_one::<Customer>("customer_json", "{").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().starts_with("customer_json is not valid JSON"), "{e}");

        let e = parse_one::<Customer>("customer_json", "[1]").unwrap_err();
        assert!(e.message().contains("must be a JSON object, got an array"), "{e}");

        let e = parse_one::<cidb::Score>("score_json", r#"{"customer_id":"c"}"#).unwrap_err();
        assert!(e.message().starts_with("score_json: missing field `score_type`"), "{e}");
        let e = parse_one::<Customer>("customer_json", r#"{"id":"c","email":1}"#).unwrap_err();
        assert!(e.message().starts_with("customer_json: field `email`: invalid type"), "{e}");
        let e = parse_many::<Customer>("customers_json", r#"[{"id":"a"},{"name":"x"}]"#).unwrap_err();
        assert!(e.message().starts_with("customers_json[1]: missing field `id`"), "{e}");

        let e = parse_many::<Customer>("customers_json", r#"[{"id":""}]"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidId);
        assert!(e.message().starts_with("customers_json[0]: customer id is empty"), "{e}");

        let e = parse_one::<NewMessage>(
            "message_json",
            r#"{"customer_id":"c","conversation_id":"v","role":"boss","timestamp":1,"content":""}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRole);

        // a wrong type names the field (serde's message alone does not)
        let e = parse_one::<NewMessage>(
            "message_json",
            r#"{"customer_id":"c","conversation_id":"v","role":5,"timestamp":1,"content":""}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().starts_with("message_json: field `role`: invalid type: integer `5`"), "{e}");
        let e = parse_many::<cidb::Score>("scores_json", r#"[{"customer_id":"c","score_type":"t","score":"high","confidence":0,"created_at":0}]"#).unwrap_err();
        assert!(e.message().starts_with("scores_json[0]: field `score`: invalid type"), "{e}");
        let e = parse_one::<Customer>("customer_json", r#"{"id":"c1","emial":"a@b.c"}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().starts_with("customer_json: unknown field `emial`; expected one of "), "{e}");
        assert!(e.message().contains("email") && e.message().contains("attributes"), "{e}");
        let e = parse_one::<NewMessage>(
            "message_json",
            r#"{"id":3,"customer_id":"c","conversation_id":"v","role":"user","timestamp":1,"content":""}"#,
        )
        .unwrap_err();
        assert!(e.message().contains("unknown field `id`"), "{e}");
        let e = parse_many::<cidb::Score>("scores_json", r#"[{"customer_id":"c","score_type":"t","score":0,"confidence":0,"created_at":0,"modle":"x"}]"#).unwrap_err();
        assert!(e.message().starts_with("scores_json[0]: unknown field `modle`"), "{e}");

        let e = parse_many::<cidb::ContextEntry>("entries_json", r#"[{"role":"bot","content":"x","timestamp":1}]"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRole);
        assert!(e.message().starts_with("entries_json[0]: "), "{e}");
        let e = parse_many::<cidb::ContextEntry>("entries_json", r#"[{"role":"user","content":"x","timestamp":-1}]"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidTimestamp);
        let e = parse_many::<cidb::ContextEntry>("entries_json", r#"[{"role":"user","content":"x","timestamp":1,"ts":2}]"#).unwrap_err();
        assert!(e.message().contains("unknown field `ts`"), "{e}");

        let f: Filter = parse_one("filter_json", r#"{"tables":["Customers"],"ops":["insert"]}"#).unwrap();
        assert_eq!(f.tables, ["Customers"]);
        let e = parse_one::<Filter>("filter_json", r#"{"tables":["customer"]}"#).unwrap_err();
        assert!(e.message().contains("unknown table \"customer\"") && e.message().contains("conversation_context"), "{e}");
        let e = parse_one::<Filter>("filter_json", r#"{"ops":["upsert"]}"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("upsert"), "{e}");
        let e = parse_one::<Filter>("filter_json", r#"{"table":["customers"]}"#).unwrap_err();
        assert!(e.message().contains("unknown field `table`"), "{e}");
        let e = parse_one::<Filter>("filter_json", r#"{"crossing":{"score_type":"churn","threshold":0.5,"dir":"up"}}"#).unwrap_err();
        assert!(e.message().contains("unknown field `dir` in crossing"), "{e}");

        let c: Customer = parse_one("customer_json", r#"{"id":"c1","attributes":{"tier":"gold"}}"#).unwrap();
        assert_eq!(c.attributes["tier"], "gold");
        assert_eq!(parse_many::<Customer>("x", "[]").unwrap().len(), 0);
    }
}
