//! Reading JavaScript arguments into Rust values, with errors that name the argument or
//! field (`customers[3].createdAt must be a number, bigint or Date, got string`). A value of
//! the wrong JS type is `ErrorKind::TypeMismatch` (thrown as `TypeError`); a value of the
//! right type that breaks a rule gets the rule's kind (`InvalidTimestamp`, `InvalidInput`,
//! `InvalidAttributes`). `undefined` and `null` both mean "absent". This module owns every
//! `unsafe` napi read in the crate and never keeps a JS value beyond the call.

use cidb::{Error, ErrorKind, Millis};
use napi::bindgen_prelude::{sys, JsValue, Unknown};
use std::ffi::CString;
use std::ptr;

type Result<T> = cidb::Result<T>;

/// Deepest accepted JSON nesting (serde_json's own recursion limit).
const MAX_JSON_DEPTH: usize = 128;
/// Most JSON values one conversion may visit (guards against shared-object DAG blow-up).
const MAX_JSON_NODES: usize = 1_000_000;

/// A borrowed JS value of the current call.
#[derive(Clone, Copy)]
pub struct Val {
    env: sys::napi_env,
    raw: sys::napi_value,
}

/// The JS type of a value, as `typeof` sees it plus `null`, arrays and Dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Undefined,
    Null,
    Boolean,
    Number,
    String,
    Symbol,
    Object,
    Array,
    Date,
    Function,
    BigInt,
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Undefined => "undefined",
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Symbol => "symbol",
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::Date => "Date",
            Kind::Function => "function",
            Kind::BigInt => "bigint",
            Kind::Other => "an unsupported value",
        }
    }
}

fn napi_failed(what: &str) -> Error {
    Error::new(ErrorKind::Internal, format!("a napi call failed while reading {what}"))
}

/// The error for a value of the wrong JS type.
pub fn type_error(what: &str, expected: &str, got: Kind) -> Error {
    Error::new(ErrorKind::TypeMismatch, format!("{what} must be {expected}, got {}", got.name()))
}

impl Val {
    /// Wraps an argument.
    pub fn of(u: &Unknown<'_>) -> Val {
        let v = u.value();
        Val { env: v.env, raw: v.value }
    }

    /// The value's kind.
    pub fn kind(&self) -> Kind {
        let mut t = sys::ValueType::napi_undefined;
        // SAFETY: env/raw belong to the current call on the JS thread.
        if unsafe { sys::napi_typeof(self.env, self.raw, &mut t) } != sys::Status::napi_ok {
            return Kind::Other;
        }
        match t {
            sys::ValueType::napi_undefined => Kind::Undefined,
            sys::ValueType::napi_null => Kind::Null,
            sys::ValueType::napi_boolean => Kind::Boolean,
            sys::ValueType::napi_number => Kind::Number,
            sys::ValueType::napi_string => Kind::String,
            sys::ValueType::napi_symbol => Kind::Symbol,
            sys::ValueType::napi_function => Kind::Function,
            sys::ValueType::napi_bigint => Kind::BigInt,
            sys::ValueType::napi_object => {
                let (mut arr, mut date) = (false, false);
                // SAFETY: as above.
                unsafe {
                    sys::napi_is_array(self.env, self.raw, &mut arr);
                    sys::napi_is_date(self.env, self.raw, &mut date);
                }
                if arr {
                    Kind::Array
                } else if date {
                    Kind::Date
                } else {
                    Kind::Object
                }
            }
            _ => Kind::Other,
        }
    }

    /// The raw value, for napi calls outside this module (on the same call's thread).
    pub fn raw(&self) -> sys::napi_value {
        self.raw
    }

    /// The raw environment of the call.
    pub fn env(&self) -> sys::napi_env {
        self.env
    }

    /// True for `undefined` and `null`: an absent value.
    pub fn is_absent(&self) -> bool {
        matches!(self.kind(), Kind::Undefined | Kind::Null)
    }

    /// Reads a property of an object value (`undefined` when missing). A getter that throws
    /// is reported as an error (the exception is cleared, not left pending).
    pub fn get(&self, key: &str, what: &str) -> Result<Val> {
        let key = CString::new(key).map_err(|_| napi_failed(what))?;
        let mut out = ptr::null_mut();
        // SAFETY: self is an object of the current call; key is NUL-terminated.
        let status = unsafe { sys::napi_get_named_property(self.env, self.raw, key.as_ptr(), &mut out) };
        if status != sys::Status::napi_ok {
            return Err(self.exception(what));
        }
        Ok(Val { env: self.env, raw: out })
    }

