//! The change feed in C: subscriptions that call a C function for every committed change of
//! one tenant (or of every tenant), on a delivery thread of their own, and the persisted
//! event log read back with `events_since` to resume after a gap or a restart.
//!
//! Each `cidb_subscription` owns a Rust `CallbackSubscription` and a [`Gate`]; a registry of
//! live subscriptions per engine lets `cidb_engine_close` stop them all, so after `_free` or
//! close returns no callback is running and none will start.

use crate::callback::{Gate, UserData};
use crate::engine::cidb_engine;
use crate::ffi::{arg_ref, boundary, c_string, free_box, opt_str, Out};
use crate::json;
use crate::status::cidb_status;
use crate::tenant::{cidb_tenant, live};
use cidb::feed::{CallbackSubscription, Delivery, Event, Filter};
use cidb::{Engine, Result};
use serde::Serialize;
use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A change-feed callback: `delivery_json` is one delivery, either
/// `{"event": {"seq": 12, "at": ms, "tenant": "acme", "table": "customers", "op": "insert",
/// "key": "c1", "new": {...}, "old": null}}` (a committed change; `seq` strictly increases in
/// commit order; `new` is null for deletes, `old` is set for updates and deletes) or
/// `{"missed": {"count": 5, "from_seq": 17}}` (the subscription's queue was full, `count`
/// events were dropped, the first being `from_seq`: read them with `cidb_*_events_since`).
/// `user_data` is the pointer given at subscription.
///
/// Ownership: `delivery_json` is owned by cidb and valid only during the call; copy it to
/// keep it.
pub type cidb_event_callback = Option<unsafe extern "C" fn(delivery_json: *const c_char, user_data: *mut c_void)>;

/// A change-feed subscription. Create with `cidb_tenant_subscribe` or
/// `cidb_engine_subscribe`, release with `cidb_subscription_free` (which must not race with
/// another free of the same handle).
pub struct cidb_subscription {
    shared: Arc<Shared>,
}

struct Shared {
    gate: Arc<Gate>,
    sub: Mutex<Option<CallbackSubscription>>,
}

impl Shared {
    /// Stops calls (waiting for one in progress), unsubscribes and joins the delivery thread
    /// (Rust skips the join when this runs on that thread).
    fn stop(&self) {
        self.gate.close();
        let sub = self.sub.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(sub);
    }
}

/// Live subscriptions with the engine they belong to, so closing an engine stops its own.
static LIVE: Mutex<Vec<(Engine, Weak<Shared>)>> = Mutex::new(Vec::new());

/// The same engine? Engines are `Arc`s inside; two handles on one engine share its monitor,
/// and the registry holds a clone, so the address cannot be reused while compared.
fn same_engine(a: &Engine, b: &Engine) -> bool {
    std::ptr::eq(a.monitor(), b.monitor())
}

/// Stops every subscription of `engine` (called by `cidb_engine_close` after the engine
/// closed, so no new event is queued meanwhile).
pub(crate) fn stop_engine_subscriptions(engine: &Engine) {
    let mine: Vec<Arc<Shared>> = {
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        let mut mine = Vec::new();
        live.retain(|(e, w)| {
            if !same_engine(e, engine) {
                return w.strong_count() > 0;
            }
            mine.extend(w.upgrade());
            false
        });
        mine
    };
    for s in mine {
        s.stop();
    }
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum DeliveryJson<'a> {
    Event(&'a Event),
    Missed { count: u64, from_seq: u64 },
}

fn delivery_text(d: &Delivery) -> Option<CString> {
    let j = match d {
        Delivery::Event(e) => DeliveryJson::Event(e),
        Delivery::Missed { count, from_seq } => DeliveryJson::Missed { count: *count, from_seq: *from_seq },
    };
    // serde_json escapes NUL inside strings, so CString::new only fails if serialising did.
    serde_json::to_string(&j).ok().and_then(|s| CString::new(s).ok())
}

fn parse_filter(filter_json: *const c_char) -> Result<Filter> {
    match opt_str(filter_json, "filter_json")? {
        Some(text) => json::parse_one("filter_json", text),
        None => Ok(Filter::default()),
    }
}

/// The shared body of both subscribe functions: `start` subscribes on the tenant or engine.
fn subscribe(
    engine: &Engine,
    filter_json: *const c_char,
    cb: cidb_event_callback,
    user_data: *mut c_void,
    out_sub: Out<*mut cidb_subscription>,
    start: impl FnOnce(Filter, Box<dyn Fn(Delivery) + Send>) -> Result<CallbackSubscription>,
) -> Result<()> {
    let filter = parse_filter(filter_json)?;
    let cb = cb.ok_or_else(|| crate::ffi::invalid("cb is NULL"))?;
    let gate = Gate::new();
    let (g, ud) = (gate.clone(), UserData::new(user_data));
    let deliver = move |d: Delivery| {
        if !g.is_open() {
            return; // skip what is still queued after _free / close: no JSON work either
        }
        if let Some(text) = delivery_text(&d) {
            // SAFETY: `cb` is the caller's function with the documented signature; the text
            // lives until after the call returns.
            g.call(|| unsafe { cb(text.as_ptr(), ud.get()) });
        }
    };
    // Registering under the registry lock means a concurrent close either sees this
    // subscription or made `start` fail with CIDB_CLOSED.
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    let sub = start(filter, Box::new(deliver))?;
    let shared = Arc::new(Shared { gate, sub: Mutex::new(Some(sub)) });
    live.push((engine.clone(), Arc::downgrade(&shared)));
    drop(live);
    out_sub.set(Box::into_raw(Box::new(cidb_subscription { shared })));
    Ok(())
}

/// Subscribes to the committed changes of this handle's tenant: `cb(delivery_json,
/// user_data)` is called once per change, after the change is durable, in commit order, on a
/// delivery thread cidb creates for this subscription (never on the writing thread; calls of
/// one subscription never overlap). A slow callback never slows writers: deliveries queue
/// (`feed_queue_capacity`, 10,000 by default) and, when the queue is full, are dropped and
/// reported by one `missed` delivery once the callback has caught up.
///
/// `filter_json` selects what to receive (NULL: everything): `{"tables": ["customers",
/// "customer_scores", "latest_scores", "conversation_messages", "conversation_context"],
/// "ops": ["insert", "update", "delete"], "score_type": "churn", "crossing":
/// {"score_type": "churn", "threshold": 0.7, "above": true}}`, every field optional, empty
/// lists meaning all; `crossing` keeps only latest-score changes that cross the threshold
/// upwards (`above` true, the default) or downwards. Errors: `CIDB_INVALID_INPUT` (`cb`
/// NULL, `filter_json` not JSON, an unknown field or table or op), `CIDB_CLOSED`.
///
/// The callback may call any cidb function, including `cidb_subscription_free` on its own
/// subscription (later deliveries are then dropped). It must not free another subscription
/// or close the engine: those wait for callbacks in progress and can deadlock.
///
/// Ownership: `filter_json` is borrowed for the call; cidb never dereferences `user_data`,
/// which must stay valid until `cidb_subscription_free` (or `cidb_engine_close`) returns.
/// The caller owns `*out_sub` and must release it with `cidb_subscription_free`, also after
/// the engine is closed.
#[no_mangle]
pub extern "C" fn cidb_tenant_subscribe(
    tenant: *const cidb_tenant,
    filter_json: *const c_char,
    cb: cidb_event_callback,
    user_data: *mut c_void,
    out_sub: *mut *mut cidb_subscription,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_sub, "out_sub", std::ptr::null_mut())?;
        let t = live(tenant)?;
        subscribe(t.engine(), filter_json, cb, user_data, out, |f, d| t.subscribe_callback(f, d))
    })
}

