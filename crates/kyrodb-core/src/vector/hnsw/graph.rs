//! The frozen, search-friendly graph layout.
//!
//! Node `u` (0..n) is row `u` of [`FrozenGraph::vectors`]. Layout:
//! - layer 0: `adj0[u * stride0]` holds the degree `d ≤ 2M`, followed by `d` neighbour
//!   ids (fixed stride `stride0 = 2M + 1`: one multiply finds a node's list);
//! - upper layers: `upper_slot[u]` is `u32::MAX` for nodes that live on layer 0 only
//!   (about `1 − 1/M` of them); otherwise node `u`'s list on layer `l ≥ 1` starts at
//!   `upper_adj[upper_slot[u] + (l − 1) · strideU]`, with `strideU = M + 1` and the same
//!   degree-then-ids encoding;
//! - `levels[u]` is the top layer of node `u`; `entry` is a node on the top layer.
//!
//! The vectors are not part of the graph: node `u` is row `u` of the segment's vector
//! block, which the builder's caller lays out in the graph's node order.

use crate::storage::slab::Slab;

/// A built HNSW graph in the layout the search kernel reads.
#[derive(Debug)]
pub struct FrozenGraph {
    /// Number of nodes.
    pub n: usize,
    /// Components per vector.
    pub dim: usize,
    /// `M` the graph was built with.
    pub m: usize,
    /// Entry node (on the top layer).
    pub entry: u32,
    /// Top layer of the graph.
    pub max_level: u8,
    /// Top layer of each node.
    pub levels: Slab<u8>,
    /// Layer-0 adjacency, fixed stride `2M + 1`.
    pub adj0: Slab<u32>,
    /// Per node: start of its upper-layer lists in `upper_adj`, or `u32::MAX`.
    pub upper_slot: Slab<u32>,
    /// Upper-layer adjacency, `levels[u]` lists of stride `M + 1` per upper node.
    pub upper_adj: Slab<u32>,
}

impl FrozenGraph {
    /// Stride of one layer-0 list.
    #[inline(always)]
    pub fn stride0(&self) -> usize {
        2 * self.m + 1
    }

    /// Neighbours of `u` on layer 0.
    #[inline(always)]
    pub fn neighbours0(&self, u: u32) -> &[u32] {
        let start = u as usize * self.stride0();
        let d = self.adj0[start] as usize;
        &self.adj0[start + 1..start + 1 + d]
    }

    /// Hint the CPU to load node `u`'s layer-0 list (degree and ids, 132 bytes at M = 16).
    #[inline(always)]
    pub fn prefetch0(&self, u: u32) {
        let start = (u as usize * self.stride0()).min(self.adj0.len());
        let end = (start + self.stride0()).min(self.adj0.len());
        crate::simd::prefetch(&self.adj0[start..end], usize::MAX);
    }

    /// Neighbours of `u` on layer `level ≥ 1` (empty if `u` is not on that layer).
    #[inline]
    pub fn neighbours_upper(&self, u: u32, level: u8) -> &[u32] {
        let slot = self.upper_slot[u as usize];
        if slot == u32::MAX || level > self.levels[u as usize] {
            return &[];
        }
        let start = slot as usize + (level as usize - 1) * (self.m + 1);
        let d = self.upper_adj[start] as usize;
        &self.upper_adj[start + 1..start + 1 + d]
    }

    /// A second handle on a graph read from a file (the slabs share the mapping), for a
    /// build to grow without holding the collection's lock; `None` for a graph in memory
    /// (copying it would take the lock's time).
    pub fn share_mapped(&self) -> Option<FrozenGraph> {
        fn share<T: crate::storage::slab::Pod>(s: &Slab<T>) -> Option<Slab<T>> {
            match s {
                Slab::Mapped { map, offset, len } => {
                    Some(Slab::Mapped { map: map.clone(), offset: *offset, len: *len })
                }
                Slab::Owned(_) => None,
            }
        }
        Some(FrozenGraph {
            n: self.n,
            dim: self.dim,
            m: self.m,
            entry: self.entry,
            max_level: self.max_level,
            levels: share(&self.levels)?,
            adj0: share(&self.adj0)?,
            upper_slot: share(&self.upper_slot)?,
            upper_adj: share(&self.upper_adj)?,
        })
    }

    /// Bytes held by the adjacency.
    pub fn memory_bytes(&self) -> usize {
        (self.adj0.len() + self.upper_adj.len() + self.upper_slot.len()) * 4 + self.levels.len()
    }
}
