//! Graph construction with the `hnsw_rs` crate, exported into a [`FrozenGraph`].
//!
//! Kept as the reference builder: `BuildParams { builder: GraphBuilder::HnswRs, .. }`
//! selects it, and `tests/hnsw_graph.rs` / `docs/decisions/0006-native-hnsw-builder.md`
//! compare it with the native builder, which replaced it as the default (faster, and
//! better graphs).
//!
//! Only with the crate feature `hnsw-rs` (off by default: the crate brings 46 of the 103
//! crates in the binding's dependency tree, and no default build needs it). Without it,
//! selecting this builder fails with `INVALID_ARGUMENT`; the variant stays in the enum
//! either way, so the feature only adds behaviour and never changes the public API.

use super::build::BuildParams;
use super::graph::FrozenGraph;
use crate::error::{Error, Result};
use crate::vector::metric::Metric;

/// Without the `hnsw-rs` feature: the builder is not compiled in.
#[cfg(not(feature = "hnsw-rs"))]
pub(super) fn build(
    _vectors: &[f32],
    _dim: usize,
    _metric: Metric,
    _params: BuildParams,
    _progress: &mut dyn FnMut(usize, usize),
    _keep_going: &dyn Fn() -> bool,
) -> Result<FrozenGraph> {
    Err(Error::invalid("GraphBuilder::HnswRs needs kyrodb-core built with the `hnsw-rs` feature"))
}

#[cfg(feature = "hnsw-rs")]
pub(super) use with_hnsw_rs::build;

#[cfg(feature = "hnsw-rs")]
mod with_hnsw_rs {
    use super::*;
    use crate::simd::kernels;
    use hnsw_rs::hnsw::Hnsw;

    /// `hnsw_rs` distance adapter over our SIMD kernels (vectors are already in stored form).
    struct KernelDistance(Metric);

    impl anndists::dist::Distance<f32> for KernelDistance {
        fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
            self.0.distance(kernels(), a, b)
        }
    }

    /// Rows inserted between two progress reports (and two cancellation checks).
    const INSERT_CHUNK: usize = 4096;

    /// Build with `hnsw_rs` and export its graph (nodes in input order).
    pub(in super::super) fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: BuildParams,
        progress: &mut dyn FnMut(usize, usize),
        keep_going: &dyn Fn() -> bool,
    ) -> Result<FrozenGraph> {
        let n = vectors.len() / dim;
        let hnsw: Hnsw<f32, KernelDistance> =
            Hnsw::new(params.m, n, 16, params.ef_construction, KernelDistance(metric));
        let rows: Vec<(&[f32], usize)> = vectors.chunks_exact(dim).enumerate().map(|(i, v)| (v, i)).collect();
        for (c, chunk) in rows.chunks(INSERT_CHUNK).enumerate() {
            if !keep_going() {
                return Err(Error::Closed);
            }
            hnsw.parallel_insert_slice(&chunk.to_vec());
            progress((c * INSERT_CHUNK + chunk.len()).min(n), n);
        }

        // Export: per input row, its top layer and its neighbour lists (input row ids).
        let mut levels = vec![0u8; n];
        let mut lists: Vec<Vec<Vec<u32>>> = vec![Vec::new(); n];
        for point in hnsw.get_point_indexation() {
            let row = point.get_origin_id();
            levels[row] = point.get_point_id().0;
            lists[row] = point
                .get_neighborhood_id()
                .into_iter()
                .map(|layer| layer.into_iter().map(|nb| nb.d_id as u32).collect())
                .collect();
        }
        let max_level = hnsw.get_point_indexation().get_max_level_observed();
        let entry_row = hnsw
            .get_point_indexation()
            .get_layer_iterator(max_level as usize)
            .next()
            .map(|p| p.get_origin_id())
            .ok_or_else(|| Error::Internal("hnsw_rs graph has no entry point".into()))?;
        drop(hnsw);

        Ok(from_lists(dim, params.m, max_level, entry_row as u32, &levels, &lists))
    }

    /// Lay out per-node neighbour lists (`lists[u][layer]`, input order) as a [`FrozenGraph`].
    fn from_lists(
        dim: usize,
        m: usize,
        max_level: u8,
        entry_row: u32,
        levels_by_row: &[u8],
        lists: &[Vec<Vec<u32>>],
    ) -> FrozenGraph {
        let n = lists.len();
        let order: Vec<u32> = (0..n as u32).collect();
        let new_of_row = order.clone();
        let stride0 = 2 * m + 1;
        let stride_u = m + 1;
        let mut adj0 = vec![0u32; n * stride0];
        let mut levels = vec![0u8; n];
        let mut upper_slot = vec![u32::MAX; n];
        let mut upper_adj = Vec::new();
        for (u, &row) in order.iter().enumerate() {
            let row = row as usize;
            let level = levels_by_row[row];
            levels[u] = level;
            let node_lists = &lists[row];
            if let Some(l0) = node_lists.first() {
                let d = l0.len().min(2 * m);
                adj0[u * stride0] = d as u32;
                for (j, &v) in l0.iter().take(d).enumerate() {
                    adj0[u * stride0 + 1 + j] = new_of_row[v as usize];
                }
            }
            if level > 0 {
                upper_slot[u] = upper_adj.len() as u32;
                for l in 1..=level as usize {
                    let list = node_lists.get(l).map(Vec::as_slice).unwrap_or(&[]);
                    let d = list.len().min(m);
                    let start = upper_adj.len();
                    upper_adj.resize(start + stride_u, 0);
                    upper_adj[start] = d as u32;
                    for (j, &v) in list.iter().take(d).enumerate() {
                        upper_adj[start + 1 + j] = new_of_row[v as usize];
                    }
                }
            }
        }
        FrozenGraph {
            n,
            dim,
            m,
            entry: new_of_row[entry_row as usize],
            max_level,
            levels: levels.into(),
            adj0: adj0.into(),
            upper_slot: upper_slot.into(),
            upper_adj: upper_adj.into(),
        }
    }
}
