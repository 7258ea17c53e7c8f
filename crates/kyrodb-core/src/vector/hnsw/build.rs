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
    build_graph_seeded(vectors, dim, metric, params, None, progress, keep_going)
}

/// [`build_graph`] that grows `seed`, a graph over the first `seed.n` rows of `vectors`
/// (built with the same `m`; the native builder only — another builder, or a seed that
/// does not fit, builds from scratch): only the rows after them are inserted.
#[allow(clippy::too_many_arguments)]
pub fn build_graph_seeded(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: BuildParams,
    seed: Option<&FrozenGraph>,
    progress: &mut dyn FnMut(usize, usize),
    keep_going: &dyn Fn() -> bool,
) -> Result<(FrozenGraph, Vec<u32>)> {
    params.validate()?;
    let n = vectors.len() / dim.max(1);
    if n == 0 || dim == 0 || !vectors.len().is_multiple_of(dim) {
        return Err(Error::Internal(format!(
            "build_graph needs whole rows, got {} floats for dim {dim}",
            vectors.len()
        )));
    }
    if n > u32::MAX as usize - 1 {
        return Err(Error::invalid("a segment holds at most 2^32 − 2 vectors"));
    }
    let graph = match params.builder {
        GraphBuilder::Native => build_native::build(vectors, dim, metric, params, seed, progress, keep_going)?,
        GraphBuilder::HnswRs => build_hnsw_rs::build(vectors, dim, metric, params, progress, keep_going)?,
    };
    let mut graph = graph;
    ensure_reachable(&mut graph, vectors, metric);
    let order = bfs_order(&graph);
    Ok((permute(&graph, &order), order))
}

/// Marks a node not (yet) reached from the entry point in the spanning tree below.
const UNREACHED: u32 = u32::MAX;

/// Make every node reachable on layer 0 from the entry point. The neighbour-selection
/// heuristic can leave a node with no incoming edges (its neighbours all pruned it in
/// favour of closer ones): such a vector could never be returned by a search.
///
/// Keeps a spanning tree of the reached part (`parent[v]` = the node whose edge first
/// reached `v`). Each unreached node is linked from its closest reached out-neighbour;
/// when that neighbour's list is full, the farthest edge that is *not* a tree edge is
/// replaced, so no reached node is ever cut off again and one pass over each unreached
/// part suffices. A part none of whose out-edges leads back (a disconnected island) is
/// joined through the closest reached node found by a scan, once per island.
fn ensure_reachable(g: &mut FrozenGraph, vectors: &[f32], metric: Metric) {
    let k = crate::simd::kernels();
    let dim = g.dim;
    let vec = |u: u32| &vectors[u as usize * dim..(u as usize + 1) * dim];
    let mut parent = vec![UNREACHED; g.n];
    parent[g.entry as usize] = g.entry;
    spread(g, &mut parent, g.entry);
    loop {
        let unreached: Vec<u32> = (0..g.n as u32).filter(|&u| parent[u as usize] == UNREACHED).collect();
        if unreached.is_empty() {
            return;
        }
        let mut progress = false;
        for &u in &unreached {
            if parent[u as usize] != UNREACHED {
                continue; // reached through a node linked earlier in this pass
            }
            let mut candidates: Vec<(f32, u32)> = g
                .neighbours0(u)
                .iter()
                .filter(|&&e| parent[e as usize] != UNREACHED)
                .map(|&e| (metric.distance(k, vec(u), vec(e)), e))
                .collect();
            candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
            if candidates.iter().any(|&(_, e)| link(g, &mut parent, e, u, &vec, metric)) {
                spread(g, &mut parent, u);
                progress = true;
            }
        }
        if !progress {
            // An island: scan for the reached nodes closest to one of its members.
            let u = unreached.into_iter().find(|&u| parent[u as usize] == UNREACHED).expect("unreached");
            let mut candidates: Vec<(f32, u32)> = (0..g.n as u32)
                .filter(|&e| parent[e as usize] != UNREACHED)
                .map(|e| (metric.distance(k, vec(u), vec(e)), e))
                .collect();
            candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !candidates.iter().any(|&(_, e)| link(g, &mut parent, e, u, &vec, metric)) {
                return; // every reached list is all tree edges: cannot happen with n > 2M + 1
            }
            spread(g, &mut parent, u);
        }
    }
}

