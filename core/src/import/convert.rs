//! From source fields to validated records: the column mapping (header names or JSON keys
//! to the SQL columns of [`Table::columns`]), the per-column type rules (text, numbers,
//! timestamps, JSON objects) and the final `validate()` of the model type. Every source
//! format (CSV, JSONL, records, SQLite) turns a row into [`Fields`] and calls
//! [`RowBuilder::build`], so all formats accept and reject exactly the same values.

use crate::error::{err, Error, ErrorKind, Result};
use crate::model::{Customer, Limits, Millis, NewMessage, Role, Score};
use crate::schema::Table;
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The most columns any importable table has (customers: 9).
pub(crate) const MAX_COLS: usize = 9;

/// One field as it came from the source, before any type rule.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    /// NULL (SQLite NULL, JSON null).
    Null,
    /// Text (every CSV field; JSON strings; SQLite TEXT).
    Text(&'a str),
    /// An integer (JSON integer, SQLite INTEGER).
    Int(i64),
    /// A float (JSON number with a fraction or exponent, SQLite REAL).
    Real(f64),
    /// A JSON boolean, array or object.
    Json(&'a serde_json::Value),
}

impl<'a> Raw<'a> {
    /// The raw form of a JSON value.
    pub(crate) fn from_json(v: &'a serde_json::Value) -> Raw<'a> {
        use serde_json::Value as J;
        match v {
            J::Null => Raw::Null,
            J::String(s) => Raw::Text(s),
            J::Number(n) => match n.as_i64() {
                Some(i) => Raw::Int(i),
                None => Raw::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::Bool(_) | J::Array(_) | J::Object(_) => Raw::Json(v),
        }
    }

    fn describe(&self) -> String {
        match self {
            Raw::Null => "NULL".into(),
            Raw::Text(s) => format!("text {:?}", clip(s)),
            Raw::Int(i) => format!("integer {i}"),
            Raw::Real(r) => format!("number {r}"),
            Raw::Json(serde_json::Value::Bool(b)) => format!("boolean {b}"),
            Raw::Json(serde_json::Value::Array(_)) => "a JSON array".into(),
            Raw::Json(_) => "a JSON object".into(),
        }
    }
}

fn clip(s: &str) -> Cow<'_, str> {
    const MAX: usize = 40;
    if s.len() <= MAX {
        return Cow::Borrowed(s);
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// A row's fields by column position of the target table; `None` = the source did not
/// have the column.
pub(crate) type Fields<'a> = [Option<Raw<'a>>; MAX_COLS];

/// What one source column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The target table's column at this position.
    Column(usize),
    /// Nothing: the column is skipped (messages' `id`, or an unknown column when the
    /// options say to ignore those).
    Ignore,
}

/// The columns a row of `table` must have.
pub(crate) fn required(table: Table) -> &'static [&'static str] {
    match table {
        Table::Customers => &["id"],
        Table::Scores => &["customer_id", "score_type", "score", "confidence", "created_at"],
        Table::Messages => &["customer_id", "conversation_id", "role", "timestamp", "content"],
        Table::LatestScores => &[],
    }
}

/// Fails unless rows can be imported into `table`.
pub(crate) fn check_importable(table: Table) -> Result<()> {
    if table == Table::LatestScores {
        return Err(err(
            ErrorKind::InvalidInput,
            "latest_scores cannot be imported: the engine derives it from customer_scores; import into customer_scores instead",
        ));
    }
    Ok(())
}

fn column_list(table: Table) -> String {
    table.columns().iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// Maps one column name (CSV header, SQLite column, JSON key) to its target.
pub(crate) fn map_name(table: Table, name: &str, ignore_unknown: bool) -> Result<Target> {
    if table == Table::Messages && name.eq_ignore_ascii_case("id") {
        return Ok(Target::Ignore);
    }
    match table.column_index(name) {
        Some(i) => Ok(Target::Column(i)),
        None if ignore_unknown => Ok(Target::Ignore),
        None => Err(err(
            ErrorKind::UnknownColumn,
            format!("unknown column {:?}; {} has {}", clip(name), table.name(), column_list(table)),
        )),
    }
}

/// The report note for a column that is skipped.
pub(crate) fn ignored_note(table: Table, name: &str) -> String {
    if table == Table::Messages && name.eq_ignore_ascii_case("id") {
        "column \"id\" is ignored: the engine assigns message ids".to_string()
    } else {
        format!("unknown column {:?} is ignored", clip(name))
    }
}

/// A header-based source's mapping (CSV header row, SQLite columns), plus notes for the
/// report. Fails on an unknown or repeated column or a missing required one: every row
/// would be rejected for the same reason, so the import stops before it starts.
pub(crate) fn map_header(table: Table, names: &[&str], ignore_unknown: bool) -> Result<(Vec<Target>, Vec<String>)> {
    let mut targets = Vec::with_capacity(names.len());
    let mut seen = [false; MAX_COLS];
    let mut notes = Vec::new();
    for name in names {
        let t = map_name(table, name.trim(), ignore_unknown)?;
        match t {
            Target::Column(i) if seen[i] => {
                return Err(err(ErrorKind::InvalidInput, format!("column {:?} appears twice", name.trim())))
            }
            Target::Column(i) => seen[i] = true,
            Target::Ignore => notes.push(ignored_note(table, name.trim())),
        }
        targets.push(t);
    }
    for req in required(table) {
        let i = table.column_index(req).unwrap_or(usize::MAX);
        if !seen.get(i).copied().unwrap_or(false) {
            return Err(err(
                ErrorKind::InvalidInput,
                format!("the source has no column {req:?}, which every {} row needs", table.name()),
            ));
        }
    }
    Ok((targets, notes))
}

/// One validated record, ready for its batch.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    Customer(Customer),
    Score(Score),
    Message(NewMessage),
}

/// Builds validated records of one table for one tenant.
#[derive(Debug, Clone)]
pub(crate) struct RowBuilder {
    table: Table,
    tenant: String,
    now: Millis,
    limits: Limits,
}

// Column positions, as in schema.rs (a unit test checks them against Table::column_index).
mod pos {
    pub const C_ID: usize = 0;
    pub const C_TENANT: usize = 1;
    pub const C_EMAIL: usize = 2;
    pub const C_NAME: usize = 3;
    pub const C_DEPARTMENT: usize = 4;
    pub const C_STATUS: usize = 5;
    pub const C_CREATED: usize = 6;
    pub const C_UPDATED: usize = 7;
    pub const C_ATTRS: usize = 8;
    pub const S_CUSTOMER: usize = 0;
    pub const S_TYPE: usize = 1;
    pub const S_SCORE: usize = 2;
    pub const S_CONFIDENCE: usize = 3;
    pub const S_CREATED: usize = 4;
    pub const S_MODEL: usize = 5;
    pub const S_TENANT: usize = 6;
    pub const M_CUSTOMER: usize = 1;
    pub const M_CONVERSATION: usize = 2;
    pub const M_ROLE: usize = 3;
    pub const M_TIMESTAMP: usize = 4;
    pub const M_CONTENT: usize = 5;
    pub const M_METADATA: usize = 6;
    pub const M_TENANT: usize = 7;
}
use pos::*;

impl RowBuilder {
    /// A builder for `table` rows of `tenant`; `now` fills missing customer timestamps.
    pub(crate) fn new(table: Table, tenant: &str, now: Millis, limits: Limits) -> Result<RowBuilder> {
        check_importable(table)?;
        Ok(RowBuilder { table, tenant: tenant.to_string(), now, limits })
    }

    /// Converts and validates one row.
    pub(crate) fn build(&self, f: &Fields<'_>) -> Result<Record> {
        let col = |i: usize| self.table.columns()[i].name;
        let field = |i: usize| Field { name: col(i), raw: f[i] };
        match self.table {
            Table::Customers => {
                self.check_tenant(field(C_TENANT))?;
                let created_at = field(C_CREATED).timestamp()?.unwrap_or(self.now);
                let c = Customer {
                    id: field(C_ID).required_text()?,
                    email: field(C_EMAIL).optional_text()?,
                    name: field(C_NAME).optional_text()?,
                    department: field(C_DEPARTMENT).text_or_empty()?,
                    status: field(C_STATUS).text_or_empty()?,
                    created_at,
                    updated_at: field(C_UPDATED).timestamp()?.unwrap_or(created_at),
                    attributes: field(C_ATTRS).json_object()?,
                };
                c.validate()?;
                Ok(Record::Customer(c))
            }
            Table::Scores => {
                self.check_tenant(field(S_TENANT))?;
                let s = Score {
                    customer_id: field(S_CUSTOMER).required_text()?,
                    score_type: field(S_TYPE).required_text()?,
                    score: field(S_SCORE).real()?,
                    confidence: field(S_CONFIDENCE).real()?,
                    created_at: field(S_CREATED).required_timestamp()?,
                    model: field(S_MODEL).optional_text()?,
                };
                s.validate()?;
                Ok(Record::Score(s))
            }
            Table::Messages => {
                self.check_tenant(field(M_TENANT))?;
                let m = NewMessage {
                    customer_id: field(M_CUSTOMER).required_text()?,
                    conversation_id: field(M_CONVERSATION).required_text()?,
                    role: field(M_ROLE).required_text()?.parse::<Role>()?,
                    timestamp: field(M_TIMESTAMP).required_timestamp()?,
                    content: field(M_CONTENT).required_text()?,
                    metadata: field(M_METADATA).json_object()?,
                };
                m.validate(&self.limits)?;
                Ok(Record::Message(m))
            }
            Table::LatestScores => {
                check_importable(self.table)?;
                Err(err(ErrorKind::Internal, "latest_scores passed the importable check"))
            }
        }
    }

    fn check_tenant(&self, f: Field<'_>) -> Result<()> {
        let given: Cow<'_, str> = match f.raw {
            None | Some(Raw::Null) => return Ok(()),
            Some(Raw::Text(s)) => Cow::Borrowed(s),
            Some(Raw::Int(i)) => Cow::Owned(i.to_string()),
            Some(other) => return Err(f.type_error("text", other)),
        };
        if given.is_empty() || given == self.tenant {
            return Ok(());
        }
        Err(err(
            ErrorKind::InvalidInput,
            format!("tenant_id is {:?} but this import writes tenant {:?}", clip(&given), clip(&self.tenant)),
        ))
    }
}

