//! The SQL layer in Python: `Result` (rows of one statement, with DB-API style fetching and
//! columnar export to Arrow / pandas / polars), `Statement` (a prepared statement), and
//! the conversions both need: Python parameters -> [`cidb::Value`] and values -> Python.
//! `Tenant.query` / `prepare` / `explain` and `Engine.execute` are thin methods in
//! `tenant.rs` / `engine.rs` over the functions here. Execution always runs through
//! [`crate::errors::run`] (GIL released, panics caught).
//!
//! `to_arrow` builds each column's Arrow buffers (values, validity bitmap, string offsets)
//! in Rust straight from the rows and hands them to `pyarrow.Array.from_buffers`: no
//! Python object per value. Column types: all-integer -> int64, numbers -> float64, text
//! or JSON -> string (JSON as its text), all-NULL -> null; any other mix falls back to
//! `pyarrow.array` on the Python values.

use crate::callback::Unlocked;
use crate::convert::{json_any, json_to_py, timestamp, type_name};
use crate::errors::{py_err, run};
use cidb::schema::{Row, Value};
use cidb::{ErrorKind, QueryResult};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::sync::atomic::{AtomicUsize, Ordering};

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
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Real(f) => f.into_pyobject(py)?.into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Json(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(j) => json_to_py(py, &j)?,
            Err(_) => PyString::new(py, s).into_any(),
        },
    })
}

fn row_to_py<'py>(py: Python<'py>, row: &Row) -> PyResult<Bound<'py, PyTuple>> {
    let items = row
        .iter()
        .map(|v| value_to_py(py, v))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

/// The rows of one statement. Iterate it (tuples), or fetch with `fetchone`, `fetchmany`,
/// `fetchall` (which share one cursor), or export every row column-wise with `to_arrow`,
/// `to_pandas`, `to_polars` (independent of the cursor).
#[pyclass(name = "Result", module = "cidb", frozen)]
pub struct PyQueryResult {
    inner: QueryResult,
    pos: AtomicUsize,
}

impl PyQueryResult {
    pub fn new(inner: QueryResult) -> PyQueryResult {
        PyQueryResult {
            inner,
            pos: AtomicUsize::new(0),
        }
    }

    /// Claims up to `n` rows from the cursor; returns their range.
    fn take(&self, n: usize) -> std::ops::Range<usize> {
        let len = self.inner.rows.len();
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

    fn rows_to_py<'py>(
        &self,
        py: Python<'py>,
        r: std::ops::Range<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let rows = self.inner.rows[r]
            .iter()
            .map(|row| row_to_py(py, row))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }
}

#[pymethods]
impl PyQueryResult {
    /// Output column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner.columns.clone()
    }

    /// Number of rows the statement returned.
    #[getter]
    fn rowcount(&self) -> usize {
        self.inner.rows.len()
    }

    /// Execution statistics: rows_examined, rows_returned, index_scans, table_scans,
    /// joins, elapsed_ns, plan, tables, indexes, temp_btree, peak_memory_bytes.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, &self.inner.stats)
            .map_err(|e| py_err(ErrorKind::Internal, format!("cannot convert stats: {e}")))
    }

    /// The next row as a tuple, or None when none is left.
    fn fetchone<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let r = self.take(1);
        match r.is_empty() {
            true => Ok(None),
            false => row_to_py(py, &self.inner.rows[r.start]).map(Some),
        }
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
        self.inner.rows.len()
    }

    /// Every row as a `pyarrow.Table` (needs pyarrow), built column by column. INTEGER ->
    /// int64, REAL (or INTEGER mixed with REAL) -> float64, TEXT and JSON -> string (JSON
    /// as text), all NULL -> null; NULLs are preserved.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pa = py.import("pyarrow")?;
        let ncols = self.inner.columns.len();
        let rows = &self.inner.rows;
        let columns = (0..ncols)
            .map(|c| {
                let built = py.detach(|| build_column(rows, c));
                column_to_arrow(py, &pa, built, rows, c)
            })
            .collect::<PyResult<Vec<_>>>()?;
        let names = PyList::new(py, &self.inner.columns)?;
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
            self.inner.columns,
            self.inner.rows.len()
        )
    }
}

