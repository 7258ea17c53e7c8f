//! The query-result cache: answers a search repeated exactly (same query bits, `k`, `ef`,
//! filter and options) from memory, and never with a stale answer.
//!
//! **Validity is checked lazily and exactly.** An entry records where the collection's
//! write history stood when its search ran ([`Marks`]: the segment layout, the number of
//! hot rows ever appended, the number of rows ever killed). A lookup whose marks differ
//! asks the collection to replay what happened since against the entry
//! (`Collection::still_answers`): a new row that matches the filter and lies within the
//! entry's k-th distance, or a killed row among its results, invalidates it; anything
//! else cannot change the answer, so the entry's marks move forward. Writes themselves
//! never touch the cache. A layout change (a build or merge swapped segments) or a
//! history longer than the collection keeps invalidates the entry outright.
//!
//! **Bounded by bytes**, every byte counted (keys, results, ids, bookkeeping), shared by
//! the database's collections, the admission state's bytes included. By default the
//! entries are kept in S3-FIFO's queues (a small FIFO that one-off queries pass through,
//! a main FIFO for those asked for again, a ghost table); in the other modes
//! ([`super::admission`]) eviction is LRU and a new entry displaces the LRU victim only
//! if the admission test (TinyLFU's frequency test, or a learned model) agrees. Either
//! way one-off queries do not flush repeated ones.

use super::admission::{Admission, AdmissionMode};
use super::near::{self, NearIndex, Planes};
use crate::vector::filter::cache::plan_hash;
use crate::vector::filter::Filter;
use crate::vector::SearchHits;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Default byte budget of a database's query cache.
pub const DEFAULT_QUERY_CACHE_BYTES: usize = 4 << 20;

/// Bytes of bookkeeping counted per entry on top of its data (map slot, list links,
/// key and entry headers).
const ENTRY_OVERHEAD: usize = 160;

/// Where a collection's write history stood: compared to decide whether an entry needs
/// revalidation (equal marks: nothing happened since).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// Segment layout generation (bumped by every swap).
    pub layout: u64,
    /// Hot rows ever appended (absolute end of the hot tier).
    pub hot_end: u64,
    /// Rows ever killed (deleted or replaced).
    pub killed: u64,
}

/// What identifies a search.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryKey {
    /// The collection instance (never reused, even for a recreated name).
    pub collection: u64,
    /// The prepared query (normalised under cosine), compared bit for bit.
    pub query: Box<[u32]>,
    /// Results wanted.
    pub k: usize,
    /// Beam width in force.
    pub ef: usize,
    /// Metadata filter.
    pub filter: Option<Filter>,
    /// Whether hits carry metadata / vectors.
    pub with_metadata: bool,
    pub with_vectors: bool,
}

impl QueryKey {
    fn hash(&self) -> u64 {
        let mut h = foldhash::quality::FixedState::with_seed(0x7175_6572).build_hasher();
        h.write_u64(self.collection);
        h.write(bytemuck::cast_slice(&self.query));
        h.write_usize(self.k);
        h.write_usize(self.ef);
        h.write_u64(self.filter.as_ref().map_or(0, plan_hash));
        h.write_u8(self.with_metadata as u8 | (self.with_vectors as u8) << 1);
        h.finish()
    }

    /// A hash of everything but the query vector: the searches a near-repeat answer may
    /// come from share it.
    pub fn group_hash(&self) -> u64 {
        let mut h = foldhash::quality::FixedState::with_seed(0x6e65_6172).build_hasher();
        h.write_u64(self.collection);
        h.write_usize(self.k);
        h.write_usize(self.ef);
        h.write_u64(self.filter.as_ref().map_or(0, plan_hash));
        h.write_u8(self.with_metadata as u8 | (self.with_vectors as u8) << 1);
        h.finish()
    }

    /// Whether `other` is the same search but for the query vector.
    fn same_group(&self, other: &QueryKey) -> bool {
        self.collection == other.collection
            && self.k == other.k
            && self.ef == other.ef
            && self.filter == other.filter
            && self.with_metadata == other.with_metadata
            && self.with_vectors == other.with_vectors
    }