/// One named field of a row, with the type rules.
#[derive(Clone, Copy)]
struct Field<'a> {
    name: &'static str,
    raw: Option<Raw<'a>>,
}

impl<'a> Field<'a> {
    fn missing(&self) -> Error {
        err(ErrorKind::InvalidInput, format!("missing required field {:?}", self.name))
    }

    fn type_error(&self, want: &str, got: Raw<'_>) -> Error {
        err(ErrorKind::TypeMismatch, format!("{} must be {want}, got {}", self.name, got.describe()))
    }

    /// Text; integers are accepted and written in decimal. `None` when absent or NULL.
    fn text(&self) -> Result<Option<String>> {
        match self.raw {
            None | Some(Raw::Null) => Ok(None),
            Some(Raw::Text(s)) => Ok(Some(s.to_string())),
            Some(Raw::Int(i)) => Ok(Some(i.to_string())),
            Some(other) => Err(self.type_error("text", other)),
        }
    }

    fn required_text(&self) -> Result<String> {
        self.text()?.ok_or_else(|| self.missing())
    }

    fn text_or_empty(&self) -> Result<String> {
        Ok(self.text()?.unwrap_or_default())
    }

    /// Nullable text: an empty string is NULL too (CSV cannot tell them apart).
    fn optional_text(&self) -> Result<Option<String>> {
        Ok(self.text()?.filter(|s| !s.is_empty()))
    }

