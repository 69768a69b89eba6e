//! Building the plain JS objects the output records (`Customer`, `Score`, `Message`) come
//! back as, in one step per record. napi's own way (`napi_define_properties` on an empty
//! object, which napi-rs uses for `#[napi(object)]`) internalizes every property name and
//! walks V8 through one map transition per field, growing the object's out-of-line property
//! store as it goes; profiled, that was the largest single cost of a `getCustomer` call
//! (about a third of it, more than the engine lookup). Instead each record [`Shape`] has a
//! small JS factory, compiled once per JS environment (`napi_run_script`) and kept by
//! reference, that returns an object literal: V8 builds it from one boilerplate map with
//! every field in-object. JSON fields (`attributes`, `metadata`) are passed as their JSON
//! text and parsed by the factory with the `JSON.parse` captured when it was compiled —
//! unless they hold an integer beyond 2^53, which must come back as a BigInt and so is
//! converted by napi-rs as before (the same values either way; see [`json`]).
//!
//! Should a factory be unavailable (compiling failed), the record is built with plain napi
//! calls instead, with the same keys, order and values.

use napi::bindgen_prelude::{sys, ToNapiValue};
use std::cell::RefCell;
use std::ffi::{c_void, CString};
use std::ptr;

/// The fields of one output record: JS names in declaration order (the order `index.d.ts`
/// lists them and the object's keys come in), and which of them are JSON values.
pub struct Shape {
    /// Index of this shape's factory in the per-environment cache.
    slot: usize,
    /// The record's name, for errors.
    name: &'static str,
    fields: &'static [&'static str],
    /// Indexes (into `fields`) of the JSON-valued fields.
    json: &'static [usize],
}

const SHAPES: usize = 3;

/// `Customer`, as declared in `records`.
pub const CUSTOMER: Shape = Shape {
    slot: 0,
    name: "Customer",
    fields: &["id", "email", "name", "department", "status", "createdAt", "updatedAt", "attributes"],
    json: &[7],
};

/// `Score`, as declared in `records`.
pub const SCORE: Shape = Shape {
    slot: 1,
    name: "Score",
    fields: &["customerId", "scoreType", "score", "confidence", "createdAt", "model"],
    json: &[],
};

/// `Message`, as declared in `records`.
pub const MESSAGE: Shape = Shape {
    slot: 2,
    name: "Message",
    fields: &["id", "customerId", "conversationId", "role", "timestamp", "content", "metadata"],
    json: &[6],
};

/// One field's value, ready to pass: a JS value, or a JSON value still to convert.
pub enum Field<'a> {
    Js(sys::napi_value),
    Json(&'a serde_json::Value),
}

impl Field<'_> {
    /// Converts any napi-convertible Rust value now.
    pub fn of<T: ToNapiValue>(env: sys::napi_env, v: T) -> napi::Result<Field<'static>> {
        // SAFETY: env is the live environment of the calling JS thread (the caller's
        // `ToNapiValue` contract).
        Ok(Field::Js(unsafe { T::to_napi_value(env, v)? }))
    }

    /// A string (see [`string`]).
    pub fn text(env: sys::napi_env, s: &str) -> napi::Result<Field<'static>> {
        // SAFETY: as above.
        Ok(Field::Js(unsafe { string(env, s)? }))
    }

    /// A string, or `null` for `None`.
    pub fn opt_text(env: sys::napi_env, s: Option<&str>) -> napi::Result<Field<'static>> {
        match s {
            Some(s) => Field::text(env, s),
            None => Field::of(env, napi::bindgen_prelude::Null),
        }
    }
}

/// A JS string of `s`. ASCII text (ids, labels, JSON) is passed as Latin-1, which V8 copies
/// as is, instead of UTF-8, which it decodes; both give the same string.
///
/// # Safety
/// `env` is the live environment of the calling JS thread.
pub unsafe fn string(env: sys::napi_env, s: &str) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: the pointer/length pair describes `s`; ASCII is valid Latin-1.
    let status = unsafe {
        if s.is_ascii() {
            sys::napi_create_string_latin1(env, s.as_ptr().cast(), s.len() as isize, &mut out)
        } else {
            sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)
        }
    };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(format!("cannot create a string (napi status {status})")));
    }
    Ok(out)
}

