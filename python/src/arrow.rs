//! Arrow export of a result's columns through the Arrow C Data Interface (the PyCapsule
//! protocol, `__arrow_c_array__`): each [`cidb::plan::Column`] becomes an Arrow array whose
//! buffers *are* the column's vectors (shared with the result through an `Arc`, never
//! copied), handed to pyarrow as a pair of capsules. Column types: INTEGER -> int64, REAL
//! -> float64, TEXT and JSON -> string (large_string past 2 GiB; JSON as its text), all
//! NULL -> null. A column mixing INTEGER and REAL becomes float64 and one mixing TEXT and
//! JSON becomes string (both built here, copied); any other mix has no Arrow type and is
//! left to `pyarrow.array` on the Python values (see `query.rs`).
//!
//! A result of a parallel scan comes in chunks (one per scan thread, see
//! `Statement::query_column_chunks`), exported as the chunks of a chunked array, each
//! sharing its own chunk's buffers. A column's chunks can differ in type (all NULL in one,
//! INTEGER in another, INTEGER here and REAL there): [`chunk_arrays`] gives them the type
//! the joined column would have, converting only the chunks that need it.

use arrow_buffer::Buffer;
use arrow_data::ffi::FFI_ArrowArray;
use arrow_data::ArrayData;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::DataType;
use cidb::plan::{Column, ColumnData, Columns, Offsets};
use cidb::Value;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};
use std::ptr::NonNull;
use std::sync::Arc;

/// A buffer over `bytes`, which live inside `owner` (zero copy).
fn shared<T: Copy>(owner: &Arc<Columns>, values: &[T]) -> Buffer {
    let len = std::mem::size_of_val(values);
    let ptr = NonNull::new(values.as_ptr() as *mut u8).unwrap_or(NonNull::dangling());
    // SAFETY: `values` is borrowed from `owner`'s columns, which are never mutated after
    // the result is built and stay alive as long as the Arc the buffer holds.
    unsafe { Buffer::from_custom_allocation(ptr, len, owner.clone()) }
}

fn bitmap(owner: &Arc<Columns>, c: &Column) -> Option<Buffer> {
    c.validity().map(|v| shared(owner, v))
}

/// Text buffers built here (for mixed TEXT/JSON columns), with a validity bitmap.
fn owned_text(vals: &[Value]) -> (Vec<i64>, Vec<u8>, Vec<u8>, usize) {
    let mut offsets = Vec::with_capacity(vals.len() + 1);
    let mut data = Vec::new();
    let mut valid = vec![0u8; vals.len().div_ceil(8)];
    let mut nulls = 0;
    offsets.push(0i64);
    for (i, v) in vals.iter().enumerate() {
        match v.as_str() {
            Some(s) => {
                data.extend_from_slice(s.as_bytes());
                valid[i / 8] |= 1 << (i % 8);
            }
            None => nulls += 1,
        }
        offsets.push(data.len() as i64);
    }
    (offsets, data, valid, nulls)
}

/// The Arrow array of column `c` of `owner`, or None when its values have no Arrow type.
pub fn column_array(owner: &Arc<Columns>, c: &Column) -> Option<ArrayData> {
    let n = c.len();
    let typed = |ty: DataType, bufs: Vec<Buffer>, nulls: Option<Buffer>| {
        let b = ArrayData::builder(ty)
            .len(n)
            .buffers(bufs)
            .null_bit_buffer(nulls)
            .null_count(c.null_count());
        // SAFETY: `Column` builds these buffers itself: values have `len` entries, text
        // offsets `len + 1` non-decreasing entries within the data, which are the bytes
        // of whole `&str`s (UTF-8), and the bitmap has at least `len` bits whose zero
        // bits number `null_count`. Validating would re-read every text byte.
        unsafe { b.build_unchecked() }
    };
    Some(match c.data() {
        ColumnData::Null => ArrayData::new_null(&DataType::Null, n),
        ColumnData::Int(v) => typed(DataType::Int64, vec![shared(owner, v)], bitmap(owner, c)),
        ColumnData::Real(v) => typed(DataType::Float64, vec![shared(owner, v)], bitmap(owner, c)),
        ColumnData::Text { offsets, data, .. } => {
            let (ty, off) = match offsets {
                Offsets::Small(o) => (DataType::Utf8, shared(owner, o)),
                Offsets::Large(o) => (DataType::LargeUtf8, shared(owner, o)),
            };
            typed(ty, vec![off, shared(owner, data)], bitmap(owner, c))
        }
        ColumnData::Mixed(vals) => {
            let numbers = vals.iter().all(|v| matches!(v, Value::Null | Value::Int(_) | Value::Real(_)));
            let texts = vals.iter().all(|v| matches!(v, Value::Null | Value::Text(_) | Value::Json(_)));
            let nulls = vals.iter().filter(|v| v.is_null()).count();
            let b = ArrayData::builder(DataType::Null).len(n).null_count(nulls);
            let b = if numbers {
                let mut valid = vec![0u8; n.div_ceil(8)];
                let data: Vec<f64> = vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if !v.is_null() {
                            valid[i / 8] |= 1 << (i % 8);
                        }
                        v.as_f64().unwrap_or(0.0)
                    })
                    .collect();
                b.data_type(DataType::Float64)
                    .buffers(vec![Buffer::from_vec(data)])
                    .null_bit_buffer(Some(Buffer::from_vec(valid)))
            } else if texts {
                let (offsets, data, valid, _) = owned_text(vals);
                let (ty, offsets) = match data.len() <= i32::MAX as usize {
                    true => {
                        let small: Vec<i32> = offsets.iter().map(|&o| o as i32).collect();
                        (DataType::Utf8, Buffer::from_vec(small))
                    }
                    false => (DataType::LargeUtf8, Buffer::from_vec(offsets)),
                };
                b.data_type(ty)
                    .buffers(vec![offsets, Buffer::from_vec(data)])
                    .null_bit_buffer(Some(Buffer::from_vec(valid)))
            } else {
                return None;
            };
            // Built above to the same invariants `typed` relies on.
            unsafe { b.build_unchecked() }
        }
    })
}

