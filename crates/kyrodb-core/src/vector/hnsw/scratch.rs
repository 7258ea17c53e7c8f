//! Per-thread scratch space shared by graph search and graph construction: the
//! visited bitset and the two heaps, reused so that no query and no
//! insert allocates; plus the prefetch of a row.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A (distance, node) pair ordered by distance (distances are never NaN).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(super) struct Scored(pub f32, pub u32);

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Visited marks: one bit per node, so the marks of a million-node graph (128 KiB) stay in
/// the core's L2 cache while the walk streams vectors past it. Starting a query clears only
/// the words the previous one dirtied (a few thousand), not the whole bitset.
#[derive(Default)]
pub(super) struct Visited {
    bits: Vec<u64>,
    dirty: Vec<u32>,
}

impl Visited {
    pub(super) fn begin(&mut self, n: usize) {
        for &w in &self.dirty {
            self.bits[w as usize] = 0;
        }
        self.dirty.clear();
        let words = n.div_ceil(64);
        if self.bits.len() < words {
            self.bits.resize(words, 0);
        }
    }

    /// Mark `u`; returns whether it was already marked.
    #[inline(always)]
    pub(super) fn test_and_set(&mut self, u: u32) -> bool {
        let (w, b) = ((u >> 6) as usize, u & 63);
        let word = self.bits[w];
        if word >> b & 1 == 1 {
            return true;
        }
        if word == 0 {
            self.dirty.push(w as u32);
        }
        self.bits[w] = word | 1 << b;
        false
    }
}

/// Per-thread search state, reused across queries and graph inserts.
#[derive(Default)]
pub(super) struct Scratch {
    pub visited: Visited,
    pub candidates: BinaryHeap<Reverse<Scored>>,
    pub results: BinaryHeap<Scored>,
    /// A copy of one neighbour list (graph construction reads lists under a lock), or
    /// the nodes a search step will score.
    pub neighbours: Vec<u32>,
    /// Non-admitted neighbours whose own lists a filtered search step examines.
    pub hop: Vec<u32>,
    /// The upper-layer descent's beam, carried from one layer to the next.
    pub entries: Vec<Scored>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch space.
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| f(&mut cell.borrow_mut()))
}

/// Hint the CPU to load the start of row `u` of `vectors`: up to its first four cache
/// lines; the hardware's adjacent-line prefetcher picks up the rest of longer rows.
#[inline(always)]
pub(super) fn prefetch(vectors: &[f32], dim: usize, u: u32) {
    let s = u as usize * dim;
    crate::simd::prefetch(&vectors[s..s + dim], 256);
}
