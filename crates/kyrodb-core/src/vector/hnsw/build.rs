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
        BuildParams { m: super::DEFAULT_M, ef_construction: super::DEFAULT_EF_CONSTRUCTION, builder: GraphBuilder::Native }
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
        return Err(Error::Internal(format!("build_graph needs whole rows, got {} floats for dim {dim}", vectors.len())));
    }
    if n > u32::MAX as usize - 1 {
        return Err(Error::invalid("a segment holds at most 2^32 − 2 vectors"));
    }
    let graph = match params.builder {
        GraphBuilder::Native => build_native::build(vectors, dim, metric, params, progress, keep_going)?,
        GraphBuilder::HnswRs => build_hnsw_rs::build(vectors, dim, metric, params, progress, keep_going)?,
    };
    let order = bfs_order(&graph);
    Ok((permute(&graph, &order), order))
}
