//! KyroDB's own parallel HNSW builder.
//!
//! Same algorithm as hnswlib (Malkov & Yashunin): random levels with `mL = 1/ln M`, a
//! descent to the new node's top layer (the search's: a small beam on layers ≥ 2, greedy
//! on layer 1), a beam of `efConstruction` per layer, the neighbour-selection heuristic
//! ("keep a candidate only if it is closer to the new node than to every neighbour
//! already kept"), and reverse links pruned with the same heuristic. Differences from
//! `hnsw_rs`, which this replaced as the default (figures in
//! `docs/decisions/0006-native-hnsw-builder.md`): the
//! graph is built straight into the frozen fixed-stride layout (`AtomicU32` slots, one
//! `Mutex` per node held only while a list is read or rewritten), distances use the
//! runtime-selected SIMD kernels, and the visited set is the same per-thread bitset the
//! search uses (`scratch.rs`) — no per-node `Arc`, no per-search hash map.
//!
//! Lock discipline: a thread holds at most one node lock at a time and computes only
//! distances while holding it, so there is no lock-order deadlock.

use super::build::BuildParams;
use super::graph::FrozenGraph;
use super::scratch::{with_scratch, Scored, Scratch};
use super::search::{UPPER_BEAM, UPPER_BEAM_FROM};
use crate::error::{Error, Result};
use crate::simd::{kernels, Kernels};
use crate::vector::metric::Metric;
use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Inserts between two progress reports / cancellation checks.
const CHUNK: usize = 4096;
/// Highest layer a node can get.
const MAX_LEVEL: u8 = 15;

struct Builder<'a> {
    vectors: &'a [f32],
    dim: usize,
    metric: Metric,
    kernels: &'static Kernels,
    m: usize,
    ef_construction: usize,
    n: usize,
    levels: Vec<u8>,
    upper_slot: Vec<u32>,
    adj0: Vec<AtomicU32>,
    upper_adj: Vec<AtomicU32>,
    locks: Vec<Mutex<()>>,
    /// (entry node, top layer).
    entry: RwLock<(u32, u8)>,
}

