//! Bulk import from Python: `import_csv` / `import_jsonl` (a file path) and
//! `import_records` (dicts, a pandas DataFrame or a pyarrow Table) into one of the three
//! stores, with the core's rules and its report (rejects with line numbers) as a dict.
//! The import runs with the GIL released; it attaches briefly every 1,000 rows to check for
//! Ctrl-C and call the `progress` callback, and, for records, once per chunk of a few
//! thousand rows to convert them (`cidb/_columnar.py` turns frames into column lists with
//! their own vectorised code; this module turns values into the core's JSON fields).

use crate::callback::{callable, Pending};
use crate::convert::{json_any, timestamp, type_name};
use crate::errors::{py_err, run};
use cidb::import::import_table;
use cidb::{Error, ErrorKind, ImportFormat, ImportOptions, ImportProgress, ImportReport, Table};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyBytes, PyDate, PyDateTime, PyDict, PyFloat, PyInt, PyIterator, PyList, PyMapping,
    PyString, PyTuple,
};
use serde_json::{Map, Number, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

/// The options every import takes, as given in Python.
pub struct Options<'py> {
    pub batch_size: i64,
    pub ignore_unknown_columns: bool,
    pub max_rejects: i64,
    pub delimiter: Option<String>,
    pub progress: Option<Bound<'py, PyAny>>,
}

fn positive(v: i64, what: &str) -> PyResult<usize> {
    match usize::try_from(v) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(py_err(
            ErrorKind::InvalidInput,
            format!("{what} is {v}; it must be 1 or more"),
        )),
    }
}

fn progress_to_py<'py>(py: Python<'py>, p: &ImportProgress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rows_read", p.rows_read)?;
    d.set_item("bytes_read", p.bytes_read)?;
    d.set_item("imported", p.imported)?;
    d.set_item("rejected", p.rejected)?;
    d.set_item("total_rows", p.total_rows)?;
    Ok(d)
}

impl Options<'_> {
    /// The core's options. The progress hook always runs: it checks for Ctrl-C, then calls
    /// the user's callback (which stops the import by returning False). An exception from
    /// either stops the import and is kept in `pending` for the caller to raise.
    fn core(&self, pending: &Arc<Pending>) -> PyResult<ImportOptions> {
        let mut o = ImportOptions {
            batch_size: positive(self.batch_size, "batch_size")?,
            max_rejects_reported: usize::try_from(self.max_rejects).map_err(|_| {
                py_err(
                    ErrorKind::InvalidInput,
                    format!("max_rejects is {}; it must be 0 or more", self.max_rejects),
                )
            })?,
            ignore_unknown_columns: self.ignore_unknown_columns,
            ..ImportOptions::default()
        };
        if let Some(d) = &self.delimiter {
            o.delimiter = match d.as_bytes() {
                [b] if b.is_ascii() => *b,
                _ => {
                    return Err(py_err(
                        ErrorKind::InvalidInput,
                        format!("delimiter is {d:?}; it must be one ASCII character"),
                    ))
                }
            };
        }
        let user = self
            .progress
            .as_ref()
            .filter(|p| !p.is_none())
            .map(|p| callable(p, "progress"))
            .transpose()?;
        let pending = pending.clone();
        o.progress = Some(Arc::new(move |p: &ImportProgress| {
            let r = Python::attach(|py| -> PyResult<bool> {
                py.check_signals()?;
                match &user {
                    Some(f) => {
                        let r = f.bind(py).call1((progress_to_py(py, p)?,))?;
                        // only an explicit False stops (None, the usual return, goes on)
                        Ok(!r.is_instance_of::<PyBool>() || r.is_truthy()?)
                    }
                    None => Ok(true),
                }
            });
            r.unwrap_or_else(|e| {
                pending.keep(e);
                false
            })
        }));
        Ok(o)
    }
}

/// The report as a dict: imported, rejected, rejects (line, kind, reason), batches,
/// elapsed_ms, notes, stopped_early.
fn report_to_py<'py>(py: Python<'py>, r: &ImportReport) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, r).map_err(|e| {
        py_err(
            ErrorKind::Internal,
            format!("cannot convert the report: {e}"),
        )
    })
}

fn table(name: &str) -> PyResult<Table> {
    import_table(name).map_err(crate::errors::to_py)
}

