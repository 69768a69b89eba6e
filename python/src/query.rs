//! The SQL layer in Python: `Result` (rows of one statement, with DB-API style fetching and
//! columnar export to Arrow / pandas / polars), `Statement` (a prepared statement), and
//! the conversions both need: Python parameters -> [`cidb::Value`] and values -> Python.
//! `Tenant.query` / `prepare` / `explain` and `Engine.execute` are thin methods in
//! `tenant.rs` / `engine.rs` over the functions here. Execution always runs through
//! [`crate::errors::run`] (GIL released, panics caught).
//!
//! Queries run column-wise (`Statement::query_column_chunks`): the engine appends every
//! result row straight into Arrow-layout columns (one chunk of them per thread of a
//! parallel scan, never joined), and `to_arrow` hands those buffers to pyarrow through the
//! Arrow C Data Interface (`arrow.rs`) as chunked columns, without a copy or a Python
//! object per value. Column types: all-integer -> int64, numbers -> float64, text or JSON
//! -> string (JSON as its text), all-NULL -> null; any other mix falls back to
//! `pyarrow.array` on the Python values.

use crate::callback::Unlocked;
use crate::convert::{json_any, json_to_py, timestamp, type_name};
use crate::errors::{py_err, run};
use crate::arrow::{chunk_arrays, PyArrowArray};
use cidb::plan::{Columns, ValueRef};
use cidb::schema::Value;
use cidb::{ErrorKind, QueryResult};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Converts the `params` argument (None, or a list / tuple of values) to core values.
/// bool -> 0/1, int -> INTEGER, float -> REAL, str -> TEXT, datetime -> INTEGER ms,
/// dict / list (nested) -> JSON.
pub fn params_from_py(params: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Value>> {
    let Some(p) = params.filter(|p| !p.is_none()) else {
        return Ok(Vec::new());
    };
    if !(p.is_instance_of::<PyList>() || p.is_instance_of::<PyTuple>()) {
        return Err(py_err(
            ErrorKind::InvalidParameter,
            format!("params must be a list or tuple of values, not {}", type_name(p)),
        ));
    }
    let mut out = Vec::new();
    for (i, v) in p.try_iter()?.enumerate() {
        out.push(param(&v?, i + 1)?);
    }
    Ok(out)
}

fn param(v: &Bound<'_, PyAny>, n: usize) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Int(b.is_true() as i64));
    }
    if v.is_instance_of::<PyInt>() {
        return v.extract::<i64>().map(Value::Int).map_err(|_| {
            py_err(
                ErrorKind::InvalidParameter,
                format!("parameter {n}: integer {v} does not fit in 64 bits"),
            )
        });
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Value::Real(f.value()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::Text(s.to_cow()?.into_owned()));
    }
    if v.is_instance_of::<PyDict>() || v.is_instance_of::<PyList>() {
        let j = json_any(v).map_err(|e| {
            py_err(ErrorKind::InvalidParameter, format!("parameter {n}: {e}"))
        })?;
        return Ok(Value::Json(j.to_string()));
    }
    let dt = v.py().import("datetime")?.getattr("datetime")?;
    if v.is_instance(&dt)? {
        return Ok(Value::Int(timestamp(v, &format!("parameter {n}"))?));
    }
    Err(py_err(
        ErrorKind::InvalidParameter,
        format!(
            "parameter {n}: {} is not a SQL value (None, bool, int, float, str, datetime, dict or list)",
            type_name(v)
        ),
    ))
}

/// One value as a Python object: NULL -> None, INTEGER -> int, REAL -> float, TEXT -> str,
/// JSON -> the parsed dict / list / scalar.
pub fn value_to_py<'py>(py: Python<'py>, v: ValueRef<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        ValueRef::Null => py.None().into_bound(py),
        ValueRef::Int(i) => i.into_pyobject(py)?.into_any(),
        ValueRef::Real(f) => f.into_pyobject(py)?.into_any(),
        ValueRef::Text(s) => PyString::new(py, s).into_any(),
        ValueRef::Json(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(j) => json_to_py(py, &j)?,
            Err(_) => PyString::new(py, s).into_any(),
        },
    })
}

fn row_to_py<'py>(py: Python<'py>, cols: &Columns, i: usize) -> PyResult<Bound<'py, PyTuple>> {
    let items = cols
        .columns
        .iter()
        .map(|c| value_to_py(py, c.get(i)))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

