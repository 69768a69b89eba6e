//! The async API: [`AsyncTenant`] has the tenant's operations as `async fn`s. Writes are
//! validated on the caller, then handed to the group-commit writer; the future resolves when
//! the commit is durable and no thread waits in between. Reads run on the engine's blocking
//! pool, so they never stall the caller's executor. Any tokio runtime (or none: the futures
//! are runtime-agnostic) can await them.

use crate::error::Result;
use crate::model::{Context, ContextEntry, Customer, Message, Millis, NewMessage, Role, Score};
use crate::tenant::Tenant;
use std::time::Duration;

/// A tenant handle with async operations. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AsyncTenant {
    t: Tenant,
}

impl AsyncTenant {
    pub(crate) fn new(t: Tenant) -> AsyncTenant {
        AsyncTenant { t }
    }

    /// The blocking handle this wraps.
    pub fn blocking(&self) -> &Tenant {
        &self.t
    }

    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Tenant) -> Result<T> + Send + 'static) -> Result<T> {
        let t = self.t.clone();
        self.t.engine().blocking(move || f(&t)).await
    }

    /// See [`Tenant::upsert_customer`].
    pub async fn upsert_customer(&self, c: &Customer) -> Result<()> {
        self.upsert_customers(std::slice::from_ref(c)).await
    }

    /// See [`Tenant::upsert_customers`].
    pub async fn upsert_customers(&self, cs: &[Customer]) -> Result<()> {
        let op = self.t.op_upsert_customers(cs)?;
        self.t.engine().write_store_async(op).await
    }

    /// See [`Tenant::get_customer`].
    pub async fn get_customer(&self, id: &str) -> Result<Option<Customer>> {
        let id = id.to_string();
        self.read(move |t| t.get_customer(&id)).await
    }

    /// See [`Tenant::delete_customer`].
    pub async fn delete_customer(&self, id: &str) -> Result<bool> {
        let op = self.t.op_delete_customer(id)?;
        self.t.engine().write_store_async(op).await
    }

    /// See [`Tenant::count_customers`].
    pub async fn count_customers(&self) -> Result<u64> {
        self.read(|t| t.count_customers()).await
    }

    /// See [`Tenant::add_score`].
    pub async fn add_score(&self, s: &Score) -> Result<()> {
        self.add_scores(std::slice::from_ref(s)).await
    }

    /// See [`Tenant::add_scores`].
    pub async fn add_scores(&self, ss: &[Score]) -> Result<()> {
        let op = self.t.op_add_scores(ss)?;
        self.t.engine().write_store_async(op).await
    }

    /// See [`Tenant::latest_score`].
    pub async fn latest_score(&self, customer_id: &str, score_type: &str) -> Result<Option<Score>> {
        let (c, s) = (customer_id.to_string(), score_type.to_string());
        self.read(move |t| t.latest_score(&c, &s)).await
    }

    /// See [`Tenant::score_history`].
    pub async fn score_history(&self, customer_id: &str, score_type: &str, from: Millis, to: Millis) -> Result<Vec<Score>> {
        let (c, s) = (customer_id.to_string(), score_type.to_string());
        self.read(move |t| t.score_history(&c, &s, from, to)).await
    }

    /// See [`Tenant::append_message`].
    pub async fn append_message(&self, m: &NewMessage) -> Result<Message> {
        let mut v = self.append_messages(std::slice::from_ref(m)).await?;
        Ok(v.remove(0))
    }

    /// See [`Tenant::append_messages`].
    pub async fn append_messages(&self, ms: &[NewMessage]) -> Result<Vec<Message>> {
        let op = self.t.op_append_messages(ms)?;
        self.t.engine().write_store_async(op).await
    }

    /// See [`Tenant::messages_for_customer`].
    pub async fn messages_for_customer(
        &self,
        customer_id: &str,
        from: Millis,
        to: Millis,
        role: Option<Role>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let c = customer_id.to_string();
        self.read(move |t| t.messages_for_customer(&c, from, to, role, limit)).await
    }

    /// See [`Tenant::messages_for_conversation`].
    pub async fn messages_for_conversation(&self, conversation_id: &str) -> Result<Vec<Message>> {
        let c = conversation_id.to_string();
        self.read(move |t| t.messages_for_conversation(&c)).await
    }

    /// See [`Tenant::update_context`].
    pub async fn update_context(
        &self,
        conversation_id: &str,
        entries: &[ContextEntry],
        ttl: Duration,
        max_history: usize,
    ) -> Result<Context> {
        let op = self.t.op_update_context(conversation_id, entries, ttl, max_history)?;
        self.t.engine().write_store_async(op).await
    }

    /// See [`Tenant::get_context`].
    pub async fn get_context(&self, conversation_id: &str) -> Result<Option<Context>> {
        let c = conversation_id.to_string();
        self.read(move |t| t.get_context(&c)).await
    }

    /// See [`Tenant::delete_context`].
    pub async fn delete_context(&self, conversation_id: &str) -> Result<bool> {
        let op = self.t.op_delete_context(conversation_id)?;
        self.t.engine().write_store_async(op).await
    }
}
