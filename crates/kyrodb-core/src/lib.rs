//! KyroDB engine: vector collections (an exactly searched hot tier in front of HNSW graph
//! segments), a key-value store with learned-index runs, and their durability (WAL,
//! segment files, manifest), usable from Rust alone. The Node binding
//! (`crates/kyrodb-node`) is a thin layer over this crate; `docs/ARCHITECTURE.md` is the
//! map.
//!
//! Map of the crate:
//! - [`simd`]: distance kernels, one version per instruction set, chosen at runtime;
//! - [`vector`]: collections — hot tier, segments, HNSW graphs, filters, search;
//! - [`kv`]: the key-value store — memtable, sorted runs with learned indexes, merges;
//! - [`storage`]: write-ahead log, segment files, manifest, directory lock, recovery;
//! - [`db`]: the [`Database`] handle that owns collections and the key-value store;
//! - [`tiers`]: the size tiers of background merges;
//! - [`sync`]: the locks the concurrency model tests swap for `shuttle`'s;
//! - [`error`]: the one error type, each variant with a stable `code()`.
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]
//!
//! **The public API is the list of re-exports below** (what the Node binding uses, and
//! what a Rust user needs): the database, collections and their options and results,
//! filters, the key-value store, errors, and two facts about the machine. The modules are
//! internals: they stay reachable (hidden from the docs) only for this crate's own
//! integration tests, examples, benchmarks and fuzz targets, and may change in any
//! release. Code outside this repository should use the names re-exported here.

#[doc(hidden)]
pub mod cache;
#[doc(hidden)]
pub mod db;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod kv;
#[doc(hidden)]
pub mod simd;
#[doc(hidden)]
pub mod storage;
#[doc(hidden)]
pub mod sync;
#[doc(hidden)]
pub mod tiers;
#[doc(hidden)]
pub mod vector;

pub use cache::admission::AdmissionMode;
pub use cache::query::{QueryCacheStats, DEFAULT_QUERY_CACHE_BYTES};
pub use db::{CollectionInfo, CollectionWrite, Database, DatabaseStats, GroupOp, GroupWrite, KvWrite};
pub use error::{Error, Result};
pub use kv::stats::KvStats;
pub use kv::{
    KvConfig, KvStore, Value, ValueKind, Write, DEFAULT_MEMTABLE_BYTES, DEFAULT_RMI_REBUILD_APPENDS, MAX_BATCH_BYTES,
    MAX_BATCH_OPS, MAX_VALUE_BYTES,
};
pub use simd::bandwidth::measure_read_gbps;
pub use storage::{Durability, OpenOptions};
pub use vector::collection::{
    ScanPage, StoredVector, DEFAULT_AUTO_BUILD_ROWS, DEFAULT_UNINDEXED_FACTOR, MAX_METADATA_BYTES,
};
pub use vector::filter::Filter;
pub use vector::hnsw::{BuildParams, GraphBuilder};
pub use vector::{
    Collection, CollectionConfig, CollectionStats, IdType, IndexConfig, Metric, SearchHits, SearchParams, MAX_BATCH,
    MAX_DIMENSION, MAX_K, MAX_STRING_ID_BYTES,
};

/// The instruction set the distance kernels use on this machine (`avx512`, `avx2`,
/// `neon` or `scalar`), chosen once at runtime.
pub fn simd_level() -> &'static str {
    simd::kernels().level().name()
}