/// Add the edge `e → u` (`e` reached, `u` not), replacing `e`'s farthest non-tree edge if
/// its list is full. Returns `false` when every edge of a full list is a tree edge.
fn link<'a>(
    g: &mut FrozenGraph,
    parent: &mut [u32],
    e: u32,
    u: u32,
    vec: &impl Fn(u32) -> &'a [f32],
    metric: Metric,
) -> bool {
    let k = crate::simd::kernels();
    let start = e as usize * g.stride0();
    let degree = g.adj0[start] as usize;
    if degree < 2 * g.m {
        g.adj0[start + 1 + degree] = u;
        g.adj0[start] += 1;
    } else {
        let farthest_non_tree = (0..degree)
            .filter(|&j| parent[g.adj0[start + 1 + j] as usize] != e)
            .map(|j| (j, metric.distance(k, vec(e), vec(g.adj0[start + 1 + j]))))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((slot, _)) = farthest_non_tree else { return false };
        g.adj0[start + 1 + slot] = u;
    }
    parent[u as usize] = e;
    true
}

/// Extend the spanning tree with everything newly reachable from `from` (already reached).
fn spread(g: &FrozenGraph, parent: &mut [u32], from: u32) {
    let mut stack = vec![from];
    while let Some(u) = stack.pop() {
        for &v in g.neighbours0(u) {
            if parent[v as usize] == UNREACHED {
                parent[v as usize] = u;
                stack.push(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer-0-only graph with `m = 1` (lists of at most 2) from explicit lists.
    fn graph(lists: &[&[u32]]) -> FrozenGraph {
        let mut adj0 = Vec::new();
        for list in lists {
            adj0.push(list.len() as u32);
            adj0.extend_from_slice(list);
            adj0.resize(adj0.len() + 2 - list.len(), 0);
        }
        FrozenGraph {
            n: lists.len(),
            dim: 1,
            m: 1,
            entry: 0,
            max_level: 0,
            levels: vec![0u8; lists.len()].into(),
            adj0: adj0.into(),
            upper_slot: vec![u32::MAX; lists.len()].into(),
            upper_adj: Vec::new().into(),
        }
    }

    fn unreachable_count(g: &FrozenGraph) -> usize {
        let mut parent = vec![UNREACHED; g.n];
        parent[g.entry as usize] = g.entry;
        spread(g, &mut parent, g.entry);
        parent.iter().filter(|&&p| p == UNREACHED).count()
    }

    #[test]
    fn repair_never_cuts_a_tree_edge_and_joins_islands() {
        // Node i sits at x = i, except node 6 at x = −1 (closest to the entry 0).
        let vectors = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0];
        let mut g = graph(&[
            &[1, 2], // entry: full, both edges are the only way to 1 and 2
            &[0, 3], // full; the edge back to 0 is not a tree edge
            &[0],
            &[1],
            &[5], // island {4, 5}
            &[4],
            &[0, 1], // unreached; its closest out-neighbour (0) has only tree edges
        ]);
        assert_eq!(unreachable_count(&g), 3);
        ensure_reachable(&mut g, &vectors, Metric::L2);
        assert_eq!(unreachable_count(&g), 0);
        assert_eq!(g.neighbours0(0), &[1, 2], "tree edges of the entry kept");
        assert_eq!(g.neighbours0(1), &[6, 3], "non-tree edge 1 → 0 replaced");
        assert_eq!(g.neighbours0(3), &[1, 4], "island joined from its closest reached node");
    }
}
