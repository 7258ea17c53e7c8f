//! The graph search kernel: a descent through the upper layers (a narrow beam on the
//! sparse top layers, greedy on layer 1), then a bounded beam search on layer 0. No
//! allocation per query: the visited marks and both heaps live in a per-thread scratch
//! space that is reused.

use super::graph::FrozenGraph;
use super::scratch::{prefetch, with_scratch, Scored, Scratch};
use crate::simd::Kernels;
use crate::vector::metric::Metric;
use crate::vector::quant::{Sq8, Sq8Query};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Which nodes may appear in results. Every node may still be *traversed*: a deleted or
/// filtered-out node keeps routing the search to its neighbours.
#[derive(Copy, Clone, Debug, Default)]
pub struct Admission<'a> {
    /// Bitset of deleted nodes (bit `u` set = deleted), if any.
    pub deleted: Option<&'a [u64]>,
    /// Bitset of allowed nodes (bit `u` set = allowed), if a filter applies.
    pub allowed: Option<&'a [u64]>,
}

impl Admission<'_> {
    #[inline(always)]
    fn admits(&self, u: u32) -> bool {
        let (w, b) = ((u >> 6) as usize, u & 63);
        let deleted = self.deleted.is_some_and(|d| d.get(w).is_some_and(|x| x >> b & 1 == 1));
        let allowed = self.allowed.is_none_or(|a| a.get(w).is_some_and(|x| x >> b & 1 == 1));
        allowed && !deleted
    }

    fn restricts(&self) -> bool {
        self.deleted.is_some() || self.allowed.is_some()
    }
}

/// What the walk scores nodes with: node `u`'s distance to the query, and a hint to start
/// loading what that distance will read.
pub trait NodeDistance {
    /// Distance from the query to node `u`.
    fn distance(&self, u: u32) -> f32;
    /// Start loading node `u`'s row.
    fn prefetch(&self, u: u32);
}

/// Exact distances to `f32` rows: node `u` is row `u` of `vectors`.
pub struct ExactRows<'a> {
    /// Row-major vectors in node order.
    pub vectors: &'a [f32],
    /// Components per row.
    pub dim: usize,
    /// Metric.
    pub metric: Metric,
    /// Kernel set.
    pub kernels: &'a Kernels,
    /// Query in stored form.
    pub query: &'a [f32],
}

impl NodeDistance for ExactRows<'_> {
    #[inline(always)]
    fn distance(&self, u: u32) -> f32 {
        let s = u as usize * self.dim;
        self.metric.distance(self.kernels, self.query, &self.vectors[s..s + self.dim])
    }
    #[inline(always)]
    fn prefetch(&self, u: u32) {
        prefetch(self.vectors, self.dim, u);
    }
}

/// Approximate distances to 8-bit codes (re-rank the results exactly afterwards).
pub struct QuantRows<'a> {
    /// The codes, in node order.
    pub codes: &'a Sq8,
    /// The query prepared for them.
    pub query: &'a Sq8Query,
    /// Kernel set.
    pub kernels: &'a Kernels,
}

impl NodeDistance for QuantRows<'_> {
    #[inline(always)]
    fn distance(&self, u: u32) -> f32 {
        self.query.distance(self.kernels, self.codes.row(u))
    }
    #[inline(always)]
    fn prefetch(&self, u: u32) {
        self.codes.prefetch(u);
    }
}

