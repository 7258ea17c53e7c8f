//! Layer 1 of the read path: caches in front of the collections.
//!
//! - [`query`]: answers to repeated searches, exact and never stale (validated lazily
//!   against the collection's write history), bounded by bytes.
//! - [`near`]: near-repeat answers — a search close to a cached one, answered from its
//!   candidates when the triangle inequality proves them complete (off by default).
//! - [`admission`]: whether a new answer may displace an old one — TinyLFU's frequency
//!   test, or a logistic model retrained in the background on the cache's access log.
//!
//! Not built (see `docs/ARCHITECTURE.md` § Not built yet): a hot-document cache.

pub mod admission;
pub mod near;
pub mod query;
