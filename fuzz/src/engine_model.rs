//! Target `engine_model`: a sequence of operations (customers, scores, messages, contexts,
//! clock moves, sweeps, SQL reads, index checks, close-and-reopen) over two tenants of one
//! engine, each applied to cidb and to the in-memory model of [`crate::model`]. Every
//! answer must match the model: returned records, errors (kind), ids, the rows SQL
//! returns through the seed indexes, and every index's exactness. Values come from small
//! pools (so ids collide and timestamps tie) or are arbitrary (empty, over-long, NUL,
//! out-of-range, NaN, JSON nested hundreds of levels deep).

use crate::model::{self, Ctx, TenantModel};
use arbitrary::Arbitrary;
use cidb::schema::{customer_row, message_row, score_row};
use cidb::{Clock, Config, ContextEntry, Customer, Engine, ErrorKind, NewMessage, Role, Score, Tenant, Value};
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const TENANTS: [&str; 2] = ["t0", "t1"];
const CIDS: [&str; 6] = ["c0", "c1", "c2", "c3", "ü-4", "c 5"];
const TYPES: [&str; 3] = ["churn", "nps", "upsell"];
const CONVS: [&str; 4] = ["v0", "v1", "v2", "v3"];
const DEPTS: [&str; 4] = ["sales", "support", "Sales", ""];
const STATUSES: [&str; 3] = ["active", "churned", ""];
const EMAILS: [&str; 3] = ["a@x.test", "b@x.test", "c@x.test"];
const TEXTS: [&str; 4] = ["hello", "", "ünïcode ✓", "line\nbreak"];

/// A string: from a pool, or arbitrary, or at the edges of the id rules.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    Pool(u8),
    Raw(String),
    /// 200 to 319 bytes: either side of the 256-byte limit.
    Long(u16),
    Empty,
    Nul,
}

impl Text {
    pub(crate) fn get(&self, pool: &[&str]) -> String {
        match self {
            Text::Pool(n) => pool[*n as usize % pool.len()].to_string(),
            Text::Raw(s) => s.clone(),
            Text::Long(n) => "x".repeat(200 + *n as usize % 120),
            Text::Empty => String::new(),
            Text::Nul => "a\0b".to_string(),
        }
    }
}

/// A timestamp: near T0 (many ties), arbitrary, or at the edges of the valid range.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Ts {
    Near(u8),
    Raw(i64),
    Edge(u8),
}

impl Ts {
    fn get(self) -> i64 {
        match self {
            Ts::Near(n) => T0 + (n as i64 % 16) * 1000,
            Ts::Raw(t) => t,
            Ts::Edge(n) => [0, model::MAX_TS, -1, model::MAX_TS + 1, i64::MIN, i64::MAX, T0 - 40 * 86_400_000][n as usize % 7],
        }
    }
}

/// A score or confidence: on a 0.1 grid or arbitrary (NaN, infinities, out of range).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Unit {
    Grid(u8),
    Raw(f64),
}

impl Unit {
    fn get(self) -> f64 {
        match self {
            Unit::Grid(n) => (n % 11) as f64 / 10.0,
            Unit::Raw(f) => f,
        }
    }
}

/// JSON values, including deep nesting.
#[derive(Arbitrary, Debug, Clone)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    /// The value wrapped in this many arrays (or objects, when odd).
    Deep(u8, Box<J>),
}

impl J {
    pub(crate) fn get(&self) -> serde_json::Value {
        use serde_json::Value as V;
        match self {
            J::Null => V::Null,
            J::Bool(b) => V::Bool(*b),
            J::Int(i) => V::from(*i),
            J::UInt(u) => V::from(*u),
            J::Float(f) => serde_json::Number::from_f64(*f).map_or(V::Null, V::Number),
            J::Str(s) => V::String(s.clone()),
            J::Arr(v) => V::Array(v.iter().map(J::get).collect()),
            J::Obj(kv) => V::Object(kv.iter().map(|(k, v)| (k.clone(), v.get())).collect()),
            J::Deep(n, inner) => {
                let mut v = inner.get();
                for _ in 0..*n {
                    v = if n % 2 == 1 { serde_json::json!({ "k": v }) } else { V::Array(vec![v]) };
                }
                v
            }
        }
    }
}