/// Search `g` for the nearest admitted nodes to the query that `rows` scores (exact `f32`
/// rows, [`ExactRows`], or quantized codes, [`QuantRows`]) with beam width `ef` (raised to
/// `k` if smaller). Returns up to `ef` `(distance, node)` pairs in no particular order.
pub fn search_graph_with<D: NodeDistance>(
    g: &FrozenGraph,
    rows: &D,
    k: usize,
    ef: usize,
    admission: Admission<'_>,
) -> Vec<(f32, u32)> {
    if g.n == 0 || k == 0 {
        return Vec::new();
    }
    let dist = |u: u32| rows.distance(u);
    let ef = ef.max(k);
    let restricted = admission.restricts();
    with_scratch(|scratch| {
        let Scored(cur_d, cur) = descend(g, rows, scratch);
        let Scratch { visited, candidates, results, neighbours: pending, hop, .. } = scratch;
        visited.begin(g.n);
        candidates.clear();
        results.clear();
        visited.test_and_set(cur);
        candidates.push(Reverse(Scored(cur_d, cur)));
        if admission.admits(cur) {
            results.push(Scored(cur_d, cur));
        }
        let mut bound = if results.len() >= ef { cur_d } else { f32::INFINITY };
        let consider = |v: u32,
                        dv: f32,
                        candidates: &mut BinaryHeap<Reverse<Scored>>,
                        results: &mut BinaryHeap<Scored>,
                        bound: &mut f32| {
            if results.len() < ef || dv < *bound {
                candidates.push(Reverse(Scored(dv, v)));
                if admission.admits(v) {
                    results.push(Scored(dv, v));
                    if results.len() > ef {
                        results.pop();
                    }
                }
                if results.len() >= ef {
                    *bound = results.peek().map_or(f32::INFINITY, |w| w.0);
                }
            }
        };

        // With a filter, walk the admitted subgraph with two-hop expansion (as in ACORN):
        // a neighbour that is not admitted is not scored; instead its own neighbours are
        // examined and the admitted ones scored. Distances are then computed almost only
        // for admitted nodes, so a 10% filter costs about what an unfiltered search does,
        // instead of scoring ten times as many nodes to fill the beam.
        let two_hop = admission.allowed.is_some();
        while let Some(Reverse(Scored(d, u))) = candidates.pop() {
            // Stop once the closest unexpanded candidate is farther than the worst kept
            // result. With deletions only (no filter) and too few results yet, keep
            // walking: the beam must be allowed to pass through deleted regions.
            if d > bound && (results.len() >= ef || !restricted || two_hop) {
                break;
            }
            let nbs = g.neighbours0(u);
            // The next node to expand is most likely the best remaining candidate: start
            // loading its list now, while this one's neighbours are scored.
            if let Some(Reverse(Scored(_, next))) = candidates.peek() {
                g.prefetch0(*next);
            }
            // Two passes: first mark the unvisited neighbours to score and prefetch all
            // their rows, then score them. The loads of a whole list are in flight
            // together instead of one after another.
            pending.clear();
            if !two_hop {
                for &v in nbs {
                    if !visited.test_and_set(v) {
                        rows.prefetch(v);
                        pending.push(v);
                    }
                }
            } else {
                // Admitted neighbours first; the lists of the others are prefetched and
                // searched for admitted two-hop neighbours until a list's worth (2M) of
                // nodes is pending — beyond that the extra candidates cost more loads
                // than they add to the beam (ACORN-γ's cap).
                let cap = nbs.len().max(g.stride0() - 1);
                hop.clear();
                for &v in nbs {
                    if admission.admits(v) {
                        if !visited.test_and_set(v) {
                            rows.prefetch(v);
                            pending.push(v);
                        }
                    } else if !visited.test_and_set(v) {
                        g.prefetch0(v);
                        hop.push(v);
                    }
                }
                'hops: for &v in hop.iter() {
                    for &w in g.neighbours0(v) {
                        if pending.len() >= cap {
                            break 'hops;
                        }
                        if admission.admits(w) && !visited.test_and_set(w) {
                            rows.prefetch(w);
                            pending.push(w);
                        }
                    }
                }
            }
            for &v in pending.iter() {
                consider(v, dist(v), candidates, results, &mut bound);
            }
        }

        // All (up to ef) results, unordered: the caller ranks them by (distance, id) —
        // node numbers are not ids, so truncating to k here could break an id tie wrongly.
        results.drain().map(|Scored(d, u)| (d, u)).collect()
    })
}

/// Width of the beam on layers `UPPER_BEAM_FROM` and above (1 would be greedy).
///
/// A greedy descent (hnswlib's) follows one node per layer. On the upper layers of a
/// large graph over well-separated clusters (clustered-128 at 10M: layer 3 holds ~2.4
/// nodes per cluster of 1,000), the closest neighbour of the current node can be a local
/// minimum in the wrong cluster; layer 0 then starts there and the beam, however wide,
/// stays in a pocket of that cluster's graph. Measured on that graph (f32 walk, 1,000
/// queries): greedy 0.9265 recall at ef 512 with 36 queries finding none of their ten
/// neighbours; a beam of 8 from layer 2: 0.9724, no such query
/// (`docs/decisions/0021-upper-layer-beam-descent.md`).
pub(super) const UPPER_BEAM: usize = 8;
/// Lowest layer searched with the beam; layer 1 (n/16 nodes) is descended greedily —
/// a beam there as well cost GloVe-100 6% of its QPS against 3% for layers ≥ 2, and
/// added 0.0015 recall at ef 128 at 10M, none at ef 512.
pub(super) const UPPER_BEAM_FROM: u8 = 2;

