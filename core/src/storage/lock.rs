//! The directory lock: one process (and one engine within it) owns a database directory at
//! a time. The lock is an OS advisory lock on `LOCK`, released when the engine closes or the
//! process dies, so a crash never leaves the directory locked.

use crate::error::{err, Error, ErrorKind, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// Holds the directory lock while alive.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir`, or fails with `AlreadyOpen`.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("LOCK");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::with_source(ErrorKind::Storage, format!("cannot create {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(err(
                ErrorKind::AlreadyOpen,
                format!("database directory {} is already open (by this or another process)", dir.display()),
            )),
            Err(TryLockError::Error(e)) => {
                Err(Error::with_source(ErrorKind::Storage, format!("cannot lock {}", path.display()), e))
            }
        }
    }
}
