//! `Engine::health`: one call that says whether the engine can do its job. Storage is
//! probed with a real (tiny) write through the writer, so a full disk or an open breaker
//! shows; the cache tiers must be open; every ready index is checked on a random sample of
//! rows and entries. Active alerts make the engine `degraded`, not unhealthy: it still
//! answers, someone should look.

use crate::engine::Engine;
use crate::error::Result;
use crate::index::SampleCheck;
use crate::monitor::Alert;
use crate::storage::breaker::{BreakerState, BreakerStats};
use serde::Serialize;

/// Rows and entries sampled per index.
const INDEX_SAMPLE: usize = 64;

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Everything works and no alert is active.
    Ok,
    /// Everything works; alerts fired within the alert window.
    Degraded,
    /// Something the engine needs does not work.
    Unhealthy,
}

/// What [`Engine::health`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// False when storage, the breaker, the cache or an index is not right.
    pub healthy: bool,
    /// ok / degraded / unhealthy.
    pub status: HealthStatus,
    /// A probe write went through the writer and committed.
    pub storage_writable: bool,
    /// Why the probe failed.
    pub storage_error: Option<String>,
    /// The storage circuit breaker.
    pub breaker: BreakerStats,
    /// The cache tiers are open.
    pub cache_open: bool,
    /// Sampled index checks.
    pub indexes: Vec<SampleCheck>,
    /// Alerts fired within the alert window.
    pub active_alerts: Vec<Alert>,
    /// Every reason for not being `ok`, readable.
    pub problems: Vec<String>,
}

impl Engine {
    /// Probes storage, the breaker, the cache and the indexes; lists active alerts.
    pub fn health(&self) -> Result<Health> {
        self.check_open()?;
        let mut problems = Vec::new();
        let now = self.clock().now();
        let probe = self.write(move |txn, _| {
            txn.open_table(crate::storage::META)?.insert("health_probe", now.max(0) as u64)?;
            Ok(())
        });
        let storage_error = probe.err().map(|e| e.to_string());
        if let Some(e) = &storage_error {
            problems.push(format!("storage is not writable: {e}"));
        }
        let breaker = self.inner.breaker.stats();
        if breaker.state != BreakerState::Closed {
            problems.push(format!("the storage circuit breaker is {:?}", breaker.state).to_lowercase());
        }
        let cache_open = self.cache().check_open().is_ok() && self.cache().store().is_ok();
        if !cache_open {
            problems.push("the cache tiers are closed".into());
        }
        let mut indexes = Vec::new();
        for info in self.indexes()? {
            if !info.ready {
                continue;
            }
            match self.check_index_sample(&info.name, INDEX_SAMPLE) {
                Ok(c) => {
                    if !c.is_consistent() {
                        problems.push(format!("index {} is inconsistent ({} missing, {} extra in the sample)", c.index, c.missing, c.extra));
                    }
                    indexes.push(c);
                }
                Err(e) if e.kind() == crate::ErrorKind::NotFound => {} // dropped meanwhile
                Err(e) => problems.push(format!("index {} cannot be checked: {e}", info.name)),
            }
        }
        let healthy = problems.is_empty();
        let active_alerts = self.monitor().active_alerts();
        for a in &active_alerts {
            problems.push(format!("alert: {}", a.message));
        }
        let status = match (healthy, active_alerts.is_empty()) {
            (false, _) => HealthStatus::Unhealthy,
            (true, false) => HealthStatus::Degraded,
            (true, true) => HealthStatus::Ok,
        };
        Ok(Health { healthy, status, storage_writable: storage_error.is_none(), storage_error, breaker, cache_open, indexes, active_alerts, problems })
    }
}
