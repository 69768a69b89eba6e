//! Conversation context: the short, bounded history an assistant keeps per conversation
//! (the role the reference deployment's Redis Lua script played), with a TTL.

use super::message::Role;
use super::time::{check_timestamp, Millis};
use super::validate::{check_object, Limits};
use crate::error::{err, ErrorKind, Result};
use serde::{Deserialize, Serialize};

/// One entry of a conversation context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextEntry {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
    /// When it was written, ms since the epoch.
    pub timestamp: Millis,
    /// Free-form metadata; always a JSON object.
    #[serde(default = "empty_object")]
    pub metadata: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl ContextEntry {
    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_timestamp("timestamp", self.timestamp)?;
        if self.content.len() > limits.max_content_bytes {
            return Err(err(
                ErrorKind::ContentTooLarge,
                format!("context entry content is {} bytes; the maximum is {}", self.content.len(), limits.max_content_bytes),
            ));
        }
        check_object("metadata", &self.metadata)
    }
}

/// The stored context of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The conversation.
    pub conversation_id: String,
    /// Entries, oldest first; never more than the last update's `max_history`.
    pub entries: Vec<ContextEntry>,
    /// When it was last updated, ms since the epoch.
    pub updated_at: Millis,
    /// When it expires, ms since the epoch; it reads as absent from then on.
    pub expires_at: Millis,
}
