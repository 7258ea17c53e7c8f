//! KyroDB engine: vector collections with exact SIMD search (HNSW segments, durability and
//! the learned-index KV store land on top of this), usable from Rust alone. The Node
//! binding (`crates/kyrodb-node`) is a thin layer over this crate.
//!
//! Map of the crate:
//! - [`simd`]: distance kernels, one version per instruction set, chosen at runtime;
//! - [`vector`]: collections — rows, ids, metadata, exact top-k search;
//! - [`storage`]: write-ahead log, segment files, manifest, directory lock, recovery;
//! - [`db`]: the [`Database`] handle that owns collections;
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
