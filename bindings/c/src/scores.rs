//! Score operations on a tenant handle: append scores (one or a batch), read the latest
//! score of a type, read a score history over a time range.

use crate::ffi::{arg_str, boundary, c_string, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::{Error, ErrorKind, Score};
use std::ffi::c_char;

/// Appends one score given as a JSON object:
/// `{"customer_id": "c1", "score_type": "churn_risk", "score": 0.8, "confidence": 0.9,
///   "created_at": 1700000000000, "model": null}` (`model` optional) and updates the latest
/// score of (customer, type) in the same transaction. Returns when durable. Errors:
/// `CIDB_INVALID_INPUT` (not JSON, not an object, an unknown field, a wrong type), `CIDB_INVALID_ID`, `CIDB_INVALID_SCORE` (score or confidence not
/// in [0, 1]), `CIDB_INVALID_TIMESTAMP`, `CIDB_CLOSED`.
///
/// Ownership: `score_json` is borrowed for the call.
#[no_mangle]
pub extern "C" fn cidb_tenant_add_score(tenant: *const cidb_tenant, score_json: *const c_char) -> cidb_status {
    boundary(|| {
        let t = live(tenant)?;
        let s: Score = json::parse_one("score_json", arg_str(score_json, "score_json")?)?;
        t.add_score(&s)
    })
}

/// Appends many scores given as a JSON array of score objects, in one transaction: all land
/// or none does. Same statuses as `cidb_tenant_add_score`; messages name the bad element.
///
/// Ownership: `scores_json` is borrowed for the call.
#[no_mangle]
pub extern "C" fn cidb_tenant_add_scores(tenant: *const cidb_tenant, scores_json: *const c_char) -> cidb_status {
    boundary(|| {
        let t = live(tenant)?;
        let ss: Vec<Score> = json::parse_many("scores_json", arg_str(scores_json, "scores_json")?)?;
        t.add_scores(&ss)
    })
}

/// Stores in `*out_json` the latest score (greatest `created_at`; the later write on a tie)
/// of type `score_type` for customer `customer_id`, as a JSON score object, or returns
/// `CIDB_NOT_FOUND` (with `*out_json` NULL) when there is none.
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_json` and must
/// release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_latest_score(
    tenant: *const cidb_tenant,
    customer_id: *const c_char,
    score_type: *const c_char,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let cid = arg_str(customer_id, "customer_id")?;
        let ty = arg_str(score_type, "score_type")?;
        match t.latest_score(cid, ty)? {
            Some(s) => out.set(c_string(json::to_text(&s)?)?),
            None => {
                return Err(Error::new(ErrorKind::NotFound, format!("no {ty:?} score for customer {cid:?}")));
            }
        }
        Ok(())
    })
}

/// Stores in `*out_json` a JSON array of the scores of type `score_type` for customer
/// `customer_id` with `from_ms <= created_at < to_ms`, oldest first (`[]` when none).
///
/// Ownership: the strings are borrowed for the call. The caller owns `*out_json` and must
/// release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_score_history(
    tenant: *const cidb_tenant,
    customer_id: *const c_char,
    score_type: *const c_char,
    from_ms: i64,
    to_ms: i64,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        let cid = arg_str(customer_id, "customer_id")?;
        let ty = arg_str(score_type, "score_type")?;
        let history = t.score_history(cid, ty, from_ms, to_ms)?;
        out.set(c_string(json::to_text(&history)?)?);
        Ok(())
    })
}
