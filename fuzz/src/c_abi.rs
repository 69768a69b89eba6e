//! Target `c_abi_sequences`: sequences of calls to the C ABI (the `extern "C"` functions of
//! the `cidb-c` crate, called from Rust exactly as C would call them) over a few handle slots:
//! engines (two directories, so a second open of one is `CIDB_ALREADY_OPEN`), tenants,
//! subscriptions and alert callbacks. Arguments are NULL, valid, not UTF-8, not JSON, JSON of
//! the wrong shape or records with bad fields; handles are live, closed, or of a closed or
//! freed engine (documented as allowed). A freed handle is never passed again (that is
//! undefined behaviour by contract). After every call:
//! - the status is one of the header's numbers, never `CIDB_INTERNAL` (a caught panic);
//! - `cidb_last_error_message` is empty after success, a message after failure, and
//!   `cidb_last_error_copy` agrees with it;
//! - a NULL `out_` parameter is `CIDB_INVALID_INPUT`; after a failure the `out_` value is
//!   NULL / 0 / false; after success returned text is valid UTF-8 (and valid JSON where the
//!   header says JSON), released with `cidb_string_free`;
//! - a tenant handle whose engine is closed gets `CIDB_CLOSED`.
//!
//! Everything still live is released at the end of the input, in a fuzzed order before that.

use crate::engine_model::{CustomerIn, EntryIn, MsgIn, ScoreIn, Text};
use arbitrary::Arbitrary;
use cidb_c::cidb_status;
use cidb_c::{cidb_engine, cidb_subscription, cidb_tenant};
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU64, Ordering};

static EVENTS: AtomicU64 = AtomicU64::new(0);
static ALERTS: AtomicU64 = AtomicU64::new(0);

/// A change-feed callback: the delivery must be UTF-8 JSON with an `event` or `missed` key.
unsafe extern "C" fn on_event(json: *const c_char, ud: *mut c_void) {
    let text = unsafe { CStr::from_ptr(json) }.to_str().expect("delivery is not UTF-8");
    let v: serde_json::Value = serde_json::from_str(text).expect("delivery is not JSON");
    assert!(v.get("event").is_some() || v.get("missed").is_some(), "unexpected delivery {text}");
    unsafe { &*(ud as *const AtomicU64) }.fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C" fn on_alert(json: *const c_char, ud: *mut c_void) {
    let text = unsafe { CStr::from_ptr(json) }.to_str().expect("alert is not UTF-8");
    serde_json::from_str::<serde_json::Value>(text).expect("alert is not JSON");
    unsafe { &*(ud as *const AtomicU64) }.fetch_add(1, Ordering::Relaxed);
}

/// A string argument.
#[derive(Arbitrary, Debug, Clone)]
pub enum S {
    Null,
    Text(Text),
    /// Raw bytes (not necessarily UTF-8), cut at the first NUL as C would see them.
    Bytes(Vec<u8>),
}

const IDS: [&str; 4] = ["c0", "c1", "v0", "churn"];

fn cbytes(mut b: Vec<u8>) -> CString {
    if let Some(i) = b.iter().position(|&c| c == 0) {
        b.truncate(i);
    }
    CString::new(b).expect("no NUL left")
}

impl S {
    fn get(&self) -> Option<CString> {
        match self {
            S::Null => None,
            S::Text(t) => Some(cbytes(t.get(&IDS).into_bytes())),
            S::Bytes(b) => Some(cbytes(b.clone())),
        }
    }
}

/// A JSON argument: a record of the right type, one with an extra or replaced field, an
/// array of records, raw bytes, or NULL.
#[derive(Arbitrary, Debug, Clone)]
pub enum Js<T> {
    Good(T),
    Many(Vec<T>),
    Field(T, u8, crate::engine_model::J),
    Raw(Vec<u8>),
    Null,
}

const FIELDS: [&str; 8] = ["id", "customer_id", "role", "timestamp", "score", "attributes", "metadata", "bogus"];

