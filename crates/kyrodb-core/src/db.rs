//! The database handle: owns the collections and the closed flag every handle checks.
//!
//! Storage is in memory for now; the directory given to [`Database::open`] is created so
//! that durable storage can live there (write-ahead log, segments) without changing the API.

use crate::error::{Error, Result};
use crate::vector::{Collection, CollectionConfig};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A KyroDB database.
#[derive(Debug)]
pub struct Database {
    path: Option<PathBuf>,
    closed: Arc<AtomicBool>,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
}

/// Summary of one collection, as listed by [`Database::list_collections`].
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionInfo {
    /// Name.
    pub name: String,
    /// Dimension and metric.
    pub config: CollectionConfig,
    /// Live vectors.
    pub count: usize,
}

/// Check a collection name against `^[A-Za-z0-9_-]{1,64}$`, so a name is always a safe
/// file name and a safe URL path segment.
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok =
        (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid collection name {name:?}: use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'"
        )))
    }
}

impl Database {
    /// Open a database; `path` (created if missing) is where durable data will live,
    /// `None` keeps everything in memory.
    pub fn open(path: Option<&Path>) -> Result<Database> {
        if let Some(p) = path {
            std::fs::create_dir_all(p).map_err(|e| Error::Io(format!("cannot create {}: {e}", p.display())))?;
        }
        Ok(Database {
            path: path.map(Path::to_path_buf),
            closed: Arc::new(AtomicBool::new(false)),
            collections: RwLock::new(BTreeMap::new()),
        })
    }

    /// The directory given at open, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Create an empty collection.
    pub fn create_collection(&self, name: &str, config: CollectionConfig) -> Result<Arc<Collection>> {
        self.check_open()?;
        validate_collection_name(name)?;
        config.validate()?;
        let mut map = self.collections.write();
        if map.contains_key(name) {
            return Err(Error::AlreadyExists(format!("collection '{name}' already exists")));
        }
        let c = Arc::new(Collection::new(name.to_string(), config, self.closed.clone()));
        map.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// An existing collection.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        self.check_open()?;
        validate_collection_name(name)?;
        self.collections
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no collection named '{name}'")))
    }

    /// Every collection, by name.
    pub fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        self.check_open()?;
        self.collections
            .read()
            .values()
            .map(|c| Ok(CollectionInfo { name: c.name().to_string(), config: c.config(), count: c.count()? }))
            .collect()
    }

    /// Delete a collection and its data. Handles to it fail with `NOT_FOUND` afterwards.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.check_open()?;
        validate_collection_name(name)?;
        match self.collections.write().remove(name) {
            Some(c) => {
                c.mark_dropped();
                Ok(())
            }
            None => Err(Error::NotFound(format!("no collection named '{name}'"))),
        }
    }

    /// Close the database; every later call on it or its collections fails with `CLOSED`.
    /// Closing twice is allowed.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.collections.write().clear();
    }

    /// Whether [`Database::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
