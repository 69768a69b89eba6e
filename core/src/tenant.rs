//! Tenant handles: every read and write of one tenant's customers, scores and messages.
//! The tenant name is the leading component of every key the handle builds, so a handle
//! cannot address another tenant's rows; isolation does not rest on a filter.

use crate::cache::TenantCache;
use crate::engine::{Engine, FastPath};
use crate::error::{err, ErrorKind, Result};
use crate::schema::Table;
use crate::model::{check_id, Context, ContextEntry, Customer, Message, Millis, NewMessage, Role, Score};
use crate::redo::{Applied, Apply};
use crate::storage::redo::{Redo, MAX_LOGGED_ITEMS};
use crate::storage::{stores, ChangeSet};
use redb::WriteTransaction;
use std::sync::Arc;
use std::time::Duration;

/// What a write runs inside the writer's transaction.
pub(crate) type RunFn<T> = Box<dyn FnMut(&WriteTransaction, &mut ChangeSet) -> Result<T> + Send + 'static>;

/// A validated write, ready for the writer (sync or async): what runs in the transaction,
/// and its redo-log description when it has one (see [`crate::redo`]).
pub(crate) struct Op<T> {
    pub run: RunFn<T>,
    pub redo: Option<Redo>,
}

/// The op of a tenant write: runs `a` and takes its result with `out`.
fn op<T: 'static>(a: Apply, out: fn(Applied) -> Option<T>) -> Op<T> {
    let a = Arc::new(a);
    let redo = a.redo();
    Op {
        run: Box::new(move |txn, ch| a.run(txn, ch).and_then(|r| out(r).ok_or_else(|| err(ErrorKind::Internal, "a write returned the wrong kind of result")))),
        redo,
    }
}

/// A handle on one tenant of an [`Engine`]. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Tenant {
    engine: Engine,
    name: Arc<str>,
}

impl Tenant {
    pub(crate) fn new(engine: Engine, name: &str) -> Tenant {
        Tenant { engine, name: Arc::from(name) }
    }

    /// The tenant's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The engine this handle belongs to.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Inserts or replaces a customer (by id).
    pub fn upsert_customer(&self, c: &Customer) -> Result<()> {
        self.upsert_customers(std::slice::from_ref(c))
    }

    /// Inserts or replaces many customers in one transaction: all land or none.
    pub fn upsert_customers(&self, cs: &[Customer]) -> Result<()> {
        self.engine.write_store(self.op_upsert_customers(cs)?)
    }

    pub(crate) fn op_upsert_customers(&self, cs: &[Customer]) -> Result<Op<()>> {
        for c in cs {
            c.validate()?;
        }
        // Described only when small enough to log (a bulk load commits durably instead).
        // Skipped when the log is off: the copy of the customers would never be read.
        let redo = (self.engine.config().redo_log && cs.len() <= MAX_LOGGED_ITEMS)
            .then(|| Arc::new(Apply::Upsert { tenant: self.name.clone(), customers: cs.into() }).redo())
            .flatten();
        // Encoded here, on the caller's thread: the writer thread only inserts.
        let mut cs = stores::PreparedCustomers::new(&self.name, cs)?;
        let t = self.name.clone();
        Ok(Op { run: Box::new(move |txn, ch| stores::upsert_prepared(txn, &t, &mut cs, ch)), redo })
    }

    /// This tenant's application key-value cache (keys are namespaced by the tenant).
    pub fn cache(&self) -> TenantCache {
        TenantCache::new(self.engine.inner.cache.clone(), self.name.clone())
    }

    /// Reads a customer; `None` when there is none with that id.
    pub fn get_customer(&self, id: &str) -> Result<Option<Customer>> {
        Ok(self.get_customer_shared(id)?.map(Arc::unwrap_or_clone))
    }

    /// [`Tenant::get_customer`] without the copy: the record is shared with the cache
    /// (immutable; a later write replaces it in the cache, never changes this one). For
    /// callers that only read the record, such as the bindings converting it, this saves
    /// the deep copy of its strings and attributes.
    pub fn get_customer_shared(&self, id: &str) -> Result<Option<Arc<Customer>>> {
        check_id("customer id", id)?;
        self.engine.check_open()?;
        let engine = &self.engine;
        engine.observe(
            FastPath::GetCustomer,
            || engine.inner.cache.customer(&self.name, id, || stores::get_customer(engine.read()?.rows(Table::Customers)?, &self.name, id)),
            |c| c.is_some() as u64,
        )
    }