impl<T: Clone> Js<T> {
    fn get(&self, to_json: impl Fn(&T) -> serde_json::Value) -> Option<CString> {
        let text = match self {
            Js::Good(t) => to_json(t).to_string(),
            Js::Many(ts) => serde_json::Value::Array(ts.iter().map(&to_json).collect()).to_string(),
            Js::Field(t, f, v) => {
                let mut j = to_json(t);
                if let Some(o) = j.as_object_mut() {
                    o.insert(FIELDS[*f as usize % FIELDS.len()].to_string(), v.get());
                }
                j.to_string()
            }
            Js::Raw(b) => return Some(cbytes(b.clone())),
            Js::Null => return None,
        };
        Some(cbytes(text.into_bytes()))
    }
}

fn customer_json(c: &CustomerIn) -> serde_json::Value {
    serde_json::to_value(c.get()).unwrap_or_default()
}
fn score_json(s: &ScoreIn) -> serde_json::Value {
    serde_json::to_value(s.get()).unwrap_or_default()
}
fn message_json(m: &MsgIn) -> serde_json::Value {
    serde_json::to_value(m.get()).unwrap_or_default()
}
fn entry_json(e: &EntryIn) -> serde_json::Value {
    serde_json::to_value(e.get()).unwrap_or_default()
}
fn filter_json(f: &FilterIn) -> serde_json::Value {
    const TABLES: [&str; 6] = ["customers", "customer_scores", "latest_scores", "conversation_messages", "conversation_context", "nope"];
    const OPS: [&str; 4] = ["insert", "update", "delete", "upsert"];
    let mut o = serde_json::Map::new();
    if !f.tables.is_empty() {
        o.insert("tables".into(), f.tables.iter().map(|i| TABLES[*i as usize % TABLES.len()]).collect());
    }
    if !f.ops.is_empty() {
        o.insert("ops".into(), f.ops.iter().map(|i| OPS[*i as usize % OPS.len()]).collect());
    }
    if let Some((th, above)) = f.crossing {
        o.insert("crossing".into(), serde_json::json!({"score_type": "churn", "threshold": th, "above": above}));
    }
    serde_json::Value::Object(o)
}

#[derive(Arbitrary, Debug, Clone)]
pub struct FilterIn {
    tables: Vec<u8>,
    ops: Vec<u8>,
    crossing: Option<(f64, bool)>,
}

