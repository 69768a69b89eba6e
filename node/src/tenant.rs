//! The `Tenant` class: every read and write of one tenant's customers, scores and messages.
//! Each operation is one `*_job` preparation (read the JS arguments on the JS thread, then
//! a `Send` job doing the engine call) exposed twice: `name(...)` runs it now and returns or
//! throws; `nameAsync(...)` runs it on the libuv thread pool and returns a Promise that
//! rejects with the same error. The handle keeps its engine lease alive, and fails with
//! `CIDB_CLOSED` once the `Engine` handle it came from is closed.

use crate::convert::{list, opt_timestamp, text, with_text, Val};
use crate::records::{CustomerInput, SharedCustomer, Message, MessageQuery, NewMessage, Score, ScoreInput};
use crate::registry::Lease;
use crate::task::{job, run_async, run_future, run_now, run_sync, Job, Op};
use cidb::model::time::MAX_TIMESTAMP;
use cidb::{AsyncTenant, Millis, Role};
use napi::bindgen_prelude::{AsyncTask, Env, PromiseRaw, Unknown};
use napi_derive::napi;
use std::future::Future;
use std::sync::Arc;

type Result<T> = cidb::Result<T>;

/// A prepared write: the core tenant, the lease that keeps its engine open, and the owned,
/// already-converted input. The sync form runs it as a job; the `…Async` form as the core's
/// non-blocking write future (see `task::run_future`).
pub(crate) struct Write<D> {
    t: cidb::Tenant,
    lease: Arc<Lease>,
    data: D,
}

impl<D: Send + 'static> Write<D> {
    /// The sync form's job.
    pub(crate) fn job<T>(self, f: impl FnOnce(&cidb::Tenant, D) -> Result<T> + Send + 'static) -> Job<T> {
        job(move || {
            let _keep = self.lease;
            f(&self.t, self.data)
        })
    }

    /// The `…Async` form's future.
    pub(crate) fn future<T, F>(self, f: impl FnOnce(AsyncTenant, D) -> F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let fut = f(self.t.to_async(), self.data);
        let lease = self.lease;
        async move {
            let _keep = lease;
            fut.await
        }
    }
}

/// A handle on one tenant of an engine. Made by `Engine.tenant(name)`.
#[napi]
pub struct Tenant {
    pub(crate) lease: Arc<Lease>,
    pub(crate) tenant: cidb::Tenant,
}

impl Tenant {
    pub(crate) fn new(lease: Arc<Lease>, tenant: cidb::Tenant) -> Tenant {
        Tenant { lease, tenant }
    }

    /// The core handle, or `Closed`; plus the lease, moved into the job so the engine stays
    /// open while it runs.
    pub(crate) fn live(&self) -> Result<(cidb::Tenant, Arc<Lease>)> {
        self.lease.engine()?;
        Ok((self.tenant.clone(), self.lease.clone()))
    }

    fn now(&self) -> Millis {
        self.tenant.engine().config().clock.now()
    }

    /// A write of `data` through this handle (fails with `Closed` once it is closed).
    pub(crate) fn write<D>(&self, data: D) -> Result<Write<D>> {
        let (t, lease) = self.live()?;
        Ok(Write { t, lease, data })
    }

    fn upsert_customers_write(&self, customers: Vec<CustomerInput>) -> Result<Write<Vec<cidb::Customer>>> {
        let now = self.now();
        self.write(customers.into_iter().map(|c| c.into_model(now)).collect())
    }

    fn upsert_customers_job(&self, customers: Vec<CustomerInput>) -> Result<Job<()>> {
        Ok(self.upsert_customers_write(customers)?.job(|t, cs| t.upsert_customers(&cs)))
    }

    fn upsert_customers_fut(&self, customers: Vec<CustomerInput>) -> Result<impl Future<Output = Result<()>> + use<>> {
        Ok(self.upsert_customers_write(customers)?.future(|t, cs| async move { t.upsert_customers(&cs).await }))
    }

