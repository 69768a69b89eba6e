//! Conversation message operations on a tenant handle: append (one or a batch, ids assigned
//! by the engine), a customer's messages over a time range, a conversation's messages.

use crate::ffi::{arg_str, boundary, c_string, opt_str, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::{NewMessage, Role};
use std::ffi::c_char;

/// Appends one message given as a JSON object:
/// `{"customer_id": "c1", "conversation_id": "conv1", "role": "user",
///   "timestamp": 1700000000000, "content": "hello", "metadata": {}}` (`metadata`
/// optional) and stores its assigned id (strictly increasing in append order) in
/// `*out_id`. Returns when durable. Errors: `CIDB_INVALID_INPUT` (bad JSON shape, an
/// unknown field such as `id`), `CIDB_INVALID_ID`,
/// `CIDB_INVALID_ROLE` (role not user, assistant, system, agent or tool),
/// `CIDB_INVALID_TIMESTAMP`, `CIDB_CONTENT_TOO_LARGE` (content over 1 MiB),
/// `CIDB_INVALID_ATTRIBUTES` (metadata not an object), `CIDB_CLOSED`.
///
/// Ownership: `message_json` is borrowed for the call; `out_id` is written only.
#[no_mangle]
pub extern "C" fn cidb_tenant_append_message(
    tenant: *const cidb_tenant,
    message_json: *const c_char,
    out_id: *mut u64,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_id, "out_id", 0)?;
        let t = live(tenant)?;
        let m: NewMessage = json::parse_one("message_json", arg_str(message_json, "message_json")?)?;
        out.set(t.append_message(&m)?.id);
        Ok(())
    })
}

/// Appends many messages given as a JSON array of message objects, in one transaction (all
/// land or none does), and stores in `*out_ids_json` a JSON array of their assigned ids in
/// input order. Same statuses as `cidb_tenant_append_message`.
///
/// Ownership: `messages_json` is borrowed for the call. The caller owns `*out_ids_json` and
/// must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_append_messages(
    tenant: *const cidb_tenant,
    messages_json: *const c_char,
    out_ids_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_ids_json, "out_ids_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let ms: Vec<NewMessage> = json::parse_many("messages_json", arg_str(messages_json, "messages_json")?)?;
        let ids: Vec<u64> = t.append_messages(&ms)?.iter().map(|m| m.id).collect();
        out.set(c_string(json::to_text(&ids)?)?);
        Ok(())
    })
}

/// Stores in `*out_json` a JSON array of customer `customer_id`'s messages with
/// `from_ms <= timestamp < to_ms`, oldest first (ties in append order), each with its `id`.
/// `role` keeps only messages of that role; NULL keeps every role (an unknown role is
/// `CIDB_INVALID_ROLE`). `limit` caps the number returned (the oldest ones); 0 means no cap.
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_json` and must
/// release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_messages_for_customer(
    tenant: *const cidb_tenant,
    customer_id: *const c_char,
    from_ms: i64,
    to_ms: i64,
    role: *const c_char,
    limit: usize,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let cid = arg_str(customer_id, "customer_id")?;
        let role = opt_str(role, "role")?.map(str::parse::<Role>).transpose()?;
        let ms = t.messages_for_customer(cid, from_ms, to_ms, role, limit)?;
        out.set(c_string(json::to_text(&ms)?)?);
        Ok(())
    })
}

/// Stores in `*out_json` a JSON array of conversation `conversation_id`'s messages in
/// append order (`[]` when there are none).
///
/// Ownership: `conversation_id` is borrowed for the call. The caller owns `*out_json` and
/// must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_messages_for_conversation(
    tenant: *const cidb_tenant,
    conversation_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let ms = t.messages_for_conversation(arg_str(conversation_id, "conversation_id")?)?;
        out.set(c_string(json::to_text(&ms)?)?);
        Ok(())
    })
}
