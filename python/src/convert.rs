//! Conversions of single values between Python and cidb: timestamps (int milliseconds or
//! `datetime` in; timezone-aware UTC `datetime` out), JSON objects (`dict` <->
//! `serde_json::Value`), text and numbers, with the error a Python user expects for each
//! wrong input: `TypeError` for a value of the wrong Python type, the cidb error of the rule
//! for a value of the right type that breaks a rule. Record-level conversion lives in
//! `records.rs`; this module knows no record.

use crate::errors::py_err;
use crate::pydatetime::Capi;
use cidb::{ErrorKind, Millis};
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyDate, PyDateTime, PyDelta, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
    PyTzInfo,
};
use serde_json::{Map, Number, Value};
use std::time::Duration;

/// Deepest nesting of dicts and lists accepted in `attributes` / `metadata`, counting the
/// top-level dict as 1: the core's rule (its JSON parser stops at 128 levels, so deeper
/// values could be written but never read back). Checking it here, while converting, also
/// keeps a self-referencing dict from recursing forever.
pub const MAX_JSON_DEPTH: usize = cidb::model::MAX_JSON_DEPTH;

/// The Python type name of `v`, for messages.
pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn type_error(what: &str, expected: &str, v: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, not {}", type_name(v)))
}

/// A `str` value; anything else is a `TypeError` naming `what`.
pub fn text(v: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(type_error(what, "str", v)),
    }
}

/// A real number (`float`, `int` or anything with `__float__`, but not `bool` or `str`).
pub fn real(v: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    if v.is_instance_of::<PyBool>() || v.is_instance_of::<PyString>() {
        return Err(type_error(what, "a float", v));
    }
    v.extract::<f64>()
        .map_err(|_| type_error(what, "a float", v))
}

