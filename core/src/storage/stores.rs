//! Reads and writes of the three stores inside redb transactions. Write functions take an
//! open write transaction and record each row change in the [`ChangeSet`]; they read before
//! they write, so a write that fails its checks has changed nothing. Read functions take a
//! read transaction, so a caller sees one consistent snapshot.

use super::keys::{Key, KeyReader};
use super::records::{decode, encode, CustomerRec, MessageRec, ScoreRec};
use super::rowcache::{RowCache, RowRef};
use super::snapshot::{RowTable, Snapshot};
use crate::plan::decode::RowDecoder;
use super::{next_counter, ChangeSet, CUSTOMERS, LATEST, MESSAGES, MSG_BY_CONVERSATION, MSG_BY_CUSTOMER, SCORES};
use crate::error::{err, ErrorKind, Result};
use crate::model::{Customer, Message, Millis, NewMessage, Role, Score};
use crate::schema::{customer_row, message_row, score_row, Row, Table};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::sync::Arc;

/// Primary key bytes (after the tenant) of a customer.
pub fn customer_pk(id: &str) -> Vec<u8> {
    let mut k = Key::new();
    k.str(id);
    k.0
}

fn full_key(tenant: &str, pk: &[u8]) -> Vec<u8> {
    let mut k = Key::tenant(tenant);
    k.raw(pk);
    k.0
}

/// Inserts or replaces a customer.
pub fn upsert_customer(txn: &WriteTransaction, tenant: &Arc<str>, c: &Customer, ch: &mut ChangeSet) -> Result<()> {
    upsert_customers(txn, tenant, std::slice::from_ref(c), ch)
}

/// Inserts or replaces customers, in order (the table is opened once).
pub fn upsert_customers(txn: &WriteTransaction, tenant: &Arc<str>, cs: &[Customer], ch: &mut ChangeSet) -> Result<()> {
    upsert_prepared(txn, tenant, &mut PreparedCustomers::new(tenant, cs)?, ch)
}

/// Customers from which [`PreparedCustomers::new`] encodes on two threads.
const PREPARE_SPLIT_FROM: usize = 8192;

/// Customers encoded ahead of the write transaction (on the caller's thread, so the
/// single writer thread only inserts): per customer its primary key, its stored record,
/// and its `customers` row for the change set.
pub struct PreparedCustomers {
    pks: Vec<Vec<u8>>,
    records: Vec<Vec<u8>>,
    /// Taken by the first run; a re-run (the writer retries a group without a failed
    /// neighbour) rebuilds them from `records`.
    rows: Option<Vec<Row>>,
}

impl PreparedCustomers {
    /// Encodes `cs` (already validated) for `tenant`.
    pub fn new(tenant: &str, cs: &[Customer]) -> Result<PreparedCustomers> {
        if cs.len() < PREPARE_SPLIT_FROM {
            return Self::encode(tenant, cs);
        }
        // A bulk load: the second half is encoded on a helper thread meanwhile (the writer
        // is idle until this is done), then appended, so the order is the callers'.
        let (a, b) = cs.split_at(cs.len() / 2);
        let (first, second) = std::thread::scope(|s| {
            let h = s.spawn(|| Self::encode(tenant, b));
            let first = Self::encode(tenant, a);
            (first, h.join().unwrap_or_else(|_| Err(err(ErrorKind::Internal, "record encoding thread panicked"))))
        });
        let (mut p, q) = (first?, second?);
        p.pks.extend(q.pks);
        p.records.extend(q.records);
        if let (Some(r), Some(more)) = (p.rows.as_mut(), q.rows) {
            r.extend(more);
        }
        Ok(p)
    }

    fn encode(tenant: &str, cs: &[Customer]) -> Result<PreparedCustomers> {
        let mut pks = Vec::with_capacity(cs.len());
        let mut records = Vec::with_capacity(cs.len());
        let mut rows = Vec::with_capacity(cs.len());
        for c in cs {
            pks.push(customer_pk(&c.id));
            let rec = CustomerRec::from_model(c);
            records.push(encode(&rec)?);
            // The row takes the record's strings (no second copy, no second JSON text).
            rows.push(rec.into_row(tenant));
        }
        Ok(PreparedCustomers { pks, records, rows: Some(rows) })
    }

