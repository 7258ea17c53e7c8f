//! The policies replayed: KyroDB's query cache (through its public API) in both admission
//! modes, W-TinyLFU (`moka`), S3-FIFO (`quick_cache`), SIEVE and LRU (small implementations
//! here), and Belady's offline optimum.

use kyrodb_core::cache::admission::AdmissionMode;
use kyrodb_core::cache::query::{Marks, QueryCache, QueryKey};
use kyrodb_core::SearchHits;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

/// An online cache policy: `access` looks a key up and, on a miss, offers it.
pub trait Policy {
    /// Whether `key` was a hit.
    fn access(&mut self, key: u64) -> bool;
}

/// The components of the query vector stored per entry (with `k = 1` hit), chosen so one
/// entry counts about as many bytes as a real 64-d answer: see [`KyroCache::entry_bytes`].
const QUERY_WORDS: usize = 80;

/// KyroDB's `QueryCache`, driven through its public API with entries of one fixed size.
pub struct KyroCache {
    cache: QueryCache,
    learned: bool,
    hits: Arc<SearchHits>,
}

fn key(k: u64) -> QueryKey {
    let mut query = vec![0u32; QUERY_WORDS];
    query[0] = k as u32;
    query[1] = (k >> 32) as u32;
    QueryKey {
        collection: 1,
        query: query.into(),
        k: 1,
        ef: 64,
        filter: None,
        with_metadata: false,
        with_vectors: false,
    }
}

impl KyroCache {
    /// A cache of `bytes` bytes with admission `mode`.
    pub fn new(bytes: usize, mode: AdmissionMode) -> KyroCache {
        KyroCache {
            cache: QueryCache::with_admission(bytes, mode),
            learned: mode == AdmissionMode::Learned,
            hits: Arc::new(SearchHits { ids: vec![7], distances: vec![0.5], ..SearchHits::default() }),
        }
    }

    /// Bytes one entry counts against the budget (measured: the cache's byte count with one
    /// entry less its count with none), and the admission state's bytes.
    pub fn entry_bytes() -> (usize, usize) {
        let c = KyroCache::new(1 << 20, AdmissionMode::TinyLfu);
        let empty = c.cache.stats().bytes as usize;
        c.cache.insert(key(1), Arc::clone(&c.hits), Marks::default());
        (c.cache.stats().bytes as usize - empty, empty)
    }

    /// The cache's stats.
    pub fn stats(&self) -> kyrodb_core::QueryCacheStats {
        self.cache.stats()
    }
}

impl Policy for KyroCache {
    fn access(&mut self, k: u64) -> bool {
        let q = key(k);
        let hit = self.cache.lookup(&q, Marks::default(), false, |_| true).is_some();
        if self.learned {
            // A retrain scheduled by this lookup is applied before the insert that follows,
            // so a run is reproducible (in a database the next decisions would use the old
            // model until the retrain ends).
            self.cache.settle_training();
        }
        if !hit {
            self.cache.insert(q, Arc::clone(&self.hits), Marks::default());
        }
        hit
    }
}

/// W-TinyLFU as `moka` implements it (1% window LRU, segmented LRU main, count-min
/// admission), with its housekeeping run after every insert so eviction is immediate.
pub struct Moka(moka::sync::Cache<u64, ()>);

impl Moka {
    pub fn new(entries: usize) -> Moka {
        Moka(moka::sync::Cache::builder().max_capacity(entries as u64).build())
    }
}

impl Policy for Moka {
    fn access(&mut self, k: u64) -> bool {
        if self.0.get(&k).is_some() {
            return true;
        }
        self.0.insert(k, ());
        self.0.run_pending_tasks();
        false
    }
}

/// `quick_cache`'s unsynchronised cache. Its README calls its policy S3-FIFO; its source
/// describes it as a modified CLOCK-Pro, "very similar to the later published S3-FIFO"
/// (a small queue for newcomers, a main queue, a ghost queue).
pub struct QuickCache(quick_cache::unsync::Cache<u64, ()>);

impl QuickCache {
    pub fn new(entries: usize) -> QuickCache {
        QuickCache(quick_cache::unsync::Cache::new(entries))
    }
}

impl Policy for QuickCache {
    fn access(&mut self, k: u64) -> bool {
        if self.0.get(&k).is_some() {
            return true;
        }
        self.0.insert(k, ());
        false
    }
}

const NIL: u32 = u32::MAX;

/// A doubly linked list over slots, head = newest.
#[derive(Default)]
struct List {
    keys: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    bit: Vec<bool>,
    head: u32,
    tail: u32,
    free: Vec<u32>,
}

impl List {
    fn new() -> List {
        List { head: NIL, tail: NIL, ..List::default() }
    }

    fn push_front(&mut self, key: u64) -> u32 {
        let s = match self.free.pop() {
            Some(s) => {
                self.keys[s as usize] = key;
                self.bit[s as usize] = false;
                s
            }
            None => {
                self.keys.push(key);
                self.prev.push(NIL);
                self.next.push(NIL);
                self.bit.push(false);
                (self.keys.len() - 1) as u32
            }
        };
        self.prev[s as usize] = NIL;
        self.next[s as usize] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
        s
    }

    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.prev[s as usize], self.next[s as usize]);
        if p == NIL {
            self.head = n
        } else {
            self.next[p as usize] = n
        }
        if n == NIL {
            self.tail = p
        } else {
            self.prev[n as usize] = p
        }
    }

    fn remove(&mut self, s: u32) -> u64 {
        self.unlink(s);
        self.free.push(s);
        self.keys[s as usize]
    }
}

