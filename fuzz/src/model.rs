//! The in-memory model the `engine_model` target checks cidb against: per tenant, BTreeMaps
//! of customers, score histories, messages and conversation contexts, written the obvious
//! way, plus the validation rules stated in the API docs (which error kind a bad record
//! gets, checked field by field in documented order). Nothing here touches cidb's storage.

use cidb::{ContextEntry, Customer, ErrorKind, Message, NewMessage, Role, Score};
use std::collections::BTreeMap;

pub const MAX_TS: i64 = 253_402_300_799_999;
pub const MAX_ID: usize = 256;
pub const MAX_CONTENT: usize = 1 << 20;

/// Nesting of arrays and objects, the outermost counting 1 (iterative).
fn depth(v: &serde_json::Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            serde_json::Value::Object(o) => stack.extend(o.values().map(|c| (c, d + 1))),
            _ => continue,
        }
        max = max.max(d);
    }
    max
}

/// `attributes` / `metadata`: an object nested at most 100 levels deep.
fn object_ok(v: &serde_json::Value) -> bool {
    v.is_object() && depth(v) <= 100
}

fn id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID && !id.contains('\0')
}

fn ts_ok(t: i64) -> bool {
    (0..=MAX_TS).contains(&t)
}

fn unit_ok(v: f64) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

/// The first rule a customer breaks, as the engine must report it.
pub fn customer_error(c: &Customer) -> Option<ErrorKind> {
    if !id_ok(&c.id) {
        return Some(ErrorKind::InvalidId);
    }
    let labels = [c.email.as_deref(), c.name.as_deref(), Some(c.department.as_str()), Some(c.status.as_str())];
    if labels.iter().flatten().any(|l| l.len() > MAX_ID) {
        return Some(ErrorKind::InvalidInput);
    }
    if !ts_ok(c.created_at) || !ts_ok(c.updated_at) {
        return Some(ErrorKind::InvalidTimestamp);
    }
    if !object_ok(&c.attributes) {
        return Some(ErrorKind::InvalidAttributes);
    }
    None
}

pub fn score_error(s: &Score) -> Option<ErrorKind> {
    if !id_ok(&s.customer_id) || !id_ok(&s.score_type) {
        return Some(ErrorKind::InvalidId);
    }
    if !unit_ok(s.score) || !unit_ok(s.confidence) {
        return Some(ErrorKind::InvalidScore);
    }
    if !ts_ok(s.created_at) {
        return Some(ErrorKind::InvalidTimestamp);
    }
    if s.model.as_ref().is_some_and(|m| m.len() > MAX_ID) {
        return Some(ErrorKind::InvalidInput);
    }
    None
}

pub fn message_error(m: &NewMessage) -> Option<ErrorKind> {
    if !id_ok(&m.customer_id) || !id_ok(&m.conversation_id) {
        return Some(ErrorKind::InvalidId);
    }
    if !ts_ok(m.timestamp) {
        return Some(ErrorKind::InvalidTimestamp);
    }
    if m.content.len() > MAX_CONTENT {
        return Some(ErrorKind::ContentTooLarge);
    }
    if !object_ok(&m.metadata) {
        return Some(ErrorKind::InvalidAttributes);
    }
    None
}

pub fn entry_error(e: &ContextEntry) -> Option<ErrorKind> {
    if !ts_ok(e.timestamp) {
        return Some(ErrorKind::InvalidTimestamp);
    }
    if e.content.len() > MAX_CONTENT {
        return Some(ErrorKind::ContentTooLarge);
    }
    if !object_ok(&e.metadata) {
        return Some(ErrorKind::InvalidAttributes);
    }
    None
}

/// The first error of a batch, in input order.
pub fn first_error<T>(items: &[T], f: impl Fn(&T) -> Option<ErrorKind>) -> Option<ErrorKind> {
    items.iter().find_map(f)
}

pub fn check_id(id: &str) -> Option<ErrorKind> {
    (!id_ok(id)).then_some(ErrorKind::InvalidId)
}

/// A stored context: entries, updated_at, expires_at.
#[derive(Debug, Clone, PartialEq)]
pub struct Ctx {
    pub entries: Vec<ContextEntry>,
    pub updated_at: i64,
    pub expires_at: i64,
}

/// One tenant's data.
#[derive(Debug, Default, Clone)]
pub struct TenantModel {
    pub customers: BTreeMap<String, Customer>,
    /// (customer, type) -> history in insertion order.
    pub scores: BTreeMap<(String, String), Vec<Score>>,
    /// By id (ids are increasing, so this is append order).
    pub messages: BTreeMap<u64, Message>,
    pub contexts: BTreeMap<String, Ctx>,
}

impl TenantModel {
    pub fn add_score(&mut self, s: &Score) {
        self.scores.entry((s.customer_id.clone(), s.score_type.clone())).or_default().push(s.clone());
    }

    /// Greatest `created_at`; the later write on a tie.
    pub fn latest(&self, cid: &str, ty: &str) -> Option<&Score> {
        let h = self.scores.get(&(cid.to_string(), ty.to_string()))?;
        h.iter().max_by_key(|s| s.created_at) // the last of equal maxima
    }

    /// `from <= created_at < to`, oldest first, ties in insertion order.
    pub fn history(&self, cid: &str, ty: &str, from: i64, to: i64) -> Vec<Score> {
        let mut v: Vec<Score> = self
            .scores
            .get(&(cid.to_string(), ty.to_string()))
            .map(|h| h.iter().filter(|s| from <= s.created_at && s.created_at < to).cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|s| s.created_at); // stable
        v
    }

    pub fn for_customer(&self, cid: &str, from: i64, to: i64, role: Option<Role>, limit: usize) -> Vec<Message> {
        let mut v: Vec<Message> = self
            .messages
            .values()
            .filter(|m| m.customer_id == cid && from <= m.timestamp && m.timestamp < to && role.is_none_or(|r| m.role == r))
            .cloned()
            .collect();
        v.sort_by_key(|m| (m.timestamp, m.id));
        if limit > 0 {
            v.truncate(limit);
        }
        v
    }

    pub fn for_conversation(&self, conv: &str) -> Vec<Message> {
        self.messages.values().filter(|m| m.conversation_id == conv).cloned().collect()
    }

    /// Merge, keep the newest `max_history` (stable by timestamp), reset the TTL.
    pub fn update_context(&mut self, conv: &str, new: &[ContextEntry], now: i64, ttl_ms: i64, max_history: usize) -> Ctx {
        let mut entries = match self.contexts.get(conv) {
            Some(c) if c.expires_at > now => c.entries.clone(),
            _ => Vec::new(),
        };
        entries.extend(new.iter().cloned());
        entries.sort_by_key(|e| e.timestamp);
        if entries.len() > max_history {
            entries.drain(..entries.len() - max_history);
        }
        let c = Ctx { entries, updated_at: now, expires_at: now.saturating_add(ttl_ms) };
        self.contexts.insert(conv.to_string(), c.clone());
        c
    }

    pub fn live_context(&self, conv: &str, now: i64) -> Option<&Ctx> {
        self.contexts.get(conv).filter(|c| c.expires_at > now)
    }
}