    /// Deletes a customer; true when it existed. Its scores and messages stay (history).
    pub fn delete_customer(&self, id: &str) -> Result<bool> {
        self.engine.write_store(self.op_delete_customer(id)?)
    }

    pub(crate) fn op_delete_customer(&self, id: &str) -> Result<Op<bool>> {
        check_id("customer id", id)?;
        let a = Apply::Delete { tenant: self.name.clone(), id: id.to_string() };
        Ok(op(a, |r| if let Applied::Existed(b) = r { Some(b) } else { None }))
    }

    /// Number of customers of this tenant.
    pub fn count_customers(&self) -> Result<u64> {
        self.engine.observe(FastPath::CountCustomers, || stores::count_customers(self.engine.read()?.rows(Table::Customers)?, &self.name), |_| 1)
    }

    /// Appends a score and updates the latest score in the same transaction.
    pub fn add_score(&self, s: &Score) -> Result<()> {
        self.add_scores(std::slice::from_ref(s))
    }

    /// Appends many scores in one transaction: all land or none.
    pub fn add_scores(&self, ss: &[Score]) -> Result<()> {
        self.engine.write_store(self.op_add_scores(ss)?)
    }

    pub(crate) fn op_add_scores(&self, ss: &[Score]) -> Result<Op<()>> {
        for s in ss {
            s.validate()?;
        }
        let a = Apply::Scores { tenant: self.name.clone(), scores: ss.into() };
        Ok(op(a, |r| matches!(r, Applied::Unit).then_some(())))
    }

    /// The latest score of a type for a customer (one key lookup).
    pub fn latest_score(&self, customer_id: &str, score_type: &str) -> Result<Option<Score>> {
        Ok(self.latest_score_shared(customer_id, score_type)?.map(Arc::unwrap_or_clone))
    }

    /// [`Tenant::latest_score`] without the copy: the score is shared with the cache.
    pub fn latest_score_shared(&self, customer_id: &str, score_type: &str) -> Result<Option<Arc<Score>>> {
        check_id("customer_id", customer_id)?;
        check_id("score_type", score_type)?;
        self.engine.check_open()?;
        let engine = &self.engine;
        engine.observe(
            FastPath::LatestScore,
            || {
                engine.inner.cache.latest_score(&self.name, customer_id, score_type, || {
                    stores::latest_score(engine.read()?.rows(Table::LatestScores)?, &self.name, customer_id, score_type)
                })
            },
            |s| s.is_some() as u64,
        )
    }

    /// Scores of a type for a customer with `from <= created_at < to`, oldest first.
    pub fn score_history(&self, customer_id: &str, score_type: &str, from: Millis, to: Millis) -> Result<Vec<Score>> {
        check_id("customer_id", customer_id)?;
        check_id("score_type", score_type)?;
        self.engine.observe(
            FastPath::ScoreHistory,
            || stores::score_history(self.engine.read()?.rows(Table::Scores)?, &self.name, customer_id, score_type, from, to),
            |v| v.len() as u64,
        )
    }

    /// Appends a message; returns it with its assigned id.
    pub fn append_message(&self, m: &NewMessage) -> Result<Message> {
        let mut v = self.append_messages(std::slice::from_ref(m))?;
        Ok(v.remove(0))
    }

    /// Appends many messages in one transaction; ids are assigned in order.
    pub fn append_messages(&self, ms: &[NewMessage]) -> Result<Vec<Message>> {
        self.engine.write_store(self.op_append_messages(ms)?)
    }

    pub(crate) fn op_append_messages(&self, ms: &[NewMessage]) -> Result<Op<Vec<Message>>> {
        let limits = self.engine.config().limits;
        for m in ms {
            m.validate(&limits)?;
        }
        let a = Apply::Messages { tenant: self.name.clone(), messages: ms.into() };
        Ok(op(a, |r| if let Applied::Messages(m) = r { Some(m) } else { None }))
    }

    /// A customer's messages with `from <= timestamp < to`, optionally of one role, oldest
    /// first; at most `limit` (0 = all).
    pub fn messages_for_customer(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        role: Option<Role>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        check_id("customer_id", customer_id)?;
        self.engine.observe(
            FastPath::MessagesForCustomer,
            || stores::messages_for_customer(&*self.engine.read()?, &self.name, customer_id, from, to, role, limit),
            |v| v.len() as u64,
        )
    }