/// The rows of one statement. Iterate it (tuples), or fetch with `fetchone`, `fetchmany`,
/// `fetchall` (which share one cursor), or export every row column-wise with `to_arrow`,
/// `to_pandas`, `to_polars` (independent of the cursor). The rows are held column by
/// column in Arrow's layout ([`Columns`]), so `to_arrow` shares them without a copy: in
/// one chunk, or in one chunk per thread of a parallel scan (never joined; rows are
/// numbered across the chunks in order).
#[pyclass(name = "Result", module = "cidb", frozen)]
pub struct PyQueryResult {
    /// At least one chunk; the first holds the names and statistics.
    chunks: Vec<Arc<Columns>>,
    /// The row number each chunk starts at, then the total.
    starts: Vec<usize>,
    pos: AtomicUsize,
}

impl PyQueryResult {
    /// A result from the chunks of `Statement::query_column_chunks` (in order).
    pub fn new(chunks: Vec<Columns>) -> PyQueryResult {
        let mut chunks: Vec<Arc<Columns>> = chunks.into_iter().map(Arc::new).collect();
        if chunks.is_empty() {
            chunks.push(Arc::new(Columns::default()));
        }
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        let mut n = 0;
        starts.push(0);
        for c in &chunks {
            n += c.rows;
            starts.push(n);
        }
        PyQueryResult {
            chunks,
            starts,
            pos: AtomicUsize::new(0),
        }
    }

    /// A result from rows (DDL through `Engine.execute`).
    pub fn from_rows(r: QueryResult) -> PyQueryResult {
        let mut c = Columns::new(r.columns);
        c.extend_rows(&r.rows);
        c.stats = r.stats;
        PyQueryResult::new(vec![c])
    }

    fn head(&self) -> &Columns {
        &self.chunks[0]
    }

    fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    /// Claims up to `n` rows from the cursor; returns their range.
    fn take(&self, n: usize) -> std::ops::Range<usize> {
        let len = self.len();
        let mut start = self.pos.load(Ordering::Relaxed);
        loop {
            let end = start.saturating_add(n).min(len);
            match self
                .pos
                .compare_exchange(start, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return start..end,
                Err(now) => start = now,
            }
        }
    }

    /// Rows `r` (within `0..len()`) as tuples, chunk after chunk.
    fn rows_to_py<'py>(
        &self,
        py: Python<'py>,
        r: std::ops::Range<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut rows = Vec::with_capacity(r.len());
        for (k, c) in self.chunks.iter().enumerate() {
            let (s, e) = (self.starts[k], self.starts[k + 1]);
            for i in r.start.max(s)..r.end.min(e) {
                rows.push(row_to_py(py, c, i - s)?);
            }
        }
        PyList::new(py, rows)
    }

    /// Every value of column `col`, in order, as Python objects.
    fn column_values<'py>(&self, py: Python<'py>, col: usize) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let mut out = Vec::with_capacity(self.len());
        for c in &self.chunks {
            if let Some(c) = c.columns.get(col) {
                for i in 0..c.len() {
                    out.push(value_to_py(py, c.get(i))?);
                }
            }
        }
        Ok(out)
    }
}

