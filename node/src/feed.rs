//! The change feed in JS: committed changes of one tenant (`tenant.…`) or of every tenant
//! (`engine.…`), in commit order, two ways, plus the persisted log.
//!
//! - `subscribe([filter,] callback)` → [`Subscription`]: the callback runs on the JS thread
//!   for every delivery. A pump task on napi's tokio runtime reads the core's subscription
//!   stream and waits for each callback to return before taking the next delivery, so a
//!   callback that cannot keep up leaves events in the core's bounded queue, where overflow
//!   turns into one `{missed}` notice instead of unbounded memory.
//! - `events(filter?)` → [`EventStream`], an async iterable: `for await (const d of
//!   tenant.events())`; leaving the loop closes it.
//! - `eventsSince(seq, limit?)` reads the persisted log (resume after `{missed}` or a
//!   restart).
//!
//! A live subscription or a pending `next()` keeps the process alive, like a listening
//! socket; `close()` (or closing the `Engine` handle it came from, which stops every
//! subscription and stream made through it before returning) lets it exit. Event records
//! are rows keyed by SQL column name (`customer_id`, `created_at`), as SQL results are.

use crate::callback::JsCallback;
use crate::convert::{self, boolean, function, list, number, object, opt_count, opt_text, text, Val};
use crate::engine::Engine;
use crate::registry::{hook_id, Lease};
use crate::task::{job, run_async, run_sync, Job, Op};
use crate::tenant::Tenant;
use cidb::feed::{Crossing, Delivery as CoreDelivery, Event, Filter, Op as FeedOp, SubscriptionStream, CONTEXT_TABLE};
use cidb::{Error, ErrorKind, Table};
use napi::bindgen_prelude::{AsyncGenerator, AsyncTask, Either, Env, Unknown};
use napi_derive::napi;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_stream::StreamExt;

type Result<T> = cidb::Result<T>;

/// One committed change.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ChangeEvent {
    /// Commit sequence number: strictly increasing across the engine, in commit order.
    /// Resume after it with `eventsSince(seq + 1)`.
    pub seq: f64,
    /// Commit time, ms since the epoch.
    pub at: i64,
    /// The tenant.
    pub tenant: String,
    /// The table changed (`conversation_context` for context updates and deletes).
    #[napi(ts_type = "'customers' | 'customer_scores' | 'latest_scores' | 'conversation_messages' | 'conversation_context'")]
    pub table: String,
    /// What happened.
    #[napi(ts_type = "'insert' | 'update' | 'delete'")]
    pub op: String,
    /// The row's primary-key values joined by `/` (the conversation id for contexts).
    pub key: String,
    /// The row after the change, keyed by SQL column name; `null` for deletes.
    #[napi(ts_type = "Record<string, unknown>")]
    pub new: Option<serde_json::Value>,
    /// The row before the change (updates and deletes of rows), else `null`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub old: Option<serde_json::Value>,
}

impl From<Event> for ChangeEvent {
    fn from(e: Event) -> Self {
        let op = match e.op {
            FeedOp::Insert => "insert",
            FeedOp::Update => "update",
            FeedOp::Delete => "delete",
        };
        ChangeEvent { seq: e.seq as f64, at: e.at, tenant: e.tenant, table: e.table, op: op.into(), key: e.key, new: e.new, old: e.old }
    }
}

/// A delivery carrying one committed change.
#[napi(object, object_from_js = false)]
pub struct EventDelivery {
    /// The change.
    pub event: ChangeEvent,
}

/// Events were dropped because the subscriber fell behind (its queue was full).
#[napi(object, object_from_js = false)]
pub struct MissedEvents {
    /// How many were dropped.
    pub count: f64,
    /// The first dropped sequence number: read them with `eventsSince(fromSeq)`.
    pub from_seq: f64,
}

/// A delivery saying events were dropped.
#[napi(object, object_from_js = false)]
pub struct MissedDelivery {
    /// What was dropped.
    pub missed: MissedEvents,
}

/// What a subscriber receives: a change, or a notice that changes were dropped.
#[napi]
pub type Delivery = Either<EventDelivery, MissedDelivery>;