    fn get_customer_job(&self, id: &Unknown<'_>) -> Result<Job<Option<SharedCustomer>>> {
        let id = text(Val::of(id), "id")?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.get_customer_shared(&id)?.map(SharedCustomer))
        }))
    }

    fn delete_customer_job(&self, id: &Unknown<'_>) -> Result<Job<bool>> {
        Ok(self.write(text(Val::of(id), "id")?)?.job(|t, id| t.delete_customer(&id)))
    }

    fn delete_customer_fut(&self, id: &Unknown<'_>) -> Result<impl Future<Output = Result<bool>> + use<>> {
        Ok(self.write(text(Val::of(id), "id")?)?.future(|t, id| async move { t.delete_customer(&id).await }))
    }

    fn count_customers_job(&self) -> Result<Job<f64>> {
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.count_customers()? as f64)
        }))
    }

    fn add_scores_write(&self, scores: Vec<ScoreInput>) -> Result<Write<Vec<cidb::Score>>> {
        let now = self.now();
        self.write(scores.into_iter().map(|s| s.into_model(now)).collect())
    }

    fn add_scores_job(&self, scores: Vec<ScoreInput>) -> Result<Job<()>> {
        Ok(self.add_scores_write(scores)?.job(|t, ss| t.add_scores(&ss)))
    }

    fn add_scores_fut(&self, scores: Vec<ScoreInput>) -> Result<impl Future<Output = Result<()>> + use<>> {
        Ok(self.add_scores_write(scores)?.future(|t, ss| async move { t.add_scores(&ss).await }))
    }

    fn latest_score_job(&self, customer_id: &Unknown<'_>, score_type: &Unknown<'_>) -> Result<Job<Option<Score>>> {
        let customer_id = text(Val::of(customer_id), "customerId")?;
        let score_type = text(Val::of(score_type), "scoreType")?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.latest_score(&customer_id, &score_type)?.map(Score::from))
        }))
    }

    fn score_history_job(
        &self,
        customer_id: &Unknown<'_>,
        score_type: &Unknown<'_>,
        from: Option<&Unknown<'_>>,
        to: Option<&Unknown<'_>>,
    ) -> Result<Job<Vec<Score>>> {
        let customer_id = text(Val::of(customer_id), "customerId")?;
        let score_type = text(Val::of(score_type), "scoreType")?;
        let (from, to) = range(from.map(Val::of), to.map(Val::of))?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.score_history(&customer_id, &score_type, from, to)?.into_iter().map(Score::from).collect())
        }))
    }

    fn append_messages_write(&self, messages: Vec<NewMessage>) -> Result<Write<Vec<cidb::NewMessage>>> {
        let now = self.now();
        self.write(messages.into_iter().map(|m| m.into_model(now)).collect::<Result<Vec<_>>>()?)
    }

    fn append_messages_job(&self, messages: Vec<NewMessage>) -> Result<Job<Vec<Message>>> {
        Ok(self
            .append_messages_write(messages)?
            .job(|t, ms| Ok(t.append_messages(&ms)?.into_iter().map(Message::from).collect())))
    }

    fn append_messages_fut(&self, messages: Vec<NewMessage>) -> Result<impl Future<Output = Result<Vec<Message>>> + use<>> {
        Ok(self.append_messages_write(messages)?.future(|t, ms| async move {
            Ok(t.append_messages(&ms).await?.into_iter().map(Message::from).collect())
        }))
    }

    fn messages_for_customer_job(
        &self,
        customer_id: &Unknown<'_>,
        query: Option<&Unknown<'_>>,
    ) -> Result<Job<Vec<Message>>> {
        let customer_id = text(Val::of(customer_id), "customerId")?;
        let q = MessageQuery::read(query.map(Val::of), "query")?;
        let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or(MAX_TIMESTAMP + 1));
        let role = q.role.as_deref().map(str::parse::<Role>).transpose()?;
        // The core reads 0 as "no limit"; here 0 means what LIMIT 0 means: nothing.
        let limit = q.limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            if limit == Some(0) {
                return Ok(Vec::new());
            }
            let msgs = t.messages_for_customer(&customer_id, from, to, role, limit.unwrap_or(0))?;
            Ok(msgs.into_iter().map(Message::from).collect())
        }))
    }

    fn messages_for_conversation_job(&self, conversation_id: &Unknown<'_>) -> Result<Job<Vec<Message>>> {
        let conversation_id = text(Val::of(conversation_id), "conversationId")?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.messages_for_conversation(&conversation_id)?.into_iter().map(Message::from).collect())
        }))
    }
}

/// The `[from, to)` range of a history query: absent `from` is the epoch, absent `to` is
/// past the last valid timestamp.
fn range(from: Option<Val>, to: Option<Val>) -> Result<(Millis, Millis)> {
    let from = from.map(|v| opt_timestamp(v, "from")).transpose()?.flatten().unwrap_or(0);
    let to = to.map(|v| opt_timestamp(v, "to")).transpose()?.flatten().unwrap_or(MAX_TIMESTAMP + 1);
    Ok((from, to))
}

fn one<T>(v: &Unknown<'_>, what: &str, read: impl Fn(Val, &str) -> Result<T>) -> Result<Vec<T>> {
    Ok(vec![read(Val::of(v), what)?])
}

fn many<T>(v: &Unknown<'_>, what: &str, read: impl Fn(Val, &str) -> Result<T>) -> Result<Vec<T>> {
    list(Val::of(v), what, read)
}

