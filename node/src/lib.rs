//! `cidb-node`: the Node.js binding of cidb (the npm package `cidb`), built with napi-rs.
//!
//! The binding reaches the engine only through the `cidb` crate's public API. Its layout:
//! `engine` (`open`, the `Engine` class), `config` (options of `open`, `config()`),
//! `tenant` (the `Tenant` class: customers, scores, messages), one module per further area,
//! each adding a `#[napi] impl Tenant` / `impl Engine` block: `cache` (application cache,
//! cache stats), `context` (conversation context, sweep), `feed` (subscriptions, event
//! streams, the event log), `monitor` (statement statistics, alert callbacks), `advisor`
//! (the index advisor: `advise`, `adviseApply`), `ops` (`health`, `optimize`, `metrics`,
//! `metricsPrometheus`), `import` (bulk import, backup); then `records` (the record shapes
//! `index.d.ts` declares), `shape` (building the output records as JS objects in one step), `convert` (reading JS values, with errors naming the field),
//! `errors` (cidb errors as JS errors with `code` and `cause`, the error table), `task` (the
//! sync and `…Async` forms of one operation), `callback` (calling JS from other threads),
//! and `registry` (one shared engine per directory per process, for `worker_threads`;
//! release hooks); and `query` (the SQL layer: `tenant.query`, `tenant.prepare` and the
//! `Statement` class, `explain`, `engine.execute` for DDL, `engine.indexes`).
//!
//! Adding an operation: write its `*_job` preparation once (read arguments into owned
//! values, return a `Send` job), then expose it as `name` via `run_sync` and `nameAsync`
//! via `run_async`, with `ts_arg_type`/`ts_return_type` naming the record types. A write
//! prepares a `tenant::Write` instead and exposes `write.job(..)` via `run_sync` and
//! `write.future(..)` (the core's non-blocking `AsyncTenant` future) via `run_future`, so
//! no thread waits for its commit. Add the operation to the coverage test in
//! `test/roundtrip.test.js` (or to its sync-only list, with the reason).

#![deny(clippy::unwrap_used)]

mod advisor;
mod cache;
mod callback;
mod config;
mod context;
mod convert;
mod engine;
mod errors;
mod feed;
mod import;
mod monitor;
mod ops;
mod query;
mod records;
mod registry;
mod shape;
mod task;
mod tenant;

pub use advisor::{Advice, AdviceOptions, HelpedQuery, Recommendation, UnindexedForeignKey, UnusedIndex};
pub use cache::{CacheSetOptions, CacheStats, HourCount, TierStats};
pub use config::{config, OpenOptions, Setting};
pub use context::{Context, ContextEntry, ContextEntryInput, ContextOptions};
pub use engine::{open, open_async, BreakerStats, Engine, EngineStats};
pub use errors::{error_codes, ErrorCode};
pub use feed::{ChangeEvent, Delivery, EventDelivery, EventFilter, EventStream, MissedDelivery, MissedEvents, ScoreCrossing, Subscription};
pub use import::{BackupReport, ImportOptions, ImportReject, ImportReport};
pub use monitor::{Alert, FingerprintStats, MonitorStats, SlowQuery};
pub use ops::{FailedRecommendation, Health, IndexSampleCheck, IndexUsage, Metrics, OptimizeReport};
pub use query::{IndexInfo, QueryResult, Statement};
pub use records::{Customer, CustomerInput, Message, MessageQuery, NewMessage, Score, ScoreInput};
pub use tenant::Tenant;
