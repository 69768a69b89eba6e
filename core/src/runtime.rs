//! The engine's own tokio runtime: periodic background work (context and cache TTL sweeps,
//! sliding-window index expiry, statistics refresh, cache warming) and the blocking pool
//! behind the async API. It is created at open and shut down at close; tasks hold only weak
//! references to the engine, so a dropped engine is never kept alive by its own tasks.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;

/// The runtime and its shutdown signal.
pub struct Background {
    rt: Mutex<Option<Runtime>>,
    handle: Handle,
    stop: watch::Sender<bool>,
}

impl Background {
    /// Starts a small runtime: `workers` async threads plus tokio's blocking pool.
    pub fn start(workers: usize) -> Result<Background> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("cidb-bg")
            .enable_time()
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Internal, "cannot start the background runtime", e))?;
        let handle = rt.handle().clone();
        let (stop, _) = watch::channel(false);
        Ok(Background { rt: Mutex::new(Some(rt)), handle, stop })
    }

    /// The runtime's handle (for `spawn_blocking` from the async API).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `f` on the blocking pool every `period` until shutdown (or until `f` returns false).
    pub fn every(&self, period: Duration, f: impl Fn() -> bool + Send + Sync + 'static) {
        let mut stop = self.stop.subscribe();
        let f = std::sync::Arc::new(f);
        self.handle.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = stop.changed() => break,
                }
                let f = f.clone();
                match tokio::task::spawn_blocking(move || f()).await {
                    Ok(true) => {}
                    _ => break,
                }
            }
        });
    }

    /// Signals every task to stop and waits (bounded) for the runtime to wind down.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(rt) = self.rt.lock().take() {
            if Handle::try_current().is_ok() {
                // Called from async code: blocking here is not allowed, let it wind down.
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(5));
            }
        }
    }
}