#[napi]
impl Tenant {
    /// The tenant's name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.tenant.name().to_string()
    }

    /// Inserts or replaces a customer (by id). Durable when it returns.
    #[napi]
    pub fn upsert_customer(&self, env: Env, #[napi(ts_arg_type = "CustomerInput")] customer: Unknown<'_>) -> napi::Result<()> {
        run_sync(&env, || self.upsert_customers_job(one(&customer, "customer", CustomerInput::read)?))
    }

    /// Promise form of `upsertCustomer`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn upsert_customer_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "CustomerInput")] customer: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        run_future(env, || self.upsert_customers_fut(one(&customer, "customer", CustomerInput::read)?))
    }

    /// Inserts or replaces many customers in one transaction: all land or none do.
    #[napi]
    pub fn upsert_customers(&self, env: Env, #[napi(ts_arg_type = "CustomerInput[]")] customers: Unknown<'_>) -> napi::Result<()> {
        run_sync(&env, || self.upsert_customers_job(many(&customers, "customers", CustomerInput::read)?))
    }

    /// Promise form of `upsertCustomers`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn upsert_customers_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "CustomerInput[]")] customers: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        run_future(env, || self.upsert_customers_fut(many(&customers, "customers", CustomerInput::read)?))
    }

    /// Reads a customer; `null` when there is none with that id.
    // The hottest read, so it runs in place rather than as a boxed job: the id is read into
    // a stack buffer and the record comes from the cache uncopied.
    #[napi(ts_return_type = "Customer | null")]
    pub fn get_customer(&self, env: Env, #[napi(ts_arg_type = "string")] id: Unknown<'_>) -> napi::Result<Option<SharedCustomer>> {
        run_now(&env, || {
            self.lease.engine()?;
            with_text(Val::of(&id), "id", |id| self.tenant.get_customer_shared(id))
        })
        .map(|c| c.map(SharedCustomer))
    }

    /// Promise form of `getCustomer`.
    #[napi(ts_return_type = "Promise<Customer | null>")]
    pub fn get_customer_async(&self, #[napi(ts_arg_type = "string")] id: Unknown<'_>) -> AsyncTask<Op<Option<SharedCustomer>>> {
        run_async(|| self.get_customer_job(&id))
    }

    /// Deletes a customer; `true` when it existed. Its scores and messages stay (history).
    #[napi]
    pub fn delete_customer(&self, env: Env, #[napi(ts_arg_type = "string")] id: Unknown<'_>) -> napi::Result<bool> {
        run_sync(&env, || self.delete_customer_job(&id))
    }

    /// Promise form of `deleteCustomer`.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete_customer_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        run_future(env, || self.delete_customer_fut(&id))
    }

    /// Number of customers of this tenant.
    #[napi]
    pub fn count_customers(&self, env: Env) -> napi::Result<f64> {
        run_sync(&env, || self.count_customers_job())
    }

    /// Promise form of `countCustomers`.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn count_customers_async(&self) -> AsyncTask<Op<f64>> {
        run_async(|| self.count_customers_job())
    }

    /// Appends a score to the customer's history and makes it the latest score of its type
    /// (when it is the newest), in one transaction.
    #[napi]
    pub fn add_score(&self, env: Env, #[napi(ts_arg_type = "ScoreInput")] score: Unknown<'_>) -> napi::Result<()> {
        run_sync(&env, || self.add_scores_job(one(&score, "score", ScoreInput::read)?))
    }

    /// Promise form of `addScore`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_score_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "ScoreInput")] score: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        run_future(env, || self.add_scores_fut(one(&score, "score", ScoreInput::read)?))
    }

    /// Appends many scores in one transaction: all land or none do.
    #[napi]
    pub fn add_scores(&self, env: Env, #[napi(ts_arg_type = "ScoreInput[]")] scores: Unknown<'_>) -> napi::Result<()> {
        run_sync(&env, || self.add_scores_job(many(&scores, "scores", ScoreInput::read)?))
    }

    /// Promise form of `addScores`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_scores_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "ScoreInput[]")] scores: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        run_future(env, || self.add_scores_fut(many(&scores, "scores", ScoreInput::read)?))
    }

    /// The latest score of a type for a customer (one key lookup); `null` when none.
    #[napi]
    pub fn latest_score(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] customer_id: Unknown<'_>,
        #[napi(ts_arg_type = "string")] score_type: Unknown<'_>,
    ) -> napi::Result<Option<Score>> {
        run_sync(&env, || self.latest_score_job(&customer_id, &score_type))
    }

    /// Promise form of `latestScore`.
    #[napi(ts_return_type = "Promise<Score | null>")]
    pub fn latest_score_async(
        &self,
        #[napi(ts_arg_type = "string")] customer_id: Unknown<'_>,
        #[napi(ts_arg_type = "string")] score_type: Unknown<'_>,
    ) -> AsyncTask<Op<Option<Score>>> {
        run_async(|| self.latest_score_job(&customer_id, &score_type))
    }

    /// Scores of a type for a customer with `from <= createdAt < to`, oldest first. `from`
    /// defaults to the epoch and `to` to no upper bound.
    #[napi(ts_return_type = "Score[]")]
    pub fn score_history(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] customer_id: Unknown<'_>,
        #[napi(ts_arg_type = "string")] score_type: Unknown<'_>,
        #[napi(ts_arg_type = "number | bigint | Date | null")] from: Option<Unknown<'_>>,
        #[napi(ts_arg_type = "number | bigint | Date | null")] to: Option<Unknown<'_>>,
    ) -> napi::Result<Vec<Score>> {
        run_sync(&env, || self.score_history_job(&customer_id, &score_type, from.as_ref(), to.as_ref()))
    }

    /// Promise form of `scoreHistory`.
    #[napi(ts_return_type = "Promise<Score[]>")]
    pub fn score_history_async(
        &self,
        #[napi(ts_arg_type = "string")] customer_id: Unknown<'_>,
        #[napi(ts_arg_type = "string")] score_type: Unknown<'_>,
        #[napi(ts_arg_type = "number | bigint | Date | null")] from: Option<Unknown<'_>>,
        #[napi(ts_arg_type = "number | bigint | Date | null")] to: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<Vec<Score>>> {
        run_async(|| self.score_history_job(&customer_id, &score_type, from.as_ref(), to.as_ref()))
    }

    /// Appends a message; returns it with its assigned id.
    #[napi]
    pub fn append_message(&self, env: Env, #[napi(ts_arg_type = "NewMessage")] message: Unknown<'_>) -> napi::Result<Message> {
        run_sync(&env, || self.append_one_job(&message))
    }

    /// Promise form of `appendMessage`.
    #[napi(ts_return_type = "Promise<Message>")]
    pub fn append_message_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "NewMessage")] message: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Message>> {
        run_future(env, || {
            let batch = self.append_messages_fut(one(&message, "message", NewMessage::read)?)?;
            Ok(async move { batch.await?.pop().ok_or_else(none_appended) })
        })
    }

    /// Appends many messages in one transaction (all land or none do); ids are assigned in
    /// array order.
    #[napi(ts_return_type = "Message[]")]
    pub fn append_messages(&self, env: Env, #[napi(ts_arg_type = "NewMessage[]")] messages: Unknown<'_>) -> napi::Result<Vec<Message>> {
        run_sync(&env, || self.append_messages_job(many(&messages, "messages", NewMessage::read)?))
    }

    /// Promise form of `appendMessages`.
    #[napi(ts_return_type = "Promise<Message[]>")]
    pub fn append_messages_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "NewMessage[]")] messages: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Message>>> {
        run_future(env, || self.append_messages_fut(many(&messages, "messages", NewMessage::read)?))
    }

    /// A customer's messages, oldest first, filtered by `query` (`from <= timestamp < to`,
    /// `role`, at most `limit`).
    #[napi(ts_return_type = "Message[]")]
    pub fn messages_for_customer(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] customer_id: Unknown<'_>,
        #[napi(ts_arg_type = "MessageQuery | null")] query: Option<Unknown<'_>>,
    ) -> napi::Result<Vec<Message>> {
        run_sync(&env, || self.messages_for_customer_job(&customer_id, query.as_ref()))
    }

    /// Promise form of `messagesForCustomer`.
    #[napi(ts_return_type = "Promise<Message[]>")]
    pub fn messages_for_customer_async(
        &self,
        #[napi(ts_arg_type = "string")] customer_id: Unknown<'_>,
        #[napi(ts_arg_type = "MessageQuery | null")] query: Option<Unknown<'_>>,
    ) -> AsyncTask<Op<Vec<Message>>> {
        run_async(|| self.messages_for_customer_job(&customer_id, query.as_ref()))
    }

    /// A conversation's messages in append order.
    #[napi(ts_return_type = "Message[]")]
    pub fn messages_for_conversation(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>,
    ) -> napi::Result<Vec<Message>> {
        run_sync(&env, || self.messages_for_conversation_job(&conversation_id))
    }

    /// Promise form of `messagesForConversation`.
    #[napi(ts_return_type = "Promise<Message[]>")]
    pub fn messages_for_conversation_async(
        &self,
        #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>,
    ) -> AsyncTask<Op<Vec<Message>>> {
        run_async(|| self.messages_for_conversation_job(&conversation_id))
    }
}

impl Tenant {
    fn append_one_job(&self, message: &Unknown<'_>) -> Result<Job<Message>> {
        let batch = self.append_messages_job(one(message, "message", NewMessage::read)?)?;
        Ok(job(move || batch()?.pop().ok_or_else(none_appended)))
    }
}

fn none_appended() -> cidb::Error {
    cidb::Error::new(cidb::ErrorKind::Internal, "appending one message returned none")
}
