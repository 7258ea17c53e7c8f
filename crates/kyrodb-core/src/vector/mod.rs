//! Vector collections: rows of `f32` vectors with `u64` ids and optional JSON metadata,
//! searched exactly in the hot tier and through HNSW graphs (over 8-bit codes, re-ranked
//! exactly) in segments.
//!
//! - [`metric`]: the distance a collection ranks by, and input checks tied to it;
//! - [`topk`]: the bounded best-k selection shared by every search;
//! - [`exact`]: brute-force scans, one query or a tiled batch over all cores;
//! - [`ids`]: id types (`u64`, or strings keyed by their 64-bit hash);
//! - [`row`]: parsed metadata and the hot tier of recent writes;
//! - [`hnsw`]: graph build (our parallel builder; `hnsw_rs` as a reference with the
//!   `hnsw-rs` feature), frozen layout, search kernel;
//! - [`quant`]: 8-bit scalar quantization of segment rows for the graph walk;
//! - [`filter`]: metadata filters (two syntaxes, evaluation, inverted indexes);
//! - [`segment`]: an immutable segment (vectors, ids, metadata, graph, tombstones);
//! - [`collection`]: the collection itself (validation, write and read paths over the hot
//!   tier and segments; `collection/maintenance.rs`: builds, merges, swaps, checkpoints).

pub mod aligned;
pub mod collection;
pub mod exact;
pub mod filter;
pub mod hnsw;
pub mod ids;
pub mod metric;
pub mod quant;
pub mod row;
pub mod segment;
pub mod topk;

pub use collection::{
    Collection, CollectionConfig, CollectionStats, IndexConfig, SearchHits, SearchParams, MAX_BATCH, MAX_DIMENSION,
    MAX_K,
};
pub use ids::{IdType, MAX_STRING_ID_BYTES};
pub use metric::Metric;
