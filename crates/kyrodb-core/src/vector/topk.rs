//! Bounded best-k selection. Order is by distance, then by id, so results are fully
//! deterministic: equal distances are broken by the smaller id.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One search candidate.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Distance to the query (smaller is closer).
    pub distance: f32,
    /// External id of the row.
    pub id: u64,
    /// Row index inside the scanned storage.
    pub row: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` smallest candidates seen so far (a max-heap whose top is the worst kept).
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
    /// Distance of the worst kept candidate once full; `+∞` before. Lets the scan loop
    /// reject most rows with one float compare.
    threshold: f32,
}

impl TopK {
    /// An empty selection of at most `k` candidates.
    pub fn new(k: usize) -> TopK {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1), threshold: f32::INFINITY }
    }

    /// Distance a new candidate must not exceed to have a chance of being kept.
    #[inline(always)]
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Offer a candidate.
    #[inline]
    pub fn push(&mut self, c: Candidate) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if c < *worst {
                *worst = c;
            } else {
                return;
            }
        }
        if self.heap.len() == self.k {
            if let Some(w) = self.heap.peek() {
                self.threshold = w.distance;
            }
        }
    }

    /// Merge another selection into this one.
    pub fn merge(&mut self, other: TopK) {
        for c in other.heap {
            self.push(c);
        }
    }

    /// The kept candidates, best first.
    pub fn into_sorted(self) -> Vec<Candidate> {
        self.heap.into_sorted_vec()
    }
}
