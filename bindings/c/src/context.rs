//! Conversation contexts on a tenant handle (the bounded, expiring history an assistant keeps
//! per conversation: merge new entries, keep the newest `max_history`, reset the TTL, all in
//! one atomic write), and the engine-wide sweep that deletes expired data now.

use crate::engine::cidb_engine;
use crate::ffi::{arg_ref, arg_str, boundary, c_string, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::{ContextEntry, Error, ErrorKind};
use std::ffi::c_char;
use std::time::Duration;

/// Merges `entries_json` into conversation `conversation_id`'s context and stores the new
/// context in `*out_context_json`, all in one atomic write (concurrent updates of the same
/// conversation never interleave).
///
/// `entries_json` is a JSON array (possibly empty) of entries
/// `{"role": "user", "content": "hi", "timestamp": 1700000000000, "metadata": {}}`
/// (`metadata` optional). The merged entries are ordered by timestamp (equal timestamps keep
/// arrival order, stored entries first) and only the newest `max_history` are kept. The
/// context expires `ttl_ms` milliseconds from now; an expired context counts as empty.
///
/// The result is `{"conversation_id": "...", "entries": [...], "updated_at": ms,
/// "expires_at": ms}`. Returns when durable. Errors: `CIDB_INVALID_TTL` (`ttl_ms <= 0`),
/// `CIDB_INVALID_INPUT` (`max_history` 0, bad JSON shape, an unknown field),
/// `CIDB_INVALID_ID`, `CIDB_INVALID_ROLE`, `CIDB_INVALID_TIMESTAMP`,
/// `CIDB_CONTENT_TOO_LARGE`, `CIDB_INVALID_ATTRIBUTES`, `CIDB_CLOSED`.
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_context_json` and
/// must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_update_context(
    tenant: *const cidb_tenant,
    conversation_id: *const c_char,
    entries_json: *const c_char,
    ttl_ms: i64,
    max_history: usize,
    out_context_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_context_json, "out_context_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let conv = arg_str(conversation_id, "conversation_id")?;
        let entries: Vec<ContextEntry> = json::parse_many("entries_json", arg_str(entries_json, "entries_json")?)?;
        if ttl_ms <= 0 {
            return Err(Error::new(ErrorKind::InvalidTtl, format!("ttl_ms must be greater than zero, got {ttl_ms}")));
        }
        let ctx = t.update_context(conv, &entries, Duration::from_millis(ttl_ms as u64), max_history)?;
        out.set(c_string(json::to_text(&ctx)?)?);
        Ok(())
    })
}

/// Stores in `*out_json` conversation `conversation_id`'s context (the shape returned by
/// `cidb_tenant_update_context`), or returns `CIDB_NOT_FOUND` (with `*out_json` NULL) when
/// the conversation has none or it has expired.
///
/// Ownership: `conversation_id` is borrowed for the call. The caller owns `*out_json` and
/// must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_get_context(
    tenant: *const cidb_tenant,
    conversation_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let conv = arg_str(conversation_id, "conversation_id")?;
        match t.get_context(conv)? {
            Some(ctx) => out.set(c_string(json::to_text(&ctx)?)?),
            None => {
                return Err(Error::new(ErrorKind::NotFound, format!("no live context for conversation {conv:?}")));
            }
        }
        Ok(())
    })
}

/// Deletes conversation `conversation_id`'s context; `*out_existed` is set to true when a
/// live (unexpired) one existed (deleting a missing context is not an error). Returns when
/// durable.
///
/// Ownership: `conversation_id` is borrowed for the call; `out_existed` is written only.
#[no_mangle]
pub extern "C" fn cidb_tenant_delete_context(
    tenant: *const cidb_tenant,
    conversation_id: *const c_char,
    out_existed: *mut bool,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_existed, "out_existed", false)?;
        let t = live(tenant)?;
        out.set(t.delete_context(arg_str(conversation_id, "conversation_id")?)?);
        Ok(())
    })
}

/// Deletes expired data now (expired contexts of every tenant, and change-feed events older
/// than the retention) and stores in `*out_removed` how many contexts were deleted. The
/// engine also does this in the background every `sweep_interval_ms` (30 s by default);
/// expired contexts read as absent either way. `CIDB_CLOSED` when closed.
///
/// Ownership: `out_removed` is written only.
#[no_mangle]
pub extern "C" fn cidb_engine_sweep_expired(engine: *const cidb_engine, out_removed: *mut u64) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_removed, "out_removed", 0)?;
        let n = arg_ref(engine, "engine")?.engine.sweep_expired()?;
        out.set(n as u64);
        Ok(())
    })
}
