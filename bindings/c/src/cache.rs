//! The application key-value cache of a tenant (the role Redis played) in C: binary values
//! with a length, per-call TTLs, `get_or_set` with a C fill callback, and the engine's
//! per-tier cache statistics. Values handed to C are released with `cidb_bytes_free`.
//!
//! TTL in C is an `int64_t ttl_ms`: a positive number of milliseconds, or 0 for the default
//! of the tier the value's size places it in (L1, values under 10 KiB: no TTL, evicted by
//! policy; L2: 1 hour; L3: 2 hours); negative is `CIDB_INVALID_TTL`. The core has no
//! "never expires" for the persistent tiers; `INT64_MAX` comes as close as it gets.
//!
//! The fill callback runs synchronously on the calling thread, so no gate is needed: when
//! `cidb_tenant_cache_get_or_set` returns, it is not running. It hands its value over
//! through a [`cidb_cache_sink`] that is only valid during the call; the setter checks a
//! thread-local list of live sinks, so a stale or foreign sink pointer is an error, not a
//! write to freed memory.

use crate::engine::cidb_engine;
use crate::ffi::{arg_ref, arg_str, boundary, c_string, invalid, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::{Error, ErrorKind, Result};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

/// The TTL of `ttl_ms` (see the module comment).
fn ttl_arg(ttl_ms: i64) -> Result<Option<Duration>> {
    match ttl_ms {
        0 => Ok(None),
        n if n < 0 => Err(Error::new(
            ErrorKind::InvalidTtl,
            format!("ttl_ms must be positive, or 0 for the tier's default TTL; got {n}"),
        )),
        n => Ok(Some(Duration::from_millis(n as u64))),
    }
}

/// `len` bytes at `p` (NULL allowed when `len` is 0).
pub(crate) fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL but its length is {len}")));
    }
    // SAFETY: the caller passes `len` readable bytes at `p` (the contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Hands `v` to C: its bytes and length, released with `cidb_bytes_free` (NULL for empty).
fn give_bytes(v: Vec<u8>, out_data: &Out<*mut u8>, out_len: &Out<usize>) {
    let len = v.len();
    if len > 0 {
        out_data.set(Box::into_raw(v.into_boxed_slice()).cast::<u8>());
    }
    out_len.set(len);
}

/// Releases a byte buffer returned by cidb (`cidb_tenant_cache_get`,
/// `cidb_tenant_cache_get_or_set`). `len` must be the length returned with it. NULL is
/// accepted and ignored.
///
/// Ownership: `data` must come from cidb and not have been released yet; after this call it
/// is invalid. Never pass memory from `malloc` or a length other than the one returned.
#[no_mangle]
pub extern "C" fn cidb_bytes_free(data: *mut u8, len: usize) {
    crate::ffi::boundary_value((), || {
        if !data.is_null() {
            // SAFETY: by the contract `data`/`len` came from `give_bytes` (a boxed slice of
            // exactly `len` bytes) and are released once.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
        }
    })
}

/// Stores `len` bytes at `value` (any bytes, NULs included; `value` may be NULL when `len`
/// is 0) under `key` in this tenant's cache, replacing any previous value. `ttl_ms` > 0
/// expires it that many milliseconds from now; 0 uses the default of the tier the size
/// places it in (under 10 KiB: memory tier, no TTL, evicted by policy; under 100 KiB: 1 hour;
/// larger: 2 hours). Keys are per tenant: another tenant's `key` is another entry.
///
/// Errors: `CIDB_INVALID_CACHE_KEY` (empty or over 1 KiB), `CIDB_VALUE_TOO_LARGE` (over the
/// configured maximum, 16 MiB by default), `CIDB_INVALID_TTL` (`ttl_ms` < 0),
/// `CIDB_INVALID_INPUT` (NULL key, or NULL value with a length), `CIDB_CLOSED`.
///
/// Ownership: `key` and `value` are borrowed for the call (the value is copied).
#[no_mangle]
pub extern "C" fn cidb_tenant_cache_set(
    tenant: *const cidb_tenant,
    key: *const c_char,
    value: *const u8,
    len: usize,
    ttl_ms: i64,
) -> cidb_status {
    boundary(|| {
        let t = live(tenant)?;
        let key = arg_str(key, "key")?;
        let value = bytes_arg(value, len, "value")?;
        t.cache().set(key, value, ttl_arg(ttl_ms)?)
    })
}

