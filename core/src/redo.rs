//! The tenant writes as redo records: each write of a [`crate::Tenant`] (upserts, deletes,
//! score and message appends, context updates) is one [`Apply`] value that both runs the
//! write inside the writer's transaction and describes it (JSON) for the redo log
//! ([`crate::storage::redo`]). Replaying a record after a crash decodes the same values and
//! runs them again through the same code, so a replayed write is exactly the logged one:
//! the context updates carry the time they were made, and sequence numbers and message ids
//! come from the counters in the data file, which replay in the same order restores.

use crate::context;
use crate::error::{err, ErrorKind, Result};
use crate::model::{Context, ContextEntry, Customer, Message, Millis, NewMessage, Score};
use crate::storage::changes::ContextChange;
use crate::storage::redo::{Redo, Replayer, MAX_LOGGED_ITEMS};
use crate::storage::{stores, ChangeSet};
use redb::WriteTransaction;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One tenant write, as run and as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op")]
pub(crate) enum Apply {
    /// Inserts or replaces customers.
    Upsert { tenant: Arc<str>, customers: Arc<[Customer]> },
    /// Deletes a customer.
    Delete { tenant: Arc<str>, id: String },
    /// Appends scores.
    Scores { tenant: Arc<str>, scores: Arc<[Score]> },
    /// Appends messages.
    Messages { tenant: Arc<str>, messages: Arc<[NewMessage]> },
    /// Merges entries into a conversation context at time `now`.
    Context { tenant: Arc<str>, conversation: String, entries: Arc<[ContextEntry]>, now: Millis, ttl_ms: i64, max_history: usize },
    /// Deletes a conversation context at time `now`.
    DeleteContext { tenant: Arc<str>, conversation: String, now: Millis },
}

/// What a write returns.
pub(crate) enum Applied {
    /// Nothing (upserts, score appends).
    Unit,
    /// Whether the row existed (deletes).
    Existed(bool),
    /// The stored messages.
    Messages(Vec<Message>),
    /// The context after the update.
    Context(Context),
}

impl Apply {
    /// Rows the write carries (what the redo log's size cap counts).
    pub fn items(&self) -> usize {
        match self {
            Apply::Upsert { customers, .. } => customers.len(),
            Apply::Scores { scores, .. } => scores.len(),
            Apply::Messages { messages, .. } => messages.len(),
            Apply::Context { entries, .. } => entries.len().max(1),
            Apply::Delete { .. } | Apply::DeleteContext { .. } => 1,
        }
    }

    /// Runs the write in `txn`, recording its changes in `ch`.
    pub fn run(&self, txn: &WriteTransaction, ch: &mut ChangeSet) -> Result<Applied> {
        match self {
            Apply::Upsert { tenant, customers } => {
                let mut p = stores::PreparedCustomers::new(tenant, customers)?;
                stores::upsert_prepared(txn, tenant, &mut p, ch).map(|()| Applied::Unit)
            }
            Apply::Delete { tenant, id } => stores::delete_customer(txn, tenant, id, ch).map(Applied::Existed),
            Apply::Scores { tenant, scores } => stores::add_scores(txn, tenant, scores, ch).map(|()| Applied::Unit),
            Apply::Messages { tenant, messages } => stores::append_messages(txn, tenant, messages, ch).map(Applied::Messages),
            Apply::Context { tenant, conversation, entries, now, ttl_ms, max_history } => {
                let ctx = context::update(txn, tenant, conversation, entries, *now, *ttl_ms, *max_history)?;
                ch.contexts.push(ContextChange { tenant: tenant.clone(), conversation_id: conversation.clone(), new: Some(ctx.clone()) });
                Ok(Applied::Context(ctx))
            }
            Apply::DeleteContext { tenant, conversation, now } => {
                let existed = context::delete(txn, tenant, conversation, *now)?;
                if existed {
                    ch.contexts.push(ContextChange { tenant: tenant.clone(), conversation_id: conversation.clone(), new: None });
                }
                Ok(Applied::Existed(existed))
            }
        }
    }