/// A TOML configuration file's content.
#[derive(Arbitrary, Debug, Clone)]
pub enum Toml {
    Keys(Vec<(u8, TomlValue)>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum TomlValue {
    Int(i64),
    Small(u16),
    Bool(bool),
    Str(String),
    Float(f64),
}

const CONFIG_KEYS: [&str; 19] = [
    "profile",
    "l1_max_items",
    "l1_max_bytes",
    "max_content_bytes",
    "seed_indexes",
    "group_commit_max_batch",
    "group_commit_window_ms",
    "breaker_threshold",
    "breaker_window_ms",
    "breaker_cooldown_ms",
    "sweep_interval_ms",
    "background_workers",
    "feed_retention_ms",
    "feed_queue_capacity",
    "verify_on_open",
    "commit_log",
    "redo_log",
    "page_cache_bytes",
    "no_such_key",
];

impl Toml {
    fn text(&self) -> Vec<u8> {
        match self {
            Toml::Raw(b) => b.clone(),
            Toml::Keys(kv) => {
                let mut s = String::new();
                for (k, v) in kv {
                    let v = match v {
                        TomlValue::Int(i) => i.to_string(),
                        TomlValue::Small(n) => n.to_string(),
                        TomlValue::Bool(b) => b.to_string(),
                        TomlValue::Str(t) => format!("{:?}", t),
                        TomlValue::Float(f) => format!("{f:?}"),
                    };
                    s.push_str(&format!("{} = {v}\n", CONFIG_KEYS[*k as usize % CONFIG_KEYS.len()]));
                }
                s.into_bytes()
            }
        }
    }
}

/// Where `cidb_engine_open_with` reads its configuration from.
#[derive(Arbitrary, Debug, Clone)]
pub enum TomlPath {
    Null,
    Missing,
    Empty,
    File(Toml),
}

/// Which handle to pass: a slot (NULL when empty) or NULL.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum H {
    Slot(u8),
    Null,
}

/// One C call.
#[derive(Arbitrary, Debug, Clone)]
pub enum Call {
    Open { slot: u8, dir: u8, null_dir: bool, null_out: bool },
    OpenWith { slot: u8, dir: u8, profile: S, toml: TomlPath, null_out: bool },
    ConfigJson { profile: S, toml: TomlPath, null_out: bool },
    Close { e: H },
    Free { slot: u8 },
    Tenant { e: H, name: S, slot: u8, null_out: bool },
    TenantFree { slot: u8 },
    Upsert { t: H, json: Js<CustomerIn> },
    UpsertMany { t: H, json: Js<CustomerIn> },
    Get { t: H, id: S, null_out: bool },
    Delete { t: H, id: S, null_out: bool },
    Count { t: H, null_out: bool },
    AddScore { t: H, json: Js<ScoreIn> },
    AddScores { t: H, json: Js<ScoreIn> },
    Latest { t: H, cid: S, ty: S, null_out: bool },
    History { t: H, cid: S, ty: S, from: i64, to: i64, null_out: bool },
    Append { t: H, json: Js<MsgIn>, null_out: bool },
    AppendMany { t: H, json: Js<MsgIn>, null_out: bool },
    ForCustomer { t: H, cid: S, from: i64, to: i64, role: S, limit: u8, null_out: bool },
    ForConversation { t: H, conv: S, null_out: bool },
    UpdateContext { t: H, conv: S, json: Js<EntryIn>, ttl_ms: i64, max_history: u8, null_out: bool },
    GetContext { t: H, conv: S, null_out: bool },
    DeleteContext { t: H, conv: S, null_out: bool },
    Sweep { e: H, null_out: bool },
    Stats { e: H, null_out: bool },
    MonitorJson { e: H, null_out: bool },
    Prometheus { e: H, null_out: bool },
    OnAlert { e: H, null_cb: bool, null_out: bool },
    RemoveAlert { e: H, id: u8 },
    SubscribeTenant { t: H, filter: Js<FilterIn>, null_cb: bool, slot: u8, null_out: bool },
    SubscribeEngine { e: H, filter: Js<FilterIn>, null_cb: bool, slot: u8, null_out: bool },
    SubFree { slot: u8 },
    TenantEvents { t: H, from: u64, limit: u8, null_out: bool },
    EngineEvents { e: H, from: u64, limit: u8, null_out: bool },
    Backup { e: H, dest: u8, null_out: bool },
    LastErrorCopy { len: u8, null_buf: bool },
    StatusName { n: i32 },
    Version,
    StringFreeNull,
}

const ENGINES: usize = 3;
const TENANTS: usize = 4;
const SUBS: usize = 3;

struct EngineSlot {
    p: *mut cidb_engine,
    closed: std::rc::Rc<std::cell::Cell<bool>>,
}

struct TenantSlot {
    p: *mut cidb_tenant,
    engine_closed: std::rc::Rc<std::cell::Cell<bool>>,
}

struct Abi {
    dir: tempfile::TempDir,
    engines: Vec<Option<EngineSlot>>,
    tenants: Vec<Option<TenantSlot>>,
    subs: Vec<*mut cidb_subscription>,
    alert_ids: Vec<u64>,
    /// Every engine handle ever opened in this input and not freed, by closed flag.
    opened: u32,
}

fn last_error() -> String {
    let p = cidb_c::error::cidb_last_error_message();
    assert!(!p.is_null(), "cidb_last_error_message returned NULL");
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The checks every status-returning call gets.
fn checked(what: &str, s: cidb_status, null_out: bool) -> cidb_status {
    let n = s as i32;
    assert!((0..=26).contains(&n), "{what}: status {n} is out of range");
    let msg = last_error();
    assert_ne!(s, cidb_status::CIDB_INTERNAL, "{what}: CIDB_INTERNAL: {msg}");
    if s == cidb_status::CIDB_OK {
        assert!(msg.is_empty(), "{what}: success left a last error: {msg}");
    } else {
        assert!(!msg.is_empty(), "{what}: {s:?} without a message");
    }
    assert_eq!(cidb_c::error::cidb_last_error_copy(null_mut(), 0), msg.len(), "{what}: last_error_copy length");
    if null_out {
        assert_eq!(s, cidb_status::CIDB_INVALID_INPUT, "{what}: NULL out parameter gave {s:?}: {msg}");
    }
    s
}

/// Checks and releases a returned string.
fn take_text(what: &str, s: cidb_status, p: *mut c_char, json: bool) {
    if s != cidb_status::CIDB_OK {
        assert!(p.is_null(), "{what}: failed ({s:?}) but set its out string");
        return;
    }
    assert!(!p.is_null(), "{what}: CIDB_OK with a NULL out string");
    let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap_or_else(|e| panic!("{what}: result is not UTF-8: {e}")).to_string();
    if json {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
            panic!("{what}: result is not JSON ({e}): {text}");
        }
    }
    cidb_c::ffi::cidb_string_free(p);
}

fn ptr(c: &Option<CString>) -> *const c_char {
    c.as_ref().map_or(null(), |c| c.as_ptr())
}

fn out<T>(v: &mut T, null_out: bool) -> *mut T {
    if null_out {
        null_mut()
    } else {
        v
    }
}

impl Abi {
    fn new() -> Abi {
        Abi {
            dir: crate::scratch_dir(),
            engines: (0..ENGINES).map(|_| None).collect(),
            tenants: (0..TENANTS).map(|_| None).collect(),
            subs: vec![null_mut(); SUBS],
            alert_ids: Vec::new(),
            opened: 0,
        }
    }

