//! Change-feed events and filters. An event is one committed change: the table, the
//! operation, the key, the new record (and the old one for updates and deletes), the commit
//! sequence number and time. Records are JSON objects keyed by SQL column name.

use crate::model::Millis;
use crate::schema::{Row, Table, Value};
use serde::{Deserialize, Serialize};

/// The operation of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A new row or context.
    Insert,
    /// A replaced row or context.
    Update,
    /// A removed row or context.
    Delete,
}

/// The table name of context events (contexts are not a SQL table).
pub const CONTEXT_TABLE: &str = "conversation_context";

/// One committed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Commit sequence number: strictly increasing across the engine, in commit order.
    pub seq: u64,
    /// Commit time, ms since the epoch (engine clock).
    pub at: Millis,
    /// The tenant.
    pub tenant: String,
    /// `customers`, `customer_scores`, `latest_scores`, `conversation_messages` or
    /// `conversation_context`.
    pub table: String,
    /// What happened.
    pub op: Op,
    /// The key: primary-key values joined by `/`.
    pub key: String,
    /// The record after the change (None for deletes).
    pub new: Option<serde_json::Value>,
    /// The record before the change (updates and deletes).
    pub old: Option<serde_json::Value>,
}

/// A score threshold crossing: the latest score of `score_type` moved from at or below
/// `threshold` to above it (`above = true`), or from above to at or below (`above = false`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    /// The score type watched.
    pub score_type: String,
    /// The threshold.
    pub threshold: f64,
    /// Upward (true) or downward crossings.
    #[serde(default = "yes")]
    pub above: bool,
}

fn yes() -> bool {
    true
}

/// Which events a subscription receives. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Tables to receive.
    #[serde(default)]
    pub tables: Vec<String>,
    /// Operations to receive.
    #[serde(default)]
    pub ops: Vec<Op>,
    /// For score events: only this score type.
    #[serde(default)]
    pub score_type: Option<String>,
    /// Only latest-score changes that cross this threshold (implies table `latest_scores`).
    #[serde(default)]
    pub crossing: Option<Crossing>,
}

fn score_of(v: &Option<serde_json::Value>) -> Option<f64> {
    v.as_ref()?.get("score")?.as_f64()
}

impl Filter {
    /// True when `e` passes the filter.
    pub fn matches(&self, e: &Event) -> bool {
        if let Some(c) = &self.crossing {
            if e.table != Table::LatestScores.name() {
                return false;
            }
            let ty = e.new.as_ref().and_then(|n| n.get("score_type")).and_then(|t| t.as_str());
            if ty != Some(c.score_type.as_str()) {
                return false;
            }
            let (old, new) = (score_of(&e.old), score_of(&e.new));
            let Some(new) = new else { return false };
            let was_above = old.is_some_and(|o| o > c.threshold);
            let is_above = new > c.threshold;
            if c.above != is_above || was_above == is_above {
                return false;
            }
        }
        if !self.tables.is_empty() && !self.tables.iter().any(|t| t.eq_ignore_ascii_case(&e.table)) {
            return false;
        }
        if !self.ops.is_empty() && !self.ops.contains(&e.op) {
            return false;
        }
        if let Some(st) = &self.score_type {
            let rec = e.new.as_ref().or(e.old.as_ref());
            if let Some(t) = rec.and_then(|r| r.get("score_type")).and_then(|t| t.as_str()) {
                if t != st {
                    return false;
                }
            } else if e.table.contains("score") {
                return false;
            }
        }
        true
    }
}

/// A row as a JSON object keyed by column name (JSON columns are embedded, not quoted).
pub fn row_json(table: Table, row: &Row) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (c, v) in table.columns().iter().zip(row) {
        let j = match v {
            Value::Null => serde_json::Value::Null,
            Value::Int(i) => (*i).into(),
            Value::Real(r) => serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, Into::into),
            Value::Text(s) => s.clone().into(),
            Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| s.clone().into()),
        };
        m.insert(c.name.to_string(), j);
    }
    serde_json::Value::Object(m)
}

/// The key text of a row: its primary-key values joined by `/`.
pub fn row_key(table: Table, row: &Row) -> String {
    table.primary_key().iter().map(|i| row.get(*i).map(|v| v.to_string()).unwrap_or_default()).collect::<Vec<_>>().join("/")
}