    fn bytes(&self) -> usize {
        // The filter's size is estimated from its debug form's length, once per insert.
        self.query.len() * 4 + self.filter.as_ref().map_or(0, |f| format!("{f:?}").len())
    }
}

/// A cached answer and what its validity depends on.
#[derive(Debug)]
pub struct Entry {
    /// The search.
    pub key: QueryKey,
    /// The answer: the best `k` rows, or more (up to `2k`) when near repeats are on.
    pub hits: Arc<SearchHits>,
    /// Row keys of the hits, sorted (a killed one invalidates the entry).
    pub ids: Vec<u64>,
    /// The last hit's distance when the search kept as many as it asked for (`+∞` with
    /// fewer: it found every matching row): a new matching row at most this far from the
    /// query could enter the hits.
    pub radius: f32,
    /// The search found fewer rows than it kept (every matching row): distinct from a
    /// radius that overflowed to `+∞`.
    pub complete: bool,
    /// Its buckets in the near-repeat index and its hits' locations in the collection
    /// (opaque here; valid while the entry is), `None`: not indexed.
    near: Option<([u64; near::TABLES], Vec<u64>)>,
    /// The history the answer reflects.
    pub marks: Marks,
    bytes: usize,
    prev: u32,
    next: u32,
    /// The admission clock when last used (how long the entry has been idle).
    touched: u64,
    /// S3-FIFO: lookups since it was queued or last passed the main queue's tail (≤ 3).
    freq: u8,
    /// S3-FIFO: whether it is in the small queue (else the main one).
    small: bool,
}

impl Entry {
    /// Whether row key `id` is among the hits.
    pub fn holds(&self, id: u64) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// Where each hit is in the collection, for near-repeat entries (as the collection
    /// encoded them when the entry was made).
    pub fn locs(&self) -> Option<&[u64]> {
        self.near.as_ref().map(|n| n.1.as_slice()).filter(|l| l.len() == self.hits.ids.len())
    }
}

const NIL: u32 = u32::MAX;

/// Counters of a query cache since open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryCacheStats {
    /// Searches answered from the cache by an exact repeat.
    pub hits: u64,
    /// Searches answered from the cache by a near repeat (`crate::cache::near`).
    pub near_hits: u64,
    /// Searches not found in the cache (including those invalidated on lookup).
    pub misses: u64,
    /// Entries found stale on lookup and dropped.
    pub invalidations: u64,
    /// Entries evicted for room.
    pub evictions: u64,
    /// Answers the admission test kept out.
    pub rejections: u64,
    /// Entries now.
    pub entries: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// The byte budget.
    pub capacity_bytes: u64,
    /// The admission test in force.
    pub admission: AdmissionMode,
    /// Learned admission: microseconds since the model in force was made (0 otherwise).
    pub model_age_us: u64,
    /// Learned admission: how long the last retrain took, microseconds (0: none yet).
    pub last_retrain_us: u64,
    /// Learned admission: retrains completed.
    pub retrains: u64,
}

struct Inner {
    map: HashMap<u64, u32, foldhash::fast::FixedState>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Most recently used first (S3-FIFO: the main queue, newest first).
    head: u32,
    tail: u32,
    /// S3-FIFO: the small queue, newest first, and its bytes.
    small_head: u32,
    small_tail: u32,
    small_bytes: usize,
    bytes: usize,
    admission: Admission,
    stats: QueryCacheStats,
    /// Cached queries by bucket, for near repeats.
    near: NearIndex,
    /// Near-repeat hyperplanes by dimension (their bytes are in `bytes`).
    planes: HashMap<usize, Arc<Planes>, foldhash::fast::FixedState>,
}

/// A byte-bounded cache of search answers shared by a database's collections.
pub struct QueryCache {
    inner: Mutex<Inner>,
    /// What entries may take: the capacity less the admission state's bytes.
    budget: usize,
    /// Near repeats: the largest distance (the metric's) between a new query and a cached
    /// one whose answer may serve it; `None`: off.
    near_distance: Option<f32>,
}

