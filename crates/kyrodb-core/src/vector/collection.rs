//! A vector collection: a hot tier of recent writes (searched exactly) in front of
//! immutable segments (HNSW graphs), with one id → location map that says where each
//! id's live version is.
//!
//! Invariants (tested in `tests/collection.rs` and `__test__/model.test.ts`):
//! 1. Every id has at most one live row: `locations[id]` names it, and every other row
//!    that ever held the id is dead (hot tombstone) or deleted (segment bit).
//! 2. A call that returns an error has changed nothing: batches are validated completely
//!    before the first row is touched.
//! 3. A build (freeze) never blocks readers for longer than the final swap, and a write
//!    that lands while a build runs wins: its source row is dead at swap time, so the
//!    copy in the new segment is deleted on arrival.

use super::filter::Filter;
use super::hnsw::{BuildParams, DEFAULT_EF_SEARCH, MAX_EF};
use super::metric::Metric;
use super::row::{HotTier, RowMeta};
use super::segment::{Segment, SegmentRow};
use super::topk::Candidate;
use crate::error::{Error, Result};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use super::row::MAX_METADATA_BYTES;

/// Largest accepted dimension.
pub const MAX_DIMENSION: usize = 16_384;
/// Largest accepted `k` for a search.
pub const MAX_K: usize = 10_000;
/// Most vectors in one upsert, delete or search batch.
pub const MAX_BATCH: usize = 1_000_000;
/// Default number of live hot rows that triggers a background freeze into a segment.
pub const DEFAULT_AUTO_BUILD_ROWS: usize = 10_000;
/// With more segments than this, the next automatic build merges them all.
const MAX_AUTO_SEGMENTS: usize = 8;

/// Graph index settings of a collection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IndexConfig {
    /// Graph construction parameters.
    pub params: BuildParams,
    /// Live hot rows that trigger a background build.
    pub auto_build_rows: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { params: BuildParams::default(), auto_build_rows: DEFAULT_AUTO_BUILD_ROWS }
    }
}

/// Shape of a collection, fixed at creation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CollectionConfig {
    /// Components per vector, `1..=MAX_DIMENSION`.
    pub dimension: usize,
    /// Distance used for ranking.
    pub metric: Metric,
    /// Graph index settings; `None` keeps the collection exact-only (brute force, never
    /// builds graphs).
    pub index: Option<IndexConfig>,
}

impl CollectionConfig {
    /// An exact-only collection.
    pub fn exact(dimension: usize, metric: Metric) -> CollectionConfig {
        CollectionConfig { dimension, metric, index: None }
    }

    /// A collection with the default graph index settings.
    pub fn indexed(dimension: usize, metric: Metric) -> CollectionConfig {
        CollectionConfig { dimension, metric, index: Some(IndexConfig::default()) }
    }