#[pymethods]
impl PyQueryResult {
    /// Output column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.head().names.clone()
    }

    /// Number of rows the statement returned.
    #[getter]
    fn rowcount(&self) -> usize {
        self.len()
    }

    /// Execution statistics: rows_examined, rows_returned, index_scans, table_scans,
    /// joins, elapsed_ns, plan, tables, indexes, temp_btree, peak_memory_bytes.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, &self.head().stats)
            .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert stats: {e}")))
    }

    /// The next row as a tuple, or None when none is left.
    fn fetchone<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let r = self.take(1);
        if r.is_empty() {
            return Ok(None);
        }
        // The last chunk starting at or before the row (an empty chunk starts where the
        // next one does, so this is never an empty one).
        let k = self.starts.partition_point(|&s| s <= r.start) - 1;
        row_to_py(py, &self.chunks[k], r.start - self.starts[k]).map(Some)
    }

    /// Up to `size` next rows as a list of tuples (empty when none is left).
    #[pyo3(signature = (size = 1))]
    fn fetchmany<'py>(&self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyList>> {
        if size < 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "size must be >= 0, not {size}"
            )));
        }
        let r = self.take(size as usize);
        self.rows_to_py(py, r)
    }

    /// Every remaining row as a list of tuples.
    fn fetchall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let r = self.take(usize::MAX);
        self.rows_to_py(py, r)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.fetchone(py)
    }

    fn __len__(&self) -> usize {
        self.len()
    }

    /// Every row as a `pyarrow.Table` (needs pyarrow >= 14). The columns' buffers are
    /// shared with this result, not copied. INTEGER -> int64, REAL (or INTEGER mixed with
    /// REAL) -> float64, TEXT and JSON -> string (JSON as text), all NULL -> null; NULLs
    /// are preserved. A result of a parallel scan gives chunked columns (one chunk per
    /// scan thread), in row order.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pa = py.import("pyarrow")?;
        let array = pa.getattr("array")?;
        let chunked = pa.getattr("chunked_array")?;
        let columns = (0..self.head().names.len())
            .map(|j| {
                let arrays = match chunk_arrays(&self.chunks, j) {
                    Some(parts) => parts
                        .into_iter()
                        .map(|data| array.call1((PyArrowArray::new(data),)))
                        .collect::<PyResult<Vec<_>>>()?,
                    // No single Arrow type (numbers mixed with text): let pyarrow try the
                    // values, all chunks' together.
                    None => vec![array.call1((PyList::new(py, self.column_values(py, j)?)?,))?],
                };
                chunked.call1((PyList::new(py, arrays)?,))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let names = PyList::new(py, &self.head().names)?;
        pa.getattr("Table")?
            .call_method1("from_arrays", (PyList::new(py, columns)?, names))
    }

    /// Every row as a `pandas.DataFrame`, through `to_arrow()` (needs pandas and pyarrow).
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_arrow(py)?.call_method0("to_pandas")
    }

    /// Every row as a `polars.DataFrame`, through `to_arrow()` (needs polars and pyarrow).
    fn to_polars<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pl = py.import("polars")?;
        pl.call_method1("from_arrow", (self.to_arrow(py)?,))
    }

    fn __repr__(&self) -> String {
        format!(
            "<cidb.Result columns={:?} rows={}>",
            self.head().names,
            self.len()
        )
    }
}

/// A result made of the given chunks of rows, as a parallel scan would return them
/// (`chunks`: lists of row tuples, values as query parameters take them). Private; for
/// tests of chunked results (types that differ between chunks, fetching across chunks).
#[pyfunction]
pub fn _chunked_result<'py>(
    columns: Vec<String>,
    chunks: Vec<Vec<Bound<'py, PyTuple>>>,
) -> PyResult<PyQueryResult> {
    let mut out = Vec::with_capacity(chunks.len());
    for rows in chunks {
        let mut c = Columns::new(columns.clone());
        for r in rows {
            if r.len() != columns.len() {
                return Err(py_err(
                    ErrorKind::InvalidInput,
                    format!("a row has {} values; {} columns", r.len(), columns.len()),
                ));
            }
            let vals = r
                .iter()
                .enumerate()
                .map(|(i, v)| param(&v, i + 1))
                .collect::<PyResult<Vec<_>>>()?;
            c.push_row(vals.iter().map(ValueRef::from));
        }
        out.push(c);
    }
    Ok(PyQueryResult::new(out))
}

/// A prepared statement (from `Tenant.prepare`): parsed and bound once, planned once per
/// catalog version. Run it with `query(params)`. Safe to share between threads.
#[pyclass(name = "Statement", module = "cidb", frozen)]
pub struct PyStatement {
    inner: Unlocked<cidb::Statement>,
}

impl PyStatement {
    pub fn new(inner: cidb::Statement) -> PyStatement {
        PyStatement {
            inner: Unlocked::new(inner),
        }
    }
}

#[pymethods]
impl PyStatement {
    /// Runs the statement with `params` (a list or tuple, one value per `?`).
    #[pyo3(signature = (params = None))]
    fn query(&self, py: Python<'_>, params: Option<&Bound<'_, PyAny>>) -> PyResult<PyQueryResult> {
        let p = params_from_py(params)?;
        run(py, || self.inner.query_column_chunks(&p)).map(PyQueryResult::new)
    }

    /// Number of `?` parameters.
    #[getter]
    fn param_count(&self) -> usize {
        self.inner.param_count()
    }

    /// Output column names.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner.columns().to_vec()
    }

    /// The SQL text.
    #[getter]
    fn sql(&self) -> &str {
        self.inner.sql()
    }

    fn __repr__(&self) -> String {
        format!("<cidb.Statement {:?}>", self.inner.sql())
    }
}
