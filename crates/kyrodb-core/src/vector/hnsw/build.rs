//! Graph construction entry point: validate parameters, run the selected builder, then
//! renumber nodes for locality.

use super::graph::FrozenGraph;
use super::reorder::{bfs_order, permute};
use super::{build_hnsw_rs, build_native};
use crate::error::{Error, Result};
use crate::vector::metric::Metric;

/// Which implementation builds the graph.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum GraphBuilder {
    /// KyroDB's own parallel builder (default): hnswlib's neighbour-selection heuristic,
    /// our SIMD kernels, per-node locks, building straight into the frozen layout.
    #[default]
    Native,
    /// The `hnsw_rs` crate (the original design; kept for comparison).
    HnswRs,
}

/// Graph construction parameters.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BuildParams {
    /// Neighbours per node on upper layers (`2·M` on layer 0).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Implementation.
    pub builder: GraphBuilder,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            m: super::DEFAULT_M,
            ef_construction: super::DEFAULT_EF_CONSTRUCTION,
            builder: GraphBuilder::Native,
        }
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

/// Build a graph over `vectors` (row-major, `dim` per row, already in stored form).
/// Returns the frozen graph and `order`, where graph node `u` is input row `order[u]`:
/// the caller stores row `order[u]` as row `u` of the segment's vector block.
/// `progress(done, total)` is called from time to time; `keep_going` returning `false`
/// aborts the build (with `CLOSED`).
pub fn build_graph(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: BuildParams,
    progress: &mut dyn FnMut(usize, usize),
    keep_going: &dyn Fn() -> bool,
) -> Result<(FrozenGraph, Vec<u32>)> {
    params.validate()?;
    let n = vectors.len() / dim.max(1);
    if n == 0 || dim == 0 || vectors.len() % dim != 0 {
        return Err(Error::Internal(format!(
            "build_graph needs whole rows, got {} floats for dim {dim}",
            vectors.len()
        )));
    }
    if n > u32::MAX as usize - 1 {
        return Err(Error::invalid("a segment holds at most 2^32 − 2 vectors"));
    }
    let graph = match params.builder {
        GraphBuilder::Native => build_native::build(vectors, dim, metric, params, progress, keep_going)?,
        GraphBuilder::HnswRs => build_hnsw_rs::build(vectors, dim, metric, params, progress, keep_going)?,
    };
    let mut graph = graph;
    ensure_reachable(&mut graph, vectors, metric);
    let order = bfs_order(&graph);
    Ok((permute(&graph, &order), order))
}

/// Rounds of reachability repair before giving up (each round fixes every unreached node
/// that has a reached out-neighbour; replaced edges are re-checked by the next round).
const REPAIR_ROUNDS: usize = 8;
/// Unreached nodes that may each be repaired with a full scan for a parent.
const MAX_SCANNED_REPAIRS: usize = 256;

/// Make every node reachable on layer 0 from the entry point. The neighbour-selection
/// heuristic can leave a node with no incoming edges (its neighbours all pruned it in
/// favour of closer ones): such a vector could never be returned by a search. For each
/// unreached node, link it from its closest already-reached out-neighbour, evicting that
/// neighbour's farthest edge when its list is full.
fn ensure_reachable(g: &mut FrozenGraph, vectors: &[f32], metric: Metric) {
    let k = crate::simd::kernels();
    let dim = g.dim;
    let vec = |u: u32| &vectors[u as usize * dim..(u as usize + 1) * dim];
    let stride = g.stride0();
    for _ in 0..REPAIR_ROUNDS {
        let mut reached = vec![false; g.n];
        let mut stack = vec![g.entry];
        reached[g.entry as usize] = true;
        while let Some(u) = stack.pop() {
            for &v in g.neighbours0(u) {
                if !std::mem::replace(&mut reached[v as usize], true) {
                    stack.push(v);
                }
            }
        }
        let unreached: Vec<u32> = (0..g.n as u32).filter(|&u| !reached[u as usize]).collect();
        if unreached.is_empty() {
            return;
        }
        let mut fixed = 0;
        let few = unreached.len() <= MAX_SCANNED_REPAIRS;
        for u in unreached {
            let closest_reached = |candidates: &mut dyn Iterator<Item = u32>| {
                candidates
                    .filter(|&e| reached[e as usize] && e != u)
                    .map(|e| (metric.distance(k, vec(u), vec(e)), e))
                    .min_by(|a, b| a.0.total_cmp(&b.0))
            };
            // Prefer an out-neighbour; a node with none reached (or no list at all) gets its
            // closest reached node by a scan, affordable for the handful this concerns.
            let parent = closest_reached(&mut g.neighbours0(u).iter().copied()).or_else(|| {
                if few {
                    closest_reached(&mut (0..g.n as u32))
                } else {
                    None
                }
            });
            let Some((_, e)) = parent else { continue };
            let start = e as usize * stride;
            let degree = g.adj0[start] as usize;
            if degree < 2 * g.m {
                g.adj0[start + 1 + degree] = u;
                g.adj0[start] += 1;
            } else {
                let (slot, _) = (0..degree)
                    .map(|j| (j, metric.distance(k, vec(e), vec(g.adj0[start + 1 + j]))))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((degree - 1, 0.0));
                g.adj0[start + 1 + slot] = u;
            }
            fixed += 1;
        }
        if fixed == 0 {
            return;
        }
    }
}