/// `import_csv` / `import_jsonl`: a file in `format`.
pub fn import_file<'py>(
    py: Python<'py>,
    tenant: &cidb::Tenant,
    table_name: &str,
    path: PathBuf,
    format: ImportFormat,
    opts: Options<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = table(table_name)?;
    let pending = Arc::new(Pending::default());
    let o = opts.core(&pending)?;
    let r = run(py, || tenant.import_file(t, &path, Some(format), &o));
    let report = pending.or(r)?;
    report_to_py(py, &report)
}

/// `import_records`: dicts, a DataFrame or an Arrow table.
pub fn import_records<'py>(
    py: Python<'py>,
    tenant: &cidb::Tenant,
    table_name: &str,
    rows: &Bound<'py, PyAny>,
    opts: Options<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = table(table_name)?;
    if rows.cast::<PyMapping>().is_ok()
        || rows.is_instance_of::<PyString>()
        || rows.is_instance_of::<PyBytes>()
    {
        return Err(PyTypeError::new_err(format!(
            "rows must be an iterable of dicts, a pandas DataFrame or a pyarrow Table, not {}",
            type_name(rows)
        )));
    }
    let pending = Arc::new(Pending::default());
    let o = opts.core(&pending)?;
    let mut chunks = py
        .import("cidb._columnar")?
        .call_method1("chunks", (rows,))?
        .cast_into::<PyIterator>()
        .map_err(PyErr::from)?;
    // The first chunk is read here, so a bad input (not iterable, a column named twice, an
    // unknown column of a frame) fails before anything is written.
    let (mut buf, mut done) = (VecDeque::new(), false);
    match chunks.next() {
        None => done = true,
        Some(first) => {
            let first = first?;
            check_frame_columns(t, &first, opts.ignore_unknown_columns)?;
            read_chunk(&first, &mut buf)?;
        }
    }
    let source = Rows {
        chunks: chunks.unbind(),
        buf,
        remaining: rows.len().ok(),
        pending: pending.clone(),
        done,
    };
    let r = run(py, || tenant.import_record_results(t, source, &o));
    let report = pending.or(r)?;
    report_to_py(py, &report)
}

/// A frame's columns (one header for every row, as in a CSV file) must all be known,
/// unless `ignore_unknown_columns`: otherwise every row would be rejected for the same
/// reason. Dicts are checked row by row by the core instead.
fn check_frame_columns(table: Table, chunk: &Bound<'_, PyAny>, ignore: bool) -> PyResult<()> {
    let chunk = chunk.cast::<PyTuple>()?;
    if ignore || chunk.get_item(0)?.extract::<String>()? != "columns" {
        return Ok(());
    }
    for name in chunk.get_item(1)?.extract::<Vec<String>>()? {
        let engine_assigned = table == Table::Messages && name.eq_ignore_ascii_case("id");
        if table.column_index(&name).is_none() && !engine_assigned {
            let known: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
            return Err(py_err(
                ErrorKind::UnknownColumn,
                format!(
                    "unknown column '{name}'; {} has {} (pass ignore_unknown_columns=True to skip it)",
                    table.name(),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

type Row = cidb::Result<Map<String, Value>>;

/// The rows of `import_records`, converted a chunk at a time with the GIL attached.
struct Rows {
    chunks: Py<PyIterator>,
    buf: VecDeque<Row>,
    /// Rows not yet handed out, when the input has a length (for progress totals).
    remaining: Option<usize>,
    pending: Arc<Pending>,
    done: bool,
}

impl Rows {
    fn fill(&mut self) {
        let r = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            let mut it = self.chunks.bind(py).clone();
            match it.next() {
                None => self.done = true,
                Some(chunk) => read_chunk(&chunk?, &mut self.buf)?,
            }
            Ok(())
        });
        if let Err(e) = r {
            // A Python error (the iterable raised, Ctrl-C): stop; the caller raises it.
            self.pending.keep(e);
            self.done = true;
            self.buf.clear();
        }
    }
}

impl Iterator for Rows {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        while self.buf.is_empty() && !self.done {
            self.fill();
        }
        let row = self.buf.pop_front()?;
        if let Some(n) = self.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining {
            Some(n) => (n, Some(n)),
            None => (self.buf.len(), None),
        }
    }
}

/// Appends the rows of one chunk from `cidb._columnar.chunks` to `out`.
fn read_chunk(chunk: &Bound<'_, PyAny>, out: &mut VecDeque<Row>) -> PyResult<()> {
    let chunk = chunk.cast::<PyTuple>()?;
    let kind = chunk.get_item(0)?;
    if kind.extract::<String>()? == "rows" {
        for row in chunk.get_item(1)?.cast::<PyList>()?.iter() {
            out.push_back(record(&row));
        }
        return Ok(());
    }
    let names: Vec<String> = chunk.get_item(1)?.extract()?;
    let columns = chunk.get_item(2)?;
    let columns: Vec<Bound<'_, PyList>> = columns
        .cast::<PyList>()?
        .iter()
        .map(|c| c.cast_into::<PyList>().map_err(PyErr::from))
        .collect::<PyResult<_>>()?;
    let n: usize = chunk.get_item(3)?.extract()?;
    for i in 0..n {
        let mut m = Map::with_capacity(names.len());
        let mut row = Ok(());
        for (name, col) in names.iter().zip(&columns) {
            match field(name, &col.get_item(i)?) {
                Ok(Some(v)) => {
                    m.insert(name.clone(), v);
                }
                Ok(None) => {}
                Err(e) => {
                    row = Err(e);
                    break;
                }
            }
        }
        out.push_back(row.map(|()| m));
    }
    Ok(())
}

/// One record given as a mapping.
fn record(row: &Bound<'_, PyAny>) -> Row {
    let items = if let Ok(d) = row.cast::<PyDict>() {
        d.items()
    } else if let Ok(m) = row.cast::<PyMapping>() {
        m.items()
            .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?
    } else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("a row must be a dict, not {}", type_name(row)),
        ));
    };
    let mut m = Map::with_capacity(items.len());
    for item in items.iter() {
        let (k, v) = item
            .extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()
            .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        let Ok(key) = k.cast::<PyString>() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("column names must be str, not {}", type_name(&k)),
            ));
        };
        let key = key
            .to_cow()
            .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?
            .into_owned();
        if let Some(v) = field(&key, &v)? {
            m.insert(key, v);
        }
    }
    Ok(m)
}