/// Ids of collection instances, for [`QueryKey::collection`].
static NEXT_COLLECTION: AtomicU64 = AtomicU64::new(1);

/// A fresh collection-instance id.
pub fn next_collection_id() -> u64 {
    NEXT_COLLECTION.fetch_add(1, Ordering::Relaxed)
}

impl std::fmt::Debug for QueryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryCache").field("stats", &self.stats()).finish()
    }
}

impl QueryCache {
    /// A cache of at most `capacity` bytes (`0`: nothing is ever cached) with the default
    /// admission test.
    pub fn new(capacity: usize) -> QueryCache {
        QueryCache::with_admission(capacity, AdmissionMode::default())
    }

    /// A cache of at most `capacity` bytes with the admission test `mode`. The admission
    /// state's bytes come out of the budget; a capacity too small to hold them caches
    /// nothing.
    pub fn with_admission(capacity: usize, mode: AdmissionMode) -> QueryCache {
        let admission = Admission::new(mode, capacity);
        let budget = capacity.saturating_sub(admission.bytes());
        QueryCache {
            inner: Mutex::new(Inner {
                map: HashMap::default(),
                slots: Vec::new(),
                free: Vec::new(),
                head: NIL,
                tail: NIL,
                small_head: NIL,
                small_tail: NIL,
                small_bytes: 0,
                bytes: 0,
                admission,
                stats: QueryCacheStats {
                    capacity_bytes: capacity as u64,
                    admission: mode,
                    ..QueryCacheStats::default()
                },
                near: NearIndex::default(),
                planes: HashMap::default(),
            }),
            budget,
            near_distance: None,
        }
    }

    /// Answer near repeats too: a search within `max_distance` (in the collection's
    /// metric: squared Euclidean for `l2`, `1 − cos` for `cosine`) of a cached one, when
    /// the cached candidates provably hold its answer. `0` (or less): off.
    pub fn with_near_repeats(mut self, max_distance: f32) -> QueryCache {
        self.near_distance = (max_distance > 0.0 && max_distance.is_finite()).then_some(max_distance);
        self
    }

    /// The near-repeat distance in force, if near repeats are on.
    pub fn near_distance(&self) -> Option<f32> {
        self.near_distance.filter(|_| self.enabled())
    }

    /// The near-repeat hyperplanes for `dim` (made on first use, their bytes counted);
    /// `None` when they would take more than a quarter of the budget.
    pub fn planes(&self, dim: usize) -> Option<Arc<Planes>> {
        if let Some(p) = self.inner.lock().planes.get(&dim) {
            return Some(Arc::clone(p));
        }
        let made = Arc::new(Planes::new(dim));
        let mut g = self.inner.lock();
        let inner = &mut *g;
        // All dimensions' planes together take at most a quarter of the budget (they are
        // kept for the cache's life); a dimension that would pass it gets no near repeats.
        let held: usize = inner.planes.values().map(|p| p.bytes()).sum();
        if !inner.planes.contains_key(&dim) && held + made.bytes() > self.budget / 4 {
            return None;
        }
        let p = inner.planes.entry(dim).or_insert_with(|| {
            inner.bytes += made.bytes();
            Arc::clone(&made)
        });
        Some(Arc::clone(p))
    }

    /// Whether anything can be cached.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The cached answer to `key`, if there is one that still holds: an entry whose marks
    /// differ from `now` is passed to `still_valid` (which replays the history since) and
    /// dropped if it says no. A `probe` (a lookup the caller follows with a full one on a
    /// miss) counts hits but neither misses nor frequency, so nothing is counted twice.
    pub fn lookup(
        &self,
        key: &QueryKey,
        now: Marks,
        probe: bool,
        still_valid: impl FnOnce(&Entry) -> bool,
    ) -> Option<Arc<SearchHits>> {
        self.lookup_counting(key, now, probe, !probe, still_valid)
    }

