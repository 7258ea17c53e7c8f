//! Node renumbering for memory locality.

use super::graph::FrozenGraph;
use std::collections::VecDeque;

/// Node order for locality: breadth-first over layer 0 from the entry point, so nodes
/// visited together by a search are stored together; rows the BFS cannot reach (none once
/// `build::ensure_reachable` has run; kept so the order is total) start new BFS trees in
/// input order.
pub fn bfs_order(g: &FrozenGraph) -> Vec<u32> {
    let n = g.n;
    let entry = g.entry;
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
            for &v in g.neighbours0(u) {
                if !std::mem::replace(&mut seen[v as usize], true) {
                    queue.push_back(v);
                }
            }
        }
    }
    order
}

/// `g` with node `order[u]` renamed `u` (`order` must be a permutation of `0..n`).
pub fn permute(g: &FrozenGraph, order: &[u32]) -> FrozenGraph {
    let n = g.n;
    let mut new_of = vec![0u32; n];
    for (u, &old) in order.iter().enumerate() {
        new_of[old as usize] = u as u32;
    }
    let stride0 = g.stride0();
    let stride_u = g.m + 1;
    let mut adj0 = vec![0u32; n * stride0];
    let mut levels = vec![0u8; n];
    let mut upper_slot = vec![u32::MAX; n];
    let mut upper_adj = Vec::with_capacity(g.upper_adj.len());
    for (u, &old) in order.iter().enumerate() {
        let list = g.neighbours0(old);
        adj0[u * stride0] = list.len() as u32;
        for (j, &v) in list.iter().enumerate() {
            adj0[u * stride0 + 1 + j] = new_of[v as usize];
        }
        let level = g.levels[old as usize];
        levels[u] = level;
        if level > 0 {
            upper_slot[u] = upper_adj.len() as u32;
            for l in 1..=level {
                let list = g.neighbours_upper(old, l);
                let start = upper_adj.len();
                upper_adj.resize(start + stride_u, 0);
                upper_adj[start] = list.len() as u32;
                for (j, &v) in list.iter().enumerate() {
                    upper_adj[start + 1 + j] = new_of[v as usize];
                }
            }
        }
    }
    FrozenGraph {
        n,
        dim: g.dim,
        m: g.m,
        entry: new_of[g.entry as usize],
        max_level: g.max_level,
        levels: levels.into(),
        adj0: adj0.into(),
        upper_slot: upper_slot.into(),
        upper_adj: upper_adj.into(),
    }
}