/// One column's Arrow buffers, built without Python.
enum Column {
    Null,
    Int(Vec<u8>, Vec<u8>, usize),
    Real(Vec<u8>, Vec<u8>, usize),
    /// validity, offsets (i64), data, nulls
    Str(Vec<u8>, Vec<u8>, Vec<u8>, usize),
    /// A mix Arrow has no single type for: fall back to Python values.
    Mixed,
}

fn build_column(rows: &[Row], c: usize) -> Column {
    let (mut ints, mut reals, mut texts) = (false, false, false);
    for r in rows {
        match &r[c] {
            Value::Null => {}
            Value::Int(_) => ints = true,
            Value::Real(_) => reals = true,
            Value::Text(_) | Value::Json(_) => texts = true,
        }
    }
    let n = rows.len();
    let mut validity = vec![0u8; n.div_ceil(8)];
    let mut nulls = 0;
    let mut valid = |i: usize, ok: bool, nulls: &mut usize| {
        if ok {
            validity[i / 8] |= 1 << (i % 8);
        } else {
            *nulls += 1;
        }
    };
    match (ints, reals, texts) {
        (false, false, false) => Column::Null,
        (true, false, false) => {
            let mut data = Vec::with_capacity(n * 8);
            for (i, r) in rows.iter().enumerate() {
                let v = match r[c] {
                    Value::Int(v) => v,
                    _ => 0,
                };
                valid(i, !matches!(r[c], Value::Null), &mut nulls);
                data.extend_from_slice(&v.to_le_bytes());
            }
            Column::Int(validity, data, nulls)
        }
        (_, true, false) => {
            let mut data = Vec::with_capacity(n * 8);
            for (i, r) in rows.iter().enumerate() {
                let v = match r[c] {
                    Value::Int(v) => v as f64,
                    Value::Real(v) => v,
                    _ => 0.0,
                };
                valid(i, !matches!(r[c], Value::Null), &mut nulls);
                data.extend_from_slice(&v.to_le_bytes());
            }
            Column::Real(validity, data, nulls)
        }
        (false, false, true) => {
            let mut offsets = Vec::with_capacity((n + 1) * 8);
            let mut data = Vec::new();
            offsets.extend_from_slice(&0i64.to_le_bytes());
            for (i, r) in rows.iter().enumerate() {
                match &r[c] {
                    Value::Text(s) | Value::Json(s) => {
                        data.extend_from_slice(s.as_bytes());
                        valid(i, true, &mut nulls);
                    }
                    _ => valid(i, false, &mut nulls),
                }
                offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            }
            Column::Str(validity, offsets, data, nulls)
        }
        _ => Column::Mixed,
    }
}

fn column_to_arrow<'py>(
    py: Python<'py>,
    pa: &Bound<'py, PyModule>,
    col: Column,
    rows: &[Row],
    c: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let n = rows.len();
    let buf = |b: &[u8]| pa.call_method1("py_buffer", (PyBytes::new(py, b),));
    let from_buffers = |ty: Bound<'py, PyAny>, bufs: Vec<Bound<'py, PyAny>>, nulls: usize| {
        pa.getattr("Array")?
            .call_method1("from_buffers", (ty, n, PyList::new(py, bufs)?, nulls))
    };
    match col {
        Column::Null => pa.call_method1("nulls", (n,)),
        Column::Int(v, d, nulls) => {
            from_buffers(pa.call_method0("int64")?, vec![buf(&v)?, buf(&d)?], nulls)
        }
        Column::Real(v, d, nulls) => {
            from_buffers(pa.call_method0("float64")?, vec![buf(&v)?, buf(&d)?], nulls)
        }
        Column::Str(v, o, d, nulls) => {
            // Built with 64-bit offsets (no size limit), then narrowed to `string` when it
            // fits, which is what pandas and polars expect.
            let big = from_buffers(
                pa.call_method0("large_string")?,
                vec![buf(&v)?, buf(&o)?, buf(&d)?],
                nulls,
            )?;
            if d.len() < i32::MAX as usize {
                big.call_method1("cast", (pa.call_method0("string")?,))
            } else {
                Ok(big)
            }
        }
        Column::Mixed => {
            let vals = rows
                .iter()
                .map(|r| value_to_py(py, &r[c]))
                .collect::<PyResult<Vec<_>>>()?;
            pa.call_method1("array", (PyList::new(py, vals)?,))
        }
    }
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
        run(py, || self.inner.query(&p)).map(PyQueryResult::new)
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