    fn engine(&self, h: H) -> *const cidb_engine {
        match h {
            H::Slot(i) => self.engines[i as usize % ENGINES].as_ref().map_or(null(), |e| e.p),
            H::Null => null(),
        }
    }

    /// The tenant pointer and whether its engine is closed (so the call must be CLOSED).
    fn tenant(&self, h: H) -> (*const cidb_tenant, bool) {
        match h {
            H::Slot(i) => self.tenants[i as usize % TENANTS].as_ref().map_or((null(), false), |t| (t.p, t.engine_closed.get())),
            H::Null => (null(), false),
        }
    }

    fn dir(&self, i: u8) -> CString {
        CString::new(self.dir.path().join(format!("db{}", i % 2)).to_str().expect("utf-8 temp path")).expect("no NUL")
    }

    fn toml(&self, t: &TomlPath) -> Option<CString> {
        match t {
            TomlPath::Null => None,
            TomlPath::Missing => Some(CString::new(self.dir.path().join("missing.toml").to_str().unwrap()).unwrap()),
            TomlPath::Empty => Some(CString::new("").unwrap()),
            TomlPath::File(t) => {
                let p = self.dir.path().join("cidb.toml");
                std::fs::write(&p, t.text()).expect("write toml");
                Some(CString::new(p.to_str().unwrap()).unwrap())
            }
        }
    }

    fn put_engine(&mut self, slot: u8, p: *mut cidb_engine) {
        let i = slot as usize % ENGINES;
        self.free_engine(i);
        self.engines[i] = Some(EngineSlot { p, closed: Default::default() });
        self.opened += 1;
    }

    fn free_engine(&mut self, i: usize) {
        if let Some(e) = self.engines[i].take() {
            e.closed.set(true);
            cidb_c::engine::cidb_engine_free(e.p);
        }
    }

    fn free_tenant(&mut self, i: usize) {
        if let Some(t) = self.tenants[i].take() {
            cidb_c::tenant::cidb_tenant_free(t.p);
        }
    }

    fn free_sub(&mut self, i: usize) {
        let p = std::mem::replace(&mut self.subs[i], null_mut());
        cidb_c::feed::cidb_subscription_free(p); // NULL is allowed
    }