/// Seconds from an `int`, a `float` or a `timedelta` (not a `bool` or `str`: `TypeError`).
/// An `int` too large for a float is `None` (the caller names the rule it breaks).
fn seconds(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<f64>> {
    const EXPECTED: &str = "a number of seconds (int or float) or a timedelta";
    if v.is_instance_of::<PyDelta>() {
        return Ok(Some(v.call_method0("total_seconds")?.extract::<f64>()?));
    }
    if v.is_instance_of::<PyBool>() || v.is_instance_of::<PyString>() {
        return Err(type_error(what, EXPECTED, v));
    }
    match v.extract::<f64>() {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_instance_of::<PyOverflowError>(v.py()) => Ok(None),
        Err(_) => Err(type_error(what, EXPECTED, v)),
    }
}

/// A time-to-live: seconds (`int` / `float`) or a `timedelta`, greater than zero and finite
/// (`InvalidTtlError` otherwise).
pub fn ttl(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    let bad = |shown: String, why: &str| {
        py_err(ErrorKind::InvalidTtl, format!("{what} is {shown}; {why}"))
    };
    let s = seconds(v, what)?.ok_or_else(|| bad(format!("{v} s"), "it is too large"))?;
    if s.is_nan() || s <= 0.0 {
        return Err(bad(format!("{s} s"), "it must be greater than zero"));
    }
    Duration::try_from_secs_f64(s).map_err(|_| bad(format!("{s} s"), "it is too large"))
}

/// An optional TTL: `None` keeps the default.
pub fn opt_ttl(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Duration>> {
    match v {
        Some(v) if !v.is_none() => ttl(v, what).map(Some),
        _ => Ok(None),
    }
}

/// A wait: `None` (forever), or seconds / `timedelta` of zero or more
/// (`InvalidInputError` for a negative or NaN one).
pub fn timeout(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let s = seconds(v, "timeout")?.unwrap_or(f64::INFINITY);
    if s.is_nan() || s < 0.0 {
        return Err(py_err(
            ErrorKind::InvalidInput,
            format!("timeout is {s} s; it must be zero or more (None waits forever)"),
        ));
    }
    Ok(Some(
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX),
    ))
}

/// Milliseconds since the epoch from an `int` (ms) or a `datetime` (naive = UTC, aware is
/// converted). A `float`, a `date` or a `bool` is a `TypeError` (ambiguous units or no
/// time of day); an `int` beyond 64 bits is `InvalidTimestampError`. The range rule itself
/// (0 ..= year 9999) is checked by the engine on writes.
pub fn timestamp(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Millis> {
    const EXPECTED: &str = "an int (milliseconds since the epoch) or a datetime";
    if v.is_instance_of::<PyBool>() || v.is_instance_of::<PyFloat>() {
        return Err(type_error(what, EXPECTED, v));
    }
    if v.is_instance_of::<PyDateTime>() {
        return datetime_millis(v, what);
    }
    if v.is_instance_of::<PyDate>() {
        return Err(PyTypeError::new_err(format!(
            "{what} is a date without a time; pass a datetime or int milliseconds"
        )));
    }
    match v.extract::<i64>() {
        Ok(ms) => Ok(ms),
        Err(e) if e.is_instance_of::<PyOverflowError>(v.py()) => Err(py_err(
            ErrorKind::InvalidTimestamp,
            format!(
                "{what} = {} is out of range (0 ..= {} ms since the epoch)",
                v,
                cidb::model::time::MAX_TIMESTAMP
            ),
        )),
        Err(_) => Err(type_error(what, EXPECTED, v)),
    }
}

struct TimeConstants {
    epoch_naive: Py<PyAny>,
    epoch_utc: Py<PyAny>,
    one_ms: Py<PyAny>,
}

static TIME: PyOnceLock<TimeConstants> = PyOnceLock::new();

fn time_constants(py: Python<'_>) -> PyResult<&TimeConstants> {
    TIME.get_or_try_init(py, || {
        let utc = PyTzInfo::utc(py)?.to_owned();
        Ok::<_, PyErr>(TimeConstants {
            epoch_naive: PyDateTime::new(py, 1970, 1, 1, 0, 0, 0, 0, None)?
                .into_any()
                .unbind(),
            epoch_utc: PyDateTime::new(py, 1970, 1, 1, 0, 0, 0, 0, Some(&utc))?
                .into_any()
                .unbind(),
            one_ms: PyDelta::new(py, 0, 0, 1000, false)?.into_any().unbind(),
        })
    })
}

/// Exact: `(dt - epoch) // 1 ms`, with the naive epoch for naive datetimes (read as UTC)
/// and the aware one otherwise (Python applies the offset). Works for subclasses such as
/// `pandas.Timestamp`.
fn datetime_millis(dt: &Bound<'_, PyAny>, what: &str) -> PyResult<Millis> {
    let py = dt.py();
    let k = time_constants(py)?;
    let epoch = if dt.call_method0("utcoffset")?.is_none() {
        &k.epoch_naive
    } else {
        &k.epoch_utc
    };
    let ms = dt.sub(epoch.bind(py))?.floor_div(k.one_ms.bind(py))?;
    ms.extract::<i64>().map_err(|_| {
        py_err(
            ErrorKind::InvalidTimestamp,
            format!("{what} = {dt} is out of range"),
        )
    })
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

static FROM_ISO: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `datetime.datetime.fromisoformat`. Building a datetime from its ISO text is about three
/// times cheaper than calling the constructor, which is all the limited API (abi3) offers:
/// a tuple of eight ints parsed by keyword rules. The result is the same value, with
/// `datetime.timezone.utc` itself as its tzinfo (Python returns that singleton for +00:00).
fn from_iso(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    FROM_ISO.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("datetime")?.getattr("datetime")?.getattr("fromisoformat")?.unbind())
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmm+00:00` (year 1..=9999).
fn iso_utc(year: u32, month: u32, day: u32, hms: [u32; 3], milli: u32) -> [u8; 29] {
    let mut b = *b"0000-00-00T00:00:00.000+00:00";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, hms[0]);
    put(14, 2, hms[1]);
    put(17, 2, hms[2]);
    put(20, 3, milli);
    b
}

/// A timezone-aware UTC `datetime` for `ms` milliseconds since the epoch.
pub fn datetime<'py>(py: Python<'py>, ms: Millis) -> PyResult<Bound<'py, PyAny>> {
    let (year, month, day) = civil_from_days(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    if (1..=9999).contains(&year) {
        if let Some(capi) = Capi::get(py) {
            let hms = [h as u32, m as u32, s as u32];
            return capi.utc_datetime(py, year as i32, month, day, hms, (milli * 1000) as u32);
        }
        let text = iso_utc(year as u32, month, day, [h as u32, m as u32, s as u32], milli as u32);
        // Valid ASCII by construction (digits and separators only).
        let text = std::str::from_utf8(&text).unwrap_or_default();
        return from_iso(py)?.bind(py).call1((PyString::new(py, text),));
    }
    let year = i32::try_from(year).map_err(|_| {
        py_err(
            ErrorKind::InvalidTimestamp,
            format!("{ms} ms is out of range"),
        )
    })?;
    let utc = PyTzInfo::utc(py)?;
    let dt = PyDateTime::new(
        py,
        year,
        month as u8,
        day as u8,
        h as u8,
        m as u8,
        s as u8,
        (milli * 1000) as u32,
        Some(&utc),
    )?;
    Ok(dt.into_any())
}

/// A `dict` as a JSON object for `what` (`attributes`, `metadata`). Anything but a dict is
/// `InvalidAttributesError`, as is a value inside it JSON cannot hold (a set, NaN, an int
/// beyond 64 bits, a non-str key, nesting deeper than [`MAX_JSON_DEPTH`]).
pub fn json_object(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    if !v.is_instance_of::<PyDict>() {
        return Err(py_err(
            ErrorKind::InvalidAttributes,
            format!(
                "{what} must be a dict (a JSON object), not {}",
                type_name(v)
            ),
        ));
    }
    let mut path = String::new();
    json_value(v, 0, &mut path)
        .map_err(|msg| py_err(ErrorKind::InvalidAttributes, format!("{what}{path}: {msg}")))
}

/// Any JSON value (for a record field that is not an object): the rules of [`json_object`]
/// without the "must be a dict" one. The error names where inside the value it failed.
pub fn json_any(v: &Bound<'_, PyAny>) -> Result<Value, String> {
    let mut path = String::new();
    json_value(v, 0, &mut path).map_err(|msg| {
        if path.is_empty() {
            msg
        } else {
            format!("{path}: {msg}")
        }
    })
}

/// Converts one value; on error `path` holds where (`['a'][2]`) and the message says what.
fn json_value(v: &Bound<'_, PyAny>, depth: usize, path: &mut String) -> Result<Value, String> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        return v
            .extract::<u64>()
            .map(Value::from)
            .map_err(|_| format!("integer {v} does not fit in 64 bits"));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        return Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| format!("{x} is not a JSON number"));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Value::String(s.into_owned()))
            .map_err(|e| e.to_string());
    }
    let container = v.is_instance_of::<PyDict>()
        || v.is_instance_of::<PyList>()
        || v.is_instance_of::<PyTuple>();
    if container && depth >= MAX_JSON_DEPTH {
        return Err(format!("nested more than {MAX_JSON_DEPTH} levels deep"));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, item) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_cow().map_err(|e| e.to_string())?.into_owned(),
                Err(_) => {
                    return Err(format!(
                        "key {k} is a {}; JSON object keys must be str",
                        type_name(&k)
                    ))
                }
            };
            let value = json_value(&item, depth + 1, path)
                .inspect_err(|_| path.insert_str(0, &format!("['{key}']")))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in v.try_iter().map_err(|e| e.to_string())?.enumerate() {
            let item = item.map_err(|e| e.to_string())?;
            out.push(
                json_value(&item, depth + 1, path)
                    .inspect_err(|_| path.insert_str(0, &format!("[{i}]")))?,
            );
        }
        return Ok(Value::Array(out));
    }
    Err(format!(
        "a value of type {} is not JSON (use dict, list, str, int, float, bool or None)",
        type_name(v)
    ))
}

/// A JSON value as plain Python data (`dict`, `list`, `str`, `int`, `float`, `bool`, `None`).
pub fn json_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