/// Stores in `*out_data` and `*out_len` a copy of the value of `key`, or returns
/// `CIDB_NOT_FOUND` (NULL, 0) when the key is absent or expired. An empty value gives
/// `CIDB_OK` with `*out_data` NULL and `*out_len` 0. Errors: `CIDB_INVALID_CACHE_KEY`,
/// `CIDB_CLOSED`.
///
/// Ownership: `key` is borrowed for the call. The caller owns `*out_data` and must release
/// it with `cidb_bytes_free(*out_data, *out_len)`.
#[no_mangle]
pub extern "C" fn cidb_tenant_cache_get(
    tenant: *const cidb_tenant,
    key: *const c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cidb_status {
    boundary(|| {
        let out_data = Out::new(out_data, "out_data", std::ptr::null_mut())?;
        let out_len = Out::new(out_len, "out_len", 0)?;
        let t = live(tenant)?;
        let key = arg_str(key, "key")?;
        match t.cache().get(key)? {
            Some(v) => give_bytes(v, &out_data, &out_len),
            None => return Err(Error::new(ErrorKind::NotFound, format!("no cache entry for key {key:?}"))),
        }
        Ok(())
    })
}

/// Deletes `key` from this tenant's cache; `*out_existed` is set to true when a live
/// (unexpired) value existed. Deleting a missing key is not an error. Errors:
/// `CIDB_INVALID_CACHE_KEY`, `CIDB_CLOSED`.
///
/// Ownership: `key` is borrowed for the call; `out_existed` is written only.
#[no_mangle]
pub extern "C" fn cidb_tenant_cache_delete(tenant: *const cidb_tenant, key: *const c_char, out_existed: *mut bool) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_existed, "out_existed", false)?;
        let t = live(tenant)?;
        out.set(t.cache().delete(arg_str(key, "key")?)?);
        Ok(())
    })
}

/// Where a fill callback puts the value it computed (with `cidb_cache_sink_set`). Owned by
/// cidb and valid only during the callback it was passed to, on that callback's thread.
pub struct cidb_cache_sink {
    value: Option<Vec<u8>>,
}

/// A fill callback for `cidb_tenant_cache_get_or_set`: computes the value of `key`, hands it
/// over with `cidb_cache_sink_set(sink, data, len)` and returns `CIDB_OK` (0), or returns
/// another `cidb_status` value to fail (nothing is stored and `get_or_set` returns that
/// status). `user_data` is the pointer given to `get_or_set`, untouched.
///
/// It runs on the thread that called `get_or_set`, before `get_or_set` returns. It may call
/// cidb functions, but not `cidb_tenant_cache_get_or_set` for the same key of the same
/// tenant (that returns `CIDB_INVALID_INPUT`: it would wait for itself). It must not
/// unwind (C++ exceptions, longjmp) through cidb.
///
/// Ownership: `key` and `sink` are valid only during the call.
pub type cidb_cache_fill =
    Option<unsafe extern "C" fn(key: *const c_char, sink: *mut cidb_cache_sink, user_data: *mut c_void) -> c_int>;

