//! Conversation context in JS: the short, bounded history an assistant keeps per
//! conversation, with a TTL (the role a Redis Lua script played). `updateContext` merges
//! new entries, keeps the newest `maxHistory`, resets the TTL and returns the result,
//! atomically under concurrent writers; `getContext` / `deleteContext` read and remove it;
//! `engine.sweepExpired()` deletes expired contexts now (a background sweep also does).
//! Writes' `…Async` forms await the core's non-blocking write future.

use crate::convert::{count, json, object, opt_timestamp, text, ttl_ms, Val};
use crate::engine::Engine;
use crate::task::{job, run_async, run_future, run_sync, Job, Op};
use crate::tenant::Tenant;
use cidb::{ContextEntry as CoreEntry, Millis, Role};
use napi::bindgen_prelude::{AsyncTask, Env, PromiseRaw, Unknown};
use napi_derive::napi;
use std::future::Future;
use std::time::Duration;

type Result<T> = cidb::Result<T>;

/// An entry to merge into a conversation's context.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ContextEntryInput {
    /// Who wrote it.
    #[napi(ts_type = "'user' | 'assistant' | 'system' | 'agent' | 'tool'")]
    pub role: String,
    /// The text, at most 1 MiB of UTF-8.
    pub content: String,
    /// When it was written (ms since the epoch, or a Date); absent means now. Entries are
    /// kept in timestamp order.
    #[napi(ts_type = "number | bigint | Date | null")]
    pub timestamp: Option<Millis>,
    /// Free-form metadata: a JSON object; absent means `{}`.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Option<serde_json::Value>,
}

/// A stored context entry.
#[napi(object, object_from_js = false)]
pub struct ContextEntry {
    /// Who wrote it.
    #[napi(ts_type = "'user' | 'assistant' | 'system' | 'agent' | 'tool'")]
    pub role: String,
    /// The text.
    pub content: String,
    /// When it was written, ms since the epoch.
    pub timestamp: i64,
    /// Free-form metadata (a JSON object).
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: serde_json::Value,
}

/// A conversation's stored context.
#[napi(object, object_from_js = false)]
pub struct Context {
    /// The conversation.
    pub conversation_id: String,
    /// Entries, oldest first; never more than the last update's `maxHistory`.
    pub entries: Vec<ContextEntry>,
    /// When it was last updated, ms since the epoch.
    pub updated_at: i64,
    /// When it expires, ms since the epoch; it reads as absent from then on.
    pub expires_at: i64,
}

impl From<cidb::Context> for Context {
    fn from(c: cidb::Context) -> Self {
        Context {
            conversation_id: c.conversation_id,
            entries: c
                .entries
                .into_iter()
                .map(|e| ContextEntry { role: e.role.as_str().into(), content: e.content, timestamp: e.timestamp, metadata: e.metadata })
                .collect(),
            updated_at: c.updated_at,
            expires_at: c.expires_at,
        }
    }
}

/// Options of `updateContext`; both are required.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct ContextOptions {
    /// The context expires this many ms after this update (> 0).
    #[napi(ts_type = "number | bigint")]
    pub ttl_ms: i64,
    /// Keep at most this many entries, the newest by timestamp (>= 1).
    #[napi(ts_type = "number | bigint")]
    pub max_history: i64,
}

fn read_entry(v: Val, what: &str, now: Millis) -> Result<CoreEntry> {
    let o = object(v, what)?;
    let f = |k: &str| -> Result<(Val, String)> {
        let name = format!("{what}.{k}");
        Ok((o.get(k, &name)?, name))
    };
    let (v, n) = f("role")?;
    let role = text(v, &n)?.parse::<Role>()?;
    let (v, n) = f("content")?;
    let content = text(v, &n)?;
    let (v, n) = f("timestamp")?;
    let timestamp = opt_timestamp(v, &n)?.unwrap_or(now);
    let (v, n) = f("metadata")?;
    let metadata = match json(v, &n)? {
        None => serde_json::Value::Object(Default::default()),
        Some(m @ serde_json::Value::Object(_)) => m,
        Some(other) => {
            let got = if other.is_array() { "an array" } else { "not an object" };
            return Err(cidb::Error::new(cidb::ErrorKind::InvalidAttributes, format!("{n} must be a JSON object, got {got}")));
        }
    };
    Ok(CoreEntry { role, content, timestamp, metadata })
}

fn read_options(v: &Unknown<'_>) -> Result<(Duration, usize)> {
    let o = object(Val::of(v), "options")?;
    let ttl = ttl_ms(o.get("ttlMs", "options.ttlMs")?, "options.ttlMs")?;
    let max = count(o.get("maxHistory", "options.maxHistory")?, "options.maxHistory")?;
    Ok((ttl, usize::try_from(max).unwrap_or(usize::MAX)))
}

/// An update, read: (conversation id, entries, ttl, max history).
type Update = (String, Vec<CoreEntry>, Duration, usize);

