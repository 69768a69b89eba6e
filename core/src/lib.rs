//! # cidb
//!
//! An embedded customer-intelligence data engine: three stores (customers, score history,
//! conversation messages) for many tenants in one local directory, written through a
//! group-commit writer into redb and read from consistent snapshots.
//!
//! Queries are a SQL subset (see [`sql`]) planned by a cost-based planner over the primary
//! keys and secondary indexes (see [`index`] and [`plan`]); `EXPLAIN` shows the plan in
//! the shape SQLite prints. A fresh database has the seven seed indexes
//! ([`index::SEED_INDEXES`]).
//!
//! ```
//! use cidb::{Config, Customer, Engine, Value};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Engine::open(dir.path(), Config::default()).unwrap();
//! let acme = db.tenant("acme").unwrap();
//! let mut c = Customer::new("c1", 1_700_000_000_000);
//! c.department = "sales".into();
//! c.status = "active".into();
//! acme.upsert_customer(&c).unwrap();
//! let q = "SELECT id FROM customers WHERE department = ? AND status = ?";
//! let params = [Value::Text("sales".into()), Value::Text("active".into())];
//! let stmt = acme.prepare(q).unwrap();
//! let r = stmt.query(&params).unwrap();
//! assert_eq!(r.rows, vec![vec![Value::Text("c1".into())]]);
//! let plan = acme.explain(q, &params, false).unwrap();
//! assert!(plan.uses_index("idx_customers_department_status_created_at"));
//! db.execute("CREATE INDEX idx_customers_name ON customers(name)").unwrap();
//! db.close().unwrap();
//! ```
//!
//! ```
//! use cidb::{Config, Customer, Engine, Score};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Engine::open(dir.path(), Config::default()).unwrap();
//! let acme = db.tenant("acme").unwrap();
//! let mut c = Customer::new("c1", 1_700_000_000_000);
//! c.department = "sales".into();
//! acme.upsert_customer(&c).unwrap();
//! acme.add_score(&Score { customer_id: "c1".into(), score_type: "churn_risk".into(),
//!     score: 0.8, confidence: 0.9, created_at: 1_700_000_000_000, model: None }).unwrap();
//! assert_eq!(acme.latest_score("c1", "churn_risk").unwrap().unwrap().score, 0.8);
//! db.close().unwrap();
//! ```

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod aio;
pub mod cache;
pub mod config;
pub mod context;
pub mod datagen;
mod engine;
pub mod error;
pub mod feed;
pub mod import;
pub mod index;
pub mod model;
pub mod monitor;
pub mod ops;
pub mod plan;
mod runtime;
pub mod schema;
pub mod sql;
pub mod storage;
mod redo;
mod tenant;

pub use aio::AsyncTenant;
pub use cache::{CacheOptions, CacheStats, ResultCache, ResultTicket, TenantCache};
pub use config::{Config, Profile};
pub use engine::{Engine, EngineStats};
pub use error::{Error, ErrorKind, Result};
pub use import::{ImportFormat, ImportOptions, ImportProgress, ImportReport, Reject};
pub use index::{IndexCheck, IndexInfo, IndexUsage, SampleCheck};
pub use monitor::{Advice, AdviceOptions, Recommendation};
pub use ops::{Health, HealthStatus, Metrics, OptimizeReport};
pub use model::{Clock, Context, ContextEntry, Customer, Message, Millis, NewMessage, Role, Score};
pub use plan::{ExecStats, Explain, ExplainStep, HypotheticalCost, QueryResult, Statement};
pub use schema::{Row, Table, Value};
pub use tenant::Tenant;
