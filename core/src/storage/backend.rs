//! The redb storage backend cidb opens its data file with: the real file backend, plus
//! fault injection on command (reads, writes, syncs, short writes, disk full) for tests and
//! the reliability suite, which hand a [`FaultSwitch`] to [`crate::Config::faults`].
//!
//! Byte-range locking is answered here instead of by the file: the directory lock
//! ([`super::lock`]) already makes one engine the only owner, and taking the file lock again
//! would stop [`super::store::Store::reopen`] from opening a fresh `Database` while a failed
//! one is still draining its readers.

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::io;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Which operations fail. Shared between the test and the backend; flip at any time.
#[derive(Debug, Default)]
pub struct FaultState {
    /// Reads fail.
    pub fail_reads: AtomicBool,
    /// Writes fail.
    pub fail_writes: AtomicBool,
    /// Syncs fail.
    pub fail_syncs: AtomicBool,
    /// Writes store only half their bytes, then fail.
    pub short_writes: AtomicBool,
    /// Growing the file fails with "no space left on device".
    pub disk_full: AtomicBool,
    /// Faults injected so far.
    pub injected: AtomicU64,
}

/// A cloneable handle on a [`FaultState`].
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(pub Arc<FaultState>);

impl FaultSwitch {
    /// A switch with every fault off.
    pub fn new() -> FaultSwitch {
        FaultSwitch::default()
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        for f in [&self.0.fail_reads, &self.0.fail_writes, &self.0.fail_syncs, &self.0.short_writes, &self.0.disk_full] {
            f.store(false, Ordering::SeqCst);
        }
    }

    /// Sets write and sync failures together (the usual "storage is broken" fault).
    pub fn fail_writes(&self, on: bool) {
        self.0.fail_writes.store(on, Ordering::SeqCst);
        self.0.fail_syncs.store(on, Ordering::SeqCst);
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.0.injected.load(Ordering::SeqCst)
    }
}

/// The backend: a file, with faults when a switch is set.
#[derive(Debug)]
pub struct CidbBackend {
    inner: FileBackend,
    state: Arc<FaultState>,
}

impl CidbBackend {
    /// Wraps `file`; faults are controlled by `switch` (a fresh, inert switch when None).
    pub fn new(file: std::fs::File, switch: Option<&FaultSwitch>) -> Result<CidbBackend, redb::DatabaseError> {
        let state = switch.map(|s| s.0.clone()).unwrap_or_default();
        Ok(CidbBackend { inner: FileBackend::new(file)?, state })
    }

    fn fault(&self, flag: &AtomicBool, what: &str) -> io::Result<()> {
        if flag.load(Ordering::SeqCst) {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other(format!("injected {what} failure")));
        }
        Ok(())
    }
}

impl StorageBackend for CidbBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.fault(&self.state.fail_reads, "read")?;
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        if self.state.disk_full.load(Ordering::SeqCst) && len > self.inner.len()? {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::new(io::ErrorKind::StorageFull, "injected: no space left on device"));
        }
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.fault(&self.state.fail_syncs, "sync")?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.fault(&self.state.fail_writes, "write")?;
        if self.state.short_writes.load(Ordering::SeqCst) {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            self.inner.write(offset, &data[..data.len() / 2])?;
            return Err(io::Error::new(io::ErrorKind::WriteZero, "injected short write"));
        }
        self.inner.write(offset, data)
    }

    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Ok(true)
    }

    fn try_lock_shared_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Ok(true)
    }

    fn lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), BackendError> {
        Ok(())
    }

    fn lock_shared_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), BackendError> {
        Ok(())
    }

    fn unlock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), BackendError> {
        Ok(())
    }

    fn query_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Ok(false)
    }
}