/// Attributes / metadata: usually an object.
#[derive(Arbitrary, Debug, Clone)]
pub enum Attr {
    Obj(Vec<(String, J)>),
    Other(J),
}

impl Attr {
    fn get(&self) -> serde_json::Value {
        match self {
            Attr::Obj(kv) => serde_json::Value::Object(kv.iter().map(|(k, v)| (k.clone(), v.get())).collect()),
            Attr::Other(j) => j.get(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct CustomerIn {
    id: Text,
    email: Option<Text>,
    name: Option<Text>,
    dept: Text,
    status: Text,
    created: Ts,
    updated: Ts,
    attrs: Attr,
}

impl CustomerIn {
    pub(crate) fn get(&self) -> Customer {
        Customer {
            id: self.id.get(&CIDS),
            email: self.email.as_ref().map(|t| t.get(&EMAILS)),
            name: self.name.as_ref().map(|t| t.get(&TEXTS)),
            department: self.dept.get(&DEPTS),
            status: self.status.get(&STATUSES),
            created_at: self.created.get(),
            updated_at: self.updated.get(),
            attributes: self.attrs.get(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct ScoreIn {
    cid: Text,
    ty: Text,
    score: Unit,
    conf: Unit,
    at: Ts,
    model: Option<Text>,
}

impl ScoreIn {
    pub(crate) fn get(&self) -> Score {
        Score {
            customer_id: self.cid.get(&CIDS),
            score_type: self.ty.get(&TYPES),
            score: self.score.get(),
            confidence: self.conf.get(),
            created_at: self.at.get(),
            model: self.model.as_ref().map(|t| t.get(&TYPES)),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct MsgIn {
    cid: Text,
    conv: Text,
    role: u8,
    at: Ts,
    content: Text,
    meta: Attr,
}

fn role(n: u8) -> Role {
    Role::ALL[n as usize % Role::ALL.len()]
}

impl MsgIn {
    pub(crate) fn get(&self) -> NewMessage {
        NewMessage {
            customer_id: self.cid.get(&CIDS),
            conversation_id: self.conv.get(&CONVS),
            role: role(self.role),
            timestamp: self.at.get(),
            content: self.content.get(&TEXTS),
            metadata: self.meta.get(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct EntryIn {
    role: u8,
    content: Text,
    at: Ts,
    meta: Attr,
}

impl EntryIn {
    pub(crate) fn get(&self) -> ContextEntry {
        ContextEntry { role: role(self.role), content: self.content.get(&TEXTS), timestamp: self.at.get(), metadata: self.meta.get() }
    }
}

/// A context TTL.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Ttl {
    Ms(u32),
    Micros(u16),
    Huge,
}

impl Ttl {
    fn get(self) -> Duration {
        match self {
            Ttl::Ms(ms) => Duration::from_millis(ms as u64 % 200_000),
            Ttl::Micros(us) => Duration::from_micros(us as u64),
            Ttl::Huge => Duration::MAX,
        }
    }
}

/// One operation; `t` picks the tenant.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    Upsert { t: bool, c: CustomerIn },
    UpsertMany { t: bool, cs: Vec<CustomerIn> },
    Get { t: bool, id: Text },
    Delete { t: bool, id: Text },
    Count { t: bool },
    AddScore { t: bool, s: ScoreIn },
    AddScores { t: bool, ss: Vec<ScoreIn> },
    Latest { t: bool, cid: Text, ty: Text },
    History { t: bool, cid: Text, ty: Text, from: Ts, to: Ts },
    Append { t: bool, m: MsgIn },
    AppendMany { t: bool, ms: Vec<MsgIn> },
    ForCustomer { t: bool, cid: Text, from: Ts, to: Ts, role: Option<u8>, limit: u8 },
    ForConversation { t: bool, conv: Text },
    UpdateContext { t: bool, conv: Text, entries: Vec<EntryIn>, ttl: Ttl, max_history: u8 },
    GetContext { t: bool, conv: Text },
    DeleteContext { t: bool, conv: Text },
    Advance { ms: u32 },
    Sweep,
    Sql { t: bool, q: u8, a: u8, b: u8 },
    CheckIndexes,
    Reopen,
}

/// The engine inputs share: opening one (seven seed indexes, threads, cache) costs more than
/// most inputs, so consecutive inputs use fresh tenants of one engine, and a new engine (new
/// directory, clock back at T0) is opened every [`ENGINE_INPUTS`] inputs, or for every input
/// when `CIDB_FUZZ_FRESH_ENGINE` is set (to reproduce a finding on its own).
struct Shared {
    dir: tempfile::TempDir,
    config: Config,
    clock: Clock,
    engine: Engine,
    inputs: u32,
    /// `expires_at` of contexts earlier inputs left behind (the sweep counts them too).
    leftover: Vec<i64>,
    /// The last message id handed out by this engine.
    last_msg_id: u64,
}

const ENGINE_INPUTS: u32 = 256;

thread_local! {
    static SHARED: std::cell::RefCell<Option<Shared>> = const { std::cell::RefCell::new(None) };
}

impl Shared {
    fn open() -> Shared {
        let dir = crate::scratch_dir();
        let clock = Clock::manual(T0);
        let mut config = Config::default().with_clock(clock.clone());
        // No background sweep: the model decides when contexts go.
        config.sweep_interval = Duration::from_secs(86_400);
        let engine = Engine::open(dir.path(), config.clone()).expect("open engine");
        Shared { dir, config, clock, engine, inputs: 0, leftover: Vec::new(), last_msg_id: 0 }
    }
}

/// One input's view: two fresh tenants of the shared engine and their models.
struct World<'a> {
    sh: &'a mut Shared,
    names: [String; 2],
    tenants: Vec<Tenant>,
    models: [TenantModel; 2],
}

/// `r` must fail with `kind` when the model says so, succeed otherwise.
fn expect<T: std::fmt::Debug>(what: &str, r: cidb::Result<T>, kind: Option<ErrorKind>) -> Option<T> {
    match (r, kind) {
        (Ok(v), None) => Some(v),
        (Err(e), Some(k)) => {
            assert_eq!(e.kind(), k, "DIVERGENCE in {what}: engine error {e}, model expects {k:?}");
            None
        }
        (Ok(v), Some(k)) => panic!("DIVERGENCE in {what}: engine accepted ({v:?}), model expects {k:?}"),
        (Err(e), None) => panic!("DIVERGENCE in {what}: engine failed ({e}), model expects success"),
    }
}

fn ctx_eq(what: &str, got: &cidb::Context, conv: &str, want: &Ctx) {
    assert_eq!(got.conversation_id, conv, "DIVERGENCE in {what}: conversation id");
    assert_eq!(got.entries, want.entries, "DIVERGENCE in {what}: entries");
    assert_eq!((got.updated_at, got.expires_at), (want.updated_at, want.expires_at), "DIVERGENCE in {what}: times");
}

fn norm_sorted(rows: &[Vec<Value>]) -> Vec<Vec<String>> {
    let mut v = crate::oracle::norm_rows(rows);
    v.sort();
    v
}

impl<'a> World<'a> {
    fn new(sh: &'a mut Shared) -> World<'a> {
        sh.inputs += 1;
        let names = TENANTS.map(|t| format!("{t}-{}", sh.inputs));
        let tenants = names.iter().map(|n| sh.engine.tenant(n).expect("tenant")).collect();
        World { sh, names, tenants, models: Default::default() }
    }

    fn reopen(&mut self) {
        let sh = &mut *self.sh;
        sh.engine.close().expect("close");
        sh.engine = Engine::open(sh.dir.path(), sh.config.clone()).expect("reopen engine");
        self.tenants = self.names.iter().map(|n| sh.engine.tenant(n).expect("tenant")).collect();
    }

    /// Hands what outlives the input back to the shared state.
    fn finish(self) {
        for m in &self.models {
            self.sh.leftover.extend(m.contexts.values().map(|c| c.expires_at));
        }
    }

    fn check_ids(&mut self, what: &str, got: &[cidb::Message], want: &[NewMessage]) {
        assert_eq!(got.len(), want.len(), "DIVERGENCE in {what}: {} messages back for {}", got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(g.id > self.sh.last_msg_id, "DIVERGENCE in {what}: id {} not above {}", g.id, self.sh.last_msg_id);
            self.sh.last_msg_id = g.id;
            let as_new = NewMessage {
                customer_id: g.customer_id.clone(),
                conversation_id: g.conversation_id.clone(),
                role: g.role,
                timestamp: g.timestamp,
                content: g.content.clone(),
                metadata: g.metadata.clone(),
            };
            assert_eq!(&as_new, w, "DIVERGENCE in {what}: returned message differs from the input");
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.sh.clock.now();
        match op {
            Op::Upsert { t, c } => {
                let c = c.get();
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if expect("upsert_customer", tn.upsert_customer(&c), model::customer_error(&c)).is_some() {
                    m.customers.insert(c.id.clone(), c);
                }
            }
            Op::UpsertMany { t, cs } => {
                let cs: Vec<Customer> = cs.iter().map(CustomerIn::get).collect();
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if expect("upsert_customers", tn.upsert_customers(&cs), model::first_error(&cs, model::customer_error)).is_some() {
                    for c in cs {
                        m.customers.insert(c.id.clone(), c);
                    }
                }
            }
            Op::Get { t, id } => {
                let id = id.get(&CIDS);
                let (tn, m) = (&self.tenants[*t as usize], &self.models[*t as usize]);
                if let Some(got) = expect("get_customer", tn.get_customer(&id), model::check_id(&id)) {
                    assert_eq!(got.as_ref(), m.customers.get(&id), "DIVERGENCE in get_customer({id:?})");
                }
            }
            Op::Delete { t, id } => {
                let id = id.get(&CIDS);
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if let Some(existed) = expect("delete_customer", tn.delete_customer(&id), model::check_id(&id)) {
                    assert_eq!(existed, m.customers.remove(&id).is_some(), "DIVERGENCE in delete_customer({id:?})");
                }
            }
            Op::Count { t } => {
                let n = self.tenants[*t as usize].count_customers().expect("count_customers");
                assert_eq!(n, self.models[*t as usize].customers.len() as u64, "DIVERGENCE in count_customers");
            }
            Op::AddScore { t, s } => {
                let s = s.get();
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if expect("add_score", tn.add_score(&s), model::score_error(&s)).is_some() {
                    m.add_score(&s);
                }
            }
            Op::AddScores { t, ss } => {
                let ss: Vec<Score> = ss.iter().map(ScoreIn::get).collect();
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if expect("add_scores", tn.add_scores(&ss), model::first_error(&ss, model::score_error)).is_some() {
                    ss.iter().for_each(|s| m.add_score(s));
                }
            }
            Op::Latest { t, cid, ty } => {
                let (cid, ty) = (cid.get(&CIDS), ty.get(&TYPES));
                let (tn, m) = (&self.tenants[*t as usize], &self.models[*t as usize]);
                let kind = model::check_id(&cid).or(model::check_id(&ty));
                if let Some(got) = expect("latest_score", tn.latest_score(&cid, &ty), kind) {
                    assert_eq!(got.as_ref(), m.latest(&cid, &ty), "DIVERGENCE in latest_score({cid:?}, {ty:?})");
                }
            }
            Op::History { t, cid, ty, from, to } => {
                let (cid, ty, from, to) = (cid.get(&CIDS), ty.get(&TYPES), from.get(), to.get());
                let (tn, m) = (&self.tenants[*t as usize], &self.models[*t as usize]);
                let kind = model::check_id(&cid).or(model::check_id(&ty));
                if let Some(got) = expect("score_history", tn.score_history(&cid, &ty, from, to), kind) {
                    assert_eq!(got, m.history(&cid, &ty, from, to), "DIVERGENCE in score_history({cid:?}, {ty:?}, {from}, {to})");
                }
            }
            Op::Append { t, m: msg } => {
                let msg = msg.get();
                let r = self.tenants[*t as usize].append_message(&msg);
                if let Some(got) = expect("append_message", r, model::message_error(&msg)) {
                    self.check_ids("append_message", std::slice::from_ref(&got), std::slice::from_ref(&msg));
                    self.models[*t as usize].messages.insert(got.id, got);
                }
            }
            Op::AppendMany { t, ms } => {
                let ms: Vec<NewMessage> = ms.iter().map(MsgIn::get).collect();
                let r = self.tenants[*t as usize].append_messages(&ms);
                if let Some(got) = expect("append_messages", r, model::first_error(&ms, model::message_error)) {
                    self.check_ids("append_messages", &got, &ms);
                    for g in got {
                        self.models[*t as usize].messages.insert(g.id, g);
                    }
                }
            }
            Op::ForCustomer { t, cid, from, to, role: r, limit } => {
                let (cid, from, to, r) = (cid.get(&CIDS), from.get(), to.get(), r.map(role));
                let (tn, m) = (&self.tenants[*t as usize], &self.models[*t as usize]);
                let limit = *limit as usize % 6;
                let got = tn.messages_for_customer(&cid, from, to, r, limit);
                if let Some(got) = expect("messages_for_customer", got, model::check_id(&cid)) {
                    let want = m.for_customer(&cid, from, to, r, limit);
                    assert_eq!(got, want, "DIVERGENCE in messages_for_customer({cid:?}, {from}, {to}, {r:?}, {limit})");
                }
            }
            Op::ForConversation { t, conv } => {
                let conv = conv.get(&CONVS);
                let (tn, m) = (&self.tenants[*t as usize], &self.models[*t as usize]);
                if let Some(got) = expect("messages_for_conversation", tn.messages_for_conversation(&conv), model::check_id(&conv)) {
                    assert_eq!(got, m.for_conversation(&conv), "DIVERGENCE in messages_for_conversation({conv:?})");
                }
            }
            Op::UpdateContext { t, conv, entries, ttl, max_history } => {
                let conv = conv.get(&CONVS);
                let entries: Vec<ContextEntry> = entries.iter().map(EntryIn::get).collect();
                let (ttl, max_history) = (ttl.get(), *max_history as usize % 8);
                let kind = model::check_id(&conv)
                    .or(ttl.is_zero().then_some(ErrorKind::InvalidTtl))
                    .or((max_history == 0).then_some(ErrorKind::InvalidInput))
                    .or(model::first_error(&entries, model::entry_error));
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if let Some(got) = expect("update_context", tn.update_context(&conv, &entries, ttl, max_history), kind) {
                    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
                    let want = m.update_context(&conv, &entries, now, ttl_ms, max_history);
                    ctx_eq("update_context", &got, &conv, &want);
                }
            }
            Op::GetContext { t, conv } => {
                let conv = conv.get(&CONVS);
                let (tn, m) = (&self.tenants[*t as usize], &self.models[*t as usize]);
                if let Some(got) = expect("get_context", tn.get_context(&conv), model::check_id(&conv)) {
                    match (got, m.live_context(&conv, now)) {
                        (None, None) => {}
                        (Some(g), Some(w)) => ctx_eq("get_context", &g, &conv, w),
                        (g, w) => panic!("DIVERGENCE in get_context({conv:?}): engine {g:?}, model {w:?}"),
                    }
                }
            }
            Op::DeleteContext { t, conv } => {
                let conv = conv.get(&CONVS);
                let (tn, m) = (&self.tenants[*t as usize], &mut self.models[*t as usize]);
                if let Some(existed) = expect("delete_context", tn.delete_context(&conv), model::check_id(&conv)) {
                    let live = m.live_context(&conv, now).is_some();
                    m.contexts.remove(&conv);
                    assert_eq!(existed, live, "DIVERGENCE in delete_context({conv:?})");
                }
            }
            Op::Advance { ms } => self.sh.clock.advance(*ms as i64 % (3 * 86_400_000)),
            Op::Sweep => {
                let n = self.sh.engine.sweep_expired().expect("sweep_expired");
                let before = self.sh.leftover.len();
                self.sh.leftover.retain(|&e| e > now);
                let mut want = before - self.sh.leftover.len();
                for m in &mut self.models {
                    let before = m.contexts.len();
                    m.contexts.retain(|_, c| c.expires_at > now);
                    want += before - m.contexts.len();
                }
                assert_eq!(n, want, "DIVERGENCE in sweep_expired");
            }
            Op::Sql { t, q, a, b } => self.sql(*t as usize, *q, *a, *b),
            Op::CheckIndexes => {
                for ix in self.sh.engine.indexes().expect("indexes") {
                    let c = self.sh.engine.check_index(&ix.name).expect("check_index");
                    assert!(c.is_exact(), "DIVERGENCE: index {} is not exact: {c:?}", ix.name);
                }
            }
            Op::Reopen => self.reopen(),
        }
    }

    /// A SQL read through the seed indexes, checked against rows built from the model.
    fn sql(&self, t: usize, q: u8, a: u8, b: u8) {
        let (tn, m, name) = (&self.tenants[t], &self.models[t], self.names[t].as_str());
        let now = self.sh.clock.now();
        let text = |v: &str| Value::Text(v.to_string());
        let cust = |f: &dyn Fn(&Customer) -> bool| -> Vec<Vec<Value>> {
            m.customers.values().filter(|c| f(c)).map(|c| customer_row(name, c)).collect()
        };
        let scores = m.scores.values().flatten();
        let (sql, params, want): (&str, Vec<Value>, Vec<Vec<Value>>) = match q % 8 {
            0 => {
                let (d, s) = (DEPTS[a as usize % DEPTS.len()], STATUSES[b as usize % STATUSES.len()]);
                let w = cust(&|c| c.department == d && c.status == s);
                ("SELECT * FROM customers WHERE department = ? AND status = ?", vec![text(d), text(s)], w)
            }
            1 => {
                let e = EMAILS[a as usize % EMAILS.len()];
                ("SELECT * FROM customers WHERE email = ?", vec![text(e)], cust(&|c| c.email.as_deref() == Some(e)))
            }
            2 => {
                let s = STATUSES[a as usize % STATUSES.len()];
                let w = cust(&|c| c.status == s);
                ("SELECT * FROM customers WHERE tenant_id = ? AND status = ?", vec![text(name), text(s)], w)
            }
            3 => {
                let (c, ty) = (CIDS[a as usize % CIDS.len()], TYPES[b as usize % TYPES.len()]);
                let w = scores.filter(|s| s.customer_id == c && s.score_type == ty).map(|s| score_row(name, s)).collect();
                ("SELECT * FROM customer_scores WHERE customer_id = ? AND score_type = ?", vec![text(c), text(ty)], w)
            }
            4 => {
                let w = scores.filter(|s| s.score > 0.7).map(|s| score_row(name, s)).collect();
                ("SELECT * FROM customer_scores WHERE score > 0.7", vec![], w)
            }
            5 => {
                let c = CIDS[a as usize % CIDS.len()];
                let w = m
                    .scores
                    .keys()
                    .filter(|(cid, _)| cid == c)
                    .filter_map(|(cid, ty)| m.latest(cid, ty))
                    .map(|s| score_row(name, s))
                    .collect();
                ("SELECT * FROM latest_scores WHERE customer_id = ?", vec![text(c)], w)
            }
            6 => {
                let (c, from) = (CIDS[a as usize % CIDS.len()], T0 + (b as i64 % 16) * 1000);
                let w = m.messages.values().filter(|x| x.customer_id == c && x.timestamp >= from).map(|x| message_row(name, x)).collect();
                ("SELECT * FROM conversation_messages WHERE customer_id = ? AND timestamp >= ?", vec![text(c), Value::Int(from)], w)
            }
            _ => {
                let cut = now - 30 * 86_400_000;
                let w = m.messages.values().filter(|x| x.timestamp > cut).map(|x| message_row(name, x)).collect();
                ("SELECT * FROM conversation_messages WHERE timestamp > CURRENT_TIMESTAMP - INTERVAL '30 days'", vec![], w)
            }
        };
        let got = tn.query(sql, &params).unwrap_or_else(|e| panic!("DIVERGENCE: {sql} failed: {e}"));
        assert_eq!(norm_sorted(&got.rows), norm_sorted(&want), "DIVERGENCE in SQL {sql} {params:?}");
    }
}

/// Decodes and runs one input: panics on the first divergence.
pub fn run(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(ops) = u.arbitrary::<Vec<Op>>() else { return };
    run_ops(&ops);
}

/// Runs a decoded sequence (also used to print a finding with `describe`).
pub fn run_ops(ops: &[Op]) {
    SHARED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = std::env::var_os("CIDB_FUZZ_FRESH_ENGINE").is_some();
        if slot.as_ref().is_none_or(|s| fresh || s.inputs >= ENGINE_INPUTS) {
            if let Some(old) = slot.take() {
                old.engine.close().expect("close");
            }
            *slot = Some(Shared::open());
        }
        let mut w = World::new(slot.as_mut().expect("opened"));
        for op in ops.iter().take(64) {
            w.apply(op);
        }
        w.finish();
    });
}

/// The operations an input stands for.
pub fn describe(data: &[u8]) -> String {
    let mut u = arbitrary::Unstructured::new(data);
    format!("{:#?}", u.arbitrary::<Vec<Op>>())
}
