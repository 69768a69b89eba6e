//! Tenant handles: every read and write of one tenant's customers, scores and messages.
//! The tenant name is the leading component of every key the handle builds, so a handle
//! cannot address another tenant's rows; isolation does not rest on a filter.

use crate::cache::TenantCache;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::{check_id, Customer, Message, Millis, NewMessage, Role, Score};
use crate::storage::stores;
use std::sync::Arc;

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
        for c in cs {
            c.validate()?;
        }
        let cs: Arc<[Customer]> = cs.into();
        let t = self.name.clone();
        self.engine.write(move |txn, ch| {
            for c in cs.iter() {
                stores::upsert_customer(txn, &t, c, ch)?;
            }
            Ok(())
        })
    }

    /// This tenant's application key-value cache (keys are namespaced by the tenant).
    pub fn cache(&self) -> TenantCache {
        TenantCache::new(self.engine.inner.cache.clone(), self.name.clone())
    }

    /// Reads a customer; `None` when there is none with that id.
    pub fn get_customer(&self, id: &str) -> Result<Option<Customer>> {
        check_id("customer id", id)?;
        self.engine.check_open()?;
        let engine = &self.engine;
        engine.inner.cache.customer(&self.name, id, || stores::get_customer(&engine.read()?, &self.name, id))
    }

    /// Deletes a customer; true when it existed. Its scores and messages stay (history).
    pub fn delete_customer(&self, id: &str) -> Result<bool> {
        check_id("customer id", id)?;
        let (t, id) = (self.name.clone(), id.to_string());
        self.engine.write(move |txn, ch| stores::delete_customer(txn, &t, &id, ch))
    }

    /// Number of customers of this tenant.
    pub fn count_customers(&self) -> Result<u64> {
        stores::count_customers(&self.engine.read()?, &self.name)
    }

    /// Appends a score and updates the latest score in the same transaction.
    pub fn add_score(&self, s: &Score) -> Result<()> {
        self.add_scores(std::slice::from_ref(s))
    }

    /// Appends many scores in one transaction: all land or none.
    pub fn add_scores(&self, ss: &[Score]) -> Result<()> {
        for s in ss {
            s.validate()?;
        }
        let ss: Arc<[Score]> = ss.into();
        let t = self.name.clone();
        self.engine.write(move |txn, ch| {
            for s in ss.iter() {
                stores::add_score(txn, &t, s, ch)?;
            }
            Ok(())
        })
    }

    /// The latest score of a type for a customer (one key lookup).
    pub fn latest_score(&self, customer_id: &str, score_type: &str) -> Result<Option<Score>> {
        check_id("customer_id", customer_id)?;
        check_id("score_type", score_type)?;
        self.engine.check_open()?;
        let engine = &self.engine;
        engine.inner.cache.latest_score(&self.name, customer_id, score_type, || {
            stores::latest_score(&engine.read()?, &self.name, customer_id, score_type)
        })
    }

    /// Scores of a type for a customer with `from <= created_at < to`, oldest first.
    pub fn score_history(&self, customer_id: &str, score_type: &str, from: Millis, to: Millis) -> Result<Vec<Score>> {
        check_id("customer_id", customer_id)?;
        check_id("score_type", score_type)?;
        stores::score_history(&self.engine.read()?, &self.name, customer_id, score_type, from, to)
    }

    /// Appends a message; returns it with its assigned id.
    pub fn append_message(&self, m: &NewMessage) -> Result<Message> {
        let mut v = self.append_messages(std::slice::from_ref(m))?;
        Ok(v.remove(0))
    }

    /// Appends many messages in one transaction; ids are assigned in order.
    pub fn append_messages(&self, ms: &[NewMessage]) -> Result<Vec<Message>> {
        let limits = self.engine.config().limits;
        for m in ms {
            m.validate(&limits)?;
        }
        let ms: Arc<[NewMessage]> = ms.into();
        let t = self.name.clone();
        self.engine.write(move |txn, ch| ms.iter().map(|m| stores::append_message(txn, &t, m, ch)).collect())
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
        stores::messages_for_customer(&self.engine.read()?, &self.name, customer_id, from, to, role, limit)
    }

    /// A conversation's messages in append order.
    pub fn messages_for_conversation(&self, conversation_id: &str) -> Result<Vec<Message>> {
        check_id("conversation_id", conversation_id)?;
        stores::messages_for_conversation(&self.engine.read()?, &self.name, conversation_id)
    }
}
