//! HNSW graph index over one immutable segment.
//!
//! The graph is **built** by our own parallel builder (`build_native.rs`, the default;
//! `build_hnsw_rs.rs` keeps the `hnsw_rs` crate as a reference builder selectable from
//! Rust with the `hnsw-rs` feature) straight into our own layout
//! ([`graph::FrozenGraph`]): fixed-stride adjacency on layer 0, compact upper layers, nodes renumbered by BFS from the entry point so that
//! neighbours sit close in memory, and the vectors (and their 8-bit codes) in one
//! 64-byte-aligned block in the same order. [`search`] walks the frozen arrays with the
//! runtime-selected SIMD kernels, a reusable per-thread visited bitset and software
//! prefetch. Why not `hnsw_rs`: `docs/decisions/0006-native-hnsw-builder.md`.

pub mod build;
mod build_hnsw_rs;
mod build_native;
pub mod graph;
pub mod reorder;
mod scratch;
pub mod search;

pub use build::{build_graph, build_graph_seeded, BuildParams, GraphBuilder};
pub use graph::FrozenGraph;
pub use search::{search_graph_with, Admission, ExactRows, NodeDistance, QuantRows};

/// Default `M` (neighbours per node on upper layers; layer 0 keeps `2·M`).
pub const DEFAULT_M: usize = 16;
/// Default `efConstruction`.
pub const DEFAULT_EF_CONSTRUCTION: usize = 200;
/// Default search-time `ef` (before it is raised to at least `k`).
pub const DEFAULT_EF_SEARCH: usize = 64;
/// Largest accepted `M`.
pub const MAX_M: usize = 64;
/// Largest accepted `efConstruction` and search `ef`.
pub const MAX_EF: usize = 10_000;