    /// `None` when absent, NULL or empty text.
    fn present(&self) -> Option<Raw<'a>> {
        match self.raw {
            None | Some(Raw::Null) => None,
            Some(Raw::Text(s)) if s.trim().is_empty() => None,
            r => r,
        }
    }

    fn real(&self) -> Result<f64> {
        match self.present().ok_or_else(|| self.missing())? {
            Raw::Real(r) => Ok(r),
            Raw::Int(i) => Ok(i as f64),
            Raw::Text(s) => s.trim().parse::<f64>().map_err(|_| self.type_error("a number", Raw::Text(s))),
            other => Err(self.type_error("a number", other)),
        }
    }

    fn timestamp(&self) -> Result<Option<Millis>> {
        let Some(raw) = self.present() else { return Ok(None) };
        let want = "a timestamp (integer ms since the epoch or RFC 3339 text)";
        match raw {
            Raw::Int(i) => Ok(Some(i)),
            Raw::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e18 => Ok(Some(r as i64)),
            Raw::Text(s) => parse_timestamp(s).map(Some).ok_or_else(|| {
                err(ErrorKind::InvalidTimestamp, format!("{} must be {want}, got {}", self.name, raw.describe()))
            }),
            other => Err(err(ErrorKind::InvalidTimestamp, format!("{} must be {want}, got {}", self.name, other.describe()))),
        }
    }

    fn required_timestamp(&self) -> Result<Millis> {
        self.timestamp()?.ok_or_else(|| self.missing())
    }

    /// A JSON object given as an object or as JSON text; `{}` when absent, NULL or empty.
    /// Anything but an object is left for `validate()` to reject with its own message.
    fn json_object(&self) -> Result<serde_json::Value> {
        match self.present() {
            None => Ok(serde_json::Value::Object(Default::default())),
            Some(Raw::Text(s)) => serde_json::from_str(s).map_err(|e| {
                err(ErrorKind::InvalidAttributes, format!("{} is not valid JSON text: {e}", self.name))
            }),
            Some(Raw::Json(v)) => Ok(v.clone()),
            Some(Raw::Int(i)) => Ok(serde_json::Value::from(i)),
            Some(Raw::Real(r)) => Ok(serde_json::Value::from(r)),
            Some(Raw::Null) => Ok(serde_json::Value::Null),
        }
    }
}

