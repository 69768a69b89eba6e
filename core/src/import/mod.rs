//! Bulk import into the three stores (`customers`, `customer_scores`,
//! `conversation_messages`) from CSV, JSON Lines, SQLite database files (feature `sqlite`)
//! and in-memory records (what the Python and Node bindings feed from dicts and objects).
//! This module owns the import rules; it writes only through the tenant's batch APIs.
//!
//! # Rules (the same for every format)
//! - Columns are matched by name (CSV header, JSON keys, SQLite column names) against the
//!   SQL columns of [`Table::columns`], case-insensitively. `latest_scores` is derived by the
//!   engine and cannot be imported.
//! - An unknown column is an error: for CSV and SQLite (one header for every row) the import
//!   fails before writing anything; in JSONL and records the row is rejected. With
//!   [`ImportOptions::ignore_unknown_columns`] such columns are skipped and noted in the
//!   report instead. A header lacking a required column also fails the import up front.
//! - Required fields: customers `id`; customer_scores `customer_id`, `score_type`, `score`,
//!   `confidence`, `created_at`; conversation_messages `customer_id`, `conversation_id`,
//!   `role`, `timestamp`, `content`. A row missing one is rejected naming the field.
//! - `tenant_id`, when present and not empty, must equal the importing tenant; otherwise the
//!   row is rejected (a row is never silently moved to another tenant).
//! - conversation_messages `id` is ignored (noted in the report): the engine assigns ids.
//! - Text columns take text (integers are written in decimal). Numbers take numbers or
//!   numeric text. Timestamps take integer milliseconds since the epoch, RFC 3339 text
//!   (`2024-05-01T12:00:00Z`), or `YYYY-MM-DD HH:MM:SS[.fff]` without an offset, read as
//!   UTC (SQLite's `datetime()` form). `attributes` / `metadata` take a JSON object or its
//!   JSON text; empty or NULL means `{}`.
//! - An empty field is NULL for `email`, `name` and `model`, missing for numbers,
//!   timestamps and JSON, and an empty string for other text (which the id rules reject).
//!   A customer without `created_at` gets the engine clock's time at import start; without
//!   `updated_at`, its `created_at`.
//! - Every row is validated with the model's own `validate()` before it joins a batch, so a
//!   batch never fails on a rule. A rejected row is reported with its line (CSV: the line
//!   the record starts on; JSONL: the line; SQLite: the rowid; records: the 1-based index)
//!   and the reason. Invalid UTF-8 rejects that row and the import goes on.
//! - Rows are read and committed batch by batch ([`ImportOptions::batch_size`] rows, or
//!   [`ImportOptions::batch_bytes`] of input, per transaction); memory stays bounded by two
//!   batches whatever the input size. Each batch lands whole or not at all. A fatal error
//!   (unreadable input, storage failure) stops the import; batches committed before it
//!   stay, and the error says how many rows they held.
//!
//! ```
//! use cidb::{Engine, ImportOptions, Table};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Engine::open_default(dir.path()).unwrap();
//! let acme = db.tenant("acme").unwrap();
//! let csv = "id,department,created_at\nc1,sales,2024-05-01T12:00:00Z\n,sales,1714564800000\n";
//! let report = acme.import_csv(Table::Customers, csv.as_bytes(), &ImportOptions::default()).unwrap();
//! assert_eq!((report.imported, report.rejected, report.batches), (1, 1, 1));
//! assert_eq!((report.rejects[0].line, report.rejects[0].reason.as_str()), (3, "customer id is empty"));
//! assert_eq!(acme.get_customer("c1").unwrap().unwrap().created_at, 1_714_564_800_000);
//! db.close().unwrap();
//! ```

mod batch;
mod convert;
mod csv;
mod jsonl;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use convert::parse_timestamp;