    /// The redo description of this write, or None when it is too large to log (it then
    /// commits durably, as a bulk load should).
    pub fn redo(self: &Arc<Self>) -> Option<Redo> {
        let items = self.items();
        if items > MAX_LOGGED_ITEMS {
            return None;
        }
        let me = self.clone();
        Some(Redo {
            items,
            describe: Box::new(move |out: &mut Vec<u8>| {
                serde_json::to_writer(out, &*me).map_err(|e| err(ErrorKind::Internal, format!("cannot describe a write for the redo log: {e}")))
            }),
        })
    }
}

/// Joins the descriptions of a group into one record (a JSON array).
pub(crate) fn record(redos: &[&Redo]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256 * redos.len());
    out.push(b'[');
    for (i, r) in redos.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        (r.describe)(&mut out)?;
    }
    out.push(b']');
    Ok(out)
}

/// Applies a record: its writes in order, in one transaction.
pub(crate) fn replayer() -> Replayer {
    Arc::new(|txn: &WriteTransaction, ch: &mut ChangeSet, record: &[u8]| {
        let ops: Vec<Apply> = serde_json::from_slice(record)
            .map_err(|e| err(ErrorKind::Corrupted, format!("a redo record does not decode: {e}")))?;
        for op in &ops {
            op.run(txn, ch)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn ops() -> Vec<Arc<Apply>> {
        let t: Arc<str> = Arc::from("t1");
        let mut c = Customer::new("c1", 5);
        c.email = Some("c1@example.com".into());
        let s = Score { customer_id: "c1".into(), score_type: "churn_risk".into(), score: 0.5, confidence: 0.9, created_at: 7, model: None };
        let m = NewMessage {
            customer_id: "c1".into(),
            conversation_id: "v1".into(),
            role: Role::User,
            timestamp: 9,
            content: "hello \"quoted\" \u{e9}".into(),
            metadata: serde_json::json!({"k": [1, 2]}),
        };
        let e = ContextEntry { role: Role::Assistant, content: "hi".into(), timestamp: 3, metadata: serde_json::json!({}) };
        vec![
            Arc::new(Apply::Upsert { tenant: t.clone(), customers: vec![c].into() }),
            Arc::new(Apply::Scores { tenant: t.clone(), scores: vec![s].into() }),
            Arc::new(Apply::Messages { tenant: t.clone(), messages: vec![m].into() }),
            Arc::new(Apply::Context { tenant: t.clone(), conversation: "v1".into(), entries: vec![e].into(), now: 11, ttl_ms: 5, max_history: 2 }),
            Arc::new(Apply::DeleteContext { tenant: t.clone(), conversation: "v1".into(), now: 12 }),
            Arc::new(Apply::Delete { tenant: t, id: "c1".into() }),
        ]
    }

    #[test]
    fn a_group_record_decodes_to_the_same_writes_in_order() {
        let ops = ops();
        let redos: Vec<Redo> = ops.iter().map(|o| o.redo().unwrap()).collect();
        let rec = record(&redos.iter().collect::<Vec<_>>()).unwrap();
        let back: Vec<Apply> = serde_json::from_slice(&rec).unwrap();
        assert_eq!(format!("{back:?}"), format!("{:?}", ops.iter().map(|o| (**o).clone()).collect::<Vec<_>>()));
    }

    #[test]
    fn a_write_over_the_cap_is_not_logged() {
        let c = Customer::new("c1", 5);
        let big = Arc::new(Apply::Upsert { tenant: Arc::from("t"), customers: vec![c; MAX_LOGGED_ITEMS + 1].into() });
        assert!(big.redo().is_none());
        let small = Arc::new(Apply::Delete { tenant: Arc::from("t"), id: "x".into() });
        assert_eq!(small.redo().unwrap().items, 1);
    }
}