    /// [`QueryCache::lookup`] that counts a miss only when `count_miss` (a caller that
    /// follows a miss with [`QueryCache::lookup_near`] lets that one count it).
    pub fn lookup_counting(
        &self,
        key: &QueryKey,
        now: Marks,
        probe: bool,
        count_miss: bool,
        still_valid: impl FnOnce(&Entry) -> bool,
    ) -> Option<Arc<SearchHits>> {
        let h = key.hash();
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let miss = |inner: &mut Inner| {
            if count_miss {
                inner.stats.misses += 1;
            }
        };
        if !probe {
            inner.admission.record(h);
        }
        let Some(&slot) = inner.map.get(&h) else {
            miss(inner);
            return None;
        };
        let entry = inner.slots[slot as usize].as_mut().expect("mapped slots are filled");
        if entry.key != *key {
            miss(inner);
            return None;
        }
        if entry.marks != now {
            if !still_valid(entry) {
                inner.remove(slot);
                inner.map.remove(&h);
                inner.stats.invalidations += 1;
                miss(inner);
                return None;
            }
            entry.marks = now;
        }
        let hits = Arc::clone(&entry.hits);
        if probe {
            // A probe's miss is recorded by the full lookup that follows it; its hit is not
            // followed by one.
            inner.admission.record(h);
        }
        inner.touch(slot);
        inner.stats.hits += 1;
        Some(hits)
    }

    /// The answer to the search `key` from the nearest cached search of the same group
    /// (found through its `buckets`) within Euclidean distance `max`: a candidate entry
    /// whose marks differ from `now` must pass `still_valid` (or is dropped), then
    /// `answer(entry, distance)` re-ranks its hits for this query and says whether they
    /// provably hold the answer. Counts a near hit, or a miss unless `probe`.
    #[allow(clippy::too_many_arguments)]
    pub fn lookup_near<T>(
        &self,
        key: &QueryKey,
        buckets: &[u64; near::TABLES],
        max: f64,
        now: Marks,
        probe: bool,
        mut still_valid: impl FnMut(&Entry) -> bool,
        mut answer: impl FnMut(&Entry, f64) -> Option<T>,
    ) -> Option<T> {
        let kernels = crate::simd::kernels();
        let query: &[f32] = bytemuck::cast_slice(&key.query);
        let mut g = self.inner.lock();
        let inner = &mut *g;
        // The cached queries of the same group near this one, nearest first.
        let mut near: Vec<(f64, u32)> = Vec::new();
        for slot in inner.near.candidates(buckets) {
            let e = inner.slots[slot as usize].as_ref().expect("indexed slots are filled");
            if e.key.query.len() != query.len() || !e.key.same_group(key) {
                continue;
            }
            let d = near::query_distance(kernels, bytemuck::cast_slice(&e.key.query), query);
            if d <= max {
                near.push((d, slot));
            }
        }
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The nearest that is still valid: a farther one rarely proves what a nearer one
        // could not, and each attempt re-ranks its candidates.
        for &(d, slot) in &near {
            let e = inner.slots[slot as usize].as_mut().expect("indexed slots are filled");
            if e.marks != now {
                if !still_valid(e) {
                    let h = e.key.hash();
                    inner.remove(slot);
                    inner.map.remove(&h);
                    inner.stats.invalidations += 1;
                    continue;
                }
                e.marks = now;
            }
            if let Some(found) = answer(e, d) {
                let h = e.key.hash();
                inner.admission.record(h);
                inner.touch(slot);
                inner.stats.near_hits += 1;
                return Some(found);
            }
            break;
        }
        if !probe {
            inner.stats.misses += 1;
        }
        None
    }

    /// Offer the answer `hits` to `key`, computed at history `marks`. Kept if it fits the
    /// budget and wins admission.
    pub fn insert(&self, key: QueryKey, hits: Arc<SearchHits>, marks: Marks) {
        let kept = key.k;
        self.insert_kept(key, hits, kept, None, marks);
    }

