//! The SQL layer in Python: `Result` (rows of one statement, with DB-API style fetching and
//! columnar export to Arrow / pandas / polars), `Statement` (a prepared statement), and
//! the conversions both need: Python parameters -> [`cidb::Value`] and values -> Python.
//! `Tenant.query` / `prepare` / `explain` and `Engine.execute` are thin methods in
//! `tenant.rs` / `engine.rs` over the functions here. Execution always runs through
//! [`crate::errors::run`] (GIL released, panics caught).
//!
//! Queries run column-wise (`Statement::query_columns`): the engine appends every result
//! row straight into Arrow-layout columns, and `to_arrow` hands those buffers to pyarrow
//! through the Arrow C Data Interface (`arrow.rs`) without a copy or a Python object per
//! value. Column types: all-integer -> int64, numbers -> float64, text or JSON -> string
//! (JSON as its text), all-NULL -> null; any other mix falls back to `pyarrow.array` on
//! the Python values.

use crate::callback::Unlocked;
use crate::convert::{json_any, json_to_py, timestamp, type_name};
use crate::errors::{py_err, run};
use crate::arrow::{column_array, PyArrowArray};
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
/// column in Arrow's layout ([`Columns`]), so `to_arrow` shares them without a copy.
#[pyclass(name = "Result", module = "cidb", frozen)]
pub struct PyQueryResult {
    inner: Arc<Columns>,
    pos: AtomicUsize,
}

impl PyQueryResult {
    pub fn new(inner: Columns) -> PyQueryResult {
        PyQueryResult {
            inner: Arc::new(inner),
            pos: AtomicUsize::new(0),
        }
    }

    /// A result from rows (DDL through `Engine.execute`).
    pub fn from_rows(r: QueryResult) -> PyQueryResult {
        let mut c = Columns::new(r.columns);
        c.extend_rows(&r.rows);
        c.stats = r.stats;
        PyQueryResult::new(c)
    }

    /// Claims up to `n` rows from the cursor; returns their range.
    fn take(&self, n: usize) -> std::ops::Range<usize> {
        let len = self.inner.rows;
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
        let rows = r
            .map(|i| row_to_py(py, &self.inner, i))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }
}

#[pymethods]
impl PyQueryResult {
    /// Output column names, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner.names.clone()
    }

    /// Number of rows the statement returned.
    #[getter]
    fn rowcount(&self) -> usize {
        self.inner.rows
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
            false => row_to_py(py, &self.inner, r.start).map(Some),
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
        self.inner.rows
    }

    /// Every row as a `pyarrow.Table` (needs pyarrow >= 14). The columns' buffers are
    /// shared with this result, not copied. INTEGER -> int64, REAL (or INTEGER mixed with
    /// REAL) -> float64, TEXT and JSON -> string (JSON as text), all NULL -> null; NULLs
    /// are preserved.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pa = py.import("pyarrow")?;
        let array = pa.getattr("array")?;
        let columns = self
            .inner
            .columns
            .iter()
            .map(|c| match column_array(&self.inner, c) {
                Some(data) => array.call1((PyArrowArray::new(data),)),
                // No single Arrow type (numbers mixed with text): let pyarrow try the values.
                None => {
                    let vals = (0..c.len())
                        .map(|i| value_to_py(py, c.get(i)))
                        .collect::<PyResult<Vec<_>>>()?;
                    array.call1((PyList::new(py, vals)?,))
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
        let names = PyList::new(py, &self.inner.names)?;
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
            self.inner.names, self.inner.rows
        )
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
        run(py, || self.inner.query_columns(&p)).map(PyQueryResult::new)
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