fn delivery(d: CoreDelivery) -> Delivery {
    match d {
        CoreDelivery::Event(e) => Either::A(EventDelivery { event: e.into() }),
        CoreDelivery::Missed { count, from_seq } => {
            Either::B(MissedDelivery { missed: MissedEvents { count: count as f64, from_seq: from_seq as f64 } })
        }
    }
}

/// Which changes a subscription receives; every field is optional, and absent lists mean all.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct EventFilter {
    /// Only these tables.
    #[napi(ts_type = "Array<'customers' | 'customer_scores' | 'latest_scores' | 'conversation_messages' | 'conversation_context'> | null")]
    pub tables: Option<Vec<String>>,
    /// Only these operations.
    #[napi(ts_type = "Array<'insert' | 'update' | 'delete'> | null")]
    pub ops: Option<Vec<String>>,
    /// Score events of this score type only.
    #[napi(ts_type = "string | null")]
    pub score_type: Option<String>,
    /// Only latest-score changes that cross a threshold (implies `latest_scores`).
    #[napi(ts_type = "ScoreCrossing | null")]
    pub crossing: Option<ScoreCrossing>,
}

/// A latest-score threshold crossing: the latest score of `scoreType` moving from at or below
/// `threshold` to above it (`above`, the default) or back.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ScoreCrossing {
    /// The score type watched.
    pub score_type: String,
    /// The threshold.
    pub threshold: f64,
    /// Upward crossings (`true`, the default) or downward ones.
    #[napi(ts_type = "boolean | null")]
    pub above: Option<bool>,
}

const TABLES: [&str; 5] = ["customers", "customer_scores", "latest_scores", "conversation_messages", CONTEXT_TABLE];

/// Reads an optional filter object into the core's filter.
fn read_filter(v: Option<Val>, what: &str) -> Result<Filter> {
    let Some(v) = v.filter(|v| !v.is_absent()) else { return Ok(Filter::default()) };
    let o = object(v, what)?;
    let field = |k: &str| -> Result<(Val, String)> {
        let name = format!("{what}.{k}");
        Ok((o.get(k, &name)?, name))
    };
    let mut f = Filter::default();
    let (v, n) = field("tables")?;
    if !v.is_absent() {
        f.tables = list(v, &n, |v, n| {
            let t = text(v, n)?;
            match TABLES.iter().find(|x| x.eq_ignore_ascii_case(&t)) {
                Some(x) => Ok(x.to_string()),
                None => Err(Error::new(ErrorKind::UnknownTable, format!("{n} is {t:?}; expected one of {}", TABLES.join(", ")))),
            }
        })?;
        debug_assert!(f.tables.iter().all(|t| t == CONTEXT_TABLE || Table::from_name(t).is_some()));
    }
    let (v, n) = field("ops")?;
    if !v.is_absent() {
        f.ops = list(v, &n, |v, n| match text(v, n)?.as_str() {
            "insert" => Ok(FeedOp::Insert),
            "update" => Ok(FeedOp::Update),
            "delete" => Ok(FeedOp::Delete),
            other => Err(Error::new(ErrorKind::InvalidInput, format!("{n} is {other:?}; expected insert, update or delete"))),
        })?;
    }
    let (v, n) = field("scoreType")?;
    f.score_type = opt_text(v, &n)?;
    let (v, n) = field("crossing")?;
    if !v.is_absent() {
        let c = object(v, &n)?;
        let score_type = text(c.get("scoreType", &format!("{n}.scoreType"))?, &format!("{n}.scoreType"))?;
        let threshold = number(c.get("threshold", &format!("{n}.threshold"))?, &format!("{n}.threshold"))?;
        if !threshold.is_finite() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{n}.threshold is {threshold}; it must be finite")));
        }
        let above = c.get("above", &format!("{n}.above"))?;
        let above = if above.is_absent() { true } else { boolean(above, &format!("{n}.above"))? };
        f.crossing = Some(Crossing { score_type, threshold, above });
    }
    Ok(f)
}