    /// Check the configuration's ranges.
    pub fn validate(&self) -> Result<()> {
        if self.dimension == 0 || self.dimension > MAX_DIMENSION {
            return Err(Error::invalid(format!(
                "dimension must be an integer in 1..={MAX_DIMENSION}, got {}",
                self.dimension
            )));
        }
        if let Some(ix) = &self.index {
            ix.params.validate()?;
            if ix.auto_build_rows == 0 {
                return Err(Error::invalid("index.autoBuildRows must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Options of one search.
#[derive(Clone, Debug, Default)]
pub struct SearchParams {
    /// Results wanted, `1..=MAX_K`.
    pub k: usize,
    /// Beam width for graph segments, `k..=MAX_EF`; default `max(64, k)`.
    pub ef: Option<usize>,
    /// Metadata filter.
    pub filter: Option<Filter>,
    /// Return each hit's metadata.
    pub with_metadata: bool,
    /// Return each hit's vector.
    pub with_vectors: bool,
}

impl SearchParams {
    /// Plain top-`k` with metadata, default `ef`, no filter.
    pub fn top(k: usize) -> SearchParams {
        SearchParams { k, with_metadata: true, ..SearchParams::default() }
    }

    fn validate(&self) -> Result<usize> {
        if self.k == 0 || self.k > MAX_K {
            return Err(Error::invalid(format!("k must be an integer in 1..={MAX_K}, got {}", self.k)));
        }
        let ef = self.ef.unwrap_or(DEFAULT_EF_SEARCH.max(self.k));
        if ef < self.k || ef > MAX_EF {
            return Err(Error::invalid(format!("ef must be an integer in k..={MAX_EF} (k = {}), got {ef}", self.k)));
        }
        Ok(ef)
    }
}

/// Result of one search, best first. Parallel vectors: hit `i` is
/// `(ids[i], distances[i], metadata[i], vectors[i])`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchHits {
    /// External ids.
    pub ids: Vec<u64>,
    /// Distances (see [`Metric`] for the definition per metric).
    pub distances: Vec<f32>,
    /// Metadata JSON of each hit (empty unless requested).
    pub metadata: Vec<Option<Arc<str>>>,
    /// Vector of each hit (empty unless requested).
    pub vectors: Vec<Vec<f32>>,
}

/// A stored vector as returned by [`Collection::get`].
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVector {
    /// The vector as stored (unit length under cosine).
    pub vector: Vec<f32>,
    /// Its metadata JSON, if any.
    pub metadata: Option<Arc<str>>,
}

/// Where an id's live version is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Loc {
    Hot(u32),
    Seg(u32, u32),
}

struct State {
    hot: HotTier,
    segments: Vec<Segment>,
    locations: HashMap<u64, Loc>,
}

impl State {
    fn vector(&self, loc: Loc) -> &[f32] {
        match loc {
            Loc::Hot(r) => self.hot.vector(r),
            Loc::Seg(s, r) => self.segments[s as usize].vector(r),
        }
    }

    fn meta(&self, loc: Loc) -> Option<&Arc<RowMeta>> {
        match loc {
            Loc::Hot(r) => self.hot.meta(r),
            Loc::Seg(s, r) => self.segments[s as usize].meta(r),
        }
    }

    fn kill(&mut self, loc: Loc) {
        match loc {
            Loc::Hot(r) => self.hot.kill(r),
            Loc::Seg(s, r) => self.segments[s as usize].delete_row(r),
        }
    }
}

/// Which rows a build consumes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum BuildScope {
    /// The hot tier only; the new segment is added beside the existing ones.
    Hot,
    /// Everything: the hot tier and every segment merge into one new segment.
    All,
}

/// A named set of vectors of one dimension and metric.
pub struct Collection {
    name: String,
    config: CollectionConfig,
    state: RwLock<State>,
    /// Held for the whole of a build, so builds never overlap.
    build_lock: Mutex<()>,
    /// Set while a background build is scheduled or running.
    background_build: AtomicBool,
    dropped: AtomicBool,
    db_closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection").field("name", &self.name).field("config", &self.config).finish()
    }
}

/// Counts describing a collection's layout (for tests, metrics and tuning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionStats {
    /// Live vectors.
    pub count: usize,
    /// Live rows in the hot tier.
    pub hot_rows: usize,
    /// Per segment: (rows, live rows, has a graph).
    pub segments: Vec<(usize, usize, bool)>,
}

impl Collection {
    pub(crate) fn new(name: String, config: CollectionConfig, db_closed: Arc<AtomicBool>) -> Collection {
        Collection {
            name,
            config,
            state: RwLock::new(State {
                hot: HotTier::new(config.dimension),
                segments: Vec::new(),
                locations: HashMap::new(),
            }),
            build_lock: Mutex::new(()),
            background_build: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            db_closed,
        }
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The collection's configuration.
    pub fn config(&self) -> CollectionConfig {
        self.config
    }

    pub(crate) fn mark_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
    }

    fn check_usable(&self) -> Result<()> {
        if self.db_closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.dropped.load(Ordering::Acquire) {
            return Err(Error::NotFound(format!("collection '{}' was dropped", self.name)));
        }
        Ok(())
    }

    fn usable(&self) -> bool {
        self.check_usable().is_ok()
    }

    /// Number of live vectors.
    pub fn count(&self) -> Result<usize> {
        self.check_usable()?;
        Ok(self.state.read().locations.len())
    }

    /// Layout counts.
    pub fn stats(&self) -> Result<CollectionStats> {
        self.check_usable()?;
        let s = self.state.read();
        Ok(CollectionStats {
            count: s.locations.len(),
            hot_rows: s.hot.live(),
            segments: s.segments.iter().map(|g| (g.len(), g.live(), g.has_graph())).collect(),
        })
    }

    /// Insert or replace vectors. `vectors` is row-major, `ids.len() * dimension` long;
    /// `metadata`, when given, has one entry per id (each a JSON object or `None`).
    /// The whole batch is validated before anything changes. Returns the batch size.
    pub fn upsert(
        self: &Arc<Self>,
        ids: &[u64],
        mut vectors: Vec<f32>,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<usize> {
        self.check_usable()?;
        let dim = self.config.dimension;
        let n = ids.len();
        if n > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} vectors, got {n}")));
        }
        if vectors.len() % dim != 0 {
            return Err(Error::batch_length(dim, vectors.len()));
        }
        if vectors.len() / dim != n {
            return Err(Error::invalid(format!(
                "got {n} ids but {} vectors; pass exactly one vector per id",
                vectors.len() / dim
            )));
        }
        let mut seen = HashSet::with_capacity(n);
        for id in ids {
            if !seen.insert(*id) {
                return Err(Error::invalid(format!("id {id} appears more than once in one batch")));
            }
        }
        let metadata: Vec<Option<Arc<RowMeta>>> = match metadata {
            None => vec![None; n],
            Some(m) => {
                if m.len() != n {
                    return Err(Error::invalid(format!("got {n} ids but {} metadata entries", m.len())));
                }
                m.into_iter()
                    .zip(ids)
                    .map(|(json, &id)| json.map(|s| RowMeta::parse(s, id).map(Arc::new)).transpose())
                    .collect::<Result<_>>()?
            }
        };
        for (i, v) in vectors.chunks_exact_mut(dim).enumerate() {
            self.config.metric.prepare(v, &|| format!("vector {i} (id {})", ids[i]))?;
        }