    /// Clears a pending JS exception (thrown by a getter or `toJSON`) into an error.
    fn exception(&self, what: &str) -> Error {
        let mut pending = false;
        // SAFETY: env belongs to the current call.
        unsafe { sys::napi_is_exception_pending(self.env, &mut pending) };
        if !pending {
            return napi_failed(what);
        }
        let mut exc = ptr::null_mut();
        // SAFETY: an exception is pending in env.
        unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut exc) };
        let text = Val { env: self.env, raw: exc }.display();
        Error::new(ErrorKind::InvalidInput, format!("reading {what} threw: {text}"))
    }

    /// A best-effort `String(value)` for messages.
    fn display(&self) -> String {
        let mut s = ptr::null_mut();
        // SAFETY: env/raw belong to the current call.
        if unsafe { sys::napi_coerce_to_string(self.env, self.raw, &mut s) } != sys::Status::napi_ok {
            let mut exc = ptr::null_mut();
            // SAFETY: coercion threw, so an exception is pending; clear it.
            unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut exc) };
            return "an exception".into();
        }
        Val { env: self.env, raw: s }.utf8().unwrap_or_default()
    }

    fn utf8(&self) -> Option<String> {
        self.with_utf8(str::to_owned)
    }

    /// Runs `f` on the string's UTF-8 text. Most strings read here are ids and labels: one
    /// call into a stack buffer reads them whole, with no allocation; longer ones are
    /// measured first and read into a heap buffer. napi writes at most SHORT - 1 bytes and
    /// never part of a character (at most 4 bytes), so `written <= SHORT - 5` proves
    /// nothing was left out.
    fn with_utf8<R>(&self, f: impl FnOnce(&str) -> R) -> Option<R> {
        const SHORT: usize = 512;
        let mut short = [0u8; SHORT];
        let mut written = 0usize;
        // SAFETY: raw is a string; `short` has room for SHORT bytes including the NUL.
        if unsafe { sys::napi_get_value_string_utf8(self.env, self.raw, short.as_mut_ptr().cast(), SHORT, &mut written) }
            != sys::Status::napi_ok
        {
            return None;
        }
        if written <= SHORT - 5 {
            return std::str::from_utf8(&short[..written]).ok().map(f);
        }
        let mut len = 0usize;
        // SAFETY: raw is a string; a null buffer asks for the length.
        if unsafe { sys::napi_get_value_string_utf8(self.env, self.raw, ptr::null_mut(), 0, &mut len) }
            != sys::Status::napi_ok
        {
            return None;
        }
        let mut buf = vec![0u8; len + 1];
        let mut written = 0usize;
        // SAFETY: buf has room for len bytes plus the NUL napi writes.
        let status = unsafe {
            sys::napi_get_value_string_utf8(self.env, self.raw, buf.as_mut_ptr().cast(), buf.len(), &mut written)
        };
        if status != sys::Status::napi_ok {
            return None;
        }
        // napi writes valid UTF-8 (lone surrogates become U+FFFD).
        std::str::from_utf8(&buf[..written]).ok().map(f)
    }

    fn f64(&self) -> f64 {
        let mut n = 0f64;
        // SAFETY: raw is a number.
        unsafe { sys::napi_get_value_double(self.env, self.raw, &mut n) };
        n
    }

    /// A BigInt as i64, `None` when it does not fit.
    fn bigint_i64(&self) -> Option<i64> {
        let (mut v, mut lossless) = (0i64, false);
        // SAFETY: raw is a bigint.
        unsafe { sys::napi_get_value_bigint_int64(self.env, self.raw, &mut v, &mut lossless) };
        lossless.then_some(v)
    }

    /// A BigInt as u64, `None` when it does not fit.
    fn bigint_u64(&self) -> Option<u64> {
        let (mut v, mut lossless) = (0u64, false);
        // SAFETY: raw is a bigint.
        unsafe { sys::napi_get_value_bigint_uint64(self.env, self.raw, &mut v, &mut lossless) };
        lossless.then_some(v)
    }

    fn date_ms(&self) -> f64 {
        let mut n = 0f64;
        // SAFETY: raw is a Date.
        unsafe { sys::napi_get_date_value(self.env, self.raw, &mut n) };
        n
    }

    fn array_len(&self) -> u32 {
        let mut n = 0u32;
        // SAFETY: raw is an array.
        unsafe { sys::napi_get_array_length(self.env, self.raw, &mut n) };
        n
    }

    fn element(&self, i: u32, what: &str) -> Result<Val> {
        let mut out = ptr::null_mut();
        // SAFETY: raw is an array of the current call.
        if unsafe { sys::napi_get_element(self.env, self.raw, i, &mut out) } != sys::Status::napi_ok {
            return Err(self.exception(what));
        }
        Ok(Val { env: self.env, raw: out })
    }

    /// Own enumerable string keys, as `Object.keys` and `JSON.stringify` see them.
    fn own_keys(&self, what: &str) -> Result<Vec<String>> {
        let mut names = ptr::null_mut();
        // SAFETY: raw is an object of the current call.
        let status = unsafe {
            sys::napi_get_all_property_names(
                self.env,
                self.raw,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(self.exception(what));
        }
        let names = Val { env: self.env, raw: names };
        (0..names.array_len())
            .map(|i| names.element(i, what)?.utf8().ok_or_else(|| napi_failed(what)))
            .collect()
    }

    /// Calls `this[name]()` with one argument when it is a function (`toJSON`).
    fn call_method(&self, name: &str, arg: &str, what: &str) -> Result<Option<Val>> {
        let f = self.get(name, what)?;
        if f.kind() != Kind::Function {
            return Ok(None);
        }
        let arg = string_value(self.env, arg).ok_or_else(|| napi_failed(what))?;
        let mut out = ptr::null_mut();
        // SAFETY: f is a function of the current call; argv has one live value.
        let status = unsafe { sys::napi_call_function(self.env, self.raw, f.raw, 1, &arg, &mut out) };
        if status != sys::Status::napi_ok {
            return Err(self.exception(what));
        }
        Ok(Some(Val { env: self.env, raw: out }))
    }
}

