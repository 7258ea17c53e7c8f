//! Vector collections: rows of `f32` vectors with `u64` ids and optional JSON metadata,
//! searched exactly with the SIMD kernels.
//!
//! - [`metric`]: the distance a collection ranks by, and input checks tied to it;
//! - [`topk`]: the bounded best-k selection shared by every search;
//! - [`exact`]: brute-force scans, one query or a tiled batch over all cores;
//! - [`collection`]: the collection itself (validation, upsert/delete, search).

pub mod aligned;
pub mod collection;
pub mod exact;
pub mod hnsw;
pub mod metric;
pub mod topk;

pub use collection::{Collection, CollectionConfig, SearchHits, MAX_BATCH, MAX_DIMENSION, MAX_K};
pub use metric::Metric;