use crate::error::{err, ErrorKind, Result};
use crate::schema::Table;
use crate::tenant::Tenant;
use serde::{Serialize, Serializer};
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A progress callback: gets the counts so far; returning `false` stops the import (rows
/// already accepted are committed and the report says `stopped_early`).
pub type ProgressFn = Arc<dyn Fn(&ImportProgress) -> bool + Send + Sync>;

/// Options of an import.
#[derive(Clone)]
pub struct ImportOptions {
    /// Most rows per transaction (default 10,000).
    pub batch_size: usize,
    /// Most input bytes per transaction (default 64 MiB), so batches of large rows stay small.
    pub batch_bytes: usize,
    /// Most rejects listed in the report (default 1,000); all are counted.
    pub max_rejects_reported: usize,
    /// Skip unknown columns (noted in the report) instead of failing (default false).
    pub ignore_unknown_columns: bool,
    /// CSV field delimiter (default `b','`; `b'\t'` for TSV).
    pub delimiter: u8,
    /// Called every 1,000 rows read and once at the end.
    pub progress: Option<ProgressFn>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 10_000,
            batch_bytes: 64 << 20,
            max_rejects_reported: 1_000,
            ignore_unknown_columns: false,
            delimiter: b',',
            progress: None,
        }
    }
}

impl fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportOptions")
            .field("batch_size", &self.batch_size)
            .field("batch_bytes", &self.batch_bytes)
            .field("max_rejects_reported", &self.max_rejects_reported)
            .field("ignore_unknown_columns", &self.ignore_unknown_columns)
            .field("delimiter", &(self.delimiter as char))
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .finish()
    }
}

impl ImportOptions {
    /// Sets the rows per transaction.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets the progress callback.
    pub fn with_progress(mut self, f: impl Fn(&ImportProgress) -> bool + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.batch_size == 0 || self.batch_bytes == 0 {
            return Err(err(ErrorKind::InvalidInput, "batch_size and batch_bytes must be at least 1"));
        }
        Ok(())
    }
}

/// Counts passed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportProgress {
    /// Rows read so far (imported, queued or rejected).
    pub rows_read: u64,
    /// Input bytes read so far (0 for SQLite and records).
    pub bytes_read: u64,
    /// Rows committed so far.
    pub imported: u64,
    /// Rows rejected so far.
    pub rejected: u64,
    /// Rows the source holds, when known up front (SQLite, records of known length).
    pub total_rows: Option<u64>,
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// Where: CSV the line the record starts on, JSONL the line, SQLite the rowid, records
    /// the 1-based position. 1-based everywhere.
    pub line: u64,
    /// The kind of error (serialized as its name, e.g. `invalid_score`).
    #[serde(serialize_with = "kind_name")]
    pub kind: ErrorKind,
    /// Why, naming the field.
    pub reason: String,
}

fn kind_name<S: Serializer>(k: &ErrorKind, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(k.as_str())
}

fn millis<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Rows committed.
    pub imported: u64,
    /// Rows rejected (all of them, even past `max_rejects_reported`).
    pub rejected: u64,
    /// The first rejects, in input order.
    pub rejects: Vec<Reject>,
    /// Transactions committed.
    pub batches: u64,
    /// Wall time (serialized as `elapsed_ms`).
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
    /// Notes about the input (ignored columns).
    pub notes: Vec<String>,
    /// True when the progress callback stopped the import.
    pub stopped_early: bool,
}

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// A SQLite database file (needs the `sqlite` feature).
    Sqlite,
}

impl ImportFormat {
    /// The format a file name suggests: `.csv`/`.tsv`, `.jsonl`/`.ndjson`/`.json`,
    /// `.sqlite`/`.sqlite3`/`.db`.
    pub fn from_path(path: &Path) -> Option<ImportFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" => Some(ImportFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(ImportFormat::Jsonl),
            "sqlite" | "sqlite3" | "db" => Some(ImportFormat::Sqlite),
            _ => None,
        }
    }
}