/// Reads `([filter,] callback)`.
fn read_subscribe_args<'a>(a: &'a Unknown<'_>, b: Option<&'a Unknown<'_>>) -> Result<(Filter, Val)> {
    match b.map(Val::of).filter(|v| !v.is_absent()) {
        None => Ok((Filter::default(), function(Val::of(a), "callback")?)),
        Some(cb) => Ok((read_filter(Some(Val::of(a)), "filter")?, function(cb, "callback")?)),
    }
}

/// What opens a core stream: one tenant, or every tenant of the engine.
enum Source {
    Tenant(cidb::Tenant),
    Engine(cidb::Engine),
}

impl Source {
    fn stream(&self, filter: Filter) -> Result<SubscriptionStream> {
        match self {
            Source::Tenant(t) => t.subscribe_stream(filter),
            Source::Engine(e) => e.subscribe_stream(filter),
        }
    }

    fn events_since(&self, from: u64, limit: usize) -> Result<Vec<Event>> {
        match self {
            Source::Tenant(t) => t.events_since(from, limit),
            Source::Engine(e) => e.events_since(from, limit),
        }
    }
}

/// Shared by a [`Subscription`] handle and its pump.
struct PushShared {
    cb: JsCallback<Delivery>,
    lease: Arc<Lease>,
    hook: u64,
}

impl PushShared {
    /// Stops deliveries now (no callback runs after this returns on the JS thread) and wakes
    /// the pump, which then unsubscribes.
    fn stop(&self) {
        self.cb.close();
    }
}

/// A change-feed subscription delivering to a callback. Made by `subscribe`.
#[napi]
pub struct Subscription {
    shared: Arc<PushShared>,
}

#[napi]
impl Subscription {
    /// Stops deliveries: the callback is not called again once this returns, and the
    /// subscription no longer keeps the process alive. Idempotent.
    #[napi]
    pub fn close(&self) {
        if !self.shared.lease.run_hook(self.shared.hook) {
            self.shared.stop();
        }
    }

    /// True once closed (by `close()`, or by closing the engine handle it came from).
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.shared.cb.is_closed()
    }
}

fn subscribe(
    env: &Env,
    lease: &Arc<Lease>,
    source: impl FnOnce() -> Result<Source>,
    a: &Unknown<'_>,
    b: Option<&Unknown<'_>>,
) -> napi::Result<Subscription> {
    run_sync(env, || {
        let (filter, cb) = read_subscribe_args(a, b)?;
        let source = source()?;
        lease.engine()?;
        let cb = JsCallback::new(cb.env(), cb.raw(), true)?;
        let mut stream = source.stream(filter)?;
        let hook = hook_id();
        let shared = Arc::new(PushShared { cb, lease: lease.clone(), hook });
        let weak = Arc::downgrade(&shared);
        if let Err(e) = lease.on_release(hook, move || {
            if let Some(s) = weak.upgrade() {
                s.stop();
            }
        }) {
            shared.stop();
            return Err(e);
        }
        let pump = shared.clone();
        crate::task::guarded(|| {
            // Ends when the subscription is closed, its handle is closed, the engine closes
            // (the stream ends), or the callback's environment goes away (a worker exits).
            napi::bindgen_prelude::spawn(async move {
                loop {
                    let next = tokio::select! {
                        d = stream.next() => d,
                        _ = pump.cb.closed() => None,
                    };
                    let Some(d) = next else { break };
                    let Some(done) = pump.cb.call(delivery(d)) else { break };
                    // Wait for JS to have run the callback: backpressure without a thread.
                    tokio::select! {
                        _ = done => {}
                        _ = pump.cb.closed() => break,
                    }
                }
                drop(stream);
                pump.lease.run_hook(pump.hook);
                pump.stop();
            });
            Ok(())
        })?;
        Ok(job(move || Ok(Subscription { shared })))
    })
}

/// Shared by an [`EventStream`] and its pending `next()` calls.
struct PullShared {
    stream: tokio::sync::Mutex<Option<SubscriptionStream>>,
    stop: watch::Sender<bool>,
    lease: Arc<Lease>,
    hook: u64,
}