    /// A conversation's messages in append order.
    pub fn messages_for_conversation(&self, conversation_id: &str) -> Result<Vec<Message>> {
        check_id("conversation_id", conversation_id)?;
        self.engine.observe(
            FastPath::MessagesForConversation,
            || stores::messages_for_conversation(&*self.engine.read()?, &self.name, conversation_id),
            |v| v.len() as u64,
        )
    }

    /// Merges `entries` into the conversation's context, keeps the newest `max_history`
    /// (by timestamp; ties keep arrival order), resets the TTL to `ttl` from now, and returns
    /// the new context. Atomic under concurrent callers. An expired context counts as empty.
    pub fn update_context(
        &self,
        conversation_id: &str,
        entries: &[ContextEntry],
        ttl: Duration,
        max_history: usize,
    ) -> Result<Context> {
        self.engine.write_store(self.op_update_context(conversation_id, entries, ttl, max_history)?)
    }

    pub(crate) fn op_update_context(
        &self,
        conversation_id: &str,
        entries: &[ContextEntry],
        ttl: Duration,
        max_history: usize,
    ) -> Result<Op<Context>> {
        check_id("conversation_id", conversation_id)?;
        if ttl.is_zero() {
            return Err(err(ErrorKind::InvalidTtl, "context ttl must be greater than zero"));
        }
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        if max_history == 0 {
            return Err(err(ErrorKind::InvalidInput, "max_history must be at least 1"));
        }
        let limits = self.engine.config().limits;
        for e in entries {
            e.validate(&limits)?;
        }
        // The time is taken here, so the redo log replays the same expiry.
        let a = Apply::Context {
            tenant: self.name.clone(),
            conversation: conversation_id.to_string(),
            entries: entries.into(),
            now: self.engine.clock().now(),
            ttl_ms,
            max_history,
        };
        Ok(op(a, |r| if let Applied::Context(c) = r { Some(c) } else { None }))
    }

    /// The conversation's context; `None` when absent or expired.
    pub fn get_context(&self, conversation_id: &str) -> Result<Option<Context>> {
        check_id("conversation_id", conversation_id)?;
        self.engine.observe(
            FastPath::GetContext,
            || crate::context::get(self.engine.read()?.txn(), &self.name, conversation_id, self.engine.clock().now()),
            |c| c.is_some() as u64,
        )
    }

    /// Deletes the conversation's context; true when a live one existed.
    pub fn delete_context(&self, conversation_id: &str) -> Result<bool> {
        self.engine.write_store(self.op_delete_context(conversation_id)?)
    }

    pub(crate) fn op_delete_context(&self, conversation_id: &str) -> Result<Op<bool>> {
        check_id("conversation_id", conversation_id)?;
        let a = Apply::DeleteContext { tenant: self.name.clone(), conversation: conversation_id.to_string(), now: self.engine.clock().now() };
        Ok(op(a, |r| if let Applied::Existed(b) = r { Some(b) } else { None }))
    }

    /// The async form of this handle: the same operations as `async fn`s.
    pub fn to_async(&self) -> crate::aio::AsyncTenant {
        crate::aio::AsyncTenant::new(self.clone())
    }

    /// Subscribes to this tenant's committed changes (blocking receiver / iterator).
    pub fn subscribe(&self, filter: crate::feed::Filter) -> Result<crate::feed::Subscription> {
        self.engine.check_open()?;
        let cap = self.engine.config().feed.queue_capacity;
        Ok(self.engine.inner.feed.subscribe(Some(self.name.to_string()), filter, cap))
    }

    /// Subscribes with a callback run on a delivery thread of its own.
    pub fn subscribe_callback(
        &self,
        filter: crate::feed::Filter,
        f: impl Fn(crate::feed::Delivery) + Send + 'static,
    ) -> Result<crate::feed::CallbackSubscription> {
        self.engine.check_open()?;
        let cap = self.engine.config().feed.queue_capacity;
        Ok(self.engine.inner.feed.subscribe_callback(Some(self.name.to_string()), filter, cap, f))
    }

    /// Subscribes as a tokio `Stream`.
    pub fn subscribe_stream(&self, filter: crate::feed::Filter) -> Result<crate::feed::SubscriptionStream> {
        self.engine.check_open()?;
        let cap = self.engine.config().feed.queue_capacity;
        Ok(self.engine.inner.feed.subscribe_stream(Some(self.name.to_string()), filter, cap))
    }

    /// This tenant's logged events with `seq >= from`, oldest first, at most `limit`.
    pub fn events_since(&self, from: u64, limit: usize) -> Result<Vec<crate::feed::Event>> {
        crate::feed::read(self.engine.read()?.txn(), from, limit, Some(&self.name))
    }
}