/// One field as the core's JSON; `None` when missing (`None`, NaN, `pandas.NA`, `NaT`).
fn field(name: &str, v: &Bound<'_, PyAny>) -> cidb::Result<Option<Value>> {
    let mismatch = |what: String| Error::new(ErrorKind::TypeMismatch, format!("{name}: {what}"));
    if let Ok(s) = v.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Some(Value::String(s.into_owned())))
            .map_err(|e| mismatch(e.to_string()));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return number(f.value(), &mismatch);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Some(Value::Bool(v.is_truthy().unwrap_or(false))));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Some(Value::from(i)));
        }
        return v
            .extract::<u64>()
            .map(|u| Some(Value::from(u)))
            .map_err(|_| mismatch(format!("integer {v} does not fit in 64 bits")));
    }
    if v.is_none() {
        return Ok(None);
    }
    let ty = type_name(v);
    if ty == "NAType" || ty == "NaTType" {
        return Ok(None);
    }
    if v.is_instance_of::<PyDateTime>() {
        return timestamp(v, name)
            .map(|ms| Some(Value::from(ms)))
            .map_err(|e| Error::new(ErrorKind::InvalidTimestamp, e.to_string()));
    }
    if v.is_instance_of::<PyDate>() {
        return Err(Error::new(
            ErrorKind::InvalidTimestamp,
            format!("{name} is a date without a time; give a datetime or int milliseconds"),
        ));
    }
    if v.is_instance_of::<PyDict>() || v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>()
    {
        return json_any(v)
            .map(Some)
            .map_err(|msg| Error::new(ErrorKind::InvalidAttributes, format!("{name}: {msg}")));
    }
    // numpy scalars, Decimal, ...: integers by __index__, other numbers by __float__.
    if v.hasattr("__index__").unwrap_or(false) {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Some(Value::from(i)));
        }
    }
    if v.hasattr("__float__").unwrap_or(false) {
        if let Ok(x) = v.extract::<f64>() {
            return number(x, &mismatch);
        }
    }
    Err(mismatch(format!("a value of type {ty} cannot be imported")))
}

fn number(x: f64, mismatch: &impl Fn(String) -> Error) -> cidb::Result<Option<Value>> {
    if x.is_nan() {
        return Ok(None);
    }
    Number::from_f64(x)
        .map(|n| Some(Value::Number(n)))
        .ok_or_else(|| mismatch(format!("{x} is not a finite number")))
}
