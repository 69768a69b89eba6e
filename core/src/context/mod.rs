//! Conversation contexts in redb: `update` merges new entries into the stored context,
//! keeps the newest `max_history`, resets the TTL and returns the result, all inside one
//! write operation of the single writer thread, so concurrent callers never interleave a
//! partial merge. An expiry index keyed by (expires_at, tenant, conversation) lets the
//! sweep delete expired contexts without scanning live ones.

use crate::error::{err, ErrorKind, Result};
use crate::model::{Context, ContextEntry, Millis, Role};
use crate::storage::keys::{Key, KeyReader};
use crate::storage::records::{decode, encode};
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use rkyv::{Archive, Deserialize, Serialize};

/// Contexts by (tenant, conversation).
pub const CONTEXTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("contexts");
/// Expiry index: (expires_at, tenant, conversation) -> ().
pub const CONTEXT_EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("context_expiry");

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct EntryRec {
    role: u8,
    content: String,
    timestamp: i64,
    metadata: String,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct ContextRec {
    entries: Vec<EntryRec>,
    updated_at: i64,
    expires_at: i64,
}

fn to_rec(e: &ContextEntry) -> EntryRec {
    let role = Role::ALL.iter().position(|r| *r == e.role).unwrap_or(0) as u8;
    EntryRec { role, content: e.content.clone(), timestamp: e.timestamp, metadata: e.metadata.to_string() }
}

fn from_rec(e: EntryRec) -> Result<ContextEntry> {
    let role = *Role::ALL
        .get(e.role as usize)
        .ok_or_else(|| err(ErrorKind::Corrupted, format!("stored context role code {} is unknown", e.role)))?;
    let metadata = serde_json::from_str(&e.metadata)
        .map_err(|x| err(ErrorKind::Corrupted, format!("stored context metadata is invalid: {x}")))?;
    Ok(ContextEntry { role, content: e.content, timestamp: e.timestamp, metadata })
}

fn key(tenant: &str, conversation_id: &str) -> Vec<u8> {
    let mut k = Key::tenant(tenant);
    k.str(conversation_id);
    k.0
}

fn expiry_key(expires_at: Millis, tenant: &str, conversation_id: &str) -> Vec<u8> {
    let mut k = Key::new();
    k.i64(expires_at).str(tenant).str(conversation_id);
    k.0
}

fn into_context(conversation_id: &str, rec: ContextRec) -> Result<Context> {
    Ok(Context {
        conversation_id: conversation_id.to_string(),
        entries: rec.entries.into_iter().map(from_rec).collect::<Result<_>>()?,
        updated_at: rec.updated_at,
        expires_at: rec.expires_at,
    })
}

/// Creates the context tables.
pub fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(CONTEXTS)?;
    txn.open_table(CONTEXT_EXPIRY)?;
    Ok(())
}

/// Merges `new` into the context (expired contexts count as empty), keeps the newest
/// `max_history` by timestamp (ties keep arrival order), sets `expires_at = now + ttl_ms`.
pub fn update(
    txn: &WriteTransaction,
    tenant: &str,
    conversation_id: &str,
    new: &[ContextEntry],
    now: Millis,
    ttl_ms: i64,
    max_history: usize,
) -> Result<Context> {
    let mut t = txn.open_table(CONTEXTS)?;
    let mut exp = txn.open_table(CONTEXT_EXPIRY)?;
    let k = key(tenant, conversation_id);
    let old = match t.get(k.as_slice())? {
        Some(v) => Some(decode::<ContextRec>(v.value())?),
        None => None,
    };
    let mut entries = Vec::new();
    if let Some(old) = old {
        exp.remove(expiry_key(old.expires_at, tenant, conversation_id).as_slice())?;
        if old.expires_at > now {
            entries = old.entries;
        }
    }
    entries.extend(new.iter().map(to_rec));
    entries.sort_by_key(|e| e.timestamp); // stable: equal timestamps keep arrival order
    if entries.len() > max_history {
        entries.drain(..entries.len() - max_history);
    }
    let expires_at = now.saturating_add(ttl_ms);
    let rec = ContextRec { entries, updated_at: now, expires_at };
    t.insert(k.as_slice(), encode(&rec)?.as_slice())?;
    exp.insert(expiry_key(expires_at, tenant, conversation_id).as_slice(), ())?;
    into_context(conversation_id, rec)
}

/// Reads a context; `None` when absent or expired.
pub fn get(txn: &ReadTransaction, tenant: &str, conversation_id: &str, now: Millis) -> Result<Option<Context>> {
    let t = txn.open_table(CONTEXTS)?;
    match t.get(key(tenant, conversation_id).as_slice())? {
        Some(v) => {
            let rec = decode::<ContextRec>(v.value())?;
            if rec.expires_at <= now {
                return Ok(None);
            }
            Ok(Some(into_context(conversation_id, rec)?))
        }
        None => Ok(None),
    }
}

/// Deletes a context; true when a live (unexpired) one existed.
pub fn delete(txn: &WriteTransaction, tenant: &str, conversation_id: &str, now: Millis) -> Result<bool> {
    let mut t = txn.open_table(CONTEXTS)?;
    let old = match t.remove(key(tenant, conversation_id).as_slice())? {
        Some(v) => decode::<ContextRec>(v.value())?,
        None => return Ok(false),
    };
    txn.open_table(CONTEXT_EXPIRY)?.remove(expiry_key(old.expires_at, tenant, conversation_id).as_slice())?;
    Ok(old.expires_at > now)
}

/// True when some context expired at or before `now` (a read-only peek, so an idle sweep
/// commits nothing).
pub fn any_expired(txn: &ReadTransaction, now: Millis) -> Result<bool> {
    let exp = txn.open_table(CONTEXT_EXPIRY)?;
    let mut end = Key::new();
    end.i64(now.saturating_add(1));
    Ok(exp.range(..end.as_bytes())?.next().is_some())
}

/// Deletes up to `limit` contexts that expired at or before `now`, oldest first, reading only
/// the expiry index range below `now`. Returns how many were deleted.
pub fn sweep(txn: &WriteTransaction, now: Millis, limit: usize) -> Result<usize> {
    let mut exp = txn.open_table(CONTEXT_EXPIRY)?;
    let mut end = Key::new();
    end.i64(now.saturating_add(1));
    let mut victims = Vec::new();
    for item in exp.range(..end.as_bytes())? {
        let (k, _) = item?;
        victims.push(k.value().to_vec());
        if victims.len() >= limit {
            break;
        }
    }
    let mut t = txn.open_table(CONTEXTS)?;
    for v in &victims {
        exp.remove(v.as_slice())?;
        let mut r = KeyReader::new(v);
        r.i64()?;
        let tenant = r.str()?;
        let conv = r.str()?;
        // Only delete the context if this expiry entry is still its current one.
        let k = key(&tenant, &conv);
        let current = match t.get(k.as_slice())? {
            Some(g) => Some(decode::<ContextRec>(g.value())?.expires_at),
            None => None,
        };
        if current.is_some_and(|e| e <= now) {
            t.remove(k.as_slice())?;
        }
    }
    Ok(victims.len())
}