/// Like `cidb_tenant_subscribe` for the changes of every tenant of the engine (each event
/// names its `tenant`).
///
/// Ownership: as for `cidb_tenant_subscribe`.
#[no_mangle]
pub extern "C" fn cidb_engine_subscribe(
    engine: *const cidb_engine,
    filter_json: *const c_char,
    cb: cidb_event_callback,
    user_data: *mut c_void,
    out_sub: *mut *mut cidb_subscription,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_sub, "out_sub", std::ptr::null_mut())?;
        let e = &arg_ref(engine, "engine")?.engine;
        subscribe(e, filter_json, cb, user_data, out, |f, d| e.subscribe_callback(f, d))
    })
}

/// Ends a subscription and releases it: no callback starts after this returns, a callback in
/// progress on another thread has returned, and the delivery thread has been joined.
/// Deliveries still queued are dropped (read them with `cidb_*_events_since`). Called from
/// inside the subscription's own callback it cannot wait for itself: it stops later
/// deliveries and the thread ends by itself after the callback returns. NULL is ignored.
///
/// Ownership: `sub` is invalid after the call and must not be used or freed again. Release
/// `user_data` only after this returns.
#[no_mangle]
pub extern "C" fn cidb_subscription_free(sub: *mut cidb_subscription) {
    crate::ffi::boundary_value((), || {
        // SAFETY: NULL or a live handle from a subscribe function (the contract).
        if let Some(s) = unsafe { sub.as_ref() } {
            s.shared.stop();
            let me = Arc::downgrade(&s.shared);
            LIVE.lock().unwrap_or_else(PoisonError::into_inner).retain(|(_, w)| !w.ptr_eq(&me) && w.strong_count() > 0);
        }
        free_box(sub);
    })
}

fn events_json(events: Vec<Event>, out: Out<*mut c_char>) -> Result<()> {
    out.set(c_string(json::to_text(&events)?)?);
    Ok(())
}

/// Stores in `*out_json` a JSON array of this tenant's logged events with `seq >= from_seq`,
/// oldest first (the event objects of `cidb_event_callback`), at most `limit` (0: no cap).
/// Events stay in the log for `feed_retention_ms` (1 hour by default). To resume after a
/// `missed` delivery, pass its `from_seq`; after a restart, the last `seq` handled plus 1.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_tenant_events_since(
    tenant: *const cidb_tenant,
    from_seq: u64,
    limit: usize,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let t = live(tenant)?;
        events_json(t.events_since(from_seq, cap(limit))?, out)
    })
}

/// Like `cidb_tenant_events_since` for the events of every tenant.
///
/// Ownership: the caller owns `*out_json` and must release it with `cidb_string_free`.
#[no_mangle]
pub extern "C" fn cidb_engine_events_since(
    engine: *const cidb_engine,
    from_seq: u64,
    limit: usize,
    out_json: *mut *mut c_char,
) -> cidb_status {
    boundary(|| {
        let out = Out::new(out_json, "out_json", std::ptr::null_mut())?;
        let e = &arg_ref(engine, "engine")?.engine;
        events_json(e.events_since(from_seq, cap(limit))?, out)
    })
}

/// `limit` 0 means no cap.
fn cap(limit: usize) -> usize {
    if limit == 0 {
        usize::MAX
    } else {
        limit
    }
}
