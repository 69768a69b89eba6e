//! Building `datetime.datetime` values through the `datetime` module's C API capsule
//! (`datetime.datetime_CAPI`), the way `_datetime`'s own C callers do.
//!
//! The limited API (abi3) offers no datetime constructor, only calling the Python type,
//! which parses a tuple by keyword rules, or `fromisoformat` of a text we format first. Both
//! cost several hundred nanoseconds, and a customer record has two timestamps. The capsule
//! itself is reachable from abi3 (`PyCapsule_Import` is in the stable ABI), and its struct
//! `PyDateTime_CAPI` has only been appended to since Python 3.7: the fields read here are the
//! first eight, unchanged from 3.7 to 3.14. We still do not trust the layout blindly: at
//! first use the capsule's `DateTimeType` must be `datetime.datetime` itself and its
//! `TimeZone_UTC` must be `datetime.timezone.utc` itself; if either differs (another
//! interpreter, a future layout), [`Capi::get`] returns `None` and the caller keeps the
//! portable `fromisoformat` path. Setting `CIDB_PORTABLE_DATETIME=1` before the first
//! timestamp is built forces that path too (the tests use it to check it gives the same
//! values); `cidb._cidb._datetime_path()` says which one this process took.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCapsule;
use std::os::raw::c_int;

/// `DateTime_FromDateAndTime(year, month, day, hour, minute, second, microsecond, tzinfo,
/// type)`: a new reference, or NULL with an exception set.
type NewDateTime = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    *mut ffi::PyObject,
    *mut ffi::PyTypeObject,
) -> *mut ffi::PyObject;

/// The leading fields of CPython's `PyDateTime_CAPI` (Include/datetime.h), in order.
#[repr(C)]
#[allow(dead_code)] // read through the pointer as a whole; only some fields are used
struct CapiPrefix {
    date_type: *mut ffi::PyTypeObject,
    datetime_type: *mut ffi::PyTypeObject,
    time_type: *mut ffi::PyTypeObject,
    delta_type: *mut ffi::PyTypeObject,
    tzinfo_type: *mut ffi::PyTypeObject,
    timezone_utc: *mut ffi::PyObject,
    date_from_date:
        unsafe extern "C" fn(c_int, c_int, c_int, *mut ffi::PyTypeObject) -> *mut ffi::PyObject,
    datetime_from_date_and_time: NewDateTime,
}

/// The checked pieces of the capsule this binding uses.
pub struct Capi {
    datetime_type: *mut ffi::PyTypeObject,
    utc: *mut ffi::PyObject,
    new_datetime: NewDateTime,
}

// SAFETY: the pointers are to immortal-for-our-purposes objects owned by the `datetime`
// module (its type, its UTC singleton, its functions), which the capsule keeps alive for the
// interpreter's life; they are only used while attached to the interpreter.
unsafe impl Send for Capi {}
unsafe impl Sync for Capi {}

static CAPI: PyOnceLock<Option<Capi>> = PyOnceLock::new();

impl Capi {
    /// The capsule's constructor, or `None` when it is not there or its layout does not
    /// match this interpreter's `datetime` module (then the caller takes the portable path).
    pub fn get(py: Python<'_>) -> Option<&'static Capi> {
        CAPI.get_or_init(py, || load(py).ok().flatten()).as_ref()
    }

    /// `datetime.datetime(year, month, day, hour, minute, second, microsecond,
    /// tzinfo=timezone.utc)`. The fields must be in range (the constructor checks them and
    /// raises `ValueError` otherwise; nothing is undefined either way).
    #[allow(clippy::too_many_arguments)]
    pub fn utc_datetime<'py>(
        &self,
        py: Python<'py>,
        year: i32,
        month: u32,
        day: u32,
        hms: [u32; 3],
        micro: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: attached to the interpreter (`py`); the function is `_datetime`'s
        // `new_datetime_ex`, which validates every field and returns a new reference or NULL
        // with an exception set, which `from_owned_ptr_or_err` turns into a `PyErr`.
        unsafe {
            let p = (self.new_datetime)(
                year,
                month as c_int,
                day as c_int,
                hms[0] as c_int,
                hms[1] as c_int,
                hms[2] as c_int,
                micro as c_int,
                self.utc,
                self.datetime_type,
            );
            Bound::from_owned_ptr_or_err(py, p)
        }
    }
}

/// Which constructor this process uses: `"capi"` or `"portable"` (a test hook).
#[pyfunction]
pub fn _datetime_path(py: Python<'_>) -> &'static str {
    if Capi::get(py).is_some() {
        "capi"
    } else {
        "portable"
    }
}

fn load(py: Python<'_>) -> PyResult<Option<Capi>> {
    if std::env::var_os("CIDB_PORTABLE_DATETIME").is_some_and(|v| v == "1") {
        return Ok(None);
    }
    let module = py.import("datetime")?;
    let datetime_type = module.getattr("datetime")?;
    let utc = module.getattr("timezone")?.getattr("utc")?;
    // SAFETY: `datetime.datetime_CAPI` holds a `PyDateTime_CAPI`, whose first fields are
    // `CapiPrefix` (see the module docs); the `datetime` module never mutates it.
    let capi: &CapiPrefix = unsafe { PyCapsule::import(py, c"datetime.datetime_CAPI")? };
    if capi.datetime_type.cast::<ffi::PyObject>() != datetime_type.as_ptr()
        || capi.timezone_utc != utc.as_ptr()
    {
        return Ok(None);
    }
    Ok(Some(Capi {
        datetime_type: capi.datetime_type,
        utc: capi.timezone_utc,
        new_datetime: capi.datetime_from_date_and_time,
    }))
}
