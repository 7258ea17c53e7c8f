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

pub mod db;
pub mod error;
pub mod kv;
pub mod simd;
pub mod storage;
pub mod sync;
pub mod tiers;
pub mod vector;

pub use db::Database;
pub use error::{Error, Result};
pub use storage::{Durability, OpenOptions};
pub use vector::{Collection, CollectionConfig, IndexConfig, Metric, SearchHits, SearchParams};
