//! The engine handle: open, close, free, tenant handles and stats. A `cidb_engine` wraps one
//! `cidb::Engine`; it may be shared by any number of threads. Closing is separate from
//! releasing so a program can close (and see close errors) while other threads still hold
//! the pointer, and then free it once they are done.

use crate::ffi::{arg_ref, arg_str, boundary, c_string, free_box, invalid, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::cidb_tenant;
use cidb::Engine;
use std::ffi::c_char;

/// An open cidb database. Create with `cidb_engine_open`, close with `cidb_engine_close`,
/// release with `cidb_engine_free`. Safe to use from several threads at once, except that
/// `cidb_engine_free` must not race with any other use of the same handle.
pub struct cidb_engine {
    pub(crate) engine: Engine,
    /// Alert callbacks registered through this handle (stopped at close).
    pub(crate) alerts: crate::monitor::AlertCallbacks,
}

/// Opens (creating it if missing) the database in directory `dir` and stores a new engine
/// handle in `*out_engine` (NULL on failure).
///
/// Fails with `CIDB_ALREADY_OPEN` when the directory is open in this or another process,
/// `CIDB_STORAGE` when it cannot be created or read, `CIDB_INVALID_INPUT` when `dir` is
/// NULL, empty or not UTF-8.
///
/// Ownership: `dir` is borrowed for the call. The caller owns `*out_engine` and must
/// release it with `cidb_engine_free` (which also closes it).
#[no_mangle]
pub extern "C" fn cidb_engine_open(dir: *const c_char, out_engine: *mut *mut cidb_engine) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_engine, "out_engine", std::ptr::null_mut())?;
        let dir = dir_arg(dir)?;
        out.set(new_handle(Engine::open_default(dir)?));
        Ok(())
    })
}

/// Like `cidb_engine_open`, with the configuration the `cidb` command uses: the defaults
/// of `profile` ("development" or "production"; NULL: the `profile` key of the file, else
/// development), sizes derived from the machine, then the TOML file `config_toml_path`
/// (NULL: none; keys as printed by `cidb_config_json`, e.g. `feed_queue_capacity = 4`),
/// then `CIDB_<KEY>` environment variables (e.g. `CIDB_SWEEP_INTERVAL_MS=250`), each layer
/// overriding the one before. `CIDB_PROFILE` in the environment overrides `profile`.
///
/// Fails with `CIDB_CONFIG` for an unknown profile, a file that cannot be read or is not
/// TOML, an unknown key, or a value that is not valid for its key (the message names the
/// key and where it came from); otherwise as `cidb_engine_open`. The environment is read
/// during the call: do not change it from another thread meanwhile.
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_engine` and must
/// release it with `cidb_engine_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_open_with(
    dir: *const c_char,
    profile: *const c_char,
    config_toml_path: *const c_char,
    out_engine: *mut *mut cidb_engine,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_engine, "out_engine", std::ptr::null_mut())?;
        let dir = dir_arg(dir)?;
        let (config, _) = crate::config::load(profile, config_toml_path)?;
        out.set(new_handle(Engine::open(dir, config)?));
        Ok(())
    })
}

fn dir_arg<'a>(dir: *const c_char) -> cidb::Result<&'a str> {
    let dir = arg_str(dir, "dir")?;
    if dir.is_empty() {
        return Err(invalid("dir is empty"));
    }
    Ok(dir)
}

fn new_handle(engine: Engine) -> *mut cidb_engine {
    Box::into_raw(Box::new(cidb_engine { engine, alerts: Default::default() }))
}

/// Closes the engine: waits for queued writes to become durable, stops background work
/// and releases the directory (another engine or process may then open it). Afterwards
/// every call on this engine, and on tenant handles obtained from it, returns
/// `CIDB_CLOSED`. Closing a closed engine returns `CIDB_OK`.
///
/// Callbacks end with the engine: change-feed subscriptions of this engine (through any
/// handle) stop delivering and their threads are joined, and alert callbacks registered
/// through this handle are removed; when close returns none of them is running. Do not
/// close the engine from inside one of its callbacks.
///
/// Ownership: the handle stays allocated; release it with `cidb_engine_free`.
/// Subscription handles must still be released with `cidb_subscription_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_close(engine: *const cidb_engine) -> cidb_status {
    boundary(|| close(arg_ref(engine, "engine")?))
}

fn close(e: &cidb_engine) -> cidb::Result<()> {
    let r = e.engine.close();
    crate::feed::stop_engine_subscriptions(&e.engine);
    e.alerts.stop_all(&e.engine);
    r
}

/// Closes the engine if it is open (errors are dropped: call `cidb_engine_close` first to
/// see them; its callbacks end as described there) and releases the handle. NULL is
/// accepted and ignored.
///
/// Ownership: `engine` is invalid after the call and must not be used or freed again.
/// Tenant handles obtained from it stay valid (their calls return `CIDB_CLOSED`) and must
/// still be released with `cidb_tenant_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_free(engine: *mut cidb_engine) {
    crate::ffi::boundary_value((), || {
        // SAFETY: NULL or a live handle from cidb_engine_open (the contract).
        if let Some(e) = unsafe { engine.as_ref() } {
            let _ = close(e);
        }
        free_box(engine);
    })
}

/// Stores in `*out_tenant` a handle on tenant `name` (1 to 256 bytes of UTF-8;
/// `CIDB_INVALID_ID` otherwise). The tenant is created implicitly by its first write; a
/// handle only ever reads and writes its own tenant's rows. `CIDB_CLOSED` when the engine
/// is closed.
///
/// Ownership: `name` is borrowed for the call. The caller owns `*out_tenant` and must
/// release it with `cidb_tenant_free`; it may outlive the engine handle (its calls then
/// return `CIDB_CLOSED`).
#[no_mangle]
pub extern "C" fn cidb_engine_tenant(
    engine: *const cidb_engine,
    name: *const c_char,
    out_tenant: *mut *mut cidb_tenant,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_tenant, "out_tenant", std::ptr::null_mut())?;
        let engine = arg_ref(engine, "engine")?;
        let name = arg_str(name, "name")?;
        let tenant = engine.engine.tenant(name)?;
        out.set(Box::into_raw(Box::new(cidb_tenant { tenant })));
        Ok(())
    })
}

/// Stores in `*out_json` the engine's counters as a JSON object: `customers`, `scores`,
/// `latest_scores`, `messages` (rows over all tenants; `null` while storage cannot be read,
/// the rest is still reported), `commits`, `writes`, `failed_writes`, `max_commit_group`
/// (since open), and `breaker`, the storage circuit breaker: `{"state": "closed" | "open" |
/// "half_open", "failures": n, "opened": n, "rejected": n, "last_error": null | "..."}`.
/// `CIDB_CLOSED` when closed.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_stats(engine: *const cidb_engine, out_json: *mut *mut c_char) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let stats = arg_ref(engine, "engine")?.engine.stats()?;
        out.set(c_string(json::to_text(&stats)?)?);
        Ok(())
    })
}
