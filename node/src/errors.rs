//! cidb errors as JavaScript errors. Every failure inside the binding is a `cidb::Error`
//! (wrong JS types are `ErrorKind::TypeMismatch`); this module is the one place that turns
//! one into a JS object: an `Error` (a `TypeError` for `TypeMismatch`, matching Python's
//! `TypeMismatchError(TypeError)`) whose `code` is `ErrorKind::binding().node_code` and
//! whose `cause` is an `Error` carrying the underlying cause, when there is one. It also
//! serves the error table to JS. It keeps no list of codes of its own.

use cidb::{Error, ErrorKind};
use napi::bindgen_prelude::{sys, Env, Unknown};
use napi_derive::napi;
use std::ptr;

/// One row of the error table: what a cidb error kind is called in Node.
#[napi(object, object_from_js = false)]
pub struct ErrorCode {
    /// The stable `err.code`, e.g. `CIDB_INVALID_ID`.
    pub code: String,
    /// The kind's short name, e.g. `invalid_id` (the same name the C and Python bindings use).
    pub kind: String,
    /// True when errors of this kind are thrown as `TypeError` (otherwise `Error`).
    pub type_error: bool,
}

/// Every error code cidb can throw, one per error kind, in the order of the C status numbers.
#[napi(ts_return_type = "ErrorCode[]")]
pub fn error_codes() -> Vec<ErrorCode> {
    ErrorKind::ALL
        .iter()
        .map(|k| ErrorCode {
            code: k.binding().node_code.to_string(),
            kind: k.as_str().to_string(),
            type_error: is_type_error(*k),
        })
        .collect()
}

fn is_type_error(kind: ErrorKind) -> bool {
    kind == ErrorKind::TypeMismatch
}

/// Converts a cidb error into the napi error that throws (or rejects with) its JS form.
pub fn to_napi(env: &Env, e: Error) -> napi::Error {
    match js_error(env.raw(), &e) {
        // SAFETY: `value` was just created in `env` on this thread.
        Some(value) => napi::Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }),
        // Only when the environment is tearing down: a plain error still carries the text.
        None => napi::Error::new(napi::Status::GenericFailure, e.to_string()),
    }
}

/// Builds the JS error object for `e`: message, `code`, and `cause` when there is one.
fn js_error(env: sys::napi_env, e: &Error) -> Option<sys::napi_value> {
    let code = string(env, e.kind().binding().node_code)?;
    let msg = string(env, e.message())?;
    let mut obj = ptr::null_mut();
    // SAFETY: env is the live environment of the calling JS thread; out-pointers are valid.
    let status = unsafe {
        if is_type_error(e.kind()) {
            sys::napi_create_type_error(env, code, msg, &mut obj)
        } else {
            sys::napi_create_error(env, code, msg, &mut obj)
        }
    };
    if status != sys::Status::napi_ok {
        return None;
    }
    if let Some(cause) = e.cause_text() {
        let cause_msg = string(env, &cause)?;
        let mut cause_obj = ptr::null_mut();
        // SAFETY: as above; a null code creates an error without a `code` property.
        let ok = unsafe { sys::napi_create_error(env, ptr::null_mut(), cause_msg, &mut cause_obj) };
        if ok == sys::Status::napi_ok {
            // SAFETY: obj and cause_obj are live values of env; the key is NUL-terminated.
            unsafe { sys::napi_set_named_property(env, obj, c"cause".as_ptr(), cause_obj) };
        }
    }
    Some(obj)
}

fn string(env: sys::napi_env, s: &str) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: the pointer/length pair describes `s`, which outlives the call.
    let status = unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    (status == sys::Status::napi_ok).then_some(out)
}

/// Test support (not part of the typed API): the error object cidb would throw for `code`,
/// built through the same path as every real error, with a cause when `with_cause` is set.
/// The test suite walks `errorCodes()` through it to prove no kind is left unmapped.
#[napi(js_name = "__errorForTest", skip_typescript)]
pub fn error_for_test<'env>(env: &'env Env, code: String, with_cause: bool) -> napi::Result<Unknown<'env>> {
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|k| k.binding().node_code == code)
        .ok_or_else(|| napi::Error::new(napi::Status::InvalidArg, format!("no error kind has code {code}")))?;
    let e = if with_cause {
        Error::with_source(kind, format!("test error of kind {kind}"), std::io::Error::other("the underlying cause"))
    } else {
        Error::new(kind, format!("test error of kind {kind}"))
    };
    let value = js_error(env.raw(), &e)
        .ok_or_else(|| napi::Error::new(napi::Status::GenericFailure, "cannot create an error object"))?;
    // SAFETY: `value` was just created in `env` on this thread.
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
}