/// Parses a timestamp given as text: an integer (ms since the epoch), RFC 3339
/// (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.250+02:00`), or a date-time without an
/// offset (`2024-05-01 12:00:00`, SQLite's `datetime()` form, or with a `T`), taken as UTC.
/// Sub-millisecond digits are truncated.
pub fn parse_timestamp(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(i);
    }
    let to_ms = |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return to_ms(t);
    }
    // No offset: `YYYY-MM-DD[ T]HH:MM:SS[.fff]`, UTC.
    let b = s.as_bytes();
    if b.len() >= 19 && (b[10] == b' ' || b[10] == b'T' || b[10] == b't') && s.is_char_boundary(10) {
        let tail = &s[11..];
        if !tail.contains(['+', 'Z', 'z']) && !tail.contains('-') {
            return OffsetDateTime::parse(&format!("{}T{tail}Z", &s[..10]), &Rfc3339).ok().and_then(to_ms);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_match_the_schema() {
        let c = Table::Customers;
        for (p, n) in [
            (C_ID, "id"),
            (C_TENANT, "tenant_id"),
            (C_EMAIL, "email"),
            (C_NAME, "name"),
            (C_DEPARTMENT, "department"),
            (C_STATUS, "status"),
            (C_CREATED, "created_at"),
            (C_UPDATED, "updated_at"),
            (C_ATTRS, "attributes"),
        ] {
            assert_eq!(c.column_index(n), Some(p), "customers.{n}");
        }
        let s = Table::Scores;
        for (p, n) in [
            (S_CUSTOMER, "customer_id"),
            (S_TYPE, "score_type"),
            (S_SCORE, "score"),
            (S_CONFIDENCE, "confidence"),
            (S_CREATED, "created_at"),
            (S_MODEL, "model"),
            (S_TENANT, "tenant_id"),
        ] {
            assert_eq!(s.column_index(n), Some(p), "customer_scores.{n}");
        }
        let m = Table::Messages;
        for (p, n) in [
            (M_CUSTOMER, "customer_id"),
            (M_CONVERSATION, "conversation_id"),
            (M_ROLE, "role"),
            (M_TIMESTAMP, "timestamp"),
            (M_CONTENT, "content"),
            (M_METADATA, "metadata"),
            (M_TENANT, "tenant_id"),
        ] {
            assert_eq!(m.column_index(n), Some(p), "conversation_messages.{n}");
        }
        assert!(Table::ALL.iter().all(|t| t.columns().len() <= MAX_COLS));
    }

    #[test]
    fn timestamps_in_every_accepted_form() {
        assert_eq!(parse_timestamp("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp(" 42 "), Some(42));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123456Z"), Some(1_700_000_000_123));
        assert_eq!(parse_timestamp("2023-11-15T00:13:20+02:00"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("2023-11-14 22:13:20"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.5"), Some(1_700_000_000_500));
        assert_eq!(parse_timestamp("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in ["", "yesterday", "2023-11-14", "2023-13-14T00:00:00Z", "12.5", "2023-11-14 22:13:20-07"] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