/// Plain LRU.
pub struct Lru {
    cap: usize,
    map: HashMap<u64, u32>,
    list: List,
}

impl Lru {
    pub fn new(cap: usize) -> Lru {
        Lru { cap, map: HashMap::new(), list: List::new() }
    }
}

impl Policy for Lru {
    fn access(&mut self, k: u64) -> bool {
        if let Some(&s) = self.map.get(&k) {
            self.list.unlink(s);
            self.list.free.push(s);
            let t = self.list.push_front(k);
            self.map.insert(k, t);
            return true;
        }
        if self.map.len() >= self.cap {
            let victim = self.list.remove(self.list.tail);
            self.map.remove(&victim);
        }
        let s = self.list.push_front(k);
        self.map.insert(k, s);
        false
    }
}

/// SIEVE (Zhang et al., NSDI '24): a FIFO list with a visited bit per entry and a hand
/// moving from the tail toward the head, sparing (and clearing) visited entries.
pub struct Sieve {
    cap: usize,
    map: HashMap<u64, u32>,
    list: List,
    hand: u32,
}

impl Sieve {
    pub fn new(cap: usize) -> Sieve {
        Sieve { cap, map: HashMap::new(), list: List::new(), hand: NIL }
    }
}

impl Policy for Sieve {
    fn access(&mut self, k: u64) -> bool {
        if let Some(&s) = self.map.get(&k) {
            self.list.bit[s as usize] = true;
            return true;
        }
        if self.map.len() >= self.cap {
            let mut h = if self.hand == NIL { self.list.tail } else { self.hand };
            while self.list.bit[h as usize] {
                self.list.bit[h as usize] = false;
                h = match self.list.prev[h as usize] {
                    NIL => self.list.tail,
                    p => p,
                };
            }
            self.hand = self.list.prev[h as usize];
            let victim = self.list.remove(h);
            self.map.remove(&victim);
        }
        let s = self.list.push_front(k);
        self.map.insert(k, s);
        false
    }
}

/// Belady's MIN with bypass: on a miss with the cache full, evict the cached key asked for
/// furthest in the future, or do not admit the newcomer if it is asked for later still.
/// Hits of the whole trace.
pub fn belady(trace: &[u64], cap: usize) -> u64 {
    let n = trace.len();
    let mut next = vec![usize::MAX; n];
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(n / 4);
    for i in (0..n).rev() {
        if let Some(&j) = seen.get(&trace[i]) {
            next[i] = j;
        }
        seen.insert(trace[i], i);
    }
    drop(seen);
    // Cached key → its next use; a max-heap of (next use, key) with stale pairs skipped.
    let mut cached: HashMap<u64, usize> = HashMap::with_capacity(cap * 2);
    let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::new();
    let mut hits = 0;
    for (i, &k) in trace.iter().enumerate() {
        if let Some(nu) = cached.get_mut(&k) {
            hits += 1;
            *nu = next[i];
            heap.push((next[i], k));
            continue;
        }
        if next[i] == usize::MAX {
            continue; // never asked for again: not worth a slot
        }
        if cached.len() >= cap {
            // The live top of the heap.
            let (far, victim) = loop {
                let (nu, v) = *heap.peek().expect("a full cache has entries");
                if cached.get(&v) == Some(&nu) {
                    break (nu, v);
                }
                heap.pop();
            };
            if far <= next[i] {
                continue; // bypass: the newcomer is needed later than everything cached
            }
            heap.pop();
            cached.remove(&victim);
        }
        cached.insert(k, next[i]);
        heap.push((next[i], k));
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut dyn Policy, trace: &[u64]) -> Vec<bool> {
        trace.iter().map(|&k| p.access(k)).collect()
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut l = Lru::new(2);
        // 1 2 1 3 (evicts 2) 2 (miss, evicts 1) 1 (miss)
        assert_eq!(run(&mut l, &[1, 2, 1, 3, 2, 1]), [false, false, true, false, false, false]);
        let mut l = Lru::new(2);
        assert_eq!(run(&mut l, &[1, 2, 1, 3, 1, 3]), [false, false, true, false, true, true]);
    }

    #[test]
    fn sieve_spares_visited_entries() {
        let mut s = Sieve::new(2);
        // 1 2, 1 visited; 3 evicts 2 (1's bit cleared, hand passes it) ; 1 hits.
        assert_eq!(run(&mut s, &[1, 2, 1, 3, 1, 2]), [false, false, true, false, true, false]);
    }

    #[test]
    fn belady_is_the_optimum_on_a_small_trace() {
        // Capacity 2 over a cycle of 3 keys: MIN keeps 1 and 2 and lets 3 through.
        let t = [1, 2, 3, 1, 2, 3, 1, 2, 3];
        let h = belady(&t, 2);
        assert_eq!(h, 4);
        // Never better than any online policy's hits, and at least LRU's.
        let mut l = Lru::new(2);
        let lru = run(&mut l, &t).iter().filter(|&&x| x).count() as u64;
        assert!(h >= lru);
    }
}