    /// How many customers.
    pub fn len(&self) -> usize {
        self.pks.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.pks.is_empty()
    }
}

/// Inserts or replaces prepared customers, in order.
pub fn upsert_prepared(txn: &WriteTransaction, tenant: &Arc<str>, p: &mut PreparedCustomers, ch: &mut ChangeSet) -> Result<()> {
    let rows = match p.rows.take() {
        Some(rows) => rows,
        None => p
            .records
            .iter()
            .map(|r| Ok(decode::<CustomerRec>(r)?.into_row(tenant)))
            .collect::<Result<Vec<Row>>>()?,
    };
    let mut t = txn.open_table(CUSTOMERS)?;
    ch.changes.reserve(p.len());
    let mut key = Key::tenant(tenant);
    let tlen = key.0.len();
    for ((pk, bytes), row) in p.pks.iter().zip(&p.records).zip(rows) {
        key.0.truncate(tlen);
        key.raw(pk);
        // insert hands back the replaced record: one B-tree descent for read and write. A
        // failure after it (an undecodable old record) fails the operation, and the writer
        // then aborts the whole transaction, so nothing half-done lands.
        let old = match t.insert(key.as_bytes(), bytes.as_slice())? {
            Some(v) => Some(customer_row(tenant, &decode::<CustomerRec>(v.value())?.into_model()?)),
            None => None,
        };
        ch.push(Table::Customers, tenant, pk.clone(), old, Some(row));
    }
    Ok(())
}

/// Deletes a customer; true when it existed.
pub fn delete_customer(txn: &WriteTransaction, tenant: &Arc<str>, id: &str, ch: &mut ChangeSet) -> Result<bool> {
    let mut t = txn.open_table(CUSTOMERS)?;
    let pk = customer_pk(id);
    let key = full_key(tenant, &pk);
    let old = match t.remove(key.as_slice())? {
        Some(v) => decode::<CustomerRec>(v.value())?.into_model()?,
        None => return Ok(false),
    };
    ch.push(Table::Customers, tenant, pk, Some(customer_row(tenant, &old)), None);
    Ok(true)
}

/// Reads one customer from `t` (the customers table).
pub fn get_customer(t: &impl ReadableTable<&'static [u8], &'static [u8]>, tenant: &str, id: &str) -> Result<Option<Customer>> {
    let key = full_key(tenant, &customer_pk(id));
    match t.get(key.as_slice())? {
        Some(v) => Ok(Some(decode::<CustomerRec>(v.value())?.into_model()?)),
        None => Ok(None),
    }
}

/// Counts a tenant's customers in `t` (the customers table).
pub fn count_customers(t: &impl ReadableTable<&'static [u8], &'static [u8]>, tenant: &str) -> Result<u64> {
    let start = Key::tenant(tenant);
    let end = start.prefix_end();
    let mut n = 0u64;
    for item in t.range(start.as_bytes()..end.as_slice())? {
        item?;
        n += 1;
    }
    Ok(n)
}

fn score_pk(customer_id: &str, score_type: &str, created_at: Millis, seq: u64) -> Vec<u8> {
    let mut k = Key::new();
    k.str(customer_id).str(score_type).i64(created_at).u64(seq);
    k.0
}

fn latest_pk(customer_id: &str, score_type: &str) -> Vec<u8> {
    let mut k = Key::new();
    k.str(customer_id).str(score_type);
    k.0
}

/// Appends a score to the history and updates `latest_scores` in the same transaction.
pub fn add_score(txn: &WriteTransaction, tenant: &Arc<str>, s: &Score, ch: &mut ChangeSet) -> Result<()> {
    add_scores(txn, tenant, std::slice::from_ref(s), ch)
}

