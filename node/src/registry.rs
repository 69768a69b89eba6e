//! The process-wide registry of open databases, which is what makes `worker_threads` work.
//! A database directory can be owned by one engine per process (the core's directory lock),
//! so every `open` of the same directory in this process — from the main thread or any
//! worker — shares one `cidb::Engine`, found by canonical path. Each `open` takes a
//! [`Lease`]; the engine is closed when the last lease is released, either by an explicit
//! `close()` or when every JS object holding the lease has been garbage-collected (which
//! includes a worker's objects when the worker exits). Another process still gets
//! `CIDB_ALREADY_OPEN` from the core's lock.
//!
//! A lease is also what ends the JS callbacks and streams made through its handle: each
//! registers a release hook ([`Lease::on_release`]), so closing an `Engine` handle (or
//! collecting it) stops them, before `close()` returns, even while the engine stays open for
//! other handles.

use cidb::config::Setting;
use cidb::{Config, Engine, Error, ErrorKind};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

/// Work to run when a lease is released, by id.
type Hooks = Vec<(u64, Box<dyn FnOnce() + Send>)>;

struct Entry {
    engine: Engine,
    /// The effective settings it was opened with: (key, value) in `config()` order.
    settings: Vec<(&'static str, String)>,
    leases: usize,
}

static OPEN: LazyLock<Mutex<HashMap<PathBuf, Entry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// One `open()` call's share of an engine. Cloned (as an `Arc`) into every tenant handle
/// and running task made from it, so the engine stays open while any of them is alive.
pub struct Lease {
    key: PathBuf,
    engine: Engine,
    released: AtomicBool,
    hooks: Mutex<Hooks>,
}

/// A fresh release-hook id (below 2^63; alert callbacks use their monitor id with the top
/// bit set, see `monitor`).
pub fn hook_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Lease {
    /// Opens (or joins) the engine of `dir` with `config`, whose effective `settings` must
    /// match those of the engine already open there.
    pub fn acquire(dir: &str, config: Config, settings: &[Setting]) -> cidb::Result<Arc<Lease>> {
        if dir.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "the database path is empty"));
        }
        let dir = Path::new(dir);
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::with_source(ErrorKind::Storage, format!("cannot create directory {}", dir.display()), e)
        })?;
        let key = dir.canonicalize().map_err(|e| {
            Error::with_source(ErrorKind::Storage, format!("cannot resolve path {}", dir.display()), e)
        })?;
        let mut open = OPEN.lock();
        let engine = match open.get_mut(&key) {
            Some(entry) => {
                let asked = settings.iter().map(|s| (s.key, s.value.as_str()));
                if let Some(((k, open_with), (_, asked))) =
                    entry.settings.iter().zip(asked).find(|((_, a), (_, b))| a.as_str() != *b)
                {
                    return Err(Error::new(
                        ErrorKind::AlreadyOpen,
                        format!(
                            "{} is already open in this process with {k} = {open_with} (this open asks for {asked}); open it with the same options or close it first",
                            key.display(),
                        ),
                    ));
                }
                entry.leases += 1;
                entry.engine.clone()
            }
            None => {
                let engine = Engine::open(&key, config)?;
                let settings = settings.iter().map(|s| (s.key, s.value.clone())).collect();
                open.insert(key.clone(), Entry { engine: engine.clone(), settings, leases: 1 });
                engine
            }
        };
        Ok(Arc::new(Lease {
            key,
            engine,
            released: AtomicBool::new(false),
            hooks: Mutex::new(Vec::new()),
        }))
    }

    /// The engine, or `Closed` once this lease was released.
    pub fn engine(&self) -> cidb::Result<&Engine> {
        if self.released.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Closed, "the engine handle is closed"));
        }
        Ok(&self.engine)
    }

    /// The canonical database directory.
    pub fn path(&self) -> &Path {
        &self.key
    }

    /// True once released.
    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Registers `f` to run when this lease is released; `Closed` when it already was.
    pub fn on_release(&self, id: u64, f: impl FnOnce() + Send + 'static) -> cidb::Result<()> {
        let mut hooks = self.hooks.lock();
        self.engine()?; // checked under the lock `release` takes the hooks under
        hooks.push((id, Box::new(f)));
        Ok(())
    }

    /// Runs and forgets the release hook `id` now; false when there is none.
    pub fn run_hook(&self, id: u64) -> bool {
        let hook = {
            let mut hooks = self.hooks.lock();
            hooks.iter().position(|(i, _)| *i == id).map(|at| hooks.remove(at).1)
        };
        hook.map(|f| f()).is_some()
    }

    /// Gives this lease back; closes the engine (committing queued writes and releasing the
    /// directory) when it was the last one. Idempotent.
    pub fn release(&self) -> cidb::Result<()> {
        let hooks = {
            let mut hooks = self.hooks.lock();
            if self.released.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            std::mem::take(&mut *hooks)
        };
        for (_, f) in hooks {
            f();
        }
        let mut open = OPEN.lock();
        let last = match open.get_mut(&self.key) {
            Some(entry) => {
                entry.leases -= 1;
                entry.leases == 0
            }
            None => false,
        };
        if last {
            open.remove(&self.key);
            // Closed under the registry lock so a concurrent `open` of the same directory
            // waits for the directory lock to be free instead of failing with AlreadyOpen.
            return self.engine.close();
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Nobody can observe an error here; the engine's writes were durable when acknowledged.
        let _ = self.release();
    }
}