/// The Arrow arrays of column `col` of every chunk, all of one type: the type of the
/// column the chunks would make when joined (NULL-only chunks take the others' type,
/// INTEGER with REAL makes float64, string with large_string makes large_string). None
/// when that column would have no Arrow type (numbers mixed with text, in one chunk or
/// across chunks).
pub fn chunk_arrays(chunks: &[Arc<Columns>], col: usize) -> Option<Vec<ArrayData>> {
    let parts = chunks
        .iter()
        .map(|c| column_array(c, c.columns.get(col)?))
        .collect::<Option<Vec<_>>>()?;
    let mut ty = DataType::Null;
    for p in &parts {
        ty = match (ty, p.data_type()) {
            (t, DataType::Null) => t,
            (DataType::Null, t) => t.clone(),
            (t, u) if t == *u => t,
            (DataType::Int64 | DataType::Float64, DataType::Int64 | DataType::Float64) => {
                DataType::Float64
            }
            (DataType::Utf8 | DataType::LargeUtf8, DataType::Utf8 | DataType::LargeUtf8) => {
                DataType::LargeUtf8
            }
            _ => return None,
        };
    }
    Some(parts.into_iter().map(|p| widen(p, &ty)).collect())
}

/// `p` as an array of type `ty`, which [`chunk_arrays`] chose so that it holds every value
/// of `p`: the same array, all NULLs of `ty`, int64 as float64 (`i as f64`, what a
/// joined mixed column does), or utf8 with 64-bit offsets. Validity buffers are shared.
fn widen(p: ArrayData, ty: &DataType) -> ArrayData {
    if p.data_type() == ty {
        return p;
    }
    let b = ArrayData::builder(ty.clone())
        .len(p.len())
        .nulls(p.nulls().cloned());
    let b = match (p.data_type(), ty) {
        (DataType::Int64, DataType::Float64) => {
            let v: Vec<f64> = p.buffer::<i64>(0)[..p.len()]
                .iter()
                .map(|&i| i as f64)
                .collect();
            b.buffers(vec![Buffer::from_vec(v)])
        }
        (DataType::Utf8, DataType::LargeUtf8) => {
            let o: Vec<i64> = p.buffer::<i32>(0)[..p.len() + 1]
                .iter()
                .map(|&o| o as i64)
                .collect();
            b.buffers(vec![Buffer::from_vec(o), p.buffers()[1].clone()])
        }
        // NULL-only (the only other pair `chunk_arrays` can choose).
        _ => return ArrayData::new_null(ty, p.len()),
    };
    // SAFETY: the same values and validity as `p` (built to `column_array`'s
    // invariants), in a wider type: one float per integer, or the same offsets widened.
    unsafe { b.build_unchecked() }
}

/// One Arrow array, exported to whoever asks through `__arrow_c_array__` (pyarrow's
/// `pyarrow.array(obj)`, polars, ...). Private: `Result.to_arrow` makes and consumes it.
#[pyclass(name = "_ArrowArray", module = "cidb", frozen)]
pub struct PyArrowArray {
    data: ArrayData,
}

impl PyArrowArray {
    pub fn new(data: ArrayData) -> PyArrowArray {
        PyArrowArray { data }
    }
}

#[pymethods]
impl PyArrowArray {
    /// The (schema, array) capsule pair of the Arrow PyCapsule interface. The requested
    /// schema is ignored (the protocol allows it): the array comes in its own type.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema;
        let schema = FFI_ArrowSchema::try_from(self.data.data_type()).map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("cannot export Arrow type: {e}"))
        })?;
        let array = FFI_ArrowArray::new(&self.data);
        let schema = PyCapsule::new_with_value(py, schema, c"arrow_schema")?;
        let array = PyCapsule::new_with_value(py, array, c"arrow_array")?;
        PyTuple::new(py, [schema, array])
    }
}
