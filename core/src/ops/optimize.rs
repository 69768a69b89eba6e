//! `Engine::optimize`: what an operator would do by hand after reading the advisor, in one
//! call: refresh the planner's statistics (ANALYZE), build the recommended indexes whose
//! predicted gain is at least the threshold (online), and warm the cache from its persisted
//! hot set. The report says what was done and what was left.

use crate::engine::Engine;
use crate::error::Result;
use crate::monitor::{AdviceOptions, Recommendation};
use serde::Serialize;
use std::time::Instant;

/// A recommendation whose build failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedRecommendation {
    /// The recommendation.
    pub recommendation: Recommendation,
    /// Why it failed.
    pub error: String,
}

/// What [`Engine::optimize`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizeReport {
    /// ANALYZE time, ms.
    pub analyze_ms: f64,
    /// Indexes built.
    pub applied: Vec<Recommendation>,
    /// Recommendations below the gain threshold (not built).
    pub skipped: Vec<Recommendation>,
    /// Builds that failed.
    pub failed: Vec<FailedRecommendation>,
    /// Foreign keys without a usable index (reported, never built automatically).
    pub unindexed_foreign_keys: Vec<crate::monitor::UnindexedForeignKey>,
    /// Indexes no recorded statement used (reported, never dropped automatically).
    pub unused_indexes: Vec<crate::monitor::UnusedIndex>,
    /// Cache entries loaded by warming.
    pub warmed: usize,
    /// Total time, ms.
    pub elapsed_ms: f64,
}

impl Engine {
    /// Runs ANALYZE, builds every advisor recommendation with `gain >= min_gain` (a
    /// fraction of the estimated cost of the queries it helps, e.g. 0.5), and warms the
    /// cache.
    pub fn optimize(&self, min_gain: f64) -> Result<OptimizeReport> {
        let start = Instant::now();
        self.execute("ANALYZE")?;
        let analyze_ms = start.elapsed().as_secs_f64() * 1e3;
        // Ask for everything that helps at all, then split by the threshold.
        let advice = self.advise_with(&AdviceOptions { min_gain: 0.0, ..Default::default() })?;
        let (mut applied, mut skipped, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        for r in advice.recommendations {
            if r.gain < min_gain {
                skipped.push(r);
                continue;
            }
            match self.apply_recommendation(&r) {
                Ok(()) => applied.push(r),
                Err(e) => failed.push(FailedRecommendation { recommendation: r, error: e.to_string() }),
            }
        }
        let warmed = self.cache().warm(self.database().ok().as_deref())?;
        Ok(OptimizeReport {
            analyze_ms,
            applied,
            skipped,
            failed,
            unindexed_foreign_keys: advice.unindexed_foreign_keys,
            unused_indexes: advice.unused_indexes,
            warmed,
            elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
        })
    }
}