/// Appends scores in order (sequence numbers reserved at once, tables opened once), each
/// updating `latest_scores` when it is the newest of its type.
pub fn add_scores(txn: &WriteTransaction, tenant: &Arc<str>, ss: &[Score], ch: &mut ChangeSet) -> Result<()> {
    if ss.is_empty() {
        return Ok(());
    }
    let first = next_counter(txn, "next_score_seq", ss.len() as u64)?;
    let mut scores = txn.open_table(SCORES)?;
    let mut latest = txn.open_table(LATEST)?;
    for (i, s) in ss.iter().enumerate() {
        let seq = first + i as u64;
        let rec = ScoreRec::from_model(s, seq);
        let bytes = encode(&rec)?;
        let pk = score_pk(&s.customer_id, &s.score_type, s.created_at, seq);
        scores.insert(full_key(tenant, &pk).as_slice(), bytes.as_slice())?;
        let row = score_row(tenant, s);
        ch.push(Table::Scores, tenant, pk, None, Some(row.clone()));

        let lpk = latest_pk(&s.customer_id, &s.score_type);
        let lkey = full_key(tenant, &lpk);
        // One B-tree descent: insert, and hand the replaced record back when it was newer
        // (rare: scores usually arrive in time order). A failure after the insert fails the
        // operation, and the writer then aborts the whole transaction.
        let (current, restore) = match latest.insert(lkey.as_slice(), bytes.as_slice())? {
            Some(v) => {
                let c = decode::<ScoreRec>(v.value())?;
                let newer = (s.created_at, seq) >= (c.created_at, c.seq);
                let restore = (!newer).then(|| v.value().to_vec());
                (Some(c), restore)
            }
            None => (None, None),
        };
        match restore {
            Some(b) => {
                latest.insert(lkey.as_slice(), b.as_slice())?;
            }
            None => {
                let old = current.map(|c| score_row(tenant, &c.into_model()));
                ch.push(Table::LatestScores, tenant, lpk, old, Some(row));
            }
        }
    }
    Ok(())
}

/// The latest score of one type for a customer: one key lookup in `t` (latest scores).
pub fn latest_score(t: &impl ReadableTable<&'static [u8], &'static [u8]>, tenant: &str, customer_id: &str, score_type: &str) -> Result<Option<Score>> {
    let key = full_key(tenant, &latest_pk(customer_id, score_type));
    match t.get(key.as_slice())? {
        Some(v) => Ok(Some(decode::<ScoreRec>(v.value())?.into_model())),
        None => Ok(None),
    }
}

/// Score history for (customer, type) with `from <= created_at < to`, oldest first, from
/// `t` (the scores table).
pub fn score_history(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    tenant: &str,
    customer_id: &str,
    score_type: &str,
    from: Millis,
    to: Millis,
) -> Result<Vec<Score>> {
    let mut start = Key::tenant(tenant);
    start.str(customer_id).str(score_type).i64(from);
    let mut end = Key::tenant(tenant);
    end.str(customer_id).str(score_type).i64(to);
    let mut out = Vec::new();
    if from >= to {
        return Ok(out);
    }
    for item in t.range(start.as_bytes()..end.as_bytes())? {
        let (_, v) = item?;
        out.push(decode::<ScoreRec>(v.value())?.into_model());
    }
    Ok(out)
}

/// Appends a message with the next id; returns the stored message.
pub fn append_message(txn: &WriteTransaction, tenant: &Arc<str>, m: &NewMessage, ch: &mut ChangeSet) -> Result<Message> {
    let mut v = append_messages(txn, tenant, std::slice::from_ref(m), ch)?;
    Ok(v.remove(0))
}

