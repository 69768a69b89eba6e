//! The relational face of the stores: the four SQL tables, their columns and types, the
//! dynamically typed [`Value`], and the conversion of each record into a row. The SQL layer,
//! the index maintenance and the bindings all read rows through this module.

use crate::model::{Customer, Message, Score};
use std::cmp::Ordering;
use std::fmt;

/// A SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// A JSON document, kept as its text.
    Json(String),
}

impl Value {
    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "INTEGER",
            Value::Real(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Json(_) => "JSON",
        }
    }

    /// The value as f64 when numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The value as text when textual (TEXT or JSON).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Json(s) => Some(s),
            _ => None,
        }
    }

    /// SQLite's ordering of values: NULL < numbers (compared numerically) < text.
    pub fn sql_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Int(_) | Value::Real(_) => 1,
                Value::Text(_) | Value::Json(_) => 2,
            }
        }
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (a, b) if rank(a) == 1 && rank(b) == 1 => {
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
            (a, b) if rank(a) == 2 && rank(b) == 2 => a.as_str().cmp(&b.as_str()),
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(s) | Value::Json(s) => f.write_str(s),
        }
    }
}

/// The declared type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// INTEGER.
    Int,
    /// REAL.
    Real,
    /// TEXT.
    Text,
    /// JSON text.
    Json,
}

impl ColumnType {
    /// The SQL type name (as SQLite would declare it).
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Int => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Text | ColumnType::Json => "TEXT",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The SQL name.
    pub name: &'static str,
    /// The declared type.
    pub ty: ColumnType,
    /// Whether NULL may appear.
    pub nullable: bool,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool) -> Column {
    Column { name, ty, nullable }
}

use ColumnType::{Int, Json, Real, Text};

/// The SQL tables (and the `latest_scores` view the engine keeps as a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `customers`.
    Customers,
    /// `customer_scores`.
    Scores,
    /// `latest_scores`.
    LatestScores,
    /// `conversation_messages`.
    Messages,
}

const CUSTOMER_COLS: &[Column] = &[
    col("id", Text, false),
    col("tenant_id", Text, false),
    col("email", Text, true),
    col("name", Text, true),
    col("department", Text, false),
    col("status", Text, false),
    col("created_at", Int, false),
    col("updated_at", Int, false),
    col("attributes", Json, false),
];
const SCORE_COLS: &[Column] = &[
    col("customer_id", Text, false),
    col("score_type", Text, false),
    col("score", Real, false),
    col("confidence", Real, false),
    col("created_at", Int, false),
    col("model", Text, true),
    col("tenant_id", Text, false),
];
const MESSAGE_COLS: &[Column] = &[
    col("id", Int, false),
    col("customer_id", Text, false),
    col("conversation_id", Text, false),
    col("role", Text, false),
    col("timestamp", Int, false),
    col("content", Text, false),
    col("metadata", Json, false),
    col("tenant_id", Text, false),
];

impl Table {
    /// Every table.
    pub const ALL: [Table; 4] = [Table::Customers, Table::Scores, Table::LatestScores, Table::Messages];

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Scores => "customer_scores",
            Table::LatestScores => "latest_scores",
            Table::Messages => "conversation_messages",
        }
    }

    /// Looks a table up by SQL name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The columns, in `SELECT *` order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Customers => CUSTOMER_COLS,
            Table::Scores | Table::LatestScores => SCORE_COLS,
            Table::Messages => MESSAGE_COLS,
        }
    }

    /// The position of a column (case-insensitive).
    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Positions of the primary-key columns (after the tenant, which leads every key).
    pub fn primary_key(self) -> &'static [usize] {
        match self {
            Table::Customers => &[0],
            Table::Scores => &[0, 1, 4],
            Table::LatestScores => &[0, 1],
            Table::Messages => &[0],
        }
    }

    /// The SQLite `CREATE TABLE` statement for the same schema (used by the oracle tests,
    /// benchmarks and import).
    pub fn sqlite_ddl(self) -> String {
        let cols: Vec<String> = self
            .columns()
            .iter()
            .map(|c| format!("{} {}{}", c.name, c.ty.sql_name(), if c.nullable { "" } else { " NOT NULL" }))
            .collect();
        format!("CREATE TABLE {} ({})", self.name(), cols.join(", "))
    }
}

/// A row: values in the table's column order.
pub type Row = Vec<Value>;

fn opt_text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}

/// The `customers` row for a record.
pub fn customer_row(tenant: &str, c: &Customer) -> Row {
    vec![
        Value::Text(c.id.clone()),
        Value::Text(tenant.to_string()),
        opt_text(&c.email),
        opt_text(&c.name),
        Value::Text(c.department.clone()),
        Value::Text(c.status.clone()),
        Value::Int(c.created_at),
        Value::Int(c.updated_at),
        Value::Json(c.attributes.to_string()),
    ]
}

/// The `customer_scores` / `latest_scores` row for a record.
pub fn score_row(tenant: &str, s: &Score) -> Row {
    vec![
        Value::Text(s.customer_id.clone()),
        Value::Text(s.score_type.clone()),
        Value::Real(s.score),
        Value::Real(s.confidence),
        Value::Int(s.created_at),
        opt_text(&s.model),
        Value::Text(tenant.to_string()),
    ]
}

/// The `conversation_messages` row for a record.
pub fn message_row(tenant: &str, m: &Message) -> Row {
    vec![
        Value::Int(m.id as i64),
        Value::Text(m.customer_id.clone()),
        Value::Text(m.conversation_id.clone()),
        Value::Text(m.role.as_str().to_string()),
        Value::Int(m.timestamp),
        Value::Text(m.content.clone()),
        Value::Json(m.metadata.to_string()),
        Value::Text(tenant.to_string()),
    ]
}