fn string_value(env: sys::napi_env, s: &str) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: the pointer/length pair describes `s`.
    let ok = unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    (ok == sys::Status::napi_ok).then_some(out)
}

/// A required string.
pub fn text(v: Val, what: &str) -> Result<String> {
    match v.kind() {
        Kind::String => v.utf8().ok_or_else(|| napi_failed(what)),
        other => Err(type_error(what, "a string", other)),
    }
}

/// [`text`] without the copy: runs `f` on the string read into a stack buffer (short
/// strings, like ids) — for sync reads whose argument is only looked up.
pub fn with_text<R>(v: Val, what: &str, f: impl FnOnce(&str) -> Result<R>) -> Result<R> {
    match v.kind() {
        Kind::String => v.with_utf8(f).ok_or_else(|| napi_failed(what))?,
        other => Err(type_error(what, "a string", other)),
    }
}

/// An optional string (`undefined`/`null` = `None`).
pub fn opt_text(v: Val, what: &str) -> Result<Option<String>> {
    if v.is_absent() {
        return Ok(None);
    }
    text(v, what).map(Some)
}

/// A required number (NaN and infinities pass through for the engine's own checks).
pub fn number(v: Val, what: &str) -> Result<f64> {
    match v.kind() {
        Kind::Number => Ok(v.f64()),
        other => Err(type_error(what, "a number", other)),
    }
}

/// A timestamp in ms since the epoch: an integer number, a BigInt or a Date.
pub fn timestamp(v: Val, what: &str) -> Result<Millis> {
    let bad = |detail: String| Error::new(ErrorKind::InvalidTimestamp, format!("{what} {detail}"));
    let ms = match v.kind() {
        Kind::Number => v.f64(),
        Kind::Date => v.date_ms(),
        Kind::BigInt => return v.bigint_i64().ok_or_else(|| bad("does not fit in 64 bits".into())),
        other => return Err(type_error(what, "a number, bigint or Date", other)),
    };
    if !ms.is_finite() {
        return Err(bad(format!("is {ms}; it must be a finite number of milliseconds (an invalid Date?)")));
    }
    if ms.fract() != 0.0 {
        return Err(bad(format!("is {ms}; it must be a whole number of milliseconds")));
    }
    // 2^63 is exactly representable; anything at or beyond it does not fit in an i64.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&ms) {
        return Err(bad(format!("is {ms}; it does not fit in 64 bits")));
    }
    Ok(ms as i64)
}

