//! Bulk import and backup in JS. `tenant.importRecords(table, objects)` imports an array of
//! plain objects; `importCsv` / `importJsonl` read a file. The core's import rules apply
//! (see `cidb::import`): columns matched by SQL name, every row validated, rows committed in
//! batches, each bad row rejected with its position and the reason while the rest land.
//! Object keys may also be the camelCase of a column (`customerId` for `customer_id`), as
//! the record types of this package spell them; Dates are accepted wherever a timestamp is.
//! `engine.backup(dest)` writes a consistent copy of the database into a new directory.

use crate::convert::{boolean, count, json, list, object, text, Val};
use crate::engine::Engine;
use crate::task::{job, run_async, run_sync, Job, Op};
use crate::tenant::Tenant;
use cidb::import::import_table;
use cidb::{Error, ErrorKind, ImportFormat, ImportOptions as CoreOptions, Table};
use napi::bindgen_prelude::{AsyncTask, Env, Unknown};
use napi_derive::napi;
use std::path::PathBuf;

type Result<T> = cidb::Result<T>;

/// Options of an import; every field is optional.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ImportOptions {
    /// Most rows per transaction (default 10,000).
    #[napi(ts_type = "number | null")]
    pub batch_size: Option<u32>,
    /// Most rejects listed in the report (default 1,000); all are counted.
    #[napi(ts_type = "number | null")]
    pub max_rejects_reported: Option<u32>,
    /// Skip unknown columns (noted in the report) instead of rejecting (default false).
    #[napi(ts_type = "boolean | null")]
    pub ignore_unknown_columns: Option<bool>,
    /// `importCsv` only: the field delimiter, one ASCII character (default `,`; `\t` for TSV).
    #[napi(ts_type = "string | null")]
    pub delimiter: Option<String>,
}

fn read_options(v: Option<&Unknown<'_>>) -> Result<CoreOptions> {
    let mut opts = CoreOptions::default();
    let Some(v) = v.map(Val::of).filter(|v| !v.is_absent()) else { return Ok(opts) };
    let o = object(v, "options")?;
    let get = |k: &str| o.get(k, &format!("options.{k}"));
    let v = get("batchSize")?;
    if !v.is_absent() {
        opts.batch_size = usize::try_from(count(v, "options.batchSize")?).unwrap_or(usize::MAX);
    }
    let v = get("maxRejectsReported")?;
    if !v.is_absent() {
        opts.max_rejects_reported = usize::try_from(count(v, "options.maxRejectsReported")?).unwrap_or(usize::MAX);
    }
    let v = get("ignoreUnknownColumns")?;
    if !v.is_absent() {
        opts.ignore_unknown_columns = boolean(v, "options.ignoreUnknownColumns")?;
    }
    let v = get("delimiter")?;
    if !v.is_absent() {
        let d = text(v, "options.delimiter")?;
        match d.as_bytes() {
            [b] if b.is_ascii() => opts.delimiter = *b,
            _ => return Err(Error::new(ErrorKind::InvalidInput, format!("options.delimiter is {d:?}; it must be one ASCII character"))),
        }
    }
    Ok(opts)
}

/// One rejected row.
#[napi(object, object_from_js = false)]
pub struct ImportReject {
    /// Where, 1-based: the array position for `importRecords`, the line the record starts
    /// on for CSV, the line for JSON Lines.
    pub line: f64,
    /// The error code the row would have thrown, e.g. `CIDB_INVALID_SCORE`.
    pub code: String,
    /// Why, naming the field.
    pub reason: String,
}

/// What an import did.
#[napi(object, object_from_js = false)]
pub struct ImportReport {
    /// Rows committed.
    pub imported: f64,
    /// Rows rejected (all of them, even past `maxRejectsReported`).
    pub rejected: f64,
    /// The first rejects, in input order.
    pub rejects: Vec<ImportReject>,
    /// Transactions committed.
    pub batches: f64,
    /// Wall time, ms.
    pub elapsed_ms: f64,
    /// Notes about the input (e.g. ignored columns).
    pub notes: Vec<String>,
}

impl From<cidb::ImportReport> for ImportReport {
    fn from(r: cidb::ImportReport) -> Self {
        ImportReport {
            imported: r.imported as f64,
            rejected: r.rejected as f64,
            rejects: r
                .rejects
                .into_iter()
                .map(|x| ImportReject { line: x.line as f64, code: x.kind.binding().node_code.into(), reason: x.reason })
                .collect(),
            batches: r.batches as f64,
            elapsed_ms: r.elapsed.as_secs_f64() * 1e3,
            notes: r.notes,
        }
    }
}

/// `customerId` → `customer_id` when that is a column of `table`; other keys unchanged.
fn column_key(table: Table, key: String) -> String {
    if !key.bytes().any(|b| b.is_ascii_uppercase()) {
        return key;
    }
    let mut snake = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    if table.columns().iter().any(|c| c.name == snake) {
        snake
    } else {
        key
    }
}

/// Reads one record: an object becomes a JSON object with column keys; anything else (or a
/// value JSON cannot hold) is that row's reject, not the call's error.
fn read_record(v: Val, what: &str, table: Table) -> Result<Result<serde_json::Map<String, serde_json::Value>>> {
    let row = (|| {
        object(v, what)?;
        match json(v, what)? {
            Some(serde_json::Value::Object(m)) => Ok(m.into_iter().map(|(k, v)| (column_key(table, k), v)).collect()),
            _ => Err(Error::new(ErrorKind::TypeMismatch, format!("{what} must be an object"))),
        }
    })();
    // A row-level problem is reported as a reject; a napi failure stops the call.
    match row {
        Err(e) if e.kind() == ErrorKind::Internal => Err(e),
        other => Ok(other),
    }
}