impl PullShared {
    async fn next(self: Arc<Self>) -> Option<Delivery> {
        let mut stop = self.stop.subscribe();
        let mut guard = self.stream.lock().await;
        let stream = guard.as_mut()?;
        let d = tokio::select! {
            d = stream.next() => d,
            _ = stop.wait_for(|s| *s) => None,
        };
        if d.is_none() {
            *guard = None;
            drop(guard);
            self.close();
        }
        d.map(delivery)
    }

    fn close(&self) {
        self.stop.send_replace(true);
        if let Ok(mut s) = self.stream.try_lock() {
            *s = None; // unsubscribes now; else the pending next() drops it as it ends
        }
        self.lease.run_hook(self.hook);
    }
}

/// The change feed as an async iterable: `for await (const d of tenant.events())`.
/// Leaving the loop (or `close()`) ends it; so does closing the engine handle it came from.
#[napi(async_iterator)]
pub struct EventStream {
    shared: Arc<PullShared>,
}

#[napi]
impl EventStream {
    /// Ends the stream: pending and later `next()` calls return `done`. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.shared.close();
    }
}

#[napi]
impl AsyncGenerator for EventStream {
    type Yield = Delivery;
    type Next = ();
    type Return = ();

    fn next(&mut self, _value: Option<()>) -> impl Future<Output = napi::Result<Option<Delivery>>> + Send + 'static {
        let shared = self.shared.clone();
        async move { Ok(shared.next().await) }
    }

    fn complete(&mut self, _value: Option<()>) -> impl Future<Output = napi::Result<Option<Delivery>>> + Send + 'static {
        self.shared.close();
        async { Ok(None) }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.shared.close();
    }
}

fn events(
    env: &Env,
    lease: &Arc<Lease>,
    source: impl FnOnce() -> Result<Source>,
    filter: Option<&Unknown<'_>>,
) -> napi::Result<EventStream> {
    run_sync(env, || {
        let filter = read_filter(filter.map(Val::of), "filter")?;
        let source = source()?;
        lease.engine()?;
        let stream = source.stream(filter)?;
        let hook = hook_id();
        let shared = Arc::new(PullShared {
            stream: tokio::sync::Mutex::new(Some(stream)),
            stop: watch::Sender::new(false),
            lease: lease.clone(),
            hook,
        });
        let weak = Arc::downgrade(&shared);
        lease.on_release(hook, move || {
            if let Some(s) = weak.upgrade() {
                s.stop.send_replace(true);
                if let Ok(mut st) = s.stream.try_lock() {
                    *st = None;
                }
            }
        })?;
        Ok(job(move || Ok(EventStream { shared })))
    })
}

fn events_since_job(
    lease: &Arc<Lease>,
    source: impl FnOnce() -> Result<Source>,
    from: &Unknown<'_>,
    limit: Option<&Unknown<'_>>,
) -> Result<Job<Vec<ChangeEvent>>> {
    let from = convert::count(Val::of(from), "fromSeq")?;
    let limit = limit.map(|v| opt_count(Val::of(v), "limit")).transpose()?.flatten();
    let source = source()?;
    lease.engine()?;
    let lease = lease.clone();
    Ok(job(move || {
        let _keep = lease;
        // The core reads 0 as "no limit"; here 0 means what LIMIT 0 means: nothing.
        let limit = match limit {
            Some(0) => return Ok(Vec::new()),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => 0,
        };
        Ok(source.events_since(from, limit)?.into_iter().map(ChangeEvent::from).collect())
    }))
}

#[napi]
impl Tenant {
    fn feed_source(&self) -> impl FnOnce() -> Result<Source> {
        let t = self.tenant.clone();
        move || Ok(Source::Tenant(t))
    }