/// An optional timestamp.
pub fn opt_timestamp(v: Val, what: &str) -> Result<Option<Millis>> {
    if v.is_absent() {
        return Ok(None);
    }
    timestamp(v, what).map(Some)
}

/// A non-negative integer count (number or BigInt).
pub fn count(v: Val, what: &str) -> Result<u64> {
    let bad = |detail: String| Error::new(ErrorKind::InvalidInput, format!("{what} {detail}"));
    match v.kind() {
        Kind::Number => {
            let n = v.f64();
            if !n.is_finite() || n.fract() != 0.0 || n < 0.0 {
                return Err(bad(format!("is {n}; it must be a non-negative integer")));
            }
            Ok(n.min(u64::MAX as f64) as u64)
        }
        Kind::BigInt => v.bigint_u64().ok_or_else(|| bad("must be a non-negative integer below 2^64".into())),
        other => Err(type_error(what, "a number or bigint", other)),
    }
}

/// Bytes: a Buffer or any other ArrayBuffer view (`Uint8Array`, `DataView`, … as their raw
/// bytes), an ArrayBuffer, or a string (its UTF-8). Copied, so the caller may reuse its
/// buffer at once.
pub fn bytes(v: Val, what: &str) -> Result<Vec<u8>> {
    let (mut is_view, mut is_ab) = (false, false);
    // SAFETY: env/raw belong to the current call.
    unsafe {
        sys::napi_is_buffer(v.env, v.raw, &mut is_view);
        sys::napi_is_arraybuffer(v.env, v.raw, &mut is_ab);
    }
    let (mut data, mut len) = (ptr::null_mut(), 0usize);
    // SAFETY: the info calls match the value's kind just checked; the data pointer is valid
    // for `len` bytes for the duration of the call, and the bytes are copied before return.
    let status = unsafe {
        if is_view {
            sys::napi_get_buffer_info(v.env, v.raw, &mut data, &mut len)
        } else if is_ab {
            sys::napi_get_arraybuffer_info(v.env, v.raw, &mut data, &mut len)
        } else if v.kind() == Kind::String {
            return v.utf8().map(String::into_bytes).ok_or_else(|| napi_failed(what));
        } else {
            return Err(type_error(what, "a Buffer, Uint8Array, ArrayBuffer or string", v.kind()));
        }
    };
    if status != sys::Status::napi_ok {
        return Err(napi_failed(what));
    }
    if len == 0 || data.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: as above.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec())
}

/// A duration in whole milliseconds, greater than zero (`InvalidTtl` otherwise): a number
/// or a BigInt.
pub fn ttl_ms(v: Val, what: &str) -> Result<std::time::Duration> {
    let bad = |detail: String| Error::new(ErrorKind::InvalidTtl, format!("{what} {detail}"));
    let ms = match v.kind() {
        Kind::Number => {
            let n = v.f64();
            if !n.is_finite() || n.fract() != 0.0 {
                return Err(bad(format!("is {n}; it must be a whole number of milliseconds")));
            }
            if n <= 0.0 {
                return Err(bad(format!("is {n}; it must be greater than zero")));
            }
            n.min(i64::MAX as f64) as i64
        }
        Kind::BigInt => match v.bigint_i64() {
            Some(n) if n > 0 => n,
            _ => return Err(bad("must be greater than zero and fit in 64 bits".into())),
        },
        other => return Err(type_error(what, "a number or bigint", other)),
    };
    cidb::cache::ttl_from_millis(ms)
}

/// Calls a JS function with no arguments on the current thread. A throw is returned as the
/// JS exception value, cleared, so the caller can rethrow it unchanged.
pub fn call0(f: Val) -> std::result::Result<Val, Val> {
    let mut recv = ptr::null_mut();
    let mut out = ptr::null_mut();
    // SAFETY: f is a function of the current call; napi on the JS thread.
    let status = unsafe {
        sys::napi_get_undefined(f.env, &mut recv);
        sys::napi_call_function(f.env, recv, f.raw, 0, ptr::null(), &mut out)
    };
    if status == sys::Status::napi_ok {
        return Ok(Val { env: f.env, raw: out });
    }
    let mut exc = ptr::null_mut();
    // SAFETY: as above; clears the pending exception (if any) into a value.
    unsafe { sys::napi_get_and_clear_last_exception(f.env, &mut exc) };
    Err(Val { env: f.env, raw: exc })
}