    /// [`QueryCache::insert`] of a search that asked for `kept ≥ k` rows (the radius is
    /// the `kept`-th distance), indexed for near repeats under `near`'s buckets if given
    /// (with the hits' locations, which the entry keeps for the collection).
    pub fn insert_kept(
        &self,
        key: QueryKey,
        hits: Arc<SearchHits>,
        kept: usize,
        near: Option<([u64; near::TABLES], Vec<u64>)>,
        marks: Marks,
    ) {
        if !self.enabled() {
            return;
        }
        let bytes = ENTRY_OVERHEAD
            + key.bytes()
            + hits_bytes(&hits)
            + hits.ids.len() * 8
            + near.as_ref().map_or(0, |b| near::BYTES_PER_ENTRY + b.1.len() * 8);
        if bytes > self.budget / 4 {
            return; // One answer may not take over the cache.
        }
        let complete = hits.distances.len() < kept;
        let radius = if complete { f32::INFINITY } else { hits.distances[kept - 1] };
        let mut ids = hits.ids.clone();
        ids.sort_unstable();
        let h = key.hash();
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if let Some(&old) = inner.map.get(&h) {
            inner.remove(old);
            inner.map.remove(&h);
        }
        let s3 = inner.admission.s3fifo();
        let to_main = s3 && inner.admission.is_ghost(h);
        while s3 && inner.bytes + bytes > self.budget && !inner.map.is_empty() {
            inner.evict_s3fifo(self.budget / 10);
        }
        while inner.bytes + bytes > self.budget && inner.tail != NIL {
            let victim = inner.tail;
            let (victim_hash, touched) =
                inner.slots[victim as usize].as_ref().map(|e| (e.key.hash(), e.touched)).unwrap_or_default();
            let idle = inner.admission.now() - touched;
            if !inner.admission.admit(h, victim_hash, idle, inner.map.len()) {
                inner.admission.forgotten(h);
                inner.stats.rejections += 1;
                return;
            }
            inner.remove(victim);
            inner.map.remove(&victim_hash);
            inner.admission.forgotten(victim_hash);
            inner.stats.evictions += 1;
        }
        if inner.bytes + bytes > self.budget {
            return; // Nothing left to evict (the planes hold the rest).
        }
        let small = s3 && !to_main;
        let entry = Entry {
            key,
            hits,
            ids,
            radius,
            complete,
            near,
            marks,
            bytes,
            prev: NIL,
            next: NIL,
            touched: 0,
            freq: 0,
            small,
        };
        let slot = match inner.free.pop() {
            Some(s) => {
                inner.slots[s as usize] = Some(entry);
                s
            }
            None => {
                inner.slots.push(Some(entry));
                (inner.slots.len() - 1) as u32
            }
        };
        inner.bytes += bytes;
        if small {
            inner.small_bytes += bytes;
        }
        inner.push_front(slot);
        inner.map.insert(h, slot);
        if let Some(b) = &inner.slots[slot as usize].as_ref().expect("just filled").near {
            let keys = b.0;
            inner.near.insert(slot, &keys);
        }
    }

    /// Drop every entry, the near-repeat index and planes, and the admission policy's
    /// state (a learned mode's trainer thread ends): for a closed database, whose handle
    /// may outlive the close by a long time. The counters are kept.
    pub fn release(&self) {
        let mode = self.inner.lock().stats.admission;
        let mut fresh = QueryCache::with_admission(0, mode).inner.into_inner();
        let old = {
            let mut g = self.inner.lock();
            fresh.stats = g.stats;
            std::mem::replace(&mut *g, fresh)
        };
        drop(old); // Outside the lock.
    }

    /// Count a miss (for a caller whose lookups counted none).
    pub fn count_miss(&self) {
        self.inner.lock().stats.misses += 1;
    }

    /// Counters and size now.
    pub fn stats(&self) -> QueryCacheStats {
        let g = self.inner.lock();
        let a = g.admission.stats();
        QueryCacheStats {
            entries: g.map.len() as u64,
            // The admission state's bytes are held too (none by a cache that is off).
            bytes: (g.bytes + if self.enabled() { g.admission.bytes() } else { 0 }) as u64,
            model_age_us: a.model_age_us,
            last_retrain_us: a.last_retrain_us,
            retrains: a.retrains,
            ..g.stats
        }
    }

