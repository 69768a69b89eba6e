//! Persistent storage in redb: table definitions, key layout, record encoding, the
//! directory lock, and the single writer thread that commits in groups. Everything above
//! reads through redb read transactions and writes only through [`writer::Writer`]. This
//! module knows rows and keys, not SQL plans or caches.
//!
//! Key layout (every key leads with the tenant, see [`keys`]):
//! - `customers`: (tenant, id) -> CustomerRec
//! - `scores`: (tenant, customer_id, score_type, created_at, seq) -> ScoreRec
//! - `latest_scores`: (tenant, customer_id, score_type) -> ScoreRec
//! - `messages`: (tenant, id) -> MessageRec
//! - `msg_by_customer`: (tenant, customer_id, timestamp, id) -> ()
//! - `msg_by_conversation`: (tenant, conversation_id, id) -> ()
//! - `meta`: name -> u64 counters

pub mod backend;
pub mod backup;
pub mod breaker;
pub mod changes;
pub mod keys;
pub mod lock;
pub mod records;
pub mod rowcache;
pub mod snapshot;
pub mod redo;
pub mod store;
pub mod stores;
pub mod wal;
#[cfg(test)]
mod wal_tests;
pub mod writer;

use redb::{ReadableTable, TableDefinition};

pub use changes::{Change, ChangeSet};

/// Table of customers.
pub const CUSTOMERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("customers");
/// Table of score history.
pub const SCORES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("scores");
/// Table of latest scores per (customer, type).
pub const LATEST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("latest_scores");
/// Table of messages by id.
pub const MESSAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("messages");
/// Messages by (customer, timestamp, id).
pub const MSG_BY_CUSTOMER: TableDefinition<&[u8], ()> = TableDefinition::new("msg_by_customer");
/// Messages by (conversation, id).
pub const MSG_BY_CONVERSATION: TableDefinition<&[u8], ()> = TableDefinition::new("msg_by_conversation");
/// Counters.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The data file's name inside the database directory.
pub const DATA_FILE: &str = "data.redb";

/// Creates every table so read transactions never meet a missing one.
pub fn create_tables(db: &redb::Database) -> crate::Result<()> {
    let txn = db.begin_write()?;
    {
        txn.open_table(CUSTOMERS)?;
        txn.open_table(SCORES)?;
        txn.open_table(LATEST)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(MSG_BY_CUSTOMER)?;
        txn.open_table(MSG_BY_CONVERSATION)?;
        txn.open_table(META)?;
        crate::context::create_tables(&txn)?;
        crate::feed::create_tables(&txn)?;
    }
    txn.commit()?;
    Ok(())
}

/// Reads and bumps a counter inside a write transaction; returns the value before the bump.
pub fn next_counter(txn: &redb::WriteTransaction, name: &str, by: u64) -> crate::Result<u64> {
    let mut meta = txn.open_table(META)?;
    let cur = meta.get(name)?.map(|v| v.value()).unwrap_or(1);
    meta.insert(name, cur + by)?;
    Ok(cur)
}