/// True when `v` is a Promise (or other thenable object).
pub fn is_promise(v: Val) -> bool {
    let mut p = false;
    // SAFETY: env/raw belong to the current call.
    unsafe { sys::napi_is_promise(v.env, v.raw, &mut p) };
    p
}

/// A function (callbacks).
pub fn function(v: Val, what: &str) -> Result<Val> {
    match v.kind() {
        Kind::Function => Ok(v),
        other => Err(type_error(what, "a function", other)),
    }
}

/// A boolean.
pub fn boolean(v: Val, what: &str) -> Result<bool> {
    match v.kind() {
        Kind::Boolean => {
            let mut b = false;
            // SAFETY: v is a boolean of the current call.
            unsafe { sys::napi_get_value_bool(v.env, v.raw, &mut b) };
            Ok(b)
        }
        other => Err(type_error(what, "a boolean", other)),
    }
}

/// An optional non-negative count; `None` when absent.
pub fn opt_count(v: Val, what: &str) -> Result<Option<u64>> {
    if v.is_absent() {
        return Ok(None);
    }
    count(v, what).map(Some)
}

/// An object (not an array, not a Date): records and option bags.
pub fn object(v: Val, what: &str) -> Result<Val> {
    match v.kind() {
        Kind::Object => Ok(v),
        other => Err(type_error(what, "an object", other)),
    }
}

/// An array, read element by element with `read(element, "what[i]")`.
pub fn list<T>(v: Val, what: &str, mut read: impl FnMut(Val, &str) -> Result<T>) -> Result<Vec<T>> {
    match v.kind() {
        Kind::Array => {}
        other => return Err(type_error(what, "an array", other)),
    }
    (0..v.array_len())
        .map(|i| {
            let name = format!("{what}[{i}]");
            read(v.element(i, &name)?, &name)
        })
        .collect()
}

/// Any JSON-representable value, converted the way `JSON.stringify` would see it: `toJSON`
/// is honoured (so a `Date` becomes its ISO string), `undefined`, functions and symbols are
/// left out of objects and become `null` in arrays, and BigInts that fit 64 bits become
/// numbers. NaN, infinities, larger BigInts, cycles and nesting deeper than 128 are
/// `InvalidAttributes` errors naming the path. `None` (absent) is `None`.
pub fn json(v: Val, what: &str) -> Result<Option<serde_json::Value>> {
    if v.is_absent() {
        return Ok(None);
    }
    let mut budget = MAX_JSON_NODES;
    match to_json(v, what, "", 0, &mut budget)? {
        Some(j) => Ok(Some(j)),
        None => Err(json_error(what, &format!("must be a JSON object, got {}", v.kind().name()))),
    }
}

fn json_error(path: &str, detail: &str) -> Error {
    // A cyclic value's path repeats forever; keep the message readable.
    const MAX_PATH: usize = 120;
    let path = match path.char_indices().nth(MAX_PATH) {
        Some((cut, _)) => format!("{}…", &path[..cut]),
        None => path.to_string(),
    };
    Error::new(ErrorKind::InvalidAttributes, format!("{path} {detail}"))
}

/// Converts one value; `Ok(None)` for values JSON leaves out (undefined, functions, symbols).
fn to_json(v: Val, path: &str, key: &str, depth: usize, budget: &mut usize) -> Result<Option<serde_json::Value>> {
    if *budget == 0 {
        return Err(json_error(path, &format!("has more than {MAX_JSON_NODES} values")));
    }
    *budget -= 1;
    let kind = v.kind();
    if matches!(kind, Kind::Object | Kind::Date | Kind::Array) {
        if depth >= MAX_JSON_DEPTH {
            return Err(json_error(path, &format!("is nested deeper than {MAX_JSON_DEPTH} levels (or is cyclic)")));
        }
        if let Some(replaced) = v.call_method("toJSON", key, path)? {
            return to_json_plain(replaced, path, depth, budget);
        }
    }
    to_json_plain(v, path, depth, budget)
}