/// The factories of one JS environment. A thread usually has one environment (the main
/// thread or a worker), more when two copies of the addon are loaded into it.
struct Factories {
    env: sys::napi_env,
    /// A reference per shape; null when not compiled yet, `FAILED` when compiling failed.
    refs: [sys::napi_ref; SHAPES],
}

/// Marks a shape whose factory could not be compiled (the fallback is used from then on).
const FAILED: sys::napi_ref = 1 as sys::napi_ref;

thread_local! {
    static FACTORIES: RefCell<Vec<Factories>> = const { RefCell::new(Vec::new()) };
    /// The JSON text being passed, reused between calls.
    static JSON_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Forgets the factories when their environment is torn down (napi frees the references).
unsafe extern "C" fn forget(env: *mut c_void) {
    let _ = FACTORIES.try_with(|f| f.borrow_mut().retain(|f| f.env.cast::<c_void>() != env));
}

/// The JS source of a shape's factory: `(v0, v1, …) => ({ f0: v0, … })`, where a JSON field
/// given as a string is its JSON text, to parse. (A JSON value that is itself a string is
/// always passed as text: only values holding big integers are passed converted, see
/// [`json_text`].)
fn source(shape: &Shape) -> String {
    let args: Vec<String> = (0..shape.fields.len()).map(|i| format!("v{i}")).collect();
    let props: Vec<String> = shape
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| match shape.json.contains(&i) {
            true => format!("{f:?}: typeof v{i} === 'string' ? parse(v{i}) : v{i}"),
            false => format!("{f:?}: v{i}"),
        })
        .collect();
    format!(
        "(function (parse) {{ 'use strict'; return function {}({}) {{ return {{ {} }} }} }})(JSON.parse)",
        shape.name,
        args.join(", "),
        props.join(", ")
    )
}

/// Compiles a shape's factory in `env`; `None` when napi refuses.
unsafe fn compile(env: sys::napi_env, shape: &Shape) -> Option<sys::napi_ref> {
    let src = source(shape);
    let mut script = ptr::null_mut();
    let mut func = ptr::null_mut();
    let mut reference = ptr::null_mut();
    // SAFETY: env is live on this thread; the pointer/length pair describes `src`.
    unsafe {
        if sys::napi_create_string_utf8(env, src.as_ptr().cast(), src.len() as isize, &mut script) != sys::Status::napi_ok
            || sys::napi_run_script(env, script, &mut func) != sys::Status::napi_ok
        {
            let mut exc = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut exc);
            return None;
        }
        let mut t = sys::ValueType::napi_undefined;
        if sys::napi_typeof(env, func, &mut t) != sys::Status::napi_ok || t != sys::ValueType::napi_function {
            return None;
        }
        (sys::napi_create_reference(env, func, 1, &mut reference) == sys::Status::napi_ok).then_some(reference)
    }
}

/// The shape's factory function in `env`, compiling it on first use; `None` when it cannot
/// be had.
unsafe fn factory(env: sys::napi_env, shape: &Shape) -> Option<sys::napi_value> {
    let reference = FACTORIES
        .try_with(|f| {
            let mut all = f.borrow_mut();
            let at = match all.iter().position(|f| f.env == env) {
                Some(at) => at,
                None => {
                    // Registered once per environment (napi refuses a second registration
                    // of the same hook); it runs on this thread at the environment's teardown.
                    // SAFETY: env is live on this thread.
                    if unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget), env.cast()) } != sys::Status::napi_ok {
                        return None;
                    }
                    all.push(Factories { env, refs: [ptr::null_mut(); SHAPES] });
                    all.len() - 1
                }
            };
            let refs = &mut all[at].refs;
            if refs[shape.slot].is_null() {
                // SAFETY: as above.
                refs[shape.slot] = unsafe { compile(env, shape) }.unwrap_or(FAILED);
            }
            Some(refs[shape.slot]).filter(|r| *r != FAILED)
        })
        .ok()??;
    let mut func = ptr::null_mut();
    // SAFETY: the reference was made in env (checked above) and is never deleted before it.
    let ok = unsafe { sys::napi_get_reference_value(env, reference, &mut func) } == sys::Status::napi_ok;
    (ok && !func.is_null()).then_some(func)
}