    /// Block until no retrain of the learned admission model is running (returns at once
    /// in `TinyLfu` mode). For simulations that want a deterministic schedule; searches
    /// never call it.
    pub fn settle_training(&self) {
        let training = self.inner.lock().admission.training();
        if let Some(t) = training {
            t.settle();
        }
    }

    #[cfg(test)]
    pub(crate) fn inner_training(&self) -> super::admission::Training {
        self.inner.lock().admission.training().expect("learned admission")
    }
}

impl Inner {
    /// The head and tail of the queue holding `slot`.
    fn ends(&mut self, slot: u32) -> (&mut u32, &mut u32) {
        if self.slots[slot as usize].as_ref().expect("linked slots are filled").small {
            (&mut self.small_head, &mut self.small_tail)
        } else {
            (&mut self.head, &mut self.tail)
        }
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let e = self.slots[slot as usize].as_ref().expect("linked slots are filled");
            (e.prev, e.next)
        };
        match prev {
            NIL => *self.ends(slot).0 = next,
            p => self.slots[p as usize].as_mut().expect("linked").next = next,
        }
        match next {
            NIL => *self.ends(slot).1 = prev,
            n => self.slots[n as usize].as_mut().expect("linked").prev = prev,
        }
    }

    /// Put `slot` at the head of its queue.
    fn push_front(&mut self, slot: u32) {
        let old = *self.ends(slot).0;
        let now = self.admission.now();
        {
            let e = self.slots[slot as usize].as_mut().expect("filled");
            e.prev = NIL;
            e.next = old;
            e.touched = now;
        }
        if old != NIL {
            self.slots[old as usize].as_mut().expect("linked").prev = slot;
        }
        let (head, tail) = self.ends(slot);
        *head = slot;
        if *tail == NIL {
            *tail = slot;
        }
    }

    fn touch(&mut self, slot: u32) {
        if self.admission.s3fifo() {
            // FIFO queues: a hit only counts (up to 3), nothing moves.
            let e = self.slots[slot as usize].as_mut().expect("filled");
            e.freq = (e.freq + 1).min(3);
        } else if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    /// S3-FIFO: make room by one step. While the small queue holds more than
    /// `small_budget` bytes (or the main one is empty), its oldest entry moves to the main
    /// queue if it was asked for since it came, or is dropped (and remembered as a
    /// ghost); otherwise the main queue's oldest is reinserted if asked for since it was
    /// last there (its count decremented), or dropped.
    fn evict_s3fifo(&mut self, small_budget: usize) {
        loop {
            let from_small = self.small_tail != NIL && (self.small_bytes > small_budget || self.tail == NIL);
            let slot = if from_small { self.small_tail } else { self.tail };
            if slot == NIL {
                return;
            }
            let (freq, bytes, h) = {
                let e = self.slots[slot as usize].as_ref().expect("linked slots are filled");
                (e.freq, e.bytes, e.key.hash())
            };
            if freq > 0 {
                self.unlink(slot);
                let e = self.slots[slot as usize].as_mut().expect("filled");
                if from_small {
                    e.small = false;
                    e.freq = 0;
                    self.small_bytes -= bytes;
                } else {
                    e.freq -= 1;
                }
                self.push_front(slot);
                continue;
            }
            if from_small {
                self.admission.ghost(h);
            }
            self.remove(slot);
            self.map.remove(&h);
            self.stats.evictions += 1;
            return;
        }
    }

    /// Unlink and free `slot` (the caller removes its map entry).
    fn remove(&mut self, slot: u32) {
        self.unlink(slot);
        let e = self.slots[slot as usize].take().expect("filled");
        self.bytes -= e.bytes;
        if e.small {
            self.small_bytes -= e.bytes;
        }
        if let Some(b) = &e.near {
            self.near.remove(slot, &b.0);
        }
        self.free.push(slot);
    }
}