fn to_json_plain(v: Val, path: &str, depth: usize, budget: &mut usize) -> Result<Option<serde_json::Value>> {
    use serde_json::Value as J;
    Ok(Some(match v.kind() {
        Kind::Undefined | Kind::Function | Kind::Symbol | Kind::Other => return Ok(None),
        Kind::Null => J::Null,
        Kind::Boolean => {
            let mut b = false;
            // SAFETY: v is a boolean of the current call.
            unsafe { sys::napi_get_value_bool(v.env, v.raw, &mut b) };
            J::Bool(b)
        }
        Kind::Number => {
            let n = v.f64();
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                J::from(n as i64)
            } else {
                J::from(serde_json::Number::from_f64(n).ok_or_else(|| {
                    json_error(path, &format!("is {n}; JSON numbers must be finite"))
                })?)
            }
        }
        Kind::String => J::String(v.utf8().ok_or_else(|| napi_failed(path))?),
        Kind::BigInt => match (v.bigint_i64(), v.bigint_u64()) {
            (Some(i), _) => J::from(i),
            (None, Some(u)) => J::from(u),
            _ => return Err(json_error(path, "is a BigInt that does not fit in 64 bits")),
        },
        Kind::Array => {
            let mut out = Vec::with_capacity(v.array_len() as usize);
            for i in 0..v.array_len() {
                let p = format!("{path}[{i}]");
                let item = to_json(v.element(i, &p)?, &p, &i.to_string(), depth + 1, budget)?;
                out.push(item.unwrap_or(J::Null));
            }
            J::Array(out)
        }
        Kind::Object | Kind::Date => {
            let mut map = serde_json::Map::new();
            for k in v.own_keys(path)? {
                let p = format!("{path}.{k}");
                let item = v.get_raw(&k, &p)?;
                if let Some(j) = to_json(item, &p, &k, depth + 1, budget)? {
                    map.insert(k, j);
                }
            }
            J::Object(map)
        }
    }))
}

impl Val {
    /// Reads a property by a key that may contain any character.
    fn get_raw(&self, key: &str, what: &str) -> Result<Val> {
        let Some(k) = string_value(self.env, key) else { return Err(napi_failed(what)) };
        let mut out = ptr::null_mut();
        // SAFETY: self is an object; k is a live string key.
        if unsafe { sys::napi_get_property(self.env, self.raw, k, &mut out) } != sys::Status::napi_ok {
            return Err(self.exception(what));
        }
        Ok(Val { env: self.env, raw: out })
    }
}

/// One SQL parameter: `null`/`undefined` is NULL, an integral number within 2^53 an
/// integer (any other number a real), a BigInt an integer (64 bits), a string text, a
/// boolean 1/0, a `Date` its milliseconds, an object or array JSON (read like `json`).
pub fn sql_param(v: Val, what: &str) -> Result<cidb::Value> {
    use cidb::Value as V;
    Ok(match v.kind() {
        Kind::Undefined | Kind::Null => V::Null,
        Kind::Boolean => {
            let mut b = false;
            // SAFETY: v is a boolean of the current call.
            unsafe { sys::napi_get_value_bool(v.env, v.raw, &mut b) };
            V::Int(b as i64)
        }
        Kind::Number => {
            let n = v.f64();
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                V::Int(n as i64)
            } else {
                V::Real(n)
            }
        }
        Kind::BigInt => match v.bigint_i64() {
            Some(i) => V::Int(i),
            None => return Err(Error::new(ErrorKind::InvalidParameter, format!("{what} is a BigInt that does not fit in 64 bits"))),
        },
        Kind::String => V::Text(v.utf8().ok_or_else(|| napi_failed(what))?),
        Kind::Date => {
            let ms = v.date_ms();
            if !ms.is_finite() {
                return Err(Error::new(ErrorKind::InvalidParameter, format!("{what} is an invalid Date")));
            }
            V::Int(ms as i64)
        }
        Kind::Object | Kind::Array => {
            let mut budget = MAX_JSON_NODES;
            match to_json(v, what, "", 0, &mut budget)? {
                Some(j) => V::Json(j.to_string()),
                None => V::Null,
            }
        }
        other => return Err(type_error(what, "null, a number, bigint, string, boolean, Date or JSON object", other)),
    })
}
