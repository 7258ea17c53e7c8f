//! Build a graph with `hnsw_rs`, then freeze it into [`FrozenGraph`].

use super::graph::FrozenGraph;
use crate::error::{Error, Result};
use crate::simd::kernels;
use crate::vector::metric::Metric;
use hnsw_rs::hnsw::Hnsw;
use std::collections::VecDeque;

/// Graph construction parameters.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BuildParams {
    /// Neighbours per node on upper layers (`2·M` on layer 0).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams { m: super::DEFAULT_M, ef_construction: super::DEFAULT_EF_CONSTRUCTION }
    }
}

impl BuildParams {
    /// Check ranges (`2 ≤ M ≤ 64`, `1 ≤ efConstruction ≤ 10000`).
    pub fn validate(&self) -> Result<()> {
        if !(2..=super::MAX_M).contains(&self.m) {
            return Err(Error::invalid(format!("index.m must be an integer in 2..={}, got {}", super::MAX_M, self.m)));
        }
        if !(1..=super::MAX_EF).contains(&self.ef_construction) {
            return Err(Error::invalid(format!(
                "index.efConstruction must be an integer in 1..={}, got {}",
                super::MAX_EF,
                self.ef_construction
            )));
        }
        Ok(())
    }
}

/// `hnsw_rs` distance adapter over our SIMD kernels (vectors are already in stored form).
struct KernelDistance(Metric);

impl anndists::dist::Distance<f32> for KernelDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        self.0.distance(kernels(), a, b)
    }
}

/// Rows inserted between two progress reports (and two cancellation checks).
const INSERT_CHUNK: usize = 4096;

/// Build a graph over `vectors` (row-major, `dim` per row, already in stored form).
/// Returns the frozen graph and `order`, where graph node `u` is input row `order[u]`:
/// the caller stores row `order[u]` as row `u` of the segment's vector block.
/// `progress(done, total)` is called after every chunk of inserts; returning `false`
/// from `keep_going` between chunks aborts the build.
pub fn build_graph(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: BuildParams,
    progress: &mut dyn FnMut(usize, usize),
    keep_going: &dyn Fn() -> bool,
) -> Result<(FrozenGraph, Vec<u32>)> {
    params.validate()?;
    let n = vectors.len() / dim;
    if n == 0 || vectors.len() % dim != 0 {
        return Err(Error::Internal(format!("build_graph needs whole rows, got {} floats for dim {dim}", vectors.len())));
    }
    let hnsw: Hnsw<f32, KernelDistance> = Hnsw::new(params.m, n, 16, params.ef_construction, KernelDistance(metric));
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

    let order = bfs_order(n, entry_row as u32, &lists);
    Ok((freeze(dim, params.m, max_level, entry_row as u32, &levels, &lists, &order), order))
}

/// Node order for locality: breadth-first over layer 0 from the entry point, so nodes
/// visited together by a search are stored together; rows the BFS cannot reach (rare:
/// hnsw_rs prunes edges) start new BFS trees in input order.
fn bfs_order(n: usize, entry: u32, lists: &[Vec<Vec<u32>>]) -> Vec<u32> {
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut queue = VecDeque::new();
    let roots = std::iter::once(entry as usize).chain(0..n);
    for root in roots {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        queue.push_back(root as u32);
        while let Some(u) = queue.pop_front() {
            order.push(u);
            for &v in lists[u as usize].first().map(Vec::as_slice).unwrap_or(&[]) {
                if !std::mem::replace(&mut seen[v as usize], true) {
                    queue.push_back(v);
                }
            }
        }
    }
    order
}

#[allow(clippy::too_many_arguments)]
fn freeze(
    dim: usize,
    m: usize,
    max_level: u8,
    entry_row: u32,
    levels_by_row: &[u8],
    lists: &[Vec<Vec<u32>>],
    order: &[u32],
) -> FrozenGraph {
    let n = order.len();
    let mut new_of_row = vec![0u32; n];
    for (u, &row) in order.iter().enumerate() {
        new_of_row[row as usize] = u as u32;
    }
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
        levels,
        adj0,
        upper_slot,
        upper_adj,
    }
}