/// Bytes of an answer: ids, distances, string ids, metadata text, vectors.
fn hits_bytes(h: &SearchHits) -> usize {
    h.ids.len() * 12
        + h.names.iter().map(|n| n.len() + 16).sum::<usize>()
        + h.metadata.iter().map(|m| 8 + m.as_ref().map_or(0, |j| j.len() + 16)).sum::<usize>()
        + h.vectors.iter().map(|v| v.len() * 4 + 24).sum::<usize>()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The search of test key `i` (a two-component query; distinct `i`, distinct keys).
    pub(crate) fn key(i: u64) -> QueryKey {
        QueryKey {
            collection: 1,
            query: vec![i as u32, (i >> 32) as u32].into(),
            k: 1,
            ef: 64,
            filter: None,
            with_metadata: false,
            with_vectors: false,
        }
    }

    /// A one-hit answer for test key `i`.
    pub(crate) fn hits(i: u64) -> Arc<SearchHits> {
        Arc::new(SearchHits { ids: vec![i], distances: vec![i as f32], ..SearchHits::default() })
    }

    #[test]
    fn bytes_stay_within_the_budget_and_repeated_queries_survive_one_offs() {
        let cache = QueryCache::with_admission(4096, AdmissionMode::TinyLfu);
        let m = Marks::default();
        // A repeated query, asked many times.
        for _ in 0..20 {
            if cache.lookup(&key(0), m, false, |_| true).is_none() {
                cache.insert(key(0), hits(0), m);
            }
        }
        // A stream of one-off queries.
        for i in 1..500 {
            if cache.lookup(&key(i), m, false, |_| true).is_none() {
                cache.insert(key(i), hits(i), m);
            }
            assert!(cache.stats().bytes <= 4096);
        }
        assert!(cache.lookup(&key(0), m, false, |_| true).is_some(), "the repeated query was kept");
        let s = cache.stats();
        assert!(s.rejections > 0 && s.entries > 1, "{s:?}");
    }

    #[test]
    fn release_drops_the_entries_and_keeps_the_counters() {
        for mode in [AdmissionMode::S3Fifo, AdmissionMode::TinyLfu, AdmissionMode::Learned] {
            let cache = QueryCache::with_admission(1 << 20, mode);
            let m = Marks::default();
            for i in 0..50 {
                cache.insert(key(i), hits(i), m);
            }
            assert!(cache.lookup(&key(3), m, false, |_| true).is_some());
            cache.release();
            let s = cache.stats();
            assert_eq!((s.entries, s.hits), (0, 1), "{mode:?}");
            assert!(s.bytes < 16 << 10, "{mode:?}: {s:?}");
            assert!(cache.lookup(&key(3), m, false, |_| true).is_none());
        }
    }

    #[test]
    fn the_largest_budget_allowed_does_not_allocate_its_policy_state_up_front() {
        for mode in [AdmissionMode::S3Fifo, AdmissionMode::TinyLfu, AdmissionMode::Learned] {
            let cache = QueryCache::with_admission(1 << 40, mode);
            // The policy state is sized as for a 1 GiB budget at most.
            assert!(cache.stats().bytes < 1 << 28, "{mode:?}: {:?}", cache.stats());
        }
    }

    #[test]
    fn a_stale_entry_is_dropped_and_a_valid_one_moves_forward() {
        let cache = QueryCache::new(1 << 16);
        let m0 = Marks::default();
        cache.insert(key(1), hits(1), m0);
        let m1 = Marks { hot_end: 5, ..m0 };
        let mut asked = 0;
        assert!(cache
            .lookup(&key(1), m1, false, |e| {
                asked += 1;
                e.marks == m0
            })
            .is_some());
        // Now at m1: no revalidation needed.
        assert!(cache.lookup(&key(1), m1, false, |_| panic!("no history to replay")).is_some());
        assert!(cache.lookup(&key(1), Marks { killed: 1, ..m1 }, false, |e| !e.holds(1)).is_none());
        assert_eq!(cache.stats().invalidations, 1);
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(asked, 1);
    }
}
