//! Operating the engine as a whole: health (storage writable, breaker, cache tiers, sampled
//! index consistency, active alerts), optimisation (ANALYZE, the advisor's indexes, cache
//! warming) and the combined metrics export (engine, cache, breaker, monitor, index usage)
//! as JSON and Prometheus text. Each is an `impl Engine` block over the components' own
//! APIs; nothing here owns state.

pub mod health;
pub mod metrics;
pub mod optimize;

pub use health::{Health, HealthStatus};
pub use metrics::Metrics;
pub use optimize::{FailedRecommendation, OptimizeReport};
