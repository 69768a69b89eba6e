//! The record shapes JS sees, declared once as napi objects so `index.d.ts` is generated
//! from them: inputs (`CustomerInput`, `ScoreInput`, `NewMessage`, `MessageQuery`) are
//! read field by field by `convert` (so errors name the field), outputs (`Customer`,
//! `Score`, `Message`) are built from the core model and made into JS objects by `shape`. Field names
//! are camelCase; absent optional fields come back as `null`; timestamps come back as
//! numbers of ms since the Unix epoch (UTC) and are accepted as a number, bigint or Date.

use crate::convert::{self, json, number, object, opt_text, opt_timestamp, text, Val};
use crate::shape::{self, Field};
use cidb::{Millis, Role};
use napi::bindgen_prelude::{sys, ToNapiValue, TypeName, ValueType};
use std::sync::Arc;
use napi_derive::napi;

type Result<T> = cidb::Result<T>;

/// A customer to insert or replace (by `id`) with `upsertCustomer`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct CustomerInput {
    /// Key within the tenant: 1 to 256 bytes of UTF-8, no NUL.
    pub id: String,
    /// Email address; `null` or absent when unknown.
    #[napi(ts_type = "string | null")]
    pub email: Option<String>,
    /// Display name; `null` or absent when unknown.
    #[napi(ts_type = "string | null")]
    pub name: Option<String>,
    /// Department (segment) label, at most 256 bytes; absent means `""`.
    #[napi(ts_type = "string | null")]
    pub department: Option<String>,
    /// Lifecycle status label (e.g. `active`), at most 256 bytes; absent means `""`.
    #[napi(ts_type = "string | null")]
    pub status: Option<String>,
    /// Creation time (ms since the epoch, or a Date); absent means now. An upsert replaces
    /// the whole record, so pass the original value to keep it.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub created_at: Option<Millis>,
    /// Last update time (ms since the epoch, or a Date); absent means now.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub updated_at: Option<Millis>,
    /// Free-form attributes: a JSON object (converted as `JSON.stringify` would; BigInts
    /// that fit 64 bits are kept exactly); absent means `{}`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub attributes: Option<serde_json::Value>,
}

// Declares the `Customer` type of `index.d.ts`; the values themselves are built from the
// cache's record by `SharedCustomer`, with these fields in this order.
/// A stored customer.
#[napi(object, object_from_js = false, object_to_js = false, use_nullable = true)]
pub struct Customer {
    /// Key within the tenant.
    pub id: String,
    /// Email address, or `null`.
    pub email: Option<String>,
    /// Display name, or `null`.
    pub name: Option<String>,
    /// Department (segment) label.
    pub department: String,
    /// Lifecycle status label.
    pub status: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last update time, ms since the epoch.
    pub updated_at: i64,
    /// Free-form attributes (a JSON object). Integers beyond 2^53 come back as BigInts.
    #[napi(ts_type = "Record<string, unknown>")]
    pub attributes: serde_json::Value,
}

/// A score to append with `addScore`: one point of a (customer, score type) time series.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ScoreInput {
    /// The customer scored (1 to 256 bytes).
    pub customer_id: String,
    /// What is scored, e.g. `churn_risk` (1 to 256 bytes).
    pub score_type: String,
    /// The score, a finite number in [0, 1].
    pub score: f64,
    /// The model's confidence, a finite number in [0, 1].
    pub confidence: f64,
    /// When the score was computed (ms since the epoch, or a Date); absent means now.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub created_at: Option<Millis>,
    /// The model that produced it; `null` or absent when unknown.
    #[napi(ts_type = "string | null")]
    pub model: Option<String>,
}

/// A stored score.
#[napi(object, object_from_js = false, object_to_js = false, use_nullable = true)]
pub struct Score {
    /// The customer scored.
    pub customer_id: String,
    /// What is scored.
    pub score_type: String,
    /// The score, in [0, 1].
    pub score: f64,
    /// The model's confidence, in [0, 1].
    pub confidence: f64,
    /// When the score was computed, ms since the epoch.
    pub created_at: i64,
    /// The model that produced it, or `null`.
    pub model: Option<String>,
}

/// A message to append with `appendMessage`; the engine assigns its id.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct NewMessage {
    /// The customer the conversation is with (1 to 256 bytes).
    pub customer_id: String,
    /// The conversation it belongs to (1 to 256 bytes).
    pub conversation_id: String,
    /// Who wrote it.
    #[napi(ts_type = "'user' | 'assistant' | 'system' | 'agent' | 'tool'")]
    pub role: String,
    /// When it was written (ms since the epoch, or a Date); absent means now.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub timestamp: Option<Millis>,
    /// The text, at most 1 MiB of UTF-8.
    pub content: String,
    /// Free-form metadata: a JSON object; absent means `{}`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Option<serde_json::Value>,
}