        let hot_live = {
            let mut st = self.state.write();
            if st.hot.len() + n > u32::MAX as usize {
                return Err(Error::invalid("the hot tier holds at most 2^32 − 1 rows; call buildIndex()"));
            }
            for ((id, v), meta) in ids.iter().zip(vectors.chunks_exact(dim)).zip(metadata) {
                if let Some(old) = st.locations.get(id).copied() {
                    st.kill(old);
                }
                let r = st.hot.push(*id, v, meta);
                st.locations.insert(*id, Loc::Hot(r));
            }
            st.hot.live()
        };
        self.maybe_build_in_background(hot_live);
        Ok(n)
    }

    /// Remove vectors by id; ids that are absent are ignored. Returns how many were removed.
    pub fn delete(&self, ids: &[u64]) -> Result<usize> {
        self.check_usable()?;
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} ids, got {}", ids.len())));
        }
        let mut st = self.state.write();
        let mut removed = 0;
        for id in ids {
            if let Some(loc) = st.locations.remove(id) {
                st.kill(loc);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The stored vector and metadata of `id`, or `None`.
    pub fn get(&self, id: u64) -> Result<Option<StoredVector>> {
        self.check_usable()?;
        let st = self.state.read();
        Ok(st.locations.get(&id).map(|&loc| StoredVector {
            vector: st.vector(loc).to_vec(),
            metadata: st.meta(loc).map(|m| m.json.clone()),
        }))
    }

    fn prepare_queries(&self, queries: &[f32]) -> Result<Vec<f32>> {
        let dim = self.config.dimension;
        let mut prepared = queries.to_vec();
        for (i, q) in prepared.chunks_exact_mut(dim).enumerate() {
            self.config.metric.prepare(q, &|| format!("query {i}"))?;
        }
        Ok(prepared)
    }

    /// The `k` nearest live vectors to `query` (matching the filter), best first, ties by
    /// smaller id, on the calling thread.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Result<SearchHits> {
        self.check_usable()?;
        let ef = params.validate()?;
        if query.len() != self.config.dimension {
            return Err(Error::dimension(self.config.dimension, query.len()));
        }
        let query = self.prepare_queries(query)?;
        let st = self.state.read();
        let hot = st.hot.search(self.config.metric, &query, params.k, params.filter.as_ref());
        Ok(self.merge(&st, &query, hot, params, ef))
    }

    /// Search many queries (`queries` row-major), spread over every core.
    pub fn search_batch(&self, queries: &[f32], params: &SearchParams) -> Result<Vec<SearchHits>> {
        use rayon::prelude::*;
        self.check_usable()?;
        let ef = params.validate()?;
        let dim = self.config.dimension;
        if queries.len() % dim != 0 {
            return Err(Error::batch_length(dim, queries.len()));
        }
        if queries.len() / dim > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} queries")));
        }
        let queries = self.prepare_queries(queries)?;
        let st = self.state.read();
        let hot = st.hot.search_batch(self.config.metric, &queries, params.k, params.filter.as_ref());
        Ok(queries.par_chunks(dim).zip(hot).map(|(q, hot)| self.merge(&st, q, hot, params, ef)).collect())
    }

    /// Search every segment and merge with the hot tier's candidates.
    fn merge(&self, st: &State, query: &[f32], hot: Vec<Candidate>, params: &SearchParams, ef: usize) -> SearchHits {
        let mut all: Vec<(Candidate, Option<u32>)> = hot.into_iter().map(|c| (c, None)).collect();
        for (s, seg) in st.segments.iter().enumerate() {
            let found = seg.search(self.config.metric, query, params.k, ef, params.filter.as_ref());
            all.extend(found.into_iter().map(|c| (c, Some(s as u32))));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.truncate(params.k);
        let mut out = SearchHits {
            ids: Vec::with_capacity(all.len()),
            distances: Vec::with_capacity(all.len()),
            ..SearchHits::default()
        };
        for (c, src) in all {
            let loc = src.map_or(Loc::Hot(c.row), |s| Loc::Seg(s, c.row));
            out.ids.push(c.id);
            out.distances.push(c.distance);
            if params.with_metadata {
                out.metadata.push(st.meta(loc).map(|m| m.json.clone()));
            }
            if params.with_vectors {
                out.vectors.push(st.vector(loc).to_vec());
            }
        }
        out
    }

    /// Build the graph index over everything stored: the hot tier and every segment merge
    /// into one segment. Reads and writes continue while it runs. `progress(done, total)`
    /// reports inserted rows. Exact-only collections return at once. Returns the number
    /// of rows the build indexed.
    pub fn build_index(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.config.index.is_none() {
            return Ok(0);
        }
        self.build(BuildScope::All, progress)
    }

    fn maybe_build_in_background(self: &Arc<Self>, hot_live: usize) {
        let Some(ix) = self.config.index else { return };
        if hot_live < ix.auto_build_rows || self.background_build.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new().name(format!("kyrodb-build-{}", self.name)).spawn(move || {
            let scope =
                if me.state.read().segments.len() >= MAX_AUTO_SEGMENTS { BuildScope::All } else { BuildScope::Hot };
            // A failed background build (database closed meanwhile) leaves the rows in
            // the hot tier, where they are still found; nothing is lost.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| me.build(scope, &mut |_, _| {})));
            me.background_build.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.background_build.store(false, Ordering::Release);
        }
    }

    fn build(&self, scope: BuildScope, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        let Some(ix) = self.config.index else { return Ok(0) };
        let _building = self.build_lock.lock();
        self.check_usable()?;
        let dim = self.config.dimension;

        // 1. Snapshot the live source rows (short read lock). Hot rows never move while
        //    the build lock is held, and segments are only added or removed by builds.
        let (sources, vectors, metas, hot_prefix, consumed_segments) = {
            let st = self.state.read();
            let mut sources = Vec::new();
            let mut vectors = Vec::new();
            let mut metas = Vec::new();
            let consumed = if scope == BuildScope::All { st.segments.len() } else { 0 };
            for (s, seg) in st.segments.iter().enumerate().take(consumed) {
                for r in 0..seg.len() as u32 {
                    if !seg.is_deleted(r) {
                        sources.push((seg.id(r), Loc::Seg(s as u32, r)));
                        vectors.extend_from_slice(seg.vector(r));
                        metas.push(seg.meta(r).cloned());
                    }
                }
            }
            for r in 0..st.hot.len() as u32 {
                if !st.hot.is_dead(r) {
                    sources.push((st.hot.id(r), Loc::Hot(r)));
                    vectors.extend_from_slice(st.hot.vector(r));
                    metas.push(st.hot.meta(r).cloned());
                }
            }
            (sources, vectors, metas, st.hot.len(), consumed)
        };
        if sources.is_empty() && consumed_segments == 0 && hot_prefix == 0 {
            return Ok(0);
        }
        let built = sources.len();

        // 2. Build without any lock.
        let rows: Vec<SegmentRow<'_>> = sources
            .iter()
            .zip(vectors.chunks_exact(dim))
            .zip(metas)
            .map(|((&(id, _), vector), meta)| SegmentRow { id, vector, meta })
            .collect();
        let mut segment = Segment::build(rows, dim, self.config.metric, ix.params, progress, &|| self.usable())?;

        // 3. Swap (short write lock). Rows whose source died meanwhile arrive deleted.
        let mut st = self.state.write();
        let mut src_of_row: HashMap<u64, Loc> = HashMap::with_capacity(sources.len());
        sources.iter().for_each(|&(id, loc)| {
            src_of_row.insert(id, loc);
        });
        let new_index = (st.segments.len() - consumed_segments) as u32;
        let mut moved = Vec::with_capacity(segment.len());
        for r in 0..segment.len() as u32 {
            let id = segment.id(r);
            let src = src_of_row[&id];
            let still_live = st.locations.get(&id) == Some(&src);
            if still_live {
                moved.push((id, Loc::Seg(new_index, r)));
            } else {
                segment.delete_row(r);
            }
        }
        st.segments.drain(..consumed_segments);
        st.hot.drain_front(hot_prefix);
        // Every row live at swap time was live at snapshot time, so after `moved` is
        // applied no location points into the dropped hot prefix or a consumed segment;
        // rows that stayed hot move down by `hot_prefix`.
        for (id, loc) in moved {
            st.locations.insert(id, loc);
        }
        for loc in st.locations.values_mut() {
            if let Loc::Hot(r) = loc {
                debug_assert!(*r as usize >= hot_prefix);
                *r -= hot_prefix as u32;
            }
        }
        if segment.live() > 0 {
            st.segments.push(segment);
        }
        Ok(built)
    }

    /// Bytes of vector and index data held in memory.
    pub fn memory_bytes(&self) -> usize {
        let st = self.state.read();
        st.hot.memory_bytes()
            + st.segments.iter().map(Segment::memory_bytes).sum::<usize>()
            + st.locations.capacity() * 24
    }
}