/// Appends messages in order with consecutive ids (reserved at once, tables opened once).
pub fn append_messages(txn: &WriteTransaction, tenant: &Arc<str>, ms: &[NewMessage], ch: &mut ChangeSet) -> Result<Vec<Message>> {
    if ms.is_empty() {
        return Ok(Vec::new());
    }
    let first = next_counter(txn, "next_message_id", ms.len() as u64)?;
    let mut msgs = txn.open_table(MESSAGES)?;
    let mut by_customer = txn.open_table(MSG_BY_CUSTOMER)?;
    let mut by_conversation = txn.open_table(MSG_BY_CONVERSATION)?;
    let mut out = Vec::with_capacity(ms.len());
    for (i, m) in ms.iter().enumerate() {
        let id = first + i as u64;
        let msg = Message {
            id,
            customer_id: m.customer_id.clone(),
            conversation_id: m.conversation_id.clone(),
            role: m.role,
            timestamp: m.timestamp,
            content: m.content.clone(),
            metadata: m.metadata.clone(),
        };
        let bytes = encode(&MessageRec::from_model(&msg))?;
        let mut pk = Key::new();
        pk.u64(id);
        msgs.insert(full_key(tenant, &pk.0).as_slice(), bytes.as_slice())?;
        let mut by_c = Key::tenant(tenant);
        by_c.str(&msg.customer_id).i64(msg.timestamp).u64(id);
        by_customer.insert(by_c.as_bytes(), ())?;
        let mut by_conv = Key::tenant(tenant);
        by_conv.str(&msg.conversation_id).u64(id);
        by_conversation.insert(by_conv.as_bytes(), ())?;
        ch.push(Table::Messages, tenant, pk.0, None, Some(message_row(tenant, &msg)));
        out.push(msg);
    }
    Ok(out)
}

/// Fetches messages by id through the snapshot's row cache of the messages table (the
/// one SQL reads fill too): a hit is one hash lookup, and a message of another role is
/// skipped on its cached role column before anything is copied; a miss reads the B-tree,
/// validates the record once and caches its decoded row for the next fetch in this
/// snapshot (while the cache has room).
struct MessageFetcher<'s> {
    table: &'s RowTable,
    cache: &'s RowCache,
    decoder: RowDecoder,
    /// The tenant's key prefix, then the id of the message being fetched.
    key: Vec<u8>,
    prefix: usize,
}

