//! The score record: one point of a (customer, score type) time series. History is
//! append-only; the latest point per (customer, type) is kept in `latest_scores`.

use super::time::{check_timestamp, Millis};
use super::validate::{check_id, check_label, check_unit};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A score for one customer and score type at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The customer scored.
    pub customer_id: String,
    /// What is scored (e.g. `churn_risk`).
    pub score_type: String,
    /// The score, in `[0, 1]`.
    pub score: f64,
    /// The model's confidence, in `[0, 1]`.
    pub confidence: f64,
    /// When the score was computed, ms since the epoch.
    pub created_at: Millis,
    /// The model that produced it, if known.
    #[serde(default)]
    pub model: Option<String>,
}

impl Score {
    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<()> {
        check_id("customer_id", &self.customer_id)?;
        check_id("score_type", &self.score_type)?;
        check_unit("score", self.score)?;
        check_unit("confidence", self.confidence)?;
        check_timestamp("created_at", self.created_at)?;
        if let Some(m) = &self.model {
            check_label("model", m)?;
        }
        Ok(())
    }
}