/// Deterministic level of node `u`: `floor(−ln(U) · mL)` with `U` from a hash of `u`.
fn level_of(u: usize, ml: f64) -> u8 {
    let mut x = (u as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let unit = ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64; // (0, 1]
    ((-unit.ln() * ml).floor() as u64).min(MAX_LEVEL as u64) as u8
}

impl Builder<'_> {
    #[inline(always)]
    fn vector(&self, u: u32) -> &[f32] {
        let s = u as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    #[inline(always)]
    fn dist(&self, a: &[f32], u: u32) -> f32 {
        self.metric.distance(self.kernels, a, self.vector(u))
    }

    /// Slot range of node `u`'s list on `level` and its capacity.
    #[inline(always)]
    fn slot(&self, u: u32, level: u8) -> (&[AtomicU32], usize) {
        if level == 0 {
            let stride = 2 * self.m + 1;
            let s = u as usize * stride;
            (&self.adj0[s..s + stride], 2 * self.m)
        } else {
            let stride = self.m + 1;
            let s = self.upper_slot[u as usize] as usize + (level as usize - 1) * stride;
            (&self.upper_adj[s..s + stride], self.m)
        }
    }

    /// Copy `u`'s list on `level` into `out` (caller holds `u`'s lock or accepts a race).
    fn copy_list(&self, u: u32, level: u8, out: &mut Vec<u32>) {
        let (slots, _) = self.slot(u, level);
        let d = slots[0].load(Relaxed) as usize;
        out.clear();
        out.extend(slots[1..1 + d].iter().map(|a| a.load(Relaxed)));
    }

    fn read_list(&self, u: u32, level: u8, out: &mut Vec<u32>) {
        let _guard = self.locks[u as usize].lock();
        self.copy_list(u, level, out);
    }

    /// Overwrite `u`'s list on `level` (caller holds `u`'s lock).
    fn write_list(&self, u: u32, level: u8, items: impl ExactSizeIterator<Item = u32>) {
        let (slots, cap) = self.slot(u, level);
        let d = items.len().min(cap);
        for (j, v) in items.take(d).enumerate() {
            slots[1 + j].store(v, Relaxed);
        }
        slots[0].store(d as u32, Relaxed);
    }

    /// Beam search of width `ef` on `level` from `entry`; result sorted closest first.
    fn search_layer(&self, q: &[f32], entry: &[(f32, u32)], ef: usize, level: u8, s: &mut Scratch) -> Vec<(f32, u32)> {
        let Scratch { visited, candidates, results, neighbours, .. } = s;
        visited.begin(self.n);
        candidates.clear();
        results.clear();
        for &(d, u) in entry {
            if !visited.test_and_set(u) {
                candidates.push(Reverse(Scored(d, u)));
                results.push(Scored(d, u));
            }
        }
        while let Some(Reverse(Scored(d, u))) = candidates.pop() {
            if results.len() >= ef && results.peek().is_some_and(|w| d > w.0) {
                break;
            }
            self.read_list(u, level, neighbours);
            for &v in neighbours.iter() {
                if visited.test_and_set(v) {
                    continue;
                }
                let dv = self.dist(q, v);
                if results.len() < ef || results.peek().is_some_and(|w| dv < w.0) {
                    candidates.push(Reverse(Scored(dv, v)));
                    results.push(Scored(dv, v));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut out: Vec<(f32, u32)> = results.drain().map(|Scored(d, u)| (d, u)).collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out
    }

    /// hnswlib's heuristic: walk candidates closest first and keep one only if it is
    /// closer to the base than to every candidate already kept. Input sorted ascending.
    fn select(&self, candidates: &[(f32, u32)], m: usize) -> Vec<(f32, u32)> {
        let mut kept: Vec<(f32, u32)> = Vec::with_capacity(m);
        for &(d, c) in candidates {
            if kept.len() >= m {
                break;
            }
            let cv = self.vector(c);
            if kept.iter().all(|&(_, r)| self.dist(cv, r) >= d) {
                kept.push((d, c));
            }
        }
        kept
    }

    /// Add the edge `e → q` on `level`, pruning `e`'s list with the heuristic when full.
    fn connect(&self, e: u32, q: u32, d_eq: f32, level: u8, buf: &mut Vec<u32>) {
        if e == q {
            return;
        }
        let _guard = self.locks[e as usize].lock();
        self.copy_list(e, level, buf);
        if buf.contains(&q) {
            return;
        }
        let (_, cap) = self.slot(e, level);
        if buf.len() < cap {
            buf.push(q);
            self.write_list(e, level, buf.iter().copied());
            return;
        }
        let ev = self.vector(e);
        let mut cands: Vec<(f32, u32)> = buf.iter().map(|&x| (self.dist(ev, x), x)).collect();
        cands.push((d_eq, q));
        cands.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let kept = self.select(&cands, cap);
        self.write_list(e, level, kept.into_iter().map(|(_, u)| u));
    }

    fn insert(&self, q: u32) {
        let level_q = self.levels[q as usize];
        let (ep, top) = *self.entry.read();
        if ep == q {
            return;
        }
        let qv = self.vector(q);
        with_scratch(|s| {
            // Above the new node's own layer, descend as the search does (a beam of
            // UPPER_BEAM on layers ≥ UPPER_BEAM_FROM, then a beam of 1, i.e. greedy): a
            // greedy descent all the way misroutes a few inserts into another cluster's
            // pocket on large clustered graphs, and those nodes get no layer-0 edge into
            // their own cluster.
            let mut entry_points = vec![(self.dist(qv, ep), ep)];
            for level in ((level_q + 1)..=top).rev() {
                let width = if level >= UPPER_BEAM_FROM { UPPER_BEAM } else { 1 };
                entry_points = self.search_layer(qv, &entry_points, width, level, s);
            }
            let (cur_d, cur) = entry_points[0];
            for level in (0..=level_q.min(top)).rev() {
                let mut found = self.search_layer(qv, &entry_points, self.ef_construction, level, s);
                // Concurrent inserts may already link to `q`: never select `q` itself.
                found.retain(|&(_, u)| u != q);
                if found.is_empty() {
                    found.push((cur_d, cur));
                }
                let chosen = self.select(&found, self.m);
                {
                    let _guard = self.locks[q as usize].lock();
                    self.write_list(q, level, chosen.iter().map(|&(_, u)| u));
                }
                let mut buf = std::mem::take(&mut s.neighbours);
                for &(d, e) in &chosen {
                    self.connect(e, q, d, level, &mut buf);
                }
                s.neighbours = buf;
                entry_points = found;
            }
        });
        if level_q > top {
            let mut entry = self.entry.write();
            if level_q > entry.1 {
                *entry = (q, level_q);
            }
        }
    }
}

/// Build a graph over `vectors` with nodes in input order. With `seed`, a graph already
/// built over the first `seed.n` rows (same `m`), those nodes keep their levels and lists
/// and only the rows after them are inserted: growing a graph by `k` rows costs `k`
/// inserts, not a rebuild of all of it.
pub(super) fn build(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: BuildParams,
    seed: Option<&FrozenGraph>,
    progress: &mut dyn FnMut(usize, usize),
    keep_going: &dyn Fn() -> bool,
) -> Result<FrozenGraph> {
    let n = vectors.len() / dim;
    let m = params.m;
    let ml = 1.0 / (m as f64).ln();
    let seed = seed.filter(|g| g.m == m && g.n <= n && g.n > 0 && g.dim == dim);
    let seeded = seed.map_or(0, |g| g.n);
    let levels: Vec<u8> =
        (0..n).map(|u| if u < seeded { seed.map_or(0, |g| g.levels[u]) } else { level_of(u, ml) }).collect();
    let mut upper_slot = vec![u32::MAX; n];
    let mut upper_len = 0usize;
    for (u, &l) in levels.iter().enumerate() {
        if l > 0 {
            upper_slot[u] = u32::try_from(upper_len).map_err(|_| Error::invalid("graph too large"))?;
            upper_len += l as usize * (m + 1);
        }
    }
    let stride0 = 2 * m + 1;
    let mut adj0: Vec<AtomicU32> = Vec::with_capacity(n * stride0);
    let mut upper_adj: Vec<AtomicU32> = (0..upper_len).map(|_| AtomicU32::new(0)).collect();
    let entry = match seed {
        Some(g) => {
            adj0.extend(g.adj0[..seeded * stride0].iter().map(|&x| AtomicU32::new(x)));
            for u in 0..seeded {
                let (from, to) = (g.upper_slot[u], upper_slot[u]);
                if from != u32::MAX {
                    let len = levels[u] as usize * (m + 1);
                    for (dst, &src) in
                        upper_adj[to as usize..to as usize + len].iter_mut().zip(&g.upper_adj[from as usize..])
                    {
                        *dst.get_mut() = src;
                    }
                }
            }
            (g.entry, g.max_level)
        }
        None => (0u32, levels[0]),
    };
    adj0.extend((adj0.len()..n * stride0).map(|_| AtomicU32::new(0)));
    let b = Builder {
        vectors,
        dim,
        metric,
        kernels: kernels(),
        m,
        ef_construction: params.ef_construction,
        n,
        entry: RwLock::new(entry),
        levels,
        upper_slot,
        adj0,
        upper_adj,
        locks: (0..n).map(|_| Mutex::new(())).collect(),
    };
    let mut done = seeded.max(1);
    progress(done.min(n), n);
    let mut start = seeded.max(1);
    while start < n {
        if !keep_going() {
            return Err(Error::Closed);
        }
        let end = (start + CHUNK).min(n);
        (start..end).into_par_iter().for_each(|q| b.insert(q as u32));
        done = end;
        progress(done, n);
        start = end;
    }
    let (entry, max_level) = *b.entry.read();
    Ok(FrozenGraph {
        n,
        dim,
        m,
        entry,
        max_level,
        levels: b.levels.into(),
        adj0: b.adj0.into_iter().map(AtomicU32::into_inner).collect::<Vec<_>>().into(),
        upper_slot: b.upper_slot.into(),
        upper_adj: b.upper_adj.into_iter().map(AtomicU32::into_inner).collect::<Vec<_>>().into(),
    })
}