impl FromStr for ImportFormat {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<ImportFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(ImportFormat::Csv),
            "jsonl" | "ndjson" => Ok(ImportFormat::Jsonl),
            "sqlite" => Ok(ImportFormat::Sqlite),
            _ => Err(err(ErrorKind::InvalidInput, format!("unknown import format {s:?}; expected csv, jsonl or sqlite"))),
        }
    }
}

/// Parses a table name for import; `latest_scores` and unknown names fail clearly.
pub fn import_table(name: &str) -> Result<Table> {
    let t = Table::from_name(name).ok_or_else(|| {
        err(
            ErrorKind::UnknownTable,
            format!("unknown table {name:?}; expected customers, customer_scores or conversation_messages"),
        )
    })?;
    convert::check_importable(t)?;
    Ok(t)
}

impl Tenant {
    /// Imports CSV (header row required) into `table`. See the [module docs](crate::import)
    /// for the rules. Rejected rows are reported by the line they start on.
    pub fn import_csv(&self, table: Table, reader: impl Read, opts: &ImportOptions) -> Result<ImportReport> {
        csv::import(self, table, reader, opts)
    }

    /// Imports JSON Lines (one object per line; blank lines are skipped) into `table`.
    pub fn import_jsonl(&self, table: Table, reader: impl Read, opts: &ImportOptions) -> Result<ImportReport> {
        jsonl::import(self, table, reader, opts)
    }

    /// Imports in-memory records (JSON objects keyed by column name) into `table`;
    /// rejects are reported by 1-based position. The bindings' entry for dicts/objects.
    pub fn import_records(
        &self,
        table: Table,
        rows: impl IntoIterator<Item = serde_json::Map<String, serde_json::Value>>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        jsonl::import_records(self, table, rows.into_iter().map(Ok), opts)
    }

    /// Like [`Tenant::import_records`], for callers whose own conversion can fail per row
    /// (a binding meeting a value it cannot express as JSON): an `Err` item is reported as
    /// a reject at its position with that error, and the import goes on.
    pub fn import_record_results(
        &self,
        table: Table,
        rows: impl IntoIterator<Item = Result<serde_json::Map<String, serde_json::Value>>>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        jsonl::import_records(self, table, rows.into_iter(), opts)
    }

    /// Imports rows of a table (or view) of a SQLite database file into `table`. The source
    /// table is `source_table`, else one named like `table`, else the file's only table.
    /// Rejects are reported by rowid (or 1-based position for views and `WITHOUT ROWID`).
    #[cfg(feature = "sqlite")]
    pub fn import_sqlite(
        &self,
        table: Table,
        path: &Path,
        source_table: Option<&str>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        sqlite::import(self, table, path, source_table, opts)
    }

    /// Imports a file, in `format` or the one its name suggests.
    pub fn import_file(
        &self,
        table: Table,
        path: &Path,
        format: Option<ImportFormat>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        let format = format.or_else(|| ImportFormat::from_path(path)).ok_or_else(|| {
            err(
                ErrorKind::InvalidInput,
                format!("cannot tell the format of {} from its name; give csv, jsonl or sqlite", path.display()),
            )
        })?;
        let open = || {
            std::fs::File::open(path).map_err(|e| {
                crate::Error::with_source(ErrorKind::InvalidInput, format!("cannot open {}", path.display()), e)
            })
        };
        match format {
            ImportFormat::Csv => {
                let mut o = opts.clone();
                if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv")) && opts.delimiter == b',' {
                    o.delimiter = b'\t';
                }
                self.import_csv(table, std::io::BufReader::new(open()?), &o)
            }
            ImportFormat::Jsonl => self.import_jsonl(table, open()?, opts),
            #[cfg(feature = "sqlite")]
            ImportFormat::Sqlite => self.import_sqlite(table, path, None, opts),
            #[cfg(not(feature = "sqlite"))]
            ImportFormat::Sqlite => Err(err(
                ErrorKind::Unsupported,
                "SQLite import needs cidb built with the `sqlite` feature",
            )),
        }
    }
}
