//! Conversation messages: append-only, ids assigned by the engine and monotonic.

use super::time::{check_timestamp, Millis};
use super::validate::{check_id, check_object, Limits};
use crate::error::{err, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The customer.
    User,
    /// An AI assistant.
    Assistant,
    /// A system prompt or notice.
    System,
    /// A human agent.
    Agent,
    /// A tool call result.
    Tool,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [Role::User, Role::Assistant, Role::System, Role::Agent, Role::Tool];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Agent => "agent",
            Role::Tool => "tool",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            err(
                ErrorKind::InvalidRole,
                format!("unknown role {s:?}; expected one of user, assistant, system, agent, tool"),
            )
        })
    }
}

/// A message to append; the engine assigns its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The customer the conversation is with.
    pub customer_id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Who wrote it.
    pub role: Role,
    /// When it was written, ms since the epoch.
    pub timestamp: Millis,
    /// The text.
    pub content: String,
    /// Free-form metadata; always a JSON object.
    #[serde(default = "empty_object")]
    pub metadata: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl NewMessage {
    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_id("customer_id", &self.customer_id)?;
        check_id("conversation_id", &self.conversation_id)?;
        check_timestamp("timestamp", self.timestamp)?;
        if self.content.len() > limits.max_content_bytes {
            return Err(err(
                ErrorKind::ContentTooLarge,
                format!(
                    "message content is {} bytes; the maximum is {}",
                    self.content.len(),
                    limits.max_content_bytes
                ),
            ));
        }
        check_object("metadata", &self.metadata)
    }
}

/// A stored message with its assigned id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Assigned by the engine; strictly increasing in append order.
    pub id: u64,
    /// The customer the conversation is with.
    pub customer_id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Who wrote it.
    pub role: Role,
    /// When it was written, ms since the epoch.
    pub timestamp: Millis,
    /// The text.
    pub content: String,
    /// Free-form metadata (a JSON object).
    pub metadata: serde_json::Value,
}