/// A stored message.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct Message {
    /// Assigned by the engine, increasing in append order. A number while it is a safe
    /// integer (below 2^53), a bigint beyond: never rounded.
    #[napi(ts_type = "number | bigint")]
    pub id: MessageId,
    /// The customer the conversation is with.
    pub customer_id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Who wrote it.
    #[napi(ts_type = "'user' | 'assistant' | 'system' | 'agent' | 'tool'")]
    pub role: String,
    /// When it was written, ms since the epoch.
    pub timestamp: i64,
    /// The text.
    pub content: String,
    /// Free-form metadata (a JSON object). Integers beyond 2^53 come back as BigInts.
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: serde_json::Value,
}

/// Filters for `messagesForCustomer`; every field is optional.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct MessageQuery {
    /// Earliest timestamp included (ms or Date); absent means the epoch.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub from: Option<Millis>,
    /// Timestamp bound, excluded (ms or Date); absent means no upper bound.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub to: Option<Millis>,
    /// Only messages of this role.
    #[napi(ts_type = "'user' | 'assistant' | 'system' | 'agent' | 'tool' | null")]
    pub role: Option<String>,
    /// At most this many messages, oldest first (0 returns none); absent means all.
    #[napi(ts_type = "number | bigint | null")]
    pub limit: Option<u64>,
}

/// A message id: a JS number while it is a safe integer, a BigInt beyond.
pub struct MessageId(pub u64);

/// The largest integer a JS number holds exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

impl ToNapiValue for MessageId {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        if val.0 <= MAX_SAFE_INTEGER {
            // SAFETY: forwarded from the caller's contract.
            unsafe { f64::to_napi_value(env, val.0 as f64) }
        } else {
            // SAFETY: as above; napi converts u64 to a BigInt.
            unsafe { u64::to_napi_value(env, val.0) }
        }
    }
}

impl CustomerInput {
    /// Reads a customer object; `what` names it in errors.
    pub fn read(v: Val, what: &str) -> Result<CustomerInput> {
        let o = object(v, what)?;
        let f = |k: &str| -> Result<(Val, String)> {
            let name = format!("{what}.{k}");
            Ok((o.get(k, &name)?, name))
        };
        let (id, n) = f("id")?;
        let id = text(id, &n)?;
        let (email, n) = f("email")?;
        let email = opt_text(email, &n)?;
        let (name, n) = f("name")?;
        let name = opt_text(name, &n)?;
        let (department, n) = f("department")?;
        let department = opt_text(department, &n)?;
        let (status, n) = f("status")?;
        let status = opt_text(status, &n)?;
        let (created_at, n) = f("createdAt")?;
        let created_at = opt_timestamp(created_at, &n)?;
        let (updated_at, n) = f("updatedAt")?;
        let updated_at = opt_timestamp(updated_at, &n)?;
        let (attributes, n) = f("attributes")?;
        let attributes = json(attributes, &n)?;
        Ok(CustomerInput { id, email, name, department, status, created_at, updated_at, attributes })
    }

    /// The core record, with defaults applied (`now` for absent times).
    pub fn into_model(self, now: Millis) -> cidb::Customer {
        let mut c = cidb::Customer::new(self.id, now);
        c.email = self.email;
        c.name = self.name;
        c.department = self.department.unwrap_or_default();
        c.status = self.status.unwrap_or_default();
        c.created_at = self.created_at.unwrap_or(now);
        c.updated_at = self.updated_at.unwrap_or(now);
        if let Some(a) = self.attributes {
            c.attributes = a;
        }
        c
    }
}

/// A customer record shared with the engine's cache (`Tenant::get_customer_shared`): made
/// into the same JS object as [`Customer`], straight from the cached record, with no copy
/// of its strings and attributes in between. What `getCustomer` returns.
pub struct SharedCustomer(pub Arc<cidb::Customer>);

impl ToNapiValue for SharedCustomer {
    unsafe fn to_napi_value(env: sys::napi_env, c: Self) -> napi::Result<sys::napi_value> {
        let c = &*c.0;
        let fields = [
            Field::text(env, &c.id)?,
            Field::opt_text(env, c.email.as_deref())?,
            Field::opt_text(env, c.name.as_deref())?,
            Field::text(env, &c.department)?,
            Field::text(env, &c.status)?,
            Field::of(env, c.created_at)?,
            Field::of(env, c.updated_at)?,
            Field::Json(&c.attributes),
        ];
        // SAFETY: forwarded from the caller's contract.
        unsafe { shape::build(env, &shape::CUSTOMER, &fields) }
    }
}

impl TypeName for SharedCustomer {
    fn type_name() -> &'static str {
        "Customer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ScoreInput {
    /// Reads a score object.
    pub fn read(v: Val, what: &str) -> Result<ScoreInput> {
        let o = object(v, what)?;
        let f = |k: &str| -> Result<(Val, String)> {
            let name = format!("{what}.{k}");
            Ok((o.get(k, &name)?, name))
        };
        let (v, n) = f("customerId")?;
        let customer_id = text(v, &n)?;
        let (v, n) = f("scoreType")?;
        let score_type = text(v, &n)?;
        let (v, n) = f("score")?;
        let score = number(v, &n)?;
        let (v, n) = f("confidence")?;
        let confidence = number(v, &n)?;
        let (v, n) = f("createdAt")?;
        let created_at = opt_timestamp(v, &n)?;
        let (v, n) = f("model")?;
        let model = opt_text(v, &n)?;
        Ok(ScoreInput { customer_id, score_type, score, confidence, created_at, model })
    }

