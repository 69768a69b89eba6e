//! The process-wide registry of open databases, which is what makes `worker_threads` work.
//! A database directory can be owned by one engine per process (the core's directory lock),
//! so every `open` of the same directory in this process — from the main thread or any
//! worker — shares one `cidb::Engine`, found by canonical path. Each `open` takes a
//! [`Lease`]; the engine is closed when the last lease is released, either by an explicit
//! `close()` or when every JS object holding the lease has been garbage-collected (which
//! includes a worker's objects when the worker exits). Another process still gets
//! `CIDB_ALREADY_OPEN` from the core's lock.

use cidb::{Config, Engine, Error, ErrorKind, Profile};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

struct Entry {
    engine: Engine,
    profile: Profile,
    leases: usize,
}

static OPEN: LazyLock<Mutex<HashMap<PathBuf, Entry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// One `open()` call's share of an engine. Cloned (as an `Arc`) into every tenant handle
/// and running task made from it, so the engine stays open while any of them is alive.
pub struct Lease {
    key: PathBuf,
    engine: Engine,
    released: AtomicBool,
}

impl Lease {
    /// Opens (or joins) the engine of `dir` with `profile`.
    pub fn acquire(dir: &str, profile: Profile) -> cidb::Result<Arc<Lease>> {
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
                if entry.profile != profile {
                    return Err(Error::new(
                        ErrorKind::AlreadyOpen,
                        format!(
                            "{} is already open in this process with profile {}; open it with the same options or close it first",
                            key.display(),
                            entry.profile.as_str()
                        ),
                    ));
                }
                entry.leases += 1;
                entry.engine.clone()
            }
            None => {
                let engine = Engine::open(&key, Config::profile(profile))?;
                open.insert(key.clone(), Entry { engine: engine.clone(), profile, leases: 1 });
                engine
            }
        };
        Ok(Arc::new(Lease { key, engine, released: AtomicBool::new(false) }))
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

    /// Gives this lease back; closes the engine (committing queued writes and releasing the
    /// directory) when it was the last one. Idempotent.
    pub fn release(&self) -> cidb::Result<()> {
        if self.released.swap(true, Ordering::AcqRel) {
            return Ok(());
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
