//! Saving the fingerprint table across restarts (as pg_stat_statements does at shutdown):
//! at close the engine writes every entry's counters, histogram and sample, plus the index
//! usage counts, to `monitor.json` in the database directory (via a temporary file and a
//! rename, so a crash leaves the old file or the new one); at open it adds them back. A
//! damaged file is set aside with a warning, never an error: statistics are disposable.

use super::registry::Sample;
use crate::error::Result;
use crate::schema::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file name inside the database directory.
pub const FILE: &str = "monitor.json";
const VERSION: u32 = 1;

/// One parameter value of a sample, tagged so INTEGER and REAL survive the round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SavedValue {
    /// NULL.
    Null,
    /// INTEGER.
    Int(i64),
    /// REAL (JSON has no NaN/inf; those become NULL, which never matters for costing).
    Real(Option<f64>),
    /// TEXT.
    Text(String),
    /// JSON text.
    Json(String),
}

impl From<&Value> for SavedValue {
    fn from(v: &Value) -> SavedValue {
        match v {
            Value::Null => SavedValue::Null,
            Value::Int(i) => SavedValue::Int(*i),
            Value::Real(r) => SavedValue::Real(r.is_finite().then_some(*r)),
            Value::Text(s) => SavedValue::Text(s.clone()),
            Value::Json(s) => SavedValue::Json(s.clone()),
        }
    }
}

impl From<&SavedValue> for Value {
    fn from(v: &SavedValue) -> Value {
        match v {
            SavedValue::Null | SavedValue::Real(None) => Value::Null,
            SavedValue::Int(i) => Value::Int(*i),
            SavedValue::Real(Some(r)) => Value::Real(*r),
            SavedValue::Text(s) => Value::Text(s.clone()),
            SavedValue::Json(s) => Value::Json(s.clone()),
        }
    }
}

/// A saved [`Sample`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSample {
    tenant: String,
    sql: String,
    params: Vec<SavedValue>,
}

impl From<&Sample> for SavedSample {
    fn from(s: &Sample) -> SavedSample {
        SavedSample { tenant: s.tenant.clone(), sql: s.sql.clone(), params: s.params.iter().map(SavedValue::from).collect() }
    }
}

impl SavedSample {
    /// Back to a sample (None when the tenant name is not a valid id any more).
    pub fn to_sample(&self) -> Option<Sample> {
        crate::model::check_id("tenant", &self.tenant).ok()?;
        Some(Sample { tenant: self.tenant.clone(), sql: self.sql.clone(), params: self.params.iter().map(Value::from).collect() })
    }
}

/// The saved counters of one fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedEntry {
    pub(crate) text: String,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) total_ns: u64,
    pub(crate) min_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) hist: Vec<(u16, u64)>,
    pub(crate) rows_examined: u64,
    pub(crate) rows_returned: u64,
    pub(crate) index_scans: u64,
    pub(crate) table_scans: u64,
    pub(crate) joins: u64,
    pub(crate) peak_mem: u64,
    pub(crate) same_text: u64,
    pub(crate) sample: Option<SavedSample>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Saved {
    pub(crate) version: u32,
    pub(crate) evicted: u64,
    pub(crate) fingerprints: Vec<SavedEntry>,
    /// Index name -> executions that used it.
    pub(crate) index_usage: BTreeMap<String, u64>,
}

/// Writes `saved` to `dir/monitor.json` atomically.
pub fn save(dir: &Path, mut saved: Saved) -> Result<()> {
    saved.version = VERSION;
    let tmp = dir.join(format!("{FILE}.tmp"));
    let text = serde_json::to_vec(&saved).map_err(|e| crate::Error::with_source(crate::ErrorKind::Internal, "cannot encode monitor state", e))?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(FILE))?;
    Ok(())
}

/// Reads `dir/monitor.json`: `Ok(None)` when absent; a damaged or foreign file is renamed
/// to `monitor.json.bad` and reported as the warning text.
pub fn load(dir: &Path) -> std::result::Result<Option<Saved>, String> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}; statement statistics start empty", path.display())),
    };
    match serde_json::from_slice::<Saved>(&bytes) {
        Ok(s) if s.version == VERSION => Ok(Some(s)),
        other => {
            let why = match other {
                Ok(s) => format!("unknown version {}", s.version),
                Err(e) => e.to_string(),
            };
            let _ = std::fs::rename(&path, dir.join(format!("{FILE}.bad")));
            Err(format!("{} was unreadable ({why}); set aside as {FILE}.bad, statement statistics start empty", path.display()))
        }
    }
}
