//! One writer per directory: an exclusive OS lock on `LOCK`, held for as long as the
//! database is open. The OS drops it when the process dies, so a killed holder never
//! leaves the directory locked. Locks are per open file, so a second open in the same
//! process is refused too.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// File name of the lock in the database directory.
pub const FILE: &str = "LOCK";

/// The held lock; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Take the lock on `dir`, failing at once with `LOCKED` if someone holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked(format!(
                "the database at {} is already open (in this or another process); close it first",
                dir.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::Io(format!("cannot lock {}: {e}", path.display()))),
        }
    }
}