    /// Calls `callback` on the JS thread for every committed change of this tenant that
    /// passes `filter`, in commit order, and with `{missed}` when it fell so far behind that
    /// changes were dropped. The next delivery waits for the callback to return. The
    /// subscription keeps the process alive until closed. A callback that throws raises an
    /// uncaught exception, as any event listener would.
    #[napi(ts_args_type = "...args: [callback: (delivery: Delivery) => void] | [filter: EventFilter | null | undefined, callback: (delivery: Delivery) => void]")]
    pub fn subscribe(&self, env: Env, a: Unknown<'_>, b: Option<Unknown<'_>>) -> napi::Result<Subscription> {
        subscribe(&env, &self.lease, self.feed_source(), &a, b.as_ref())
    }

    /// This tenant's committed changes as an async iterable (see `EventStream`).
    #[napi]
    pub fn events(&self, env: Env, #[napi(ts_arg_type = "EventFilter | null")] filter: Option<Unknown<'_>>) -> napi::Result<EventStream> {
        events(&env, &self.lease, self.feed_source(), filter.as_ref())
    }

    /// This tenant's logged changes with `seq >= fromSeq`, oldest first, at most `limit`
    /// (absent: all; 0: none). The log keeps changes for `feed_retention_ms` (1 hour).
    #[napi(ts_return_type = "ChangeEvent[]")]
    pub fn events_since(
        &self,
        env: Env,
        #[napi(ts_arg_type = "number | bigint")] from_seq: Unknown<'_>,
        #[napi(ts_arg_type = "number | bigint | null")] limit: Option<Unknown<'_>>,
    ) -> napi::Result<Vec<ChangeEvent>> {
        run_sync(&env, || events_since_job(&self.lease, self.feed_source(), &from_seq, limit.as_ref()))
    }

    /// Promise form of `eventsSince`.
    #[napi(ts_return_type = "Promise<ChangeEvent[]>")]
    pub fn events_since_async(
        &self,
        #[napi(ts_arg_type = "number | bigint")] from_seq: Unknown<'_>,
        #[napi(ts_arg_type = "number | bigint | null")] limit: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<Vec<ChangeEvent>>> {
        run_async(|| events_since_job(&self.lease, self.feed_source(), &from_seq, limit.as_ref()))
    }
}

#[napi]
impl Engine {
    fn feed_source(&self) -> impl FnOnce() -> Result<Source> + '_ {
        move || Ok(Source::Engine(self.lease.engine()?.clone()))
    }

    /// `subscribe` for the changes of every tenant (administrative use).
    #[napi(ts_args_type = "...args: [callback: (delivery: Delivery) => void] | [filter: EventFilter | null | undefined, callback: (delivery: Delivery) => void]")]
    pub fn subscribe(&self, env: Env, a: Unknown<'_>, b: Option<Unknown<'_>>) -> napi::Result<Subscription> {
        subscribe(&env, &self.lease, self.feed_source(), &a, b.as_ref())
    }

    /// `events` for the changes of every tenant.
    #[napi]
    pub fn events(&self, env: Env, #[napi(ts_arg_type = "EventFilter | null")] filter: Option<Unknown<'_>>) -> napi::Result<EventStream> {
        events(&env, &self.lease, self.feed_source(), filter.as_ref())
    }

    /// `eventsSince` over every tenant.
    #[napi(ts_return_type = "ChangeEvent[]")]
    pub fn events_since(
        &self,
        env: Env,
        #[napi(ts_arg_type = "number | bigint")] from_seq: Unknown<'_>,
        #[napi(ts_arg_type = "number | bigint | null")] limit: Option<Unknown<'_>>,
    ) -> napi::Result<Vec<ChangeEvent>> {
        run_sync(&env, || events_since_job(&self.lease, self.feed_source(), &from_seq, limit.as_ref()))
    }

    /// Promise form of `eventsSince`.
    #[napi(ts_return_type = "Promise<ChangeEvent[]>")]
    pub fn events_since_async(
        &self,
        #[napi(ts_arg_type = "number | bigint")] from_seq: Unknown<'_>,
        #[napi(ts_arg_type = "number | bigint | null")] limit: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<Vec<ChangeEvent>>> {
        run_async(|| events_since_job(&self.lease, self.feed_source(), &from_seq, limit.as_ref()))
    }
}
