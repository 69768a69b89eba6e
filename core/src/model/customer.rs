//! The customer record: upserted by id within a tenant.

use super::time::{check_timestamp, Millis};
use super::validate::{check_id, check_label, check_object};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A customer of one tenant. `id` is the key within the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Key within the tenant (1..=256 bytes).
    pub id: String,
    /// Email address, if known.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name, if known.
    #[serde(default)]
    pub name: Option<String>,
    /// Department (segment) label.
    #[serde(default)]
    pub department: String,
    /// Lifecycle status label (e.g. `active`, `churned`).
    #[serde(default)]
    pub status: String,
    /// Creation time, ms since the epoch.
    #[serde(default)]
    pub created_at: Millis,
    /// Last update time, ms since the epoch.
    #[serde(default)]
    pub updated_at: Millis,
    /// Free-form attributes; always a JSON object.
    #[serde(default = "empty_object")]
    pub attributes: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl Customer {
    /// A customer with the given id and empty fields, created and updated at `now`.
    pub fn new(id: impl Into<String>, now: Millis) -> Customer {
        Customer {
            id: id.into(),
            email: None,
            name: None,
            department: String::new(),
            status: String::new(),
            created_at: now,
            updated_at: now,
            attributes: empty_object(),
        }
    }

    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<()> {
        check_id("customer id", &self.id)?;
        if let Some(e) = &self.email {
            check_label("email", e)?;
        }
        if let Some(n) = &self.name {
            check_label("name", n)?;
        }
        check_label("department", &self.department)?;
        check_label("status", &self.status)?;
        check_timestamp("created_at", self.created_at)?;
        check_timestamp("updated_at", self.updated_at)?;
        check_object("attributes", &self.attributes)
    }
}