/// Descend the upper layers from the entry point: a beam of [`UPPER_BEAM`] on layers
/// `UPPER_BEAM_FROM` and above (its best nodes seed the next layer's beam), then greedy
/// from the best of them. Returns the node layer 0 starts from.
fn descend<D: NodeDistance>(g: &FrozenGraph, rows: &D, scratch: &mut Scratch) -> Scored {
    let Scratch { visited, candidates, results, neighbours: pending, entries, .. } = scratch;
    entries.clear();
    entries.push(Scored(rows.distance(g.entry), g.entry));
    for level in (UPPER_BEAM_FROM..=g.max_level).rev() {
        visited.begin(g.n);
        candidates.clear();
        results.clear();
        for &e in entries.iter() {
            visited.test_and_set(e.1);
            candidates.push(Reverse(e));
            results.push(e);
        }
        while let Some(Reverse(Scored(d, u))) = candidates.pop() {
            if results.len() >= UPPER_BEAM && results.peek().is_some_and(|w| d > w.0) {
                break;
            }
            pending.clear();
            for &v in g.neighbours_upper(u, level) {
                if !visited.test_and_set(v) {
                    rows.prefetch(v);
                    pending.push(v);
                }
            }
            for &v in pending.iter() {
                let dv = rows.distance(v);
                if results.len() < UPPER_BEAM || results.peek().is_some_and(|w| dv < w.0) {
                    candidates.push(Reverse(Scored(dv, v)));
                    results.push(Scored(dv, v));
                    if results.len() > UPPER_BEAM {
                        results.pop();
                    }
                }
            }
        }
        entries.clear();
        entries.extend(results.drain());
    }
    let Scored(mut cur_d, mut cur) = *entries.iter().min().expect("an entry");
    for level in (1..UPPER_BEAM_FROM.min(g.max_level.saturating_add(1))).rev() {
        loop {
            let mut moved = false;
            for &v in g.neighbours_upper(cur, level) {
                let d = rows.distance(v);
                if d < cur_d {
                    cur = v;
                    cur_d = d;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }
    Scored(cur_d, cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `m = 2` graph (layer-0 lists ≤ 4, upper lists ≤ 2) with the same upper lists on
    /// every layer from 1 to `levels[u]`.
    fn graph(levels: &[u8], layer0: &[&[u32]], upper: &[&[u32]]) -> FrozenGraph {
        let m = 2;
        let mut adj0 = Vec::new();
        for list in layer0 {
            adj0.push(list.len() as u32);
            adj0.extend_from_slice(list);
            adj0.resize(adj0.len() + 2 * m - list.len(), 0);
        }
        let mut upper_slot = vec![u32::MAX; levels.len()];
        let mut upper_adj = Vec::new();
        for (u, &l) in levels.iter().enumerate() {
            if l > 0 {
                upper_slot[u] = upper_adj.len() as u32;
                for _ in 0..l {
                    upper_adj.push(upper[u].len() as u32);
                    upper_adj.extend_from_slice(upper[u]);
                    upper_adj.resize(upper_adj.len() + m - upper[u].len(), 0);
                }
            }
        }
        FrozenGraph {
            n: levels.len(),
            dim: 1,
            m,
            entry: 0,
            max_level: *levels.iter().max().unwrap_or(&0),
            levels: levels.to_vec().into(),
            adj0: adj0.into(),
            upper_slot: upper_slot.into(),
            upper_adj: upper_adj.into(),
        }
    }

    #[test]
    fn descent_escapes_a_local_minimum_of_the_upper_layers() {
        // Entry 0 at x = 0 links to 1 (x = 4) and 2 (x = −2) on layers 1–2; 1 links back
        // only to 0, 2 leads on to 3 (x = 9.5). For the query x = 10, a greedy descent
        // moves 0 → 1 and stops: 1 is a local minimum. On layer 0, {0, 1} and {2, 3, 4}
        // are separate pockets (as clusters are, nearly), so the walk must enter the
        // second one; its best node is 4 (x = 10.2).
        let vectors = [0.0, 4.0, -2.0, 9.5, 10.2];
        let g = graph(&[2, 2, 2, 2, 0], &[&[1], &[0], &[3], &[2, 4], &[3]], &[&[1, 2], &[0], &[3], &[2], &[]]);
        let rows = ExactRows {
            vectors: &vectors,
            dim: 1,
            metric: Metric::L2,
            kernels: crate::simd::kernels(),
            query: &[10.0],
        };
        let hits = search_graph_with(&g, &rows, 1, 4, Admission::default());
        let best = hits.iter().min_by(|a, b| a.0.total_cmp(&b.0)).map(|&(_, u)| u);
        assert_eq!(best, Some(4), "the descent ended in the wrong pocket: {hits:?}");
    }
}