fn table_arg(v: &Unknown<'_>) -> Result<Table> {
    import_table(&text(Val::of(v), "table")?)
}

impl Tenant {
    fn import_records_job(&self, table: &Unknown<'_>, records: &Unknown<'_>, options: Option<&Unknown<'_>>) -> Result<Job<ImportReport>> {
        let table = table_arg(table)?;
        let rows = list(Val::of(records), "records", |v, n| read_record(v, n, table))?;
        let opts = read_options(options)?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.import_record_results(table, rows, &opts)?.into())
        }))
    }

    fn import_file_job(
        &self,
        format: ImportFormat,
        table: &Unknown<'_>,
        path: &Unknown<'_>,
        options: Option<&Unknown<'_>>,
    ) -> Result<Job<ImportReport>> {
        let table = table_arg(table)?;
        let path = PathBuf::from(text(Val::of(path), "path")?);
        let opts = read_options(options)?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.import_file(table, &path, Some(format), &opts)?.into())
        }))
    }
}

#[napi]
impl Tenant {
    /// Imports plain objects (keys: SQL column names or their camelCase) into `table`.
    /// Bad rows are rejected with their 1-based position and the reason; the rest land in
    /// batches. Throws only when the whole import fails (unknown table, storage error).
    #[napi(ts_args_type = "table: 'customers' | 'customer_scores' | 'conversation_messages', records: Record<string, unknown>[], options?: ImportOptions | null")]
    pub fn import_records(&self, env: Env, table: Unknown<'_>, records: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<ImportReport> {
        run_sync(&env, || self.import_records_job(&table, &records, options.as_ref()))
    }

    /// Promise form of `importRecords` (the objects are read on the call).
    #[napi(
        ts_args_type = "table: 'customers' | 'customer_scores' | 'conversation_messages', records: Record<string, unknown>[], options?: ImportOptions | null",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_records_async(&self, table: Unknown<'_>, records: Unknown<'_>, options: Option<Unknown<'_>>) -> AsyncTask<Op<ImportReport>> {
        run_async(|| self.import_records_job(&table, &records, options.as_ref()))
    }

    /// Imports a CSV file with a header row into `table` (`options.delimiter` for TSV);
    /// rejects carry the line their record starts on.
    #[napi(ts_args_type = "table: 'customers' | 'customer_scores' | 'conversation_messages', path: string, options?: ImportOptions | null")]
    pub fn import_csv(&self, env: Env, table: Unknown<'_>, path: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<ImportReport> {
        run_sync(&env, || self.import_file_job(ImportFormat::Csv, &table, &path, options.as_ref()))
    }

    /// Promise form of `importCsv`.
    #[napi(
        ts_args_type = "table: 'customers' | 'customer_scores' | 'conversation_messages', path: string, options?: ImportOptions | null",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_csv_async(&self, table: Unknown<'_>, path: Unknown<'_>, options: Option<Unknown<'_>>) -> AsyncTask<Op<ImportReport>> {
        run_async(|| self.import_file_job(ImportFormat::Csv, &table, &path, options.as_ref()))
    }

    /// Imports a JSON Lines file (one object per line; blank lines skipped) into `table`;
    /// rejects carry their line.
    #[napi(ts_args_type = "table: 'customers' | 'customer_scores' | 'conversation_messages', path: string, options?: ImportOptions | null")]
    pub fn import_jsonl(&self, env: Env, table: Unknown<'_>, path: Unknown<'_>, options: Option<Unknown<'_>>) -> napi::Result<ImportReport> {
        run_sync(&env, || self.import_file_job(ImportFormat::Jsonl, &table, &path, options.as_ref()))
    }

    /// Promise form of `importJsonl`.
    #[napi(
        ts_args_type = "table: 'customers' | 'customer_scores' | 'conversation_messages', path: string, options?: ImportOptions | null",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import_jsonl_async(&self, table: Unknown<'_>, path: Unknown<'_>, options: Option<Unknown<'_>>) -> AsyncTask<Op<ImportReport>> {
        run_async(|| self.import_file_job(ImportFormat::Jsonl, &table, &path, options.as_ref()))
    }
}

/// What a backup copied.
#[napi(object, object_from_js = false)]
pub struct BackupReport {
    /// Tables copied.
    pub tables: f64,
    /// Entries copied.
    pub entries: f64,
    /// Bytes of the new data file.
    pub bytes: f64,
}

impl Engine {
    fn backup_job(&self, dest: &Unknown<'_>) -> Result<Job<BackupReport>> {
        let dest = text(Val::of(dest), "dest")?;
        if dest.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "dest is empty"));
        }
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            let r = engine.backup(&dest)?;
            Ok(BackupReport { tables: r.tables as f64, entries: r.entries as f64, bytes: r.bytes as f64 })
        }))
    }
}

#[napi]
impl Engine {
    /// Writes a consistent copy of the database into the directory `dest` (created; it must
    /// not hold a database: `CIDB_ALREADY_EXISTS`) while reads and writes go on. The copy
    /// opens like any cidb directory.
    #[napi]
    pub fn backup(&self, env: Env, #[napi(ts_arg_type = "string")] dest: Unknown<'_>) -> napi::Result<BackupReport> {
        run_sync(&env, || self.backup_job(&dest))
    }

    /// Promise form of `backup`.
    #[napi(ts_return_type = "Promise<BackupReport>")]
    pub fn backup_async(&self, #[napi(ts_arg_type = "string")] dest: Unknown<'_>) -> AsyncTask<Op<BackupReport>> {
        run_async(|| self.backup_job(&dest))
    }
}