thread_local! {
    /// Sinks of the fill callbacks running on this thread (innermost last).
    static SINKS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// (engine monitor address, tenant, key) being filled on this thread.
    static FILLING: RefCell<Vec<(usize, String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Copies `len` bytes at `data` (NULL allowed when `len` is 0) as the value a fill callback
/// produced; a second call replaces the first. Only valid inside the fill callback that
/// received `sink`, on its thread: otherwise `CIDB_INVALID_INPUT` and nothing is written.
///
/// Ownership: `data` is borrowed for the call (copied). `sink` stays owned by cidb.
#[no_mangle]
pub extern "C" fn cidb_cache_sink_set(sink: *mut cidb_cache_sink, data: *const u8, len: usize) -> cidb_status {
    boundary(|| {
        let addr = sink as usize;
        let is_live = SINKS.with(|s| s.borrow().contains(&addr));
        if sink.is_null() || !is_live {
            return Err(invalid("sink is not the sink of a fill callback running on this thread (it is only valid during that call)"));
        }
        let bytes = bytes_arg(data, len, "data")?.to_vec();
        // SAFETY: `sink` is registered, so it points to the live sink of a callback running
        // on this thread (registered by `fill` below and unregistered before it is freed).
        unsafe { (*sink).value = Some(bytes) };
        Ok(())
    })
}

/// Removes the innermost registration of a fill when the call ends.
struct Unregister;

impl Drop for Unregister {
    fn drop(&mut self) {
        let _ = SINKS.try_with(|s| s.borrow_mut().pop());
        let _ = FILLING.try_with(|f| f.borrow_mut().pop());
    }
}

/// Runs the C callback `cb` for `key` and turns its outcome into the value or an error.
fn fill(cb: unsafe extern "C" fn(*const c_char, *mut cidb_cache_sink, *mut c_void) -> c_int, key: *const c_char, user_data: *mut c_void, id: (usize, String, String)) -> Result<Vec<u8>> {
    let mut sink = Box::new(cidb_cache_sink { value: None });
    let p: *mut cidb_cache_sink = &mut *sink;
    SINKS.with(|s| s.borrow_mut().push(p as usize));
    FILLING.with(|f| f.borrow_mut().push(id));
    let status = {
        let _done = Unregister;
        // SAFETY: `cb` is the caller's function with the documented signature; `key` is the
        // caller's string (valid during get_or_set) and `p` lives until after the call.
        unsafe { cb(key, p, user_data) }
    };
    if status != 0 {
        let name = crate::status::cidb_status::from_raw(status).map(|s| s.name().to_string_lossy().into_owned());
        return Err(match ErrorKind::from_c_status(status) {
            Some(kind) => Error::new(kind, format!("the fill callback failed with {}", name.unwrap_or_default())),
            None => Error::new(ErrorKind::Internal, format!("the fill callback returned {status}, which is not a cidb_status")),
        });
    }
    sink.value.take().ok_or_else(|| invalid("the fill callback returned CIDB_OK without calling cidb_cache_sink_set"))
}

/// Stores in `*out_data` / `*out_len` the value of `key`; when absent, calls `fill(key,
/// sink, user_data)` to compute it, stores it with `ttl_ms` (as in `cidb_tenant_cache_set`)
/// and returns it. Concurrent callers for the same key of the same tenant wait for the
/// first one, so the callback runs once (unless it fails; then the next waiter calls its
/// own). See `cidb_cache_fill` for what the callback may do.
///
/// Errors: the callback's own status when it fails, `CIDB_INVALID_INPUT` (`fill` NULL, the
/// callback returned `CIDB_OK` without a value, or a nested get_or_set of the key being
/// filled), `CIDB_INVALID_CACHE_KEY`, `CIDB_VALUE_TOO_LARGE` (the computed value; it is
/// not stored), `CIDB_INVALID_TTL`, `CIDB_CLOSED`.
///
/// Ownership: `key` is borrowed for the call; `user_data` is passed through. The caller
/// owns `*out_data` and must release it with `cidb_bytes_free(*out_data, *out_len)`
/// (NULL and 0 for an empty value).
#[no_mangle]
pub extern "C" fn cidb_tenant_cache_get_or_set(
    tenant: *const cidb_tenant,
    key: *const c_char,
    fill_cb: cidb_cache_fill,
    user_data: *mut c_void,
    ttl_ms: i64,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cidb_status {
    boundary(|| {
        let out_data = Out::new(out_data, "out_data", std::ptr::null_mut())?;
        let out_len = Out::new(out_len, "out_len", 0)?;
        let t = live(tenant)?;
        let key_str = arg_str(key, "key")?;
        let cb = fill_cb.ok_or_else(|| invalid("fill_cb is NULL"))?;
        let ttl = ttl_arg(ttl_ms)?;
        let id = (t.engine().monitor() as *const _ as usize, t.name().to_string(), key_str.to_string());
        if FILLING.with(|f| f.borrow().contains(&id)) {
            return Err(invalid(format!(
                "cidb_tenant_cache_get_or_set of key {key_str:?} from inside its own fill callback would wait for itself"
            )));
        }
        let v = t.cache().get_or_set(key_str, ttl, || fill(cb, key, user_data, id))?;
        give_bytes(v, &out_data, &out_len);
        Ok(())
    })
}

/// Stores in `*out_json` the engine's cache analytics: `{"l1": tier, "l2": tier, "l3":
/// tier, "hourly": [{"hour_start": ms, "accesses": n}, ...], "result_hits": n,
/// "result_misses": n, "stale_fills_refused": n, "warmed": n, "warnings": [...]}` where a
/// tier is `{"hits", "misses", "hit_ratio", "entries", "bytes", "promotions", "demotions",
/// "evictions", "expirations"}` (L1 bytes count key + value; L2/L3 bytes are stored,
/// compressed bytes). `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_cache_stats_json(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let e = &arg_ref(engine, "engine")?.engine;
        if e.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the engine is closed"));
        }
        out.set(c_string(json::to_text(&e.cache_stats())?)?);
        Ok(())
    })
}