impl<'s> MessageFetcher<'s> {
    fn new(txn: &'s Snapshot, tenant: &str) -> Result<MessageFetcher<'s>> {
        let key = Key::tenant(tenant).0;
        let width = Table::Messages.columns().len();
        Ok(MessageFetcher {
            table: txn.rows(Table::Messages)?,
            cache: txn.row_cache(Table::Messages),
            decoder: RowDecoder::new(Table::Messages, &vec![true; width]),
            prefix: key.len(),
            key,
        })
    }

    /// The message with this id, if it is of `role` (any role when None).
    fn get(&mut self, id: u64, role: Option<Role>) -> Result<Option<Message>> {
        self.key.truncate(self.prefix);
        self.key.extend_from_slice(&id.to_be_bytes());
        if let Some(m) = self.cache.get_with(&self.key, |r| message_from_cached(r, role)) {
            return m;
        }
        let Some(v) = self.table.get(self.key.as_slice())? else {
            return Ok(None);
        };
        let row = self.decoder.decode_cached(v.value())?;
        if self.cache.insert(&self.key, &row) {
            if let Some(m) = self.cache.get_with(&self.key, |r| message_from_cached(r, role)) {
                return m;
            }
        }
        crate::storage::records::decode_message_if(v.value(), role)
    }
}

/// A message from its cached row (columns in `conversation_messages` order, as
/// `plan::decode` fills them), if it is of `role`.
fn message_from_cached(r: RowRef<'_>, role: Option<Role>) -> Result<Option<Message>> {
    let bad = |what: &str| crate::error::err(crate::ErrorKind::Corrupted, format!("cached message row: {what}"));
    let role_text = r.text_at(3).ok_or_else(|| bad("no role"))?;
    let got = *Role::ALL.iter().find(|x| x.as_str() == role_text).ok_or_else(|| bad("unknown role"))?;
    if role.is_some_and(|want| want != got) {
        return Ok(None);
    }
    let text = |c: usize, what: &str| r.text_at(c).map(str::to_owned).ok_or_else(|| bad(what));
    let metadata = r.json_at(6).ok_or_else(|| bad("no metadata"))?;
    Ok(Some(Message {
        id: r.int_at(0).ok_or_else(|| bad("no id"))? as u64,
        customer_id: text(1, "no customer_id")?,
        conversation_id: text(2, "no conversation_id")?,
        role: got,
        timestamp: r.int_at(4).ok_or_else(|| bad("no timestamp"))?,
        content: text(5, "no content")?,
        metadata: serde_json::from_str(metadata)
            .map_err(|e| crate::error::err(crate::ErrorKind::Corrupted, format!("stored JSON is invalid: {e}")))?,
    }))
}

/// Messages of a customer with `from <= timestamp < to`, optionally of one role, oldest
/// first, at most `limit` (0 = no limit).
pub fn messages_for_customer(
    txn: &Snapshot,
    tenant: &str,
    customer_id: &str,
    from: Millis,
    to: Millis,
    role: Option<Role>,
    limit: usize,
) -> Result<Vec<Message>> {
    let idx = txn.msg_by_customer()?;
    let mut fetch = MessageFetcher::new(txn, tenant)?;
    let mut out = Vec::new();
    if from >= to {
        return Ok(out);
    }
    let mut start = Key::tenant(tenant);
    start.str(customer_id).i64(from);
    let mut end = Key::tenant(tenant);
    end.str(customer_id).i64(to);
    for item in idx.range(start.as_bytes()..end.as_bytes())? {
        let (k, _) = item?;
        let mut r = KeyReader::new(k.value());
        r.str()?;
        r.str()?;
        r.i64()?;
        let id = r.u64()?;
        if let Some(m) = fetch.get(id, role)? {
            out.push(m);
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Messages of a conversation in append order.
pub fn messages_for_conversation(txn: &Snapshot, tenant: &str, conversation_id: &str) -> Result<Vec<Message>> {
    let idx = txn.msg_by_conversation()?;
    let mut fetch = MessageFetcher::new(txn, tenant)?;
    let mut start = Key::tenant(tenant);
    start.str(conversation_id);
    let end = start.prefix_end();
    let mut out = Vec::new();
    for item in idx.range(start.as_bytes()..end.as_slice())? {
        let (k, _) = item?;
        let mut r = KeyReader::new(k.value());
        r.str()?;
        r.str()?;
        let id = r.u64()?;
        if let Some(m) = fetch.get(id, None)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// Decodes a stored value of `table` into its SQL row.
pub fn decode_row(table: Table, tenant: &str, value: &[u8]) -> Result<Row> {
    Ok(match table {
        Table::Customers => customer_row(tenant, &decode::<CustomerRec>(value)?.into_model()?),
        Table::Scores | Table::LatestScores => score_row(tenant, &decode::<ScoreRec>(value)?.into_model()),
        Table::Messages => message_row(tenant, &decode::<MessageRec>(value)?.into_model()?),
    })
}

/// The redb table holding `table`'s rows.
pub fn table_def(table: Table) -> redb::TableDefinition<'static, &'static [u8], &'static [u8]> {
    match table {
        Table::Customers => CUSTOMERS,
        Table::Scores => SCORES,
        Table::LatestScores => LATEST,
        Table::Messages => MESSAGES,
    }
}

/// Total rows stored in `table` across all tenants (redb keeps the count).
pub fn total_rows(txn: &ReadTransaction, table: Table) -> Result<u64> {
    Ok(txn.open_table(table_def(table))?.len()?)
}

/// Reads every row of a tenant's table, in primary-key order, as (pk, row) pairs.
pub fn scan_tenant(txn: &ReadTransaction, table: Table, tenant: &str, mut f: impl FnMut(&[u8], Row) -> Result<bool>) -> Result<()> {
    let t = txn.open_table(table_def(table))?;
    let start = Key::tenant(tenant);
    let end = start.prefix_end();
    let plen = start.0.len();
    for item in t.range(start.as_bytes()..end.as_slice())? {
        let (k, v) = item?;
        let row = decode_row(table, tenant, v.value())?;
        if !f(&k.value()[plen..], row)? {
            break;
        }
    }
    Ok(())
}

/// Reads one row of a tenant's table by primary-key bytes.
pub fn get_row(txn: &ReadTransaction, table: Table, tenant: &str, pk: &[u8]) -> Result<Option<Row>> {
    let t = txn.open_table(table_def(table))?;
    let key = full_key(tenant, pk);
    match t.get(key.as_slice())? {
        Some(v) => Ok(Some(decode_row(table, tenant, v.value())?)),
        None => Ok(None),
    }
}
