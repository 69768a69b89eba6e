//! The tenant handle and its customer operations. Score and message operations on the same
//! handle live in `scores.rs` and `messages.rs`. A `cidb_tenant` wraps one `cidb::Tenant`
//! (which keeps its engine alive); any number of threads may use one handle at once.

use crate::ffi::{arg_ref, arg_str, boundary, c_string, free_box, Out};
use crate::json;
use crate::status::cidb_status;
use cidb::{Customer, ErrorKind, Result, Tenant};
use std::ffi::c_char;

/// A handle on one tenant of an engine. Create with `cidb_engine_tenant`, release with
/// `cidb_tenant_free`. Safe to use from several threads at once, except that
/// `cidb_tenant_free` must not race with any other use of the same handle.
pub struct cidb_tenant {
    pub(crate) tenant: Tenant,
}

/// The tenant behind a handle argument, or `CIDB_CLOSED` when its engine is closed (checked
/// before the arguments so a closed engine always reports `CIDB_CLOSED`).
pub(crate) fn live<'a>(p: *const cidb_tenant) -> Result<&'a Tenant> {
    let t = &arg_ref(p, "tenant")?.tenant;
    if t.engine().is_closed() {
        return Err(cidb::Error::new(ErrorKind::Closed, "the engine of this tenant handle is closed"));
    }
    Ok(t)
}

/// Releases a tenant handle. NULL is accepted and ignored. Writes already returned are
/// durable; nothing is pending on a tenant handle.
///
/// Ownership: `tenant` is invalid after the call and must not be used or freed again.
#[no_mangle]
pub extern "C" fn cidb_tenant_free(tenant: *mut cidb_tenant) {
    crate::ffi::boundary_value((), || free_box(tenant))
}

/// Inserts or replaces (by `id`) one customer given as a JSON object:
/// `{"id": "c1", "email": null, "name": null, "department": "", "status": "",
///   "created_at": 0, "updated_at": 0, "attributes": {}}` (only `id` is required).
/// Returns when the write is durable. Errors: `CIDB_INVALID_INPUT` (not JSON, not an
/// object, an unknown field, a field of the wrong type), `CIDB_INVALID_ID`, `CIDB_INVALID_TIMESTAMP`,
/// `CIDB_INVALID_ATTRIBUTES` (attributes not an object), `CIDB_CLOSED`.
///
/// Ownership: `customer_json` is borrowed for the call.
#[no_mangle]
pub extern "C" fn cidb_tenant_upsert_customer(tenant: *const cidb_tenant, customer_json: *const c_char) -> cidb_status {
    boundary(|| {
        let t = live(tenant)?;
        let c: Customer = json::parse_one("customer_json", arg_str(customer_json, "customer_json")?)?;
        t.upsert_customer(&c)
    })
}

/// Inserts or replaces many customers given as a JSON array of customer objects, in one
/// transaction: all land or none does. Error messages name the first bad element
/// (`customers_json[3]: ...`). Same statuses as `cidb_tenant_upsert_customer`.
///
/// Ownership: `customers_json` is borrowed for the call.
#[no_mangle]
pub extern "C" fn cidb_tenant_upsert_customers(tenant: *const cidb_tenant, customers_json: *const c_char) -> cidb_status {
    boundary(|| {
        let t = live(tenant)?;
        let cs: Vec<Customer> = json::parse_many("customers_json", arg_str(customers_json, "customers_json")?)?;
        t.upsert_customers(&cs)
    })
}

/// Stores in `*out_json` the customer with id `customer_id` as a JSON object, or returns
/// `CIDB_NOT_FOUND` (with `*out_json` NULL) when the tenant has no such customer.
///
/// Ownership: `customer_id` is borrowed for the call. The caller owns `*out_json` and must
/// release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_get_customer(
    tenant: *const cidb_tenant,
    customer_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let id = arg_str(customer_id, "customer_id")?;
        match t.get_customer(id)? {
            Some(c) => out.set(c_string(json::to_text(&c)?)?),
            None => return Err(cidb::Error::new(ErrorKind::NotFound, format!("no customer with id {id:?}"))),
        }
        Ok(())
    })
}

/// Deletes the customer with id `customer_id`; `*out_existed` is set to true when it
/// existed, false otherwise (deleting a missing customer is not an error). Its scores and
/// messages stay (they are history). Returns when the delete is durable.
///
/// Ownership: `customer_id` is borrowed for the call; `out_existed` is written only.
#[no_mangle]
pub extern "C" fn cidb_tenant_delete_customer(
    tenant: *const cidb_tenant,
    customer_id: *const c_char,
    out_existed: *mut bool,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_existed, "out_existed", false)?;
        let t = live(tenant)?;
        out.set(t.delete_customer(arg_str(customer_id, "customer_id")?)?);
        Ok(())
    })
}

/// Stores in `*out_count` the number of customers of this tenant.
///
/// Ownership: `out_count` is written only.
#[no_mangle]
pub extern "C" fn cidb_tenant_count_customers(tenant: *const cidb_tenant, out_count: *mut u64) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_count, "out_count", 0)?;
        out.set(live(tenant)?.count_customers()?);
        Ok(())
    })
}
