//! Layer 1 of the read path: caches in front of the collections.
//!
//! - [`query`]: answers to repeated searches, exact and never stale (validated lazily
//!   against the collection's write history), bounded by bytes, TinyLFU admission.
//!
//! Not built yet (see `docs/ARCHITECTURE.md` § Not built yet): near-repeat answers with a
//! distance guarantee, a learned admission policy, a hot-document cache.

pub mod query;