/// Builds the record object of `shape` from its field values, given in `shape.fields` order.
///
/// # Safety
/// `env` is the live environment of the calling JS thread (a `ToNapiValue` context).
pub unsafe fn build(env: sys::napi_env, shape: &Shape, fields: &[Field<'_>]) -> napi::Result<sys::napi_value> {
    if fields.len() != shape.fields.len() || fields.len() > MAX_FIELDS {
        return Err(napi::Error::from_reason(format!("{} takes {} fields", shape.name, shape.fields.len())));
    }
    // SAFETY: forwarded from the caller.
    let Some(func) = (unsafe { factory(env, shape) }) else {
        return unsafe { build_plain(env, shape, fields) };
    };
    let mut argv = [ptr::null_mut(); MAX_FIELDS];
    let argv = &mut argv[..fields.len()];
    for (arg, field) in argv.iter_mut().zip(fields) {
        *arg = match field {
            Field::Js(v) => *v,
            // SAFETY: forwarded from the caller.
            Field::Json(j) => match unsafe { json_text(env, j)? } {
                Some(text) => text,
                None => unsafe { <&serde_json::Value>::to_napi_value(env, j)? },
            },
        };
    }
    let mut out = ptr::null_mut();
    // SAFETY: forwarded from the caller; the factory is strict-mode code that ignores its
    // receiver, so the function itself serves as one (saving a `napi_get_global`).
    check(unsafe { sys::napi_call_function(env, func, func, argv.len(), argv.as_ptr(), &mut out) }, shape)?;
    Ok(out)
}

/// The most fields a shape has.
const MAX_FIELDS: usize = 8;

/// The fallback: the same object built with one napi call per field.
unsafe fn build_plain(env: sys::napi_env, shape: &Shape, fields: &[Field<'_>]) -> napi::Result<sys::napi_value> {
    // SAFETY: forwarded from the caller; every value belongs to env.
    unsafe {
        let mut obj = ptr::null_mut();
        check(sys::napi_create_object(env, &mut obj), shape)?;
        for (name, field) in shape.fields.iter().zip(fields) {
            let value = match field {
                Field::Js(v) => *v,
                Field::Json(j) => <&serde_json::Value>::to_napi_value(env, j)?,
            };
            let key = CString::new(*name).map_err(|_| napi::Error::from_reason("a field name has a NUL"))?;
            check(sys::napi_set_named_property(env, obj, key.as_ptr(), value), shape)?;
        }
        Ok(obj)
    }
}

fn check(status: sys::napi_status, shape: &Shape) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!("cannot build a {} object (napi status {status})", shape.name)))
    }
}

/// A JSON value as a JS string of its JSON text, when `JSON.parse` of that text gives
/// exactly what napi-rs's conversion gives; `None` when it holds an integer beyond 2^53
/// (napi-rs makes those BigInts, `JSON.parse` would round them).
unsafe fn json_text(env: sys::napi_env, v: &serde_json::Value) -> napi::Result<Option<sys::napi_value>> {
    if !json_safe(v) {
        return Ok(None);
    }
    JSON_BUF.with_borrow_mut(|buf| {
        buf.clear();
        serde_json::to_writer(&mut *buf, v).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        // serde_json writes valid UTF-8.
        let text = std::str::from_utf8(buf).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        // SAFETY: forwarded from the caller.
        Ok(Some(unsafe { string(env, text)? }))
    })
}

/// True when every integer in `v` is a safe JS integer (|n| < 2^53). Floats are always
/// safe: serde_json prints the shortest text that reads back as the same double.
fn json_safe(v: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    const MAX_SAFE: u64 = (1 << 53) - 1;
    match v {
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.unsigned_abs() <= MAX_SAFE,
            (None, Some(u)) => u <= MAX_SAFE,
            (None, None) => true,
        },
        J::Array(a) => a.iter().all(json_safe),
        J::Object(o) => o.values().all(json_safe),
        J::Null | J::Bool(_) | J::String(_) => true,
    }
}
