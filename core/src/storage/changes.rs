//! The change set of one write: every row inserted, updated or deleted, as rows of the SQL
//! tables. Index maintenance reads it inside the transaction; after commit the same set
//! drives cache invalidation and any other post-commit listener.

use crate::schema::{Row, Table};
use std::sync::Arc;

/// One row changed by a write.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The table.
    pub table: Table,
    /// The tenant that owns the row.
    pub tenant: Arc<str>,
    /// The encoded primary key (after the tenant).
    pub pk: Vec<u8>,
    /// The row before the write (None for an insert).
    pub old: Option<Row>,
    /// The row after the write (None for a delete).
    pub new: Option<Row>,
}

/// A conversation context written or deleted (contexts are not a SQL table).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextChange {
    /// The tenant.
    pub tenant: Arc<str>,
    /// The conversation.
    pub conversation_id: String,
    /// The context after the write (None for a delete).
    pub new: Option<crate::model::Context>,
}

/// All the changes of one operation or commit, in the order they were made.
#[derive(Debug, Default, Clone)]
pub struct ChangeSet {
    /// Row changes, in order.
    pub changes: Vec<Change>,
    /// Context changes, in order.
    pub contexts: Vec<ContextChange>,
    /// Change-feed events built in the transaction (with their sequence numbers).
    pub events: Vec<crate::feed::Event>,
}

impl ChangeSet {
    /// Records one change.
    pub fn push(&mut self, table: Table, tenant: &Arc<str>, pk: Vec<u8>, old: Option<Row>, new: Option<Row>) {
        self.changes.push(Change { table, tenant: tenant.clone(), pk, old, new });
    }

    /// Moves everything of `other` to the end of `self`.
    pub fn append(&mut self, other: &mut ChangeSet) {
        self.changes.append(&mut other.changes);
        self.contexts.append(&mut other.contexts);
        self.events.append(&mut other.events);
    }

    /// Number of row and context changes.
    pub fn len(&self) -> usize {
        self.changes.len() + self.contexts.len()
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.contexts.is_empty()
    }

    /// Tables touched.
    pub fn tables(&self) -> impl Iterator<Item = Table> + '_ {
        self.changes.iter().map(|c| c.table)
    }
}