    /// Calls on a tenant handle: CLOSED when its engine is closed (unless `out` is NULL).
    fn tenant_call(what: &str, s: cidb_status, closed: bool, null_out: bool) -> cidb_status {
        let s = checked(what, s, null_out);
        if closed && !null_out {
            assert_eq!(s, cidb_status::CIDB_CLOSED, "{what} on a closed engine's tenant: {}", last_error());
        }
        s
    }

    fn call(&mut self, c: &Call) {
        use cidb_c::*;
        match c {
            Call::Open { slot, dir, null_dir, null_out: no } => {
                let d = self.dir(*dir);
                let mut e = null_mut();
                let s = checked("engine_open", engine::cidb_engine_open(if *null_dir { null() } else { d.as_ptr() }, out(&mut e, *no)), *no);
                if s == cidb_status::CIDB_OK {
                    self.put_engine(*slot, e);
                } else {
                    assert!(e.is_null(), "engine_open failed but set out_engine");
                }
            }
            Call::OpenWith { slot, dir, profile, toml, null_out: no } => {
                let (d, p, t) = (self.dir(*dir), profile.get(), self.toml(toml));
                let mut e = null_mut();
                let s = engine::cidb_engine_open_with(d.as_ptr(), ptr(&p), ptr(&t), out(&mut e, *no));
                if checked("engine_open_with", s, *no) == cidb_status::CIDB_OK {
                    self.put_engine(*slot, e);
                } else {
                    assert!(e.is_null(), "engine_open_with failed but set out_engine");
                }
            }
            Call::ConfigJson { profile, toml, null_out: no } => {
                let (p, t) = (profile.get(), self.toml(toml));
                let mut j = null_mut();
                let s = checked("config_json", config::cidb_config_json(ptr(&p), ptr(&t), out(&mut j, *no)), *no);
                take_text("config_json", s, j, true);
            }
            Call::Close { e } => {
                let p = self.engine(*e);
                let s = checked("engine_close", engine::cidb_engine_close(p), false);
                if !p.is_null() {
                    assert_eq!(s, cidb_status::CIDB_OK, "close of a live handle: {}", last_error());
                    if let H::Slot(i) = e {
                        if let Some(slot) = &self.engines[*i as usize % ENGINES] {
                            slot.closed.set(true);
                        }
                    }
                }
            }
            Call::Free { slot } => self.free_engine(*slot as usize % ENGINES),
            Call::Tenant { e, name, slot, null_out: no } => {
                let (p, n) = (self.engine(*e), name.get());
                let mut t = null_mut();
                let s = checked("engine_tenant", engine::cidb_engine_tenant(p, ptr(&n), out(&mut t, *no)), *no);
                if s == cidb_status::CIDB_OK {
                    let H::Slot(i) = e else { panic!("engine_tenant(NULL) succeeded") };
                    let closed = self.engines[*i as usize % ENGINES].as_ref().expect("live slot").closed.clone();
                    assert!(!closed.get(), "engine_tenant succeeded on a closed engine");
                    let k = *slot as usize % TENANTS;
                    self.free_tenant(k);
                    self.tenants[k] = Some(TenantSlot { p: t, engine_closed: closed });
                } else {
                    assert!(t.is_null(), "engine_tenant failed but set out_tenant");
                }
            }
            Call::TenantFree { slot } => self.free_tenant(*slot as usize % TENANTS),
            Call::Upsert { t, json } => {
                let ((p, closed), j) = (self.tenant(*t), json.get(customer_json));
                Self::tenant_call("upsert_customer", tenant::cidb_tenant_upsert_customer(p, ptr(&j)), closed, false);
            }
            Call::UpsertMany { t, json } => {
                let ((p, closed), j) = (self.tenant(*t), json.get(customer_json));
                Self::tenant_call("upsert_customers", tenant::cidb_tenant_upsert_customers(p, ptr(&j)), closed, false);
            }
            Call::Get { t, id, null_out: no } => {
                let ((p, closed), id) = (self.tenant(*t), id.get());
                let mut j = null_mut();
                let s = tenant::cidb_tenant_get_customer(p, ptr(&id), out(&mut j, *no));
                let s = Self::tenant_call("get_customer", s, closed, *no);
                take_text("get_customer", s, j, true);
            }
            Call::Delete { t, id, null_out: no } => {
                let ((p, closed), id) = (self.tenant(*t), id.get());
                let mut existed = true;
                let s = tenant::cidb_tenant_delete_customer(p, ptr(&id), out(&mut existed, *no));
                if Self::tenant_call("delete_customer", s, closed, *no) != cidb_status::CIDB_OK && !*no {
                    assert!(!existed, "delete_customer failed but set out_existed");
                }
            }
            Call::Count { t, null_out: no } => {
                let (p, closed) = self.tenant(*t);
                let mut n = 7;
                let s = Self::tenant_call("count_customers", tenant::cidb_tenant_count_customers(p, out(&mut n, *no)), closed, *no);
                if s != cidb_status::CIDB_OK && !*no {
                    assert_eq!(n, 0, "count_customers failed but set out_count");
                }
            }
            Call::AddScore { t, json } => {
                let ((p, closed), j) = (self.tenant(*t), json.get(score_json));
                Self::tenant_call("add_score", scores::cidb_tenant_add_score(p, ptr(&j)), closed, false);
            }
            Call::AddScores { t, json } => {
                let ((p, closed), j) = (self.tenant(*t), json.get(score_json));
                Self::tenant_call("add_scores", scores::cidb_tenant_add_scores(p, ptr(&j)), closed, false);
            }
            Call::Latest { t, cid, ty, null_out: no } => {
                let ((p, closed), cid, ty) = (self.tenant(*t), cid.get(), ty.get());
                let mut j = null_mut();
                let s = scores::cidb_tenant_latest_score(p, ptr(&cid), ptr(&ty), out(&mut j, *no));
                take_text("latest_score", Self::tenant_call("latest_score", s, closed, *no), j, true);
            }
            Call::History { t, cid, ty, from, to, null_out: no } => {
                let ((p, closed), cid, ty) = (self.tenant(*t), cid.get(), ty.get());
                let mut j = null_mut();
                let s = scores::cidb_tenant_score_history(p, ptr(&cid), ptr(&ty), *from, *to, out(&mut j, *no));
                take_text("score_history", Self::tenant_call("score_history", s, closed, *no), j, true);
            }
            Call::Append { t, json, null_out: no } => {
                let ((p, closed), j) = (self.tenant(*t), json.get(message_json));
                let mut id = 99;
                let s = messages::cidb_tenant_append_message(p, ptr(&j), out(&mut id, *no));
                let s = Self::tenant_call("append_message", s, closed, *no);
                if !*no {
                    assert_eq!(s == cidb_status::CIDB_OK, id != 0, "append_message: status {s:?} with id {id}");
                }
            }
            Call::AppendMany { t, json, null_out: no } => {
                let ((p, closed), j) = (self.tenant(*t), json.get(message_json));
                let mut ids = null_mut();
                let s = messages::cidb_tenant_append_messages(p, ptr(&j), out(&mut ids, *no));
                take_text("append_messages", Self::tenant_call("append_messages", s, closed, *no), ids, true);
            }
            Call::ForCustomer { t, cid, from, to, role, limit, null_out: no } => {
                let ((p, closed), cid, role) = (self.tenant(*t), cid.get(), role.get());
                let mut j = null_mut();
                let s = messages::cidb_tenant_messages_for_customer(p, ptr(&cid), *from, *to, ptr(&role), *limit as usize, out(&mut j, *no));
                take_text("messages_for_customer", Self::tenant_call("messages_for_customer", s, closed, *no), j, true);
            }
            Call::ForConversation { t, conv, null_out: no } => {
                let ((p, closed), conv) = (self.tenant(*t), conv.get());
                let mut j = null_mut();
                let s = messages::cidb_tenant_messages_for_conversation(p, ptr(&conv), out(&mut j, *no));
                take_text("messages_for_conversation", Self::tenant_call("messages_for_conversation", s, closed, *no), j, true);
            }
            Call::UpdateContext { t, conv, json, ttl_ms, max_history, null_out: no } => {
                let ((p, closed), conv, j) = (self.tenant(*t), conv.get(), json.get(entry_json));
                let mut c = null_mut();
                let s = context::cidb_tenant_update_context(p, ptr(&conv), ptr(&j), *ttl_ms, *max_history as usize, out(&mut c, *no));
                take_text("update_context", Self::tenant_call("update_context", s, closed, *no), c, true);
            }
            Call::GetContext { t, conv, null_out: no } => {
                let ((p, closed), conv) = (self.tenant(*t), conv.get());
                let mut c = null_mut();
                let s = context::cidb_tenant_get_context(p, ptr(&conv), out(&mut c, *no));
                take_text("get_context", Self::tenant_call("get_context", s, closed, *no), c, true);
            }
            Call::DeleteContext { t, conv, null_out: no } => {
                let ((p, closed), conv) = (self.tenant(*t), conv.get());
                let mut existed = true;
                let s = context::cidb_tenant_delete_context(p, ptr(&conv), out(&mut existed, *no));
                if Self::tenant_call("delete_context", s, closed, *no) != cidb_status::CIDB_OK && !*no {
                    assert!(!existed, "delete_context failed but set out_existed");
                }
            }
            Call::Sweep { e, null_out: no } => {
                let mut n = 5;
                let s = checked("sweep_expired", context::cidb_engine_sweep_expired(self.engine(*e), out(&mut n, *no)), *no);
                if s != cidb_status::CIDB_OK && !*no {
                    assert_eq!(n, 0, "sweep_expired failed but set out_removed");
                }
            }
            Call::Stats { e, null_out: no } => {
                let mut j = null_mut();
                let s = checked("engine_stats", engine::cidb_engine_stats(self.engine(*e), out(&mut j, *no)), *no);
                take_text("engine_stats", s, j, true);
            }
            Call::MonitorJson { e, null_out: no } => {
                let mut j = null_mut();
                let s = checked("monitor_json", monitor::cidb_engine_monitor_json(self.engine(*e), out(&mut j, *no)), *no);
                take_text("monitor_json", s, j, true);
            }
            Call::Prometheus { e, null_out: no } => {
                let mut j = null_mut();
                let s = checked("prometheus", monitor::cidb_engine_prometheus(self.engine(*e), out(&mut j, *no)), *no);
                take_text("prometheus", s, j, false);
            }
            Call::OnAlert { e, null_cb, null_out: no } => {
                let mut id = 0;
                let cb: monitor::cidb_alert_callback = if *null_cb { None } else { Some(on_alert) };
                let ud = &ALERTS as *const AtomicU64 as *mut c_void;
                let s = checked("on_alert", monitor::cidb_engine_on_alert(self.engine(*e), cb, ud, out(&mut id, *no)), *no);
                if s == cidb_status::CIDB_OK {
                    self.alert_ids.push(id);
                }
            }
            Call::RemoveAlert { e, id } => {
                let id = self.alert_ids.get(*id as usize % (self.alert_ids.len() + 1)).copied().unwrap_or(u64::MAX);
                checked("remove_alert_callback", monitor::cidb_engine_remove_alert_callback(self.engine(*e), id), false);
            }
            Call::SubscribeTenant { t, filter, null_cb, slot, null_out: no } => {
                let ((p, closed), f) = (self.tenant(*t), filter.get(filter_json));
                let cb: feed::cidb_event_callback = if *null_cb { None } else { Some(on_event) };
                let mut sub = null_mut();
                let ud = &EVENTS as *const AtomicU64 as *mut c_void;
                let s = feed::cidb_tenant_subscribe(p, ptr(&f), cb, ud, out(&mut sub, *no));
                self.keep_sub(Self::tenant_call("tenant_subscribe", s, closed, *no), sub, *slot);
            }
            Call::SubscribeEngine { e, filter, null_cb, slot, null_out: no } => {
                let f = filter.get(filter_json);
                let cb: feed::cidb_event_callback = if *null_cb { None } else { Some(on_event) };
                let mut sub = null_mut();
                let ud = &EVENTS as *const AtomicU64 as *mut c_void;
                let s = feed::cidb_engine_subscribe(self.engine(*e), ptr(&f), cb, ud, out(&mut sub, *no));
                self.keep_sub(checked("engine_subscribe", s, *no), sub, *slot);
            }
            Call::SubFree { slot } => self.free_sub(*slot as usize % SUBS),
            Call::TenantEvents { t, from, limit, null_out: no } => {
                let (p, closed) = self.tenant(*t);
                let mut j = null_mut();
                let s = feed::cidb_tenant_events_since(p, *from, *limit as usize, out(&mut j, *no));
                take_text("tenant_events_since", Self::tenant_call("tenant_events_since", s, closed, *no), j, true);
            }
            Call::EngineEvents { e, from, limit, null_out: no } => {
                let mut j = null_mut();
                let s = feed::cidb_engine_events_since(self.engine(*e), *from, *limit as usize, out(&mut j, *no));
                take_text("engine_events_since", checked("engine_events_since", s, *no), j, true);
            }
            Call::Backup { e, dest, null_out: no } => {
                let d = CString::new(self.dir.path().join(format!("backup{}", dest % 3)).to_str().unwrap()).unwrap();
                let mut j = null_mut();
                let s = checked("backup", backup::cidb_engine_backup(self.engine(*e), d.as_ptr(), out(&mut j, *no)), *no);
                take_text("backup", s, j, true);
            }
            Call::LastErrorCopy { len, null_buf } => {
                let msg = last_error();
                let mut buf = vec![0x55 as c_char; *len as usize];
                let p = if *null_buf { null_mut() } else { buf.as_mut_ptr() };
                let n = error::cidb_last_error_copy(p, if *null_buf { 0 } else { buf.len() });
                assert_eq!(n, msg.len(), "last_error_copy returned {n} for a {}-byte message", msg.len());
                if !*null_buf && !buf.is_empty() {
                    let copied = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes();
                    assert_eq!(copied, &msg.as_bytes()[..msg.len().min(buf.len() - 1)], "last_error_copy content");
                }
            }
            Call::StatusName { n } => {
                let p = status::cidb_status_name(*n);
                assert!(!p.is_null(), "status_name({n}) is NULL");
                let name = unsafe { CStr::from_ptr(p) }.to_str().expect("status name is UTF-8");
                assert!(name.starts_with("CIDB_"), "status_name({n}) = {name}");
            }
            Call::Version => {
                let v = unsafe { CStr::from_ptr(version::cidb_version()) };
                assert!(!v.to_bytes().is_empty());
            }
            Call::StringFreeNull => ffi::cidb_string_free(null_mut()),
        }
    }

    fn keep_sub(&mut self, s: cidb_status, sub: *mut cidb_subscription, slot: u8) {
        if s == cidb_status::CIDB_OK {
            assert!(!sub.is_null(), "subscribe: CIDB_OK with a NULL handle");
            let i = slot as usize % SUBS;
            self.free_sub(i);
            self.subs[i] = sub;
        } else {
            assert!(sub.is_null(), "subscribe failed but set out_sub");
        }
    }

    /// Releases everything, subscriptions first, then tenants, then engines.
    fn finish(mut self) {
        for i in 0..SUBS {
            self.free_sub(i);
        }
        for i in 0..TENANTS {
            self.free_tenant(i);
        }
        for i in 0..ENGINES {
            self.free_engine(i);
        }
    }
}

/// Decodes and runs one input.
pub fn run(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(calls) = u.arbitrary::<Vec<Call>>() else { return };
    let mut abi = Abi::new();
    for c in calls.iter().take(48) {
        abi.call(c);
    }
    let _ = abi.opened;
    abi.finish();
}

/// The calls an input stands for.
pub fn describe(data: &[u8]) -> String {
    let mut u = arbitrary::Unstructured::new(data);
    format!("{:#?}", u.arbitrary::<Vec<Call>>())
}