impl Tenant {
    fn read_update(&self, conversation_id: &Unknown<'_>, entries: &Unknown<'_>, options: &Unknown<'_>) -> Result<Update> {
        let conv = text(Val::of(conversation_id), "conversationId")?;
        let now = self.tenant.engine().clock().now();
        let entries = crate::convert::list(Val::of(entries), "entries", |v, n| read_entry(v, n, now))?;
        let (ttl, max) = read_options(options)?;
        Ok((conv, entries, ttl, max))
    }

    fn update_context_job(&self, c: &Unknown<'_>, e: &Unknown<'_>, o: &Unknown<'_>) -> Result<Job<Context>> {
        let w = self.write(self.read_update(c, e, o)?)?;
        Ok(w.job(|t, (conv, entries, ttl, max)| Ok(t.update_context(&conv, &entries, ttl, max)?.into())))
    }

    fn update_context_fut(
        &self,
        c: &Unknown<'_>,
        e: &Unknown<'_>,
        o: &Unknown<'_>,
    ) -> Result<impl Future<Output = Result<Context>> + use<>> {
        let w = self.write(self.read_update(c, e, o)?)?;
        Ok(w.future(|t, (conv, entries, ttl, max)| async move { Ok(t.update_context(&conv, &entries, ttl, max).await?.into()) }))
    }

    fn get_context_job(&self, conversation_id: &Unknown<'_>) -> Result<Job<Option<Context>>> {
        let conv = text(Val::of(conversation_id), "conversationId")?;
        let (t, lease) = self.live()?;
        Ok(job(move || {
            let _keep = lease;
            Ok(t.get_context(&conv)?.map(Context::from))
        }))
    }

    fn delete_context_job(&self, conversation_id: &Unknown<'_>) -> Result<Job<bool>> {
        let w = self.write(text(Val::of(conversation_id), "conversationId")?)?;
        Ok(w.job(|t, conv| t.delete_context(&conv)))
    }

    fn delete_context_fut(&self, conversation_id: &Unknown<'_>) -> Result<impl Future<Output = Result<bool>> + use<>> {
        let w = self.write(text(Val::of(conversation_id), "conversationId")?)?;
        Ok(w.future(|t, conv| async move { t.delete_context(&conv).await }))
    }
}

#[napi]
impl Tenant {
    /// Merges `entries` into the conversation's context, keeps the newest
    /// `options.maxHistory` (by timestamp; ties keep arrival order), sets it to expire
    /// `options.ttlMs` from now, and returns the new context. Atomic under concurrent
    /// callers; an expired context counts as empty. Durable when it returns.
    #[napi]
    pub fn update_context(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>,
        #[napi(ts_arg_type = "ContextEntryInput[]")] entries: Unknown<'_>,
        #[napi(ts_arg_type = "ContextOptions")] options: Unknown<'_>,
    ) -> napi::Result<Context> {
        run_sync(&env, || self.update_context_job(&conversation_id, &entries, &options))
    }

    /// Promise form of `updateContext`.
    #[napi(ts_return_type = "Promise<Context>")]
    pub fn update_context_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>,
        #[napi(ts_arg_type = "ContextEntryInput[]")] entries: Unknown<'_>,
        #[napi(ts_arg_type = "ContextOptions")] options: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Context>> {
        run_future(env, || self.update_context_fut(&conversation_id, &entries, &options))
    }

    /// The conversation's context; `null` when absent or expired.
    #[napi]
    pub fn get_context(&self, env: Env, #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>) -> napi::Result<Option<Context>> {
        run_sync(&env, || self.get_context_job(&conversation_id))
    }

    /// Promise form of `getContext`.
    #[napi(ts_return_type = "Promise<Context | null>")]
    pub fn get_context_async(&self, #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>) -> AsyncTask<Op<Option<Context>>> {
        run_async(|| self.get_context_job(&conversation_id))
    }

    /// Deletes the conversation's context; `true` when a live one existed.
    #[napi]
    pub fn delete_context(&self, env: Env, #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>) -> napi::Result<bool> {
        run_sync(&env, || self.delete_context_job(&conversation_id))
    }

    /// Promise form of `deleteContext`.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete_context_async<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] conversation_id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        run_future(env, || self.delete_context_fut(&conversation_id))
    }
}

impl Engine {
    fn sweep_job(&self) -> Result<Job<f64>> {
        let engine = self.lease.engine()?.clone();
        let lease = self.lease.clone();
        Ok(job(move || {
            let _keep = lease;
            Ok(engine.sweep_expired()? as f64)
        }))
    }
}

#[napi]
impl Engine {
    /// Deletes expired data now (contexts past their TTL, change-log entries past the
    /// retention); the background sweep does this every `sweep_interval_ms`. Returns how
    /// many contexts were removed.
    #[napi]
    pub fn sweep_expired(&self, env: Env) -> napi::Result<f64> {
        run_sync(&env, || self.sweep_job())
    }

    /// Promise form of `sweepExpired`.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn sweep_expired_async(&self) -> AsyncTask<Op<f64>> {
        run_async(|| self.sweep_job())
    }
}