    /// The core record (`now` when `createdAt` is absent).
    pub fn into_model(self, now: Millis) -> cidb::Score {
        cidb::Score {
            customer_id: self.customer_id,
            score_type: self.score_type,
            score: self.score,
            confidence: self.confidence,
            created_at: self.created_at.unwrap_or(now),
            model: self.model,
        }
    }
}

impl From<cidb::Score> for Score {
    fn from(s: cidb::Score) -> Self {
        Score {
            customer_id: s.customer_id,
            score_type: s.score_type,
            score: s.score,
            confidence: s.confidence,
            created_at: s.created_at,
            model: s.model,
        }
    }
}

impl ToNapiValue for Score {
    unsafe fn to_napi_value(env: sys::napi_env, s: Self) -> napi::Result<sys::napi_value> {
        let fields = [
            Field::text(env, &s.customer_id)?,
            Field::text(env, &s.score_type)?,
            Field::of(env, s.score)?,
            Field::of(env, s.confidence)?,
            Field::of(env, s.created_at)?,
            Field::opt_text(env, s.model.as_deref())?,
        ];
        // SAFETY: forwarded from the caller's contract.
        unsafe { shape::build(env, &shape::SCORE, &fields) }
    }
}

impl NewMessage {
    /// Reads a message object.
    pub fn read(v: Val, what: &str) -> Result<NewMessage> {
        let o = object(v, what)?;
        let f = |k: &str| -> Result<(Val, String)> {
            let name = format!("{what}.{k}");
            Ok((o.get(k, &name)?, name))
        };
        let (v, n) = f("customerId")?;
        let customer_id = text(v, &n)?;
        let (v, n) = f("conversationId")?;
        let conversation_id = text(v, &n)?;
        let (v, n) = f("role")?;
        let role = text(v, &n)?;
        let (v, n) = f("timestamp")?;
        let timestamp = opt_timestamp(v, &n)?;
        let (v, n) = f("content")?;
        let content = text(v, &n)?;
        let (v, n) = f("metadata")?;
        let metadata = json(v, &n)?;
        Ok(NewMessage { customer_id, conversation_id, role, timestamp, content, metadata })
    }

    /// The core record; an unknown role is `InvalidRole`.
    pub fn into_model(self, now: Millis) -> Result<cidb::NewMessage> {
        Ok(cidb::NewMessage {
            role: self.role.parse::<Role>()?,
            customer_id: self.customer_id,
            conversation_id: self.conversation_id,
            timestamp: self.timestamp.unwrap_or(now),
            content: self.content,
            metadata: self.metadata.unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        })
    }
}

impl From<cidb::Message> for Message {
    fn from(m: cidb::Message) -> Self {
        Message {
            id: MessageId(m.id),
            customer_id: m.customer_id,
            conversation_id: m.conversation_id,
            role: m.role.as_str().to_string(),
            timestamp: m.timestamp,
            content: m.content,
            metadata: m.metadata,
        }
    }
}

impl ToNapiValue for Message {
    unsafe fn to_napi_value(env: sys::napi_env, m: Self) -> napi::Result<sys::napi_value> {
        let fields = [
            Field::of(env, m.id)?,
            Field::text(env, &m.customer_id)?,
            Field::text(env, &m.conversation_id)?,
            Field::text(env, &m.role)?,
            Field::of(env, m.timestamp)?,
            Field::text(env, &m.content)?,
            Field::Json(&m.metadata),
        ];
        // SAFETY: forwarded from the caller's contract.
        unsafe { shape::build(env, &shape::MESSAGE, &fields) }
    }
}

impl MessageQuery {
    /// Reads the optional filter object (absent means no filters).
    pub fn read(v: Option<Val>, what: &str) -> Result<MessageQuery> {
        let none = MessageQuery { from: None, to: None, role: None, limit: None };
        let Some(v) = v.filter(|v| !v.is_absent()) else { return Ok(none) };
        let o = object(v, what)?;
        let f = |k: &str| -> Result<(Val, String)> {
            let name = format!("{what}.{k}");
            Ok((o.get(k, &name)?, name))
        };
        let (v, n) = f("from")?;
        let from = opt_timestamp(v, &n)?;
        let (v, n) = f("to")?;
        let to = opt_timestamp(v, &n)?;
        let (v, n) = f("role")?;
        let role = opt_text(v, &n)?;
        let (v, n) = f("limit")?;
        let limit = if v.is_absent() { None } else { Some(convert::count(v, &n)?) };
        Ok(MessageQuery { from, to, role, limit })
    }
}
