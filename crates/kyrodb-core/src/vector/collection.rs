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
use super::segment::{Segment, SegmentFiles, SegmentRow};
use super::topk::Candidate;
use crate::error::{Error, Result};
use crate::storage::manifest::SegmentEntry;
use crate::storage::wal::FrameKind;
use crate::storage::{deletes, records, segment_file, Storage};
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;

/// Id-keyed maps: foldhash (randomly seeded) is several times faster than SipHash on u64
/// keys, and writes and recovery do one lookup per row.
type IdMap<V> = std::collections::HashMap<u64, V, foldhash::fast::RandomState>;
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
/// Live hot rows that make a durable exact-only collection flush its hot tier into a
/// segment (exact scans of this many rows take well under a millisecond).
pub const EXACT_FLUSH_ROWS: usize = 65_536;

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
    locations: IdMap<Loc>,
    /// Sequence number of the last WAL frame applied (durable collections).
    applied_seq: u64,
    /// Every frame up to here is in the segment files and deletion bitmaps.
    flushed_seq: u64,
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
#[derive(Clone, Debug, PartialEq, Eq)]
enum BuildScope {
    /// The hot tier only; the new segment is added beside the existing ones.
    Hot,
    /// Everything: the hot tier and every segment merge into one new segment.
    All,
    /// These segments (indices, ascending) merge into one; the hot tier stays.
    Segments(Vec<usize>),
}

/// Size-tiered merging: segments whose live rows fall in the same power-of-4 tier above
/// `base` rows merge once `MERGE_FANIN` of them accumulate, so a row is rewritten about
/// log4(N / base) times over its life and the segment count stays logarithmic.
const MERGE_FANIN: usize = 4;

/// The segments (indices, ascending) the next merge should combine, if any tier is full.
fn pick_merge(live_rows: &[usize], base: usize) -> Option<Vec<usize>> {
    let tier = |rows: usize| {
        let mut t = 0;
        let mut bound = base.max(1) * 4;
        while rows >= bound && t < 32 {
            t += 1;
            bound = bound.saturating_mul(4);
        }
        t
    };
    let mut by_tier: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &rows) in live_rows.iter().enumerate() {
        by_tier.entry(tier(rows)).or_default().push(i);
    }
    by_tier.into_values().find(|v| v.len() >= MERGE_FANIN).map(|mut v| {
        v.truncate(2 * MERGE_FANIN);
        v
    })
}

/// A named set of vectors of one dimension and metric.
pub struct Collection {
    name: String,
    config: CollectionConfig,
    /// Id in the manifest and in WAL frames (0 in memory).
    id: u64,
    /// Durable storage; `None` for an in-memory database.
    storage: Option<Arc<Storage>>,
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
        Collection::with_storage(name, config, db_closed, None, 0, 0)
    }

    /// A collection stored in `storage` as id `id`, empty apart from what WAL replay adds.
    pub(crate) fn with_storage(
        name: String,
        config: CollectionConfig,
        db_closed: Arc<AtomicBool>,
        storage: Option<Arc<Storage>>,
        id: u64,
        flushed_seq: u64,
    ) -> Collection {
        Collection {
            name,
            config,
            id,
            storage,
            state: RwLock::new(State {
                hot: HotTier::new(config.dimension),
                segments: Vec::new(),
                locations: IdMap::default(),
                applied_seq: flushed_seq,
                flushed_seq,
            }),
            build_lock: Mutex::new(()),
            background_build: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            db_closed,
        }
    }

    /// Install the segments read at open (before WAL replay). Every id may be live in at
    /// most one of them.
    pub(crate) fn restore_segments(&self, segments: Vec<Segment>) -> Result<()> {
        let mut st = self.state.write();
        st.locations.reserve(segments.iter().map(Segment::live).sum());
        for (s, seg) in segments.iter().enumerate() {
            for r in 0..seg.len() as u32 {
                if !seg.is_deleted(r) && st.locations.insert(seg.id(r), Loc::Seg(s as u32, r)).is_some() {
                    return Err(Error::Corruption(format!(
                        "collection '{}': id {} is live in two segments (segment file {:?})",
                        self.name,
                        seg.id(r),
                        seg.files.map(|f| f.file)
                    )));
                }
            }
        }
        st.segments = segments;
        Ok(())
    }

    /// The collection's id in the manifest and the WAL.
    pub fn id(&self) -> u64 {
        self.id
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

    pub(crate) fn unmark_dropped(&self) {
        self.dropped.store(false, Ordering::Release);
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

        if self.state.read().hot.len() + n > u32::MAX as usize {
            return Err(Error::invalid("the hot tier holds at most 2^32 − 1 rows; call buildIndex()"));
        }
        let ids = ids.to_vec();
        match &self.storage {
            None => {
                self.apply_upsert(&ids, &vectors, metadata, 0);
            }
            Some(storage) => {
                let metas: Vec<Option<&str>> = metadata.iter().map(|m| m.as_ref().map(|m| &*m.json)).collect();
                let payload = records::encode_upsert(self.id, dim, &ids, &vectors, &metas);
                let me = Arc::clone(self);
                storage.committer.commit(
                    FrameKind::Upsert,
                    payload,
                    Box::new(move |seq| {
                        me.apply_upsert(&ids, &vectors, metadata, seq);
                        n
                    }),
                )?;
            }
        }
        let hot_live = self.state.read().hot.live();
        self.maybe_build_in_background(hot_live);
        Ok(n)
    }

    /// Apply a validated upsert (logged as frame `seq` when durable).
    fn apply_upsert(&self, ids: &[u64], vectors: &[f32], metadata: Vec<Option<Arc<RowMeta>>>, seq: u64) {
        let dim = self.config.dimension;
        let mut st = self.state.write();
        for ((id, v), meta) in ids.iter().zip(vectors.chunks_exact(dim)).zip(metadata) {
            if let Some(old) = st.locations.get(id).copied() {
                st.kill(old);
            }
            let r = st.hot.push(*id, v, meta);
            st.locations.insert(*id, Loc::Hot(r));
        }
        self.note_applied(&mut st, seq);
    }

    /// Apply a delete; returns how many ids were live.
    fn apply_delete(&self, ids: &[u64], seq: u64) -> usize {
        let mut st = self.state.write();
        let mut removed = 0;
        for id in ids {
            if let Some(loc) = st.locations.remove(id) {
                st.kill(loc);
                removed += 1;
            }
        }
        self.note_applied(&mut st, seq);
        removed
    }

    fn note_applied(&self, st: &mut State, seq: u64) {
        if let Some(storage) = &self.storage {
            if st.applied_seq <= st.flushed_seq {
                // First write since the last checkpoint: the WAL must keep it.
                storage.set_floor(self.id, Some(st.flushed_seq + 1));
            }
        }
        st.applied_seq = st.applied_seq.max(seq);
    }

    /// Take over the state `restored` was recovered into (segments and replayed WAL),
    /// now that storage is running.
    pub(crate) fn adopt(&self, restored: &Collection, storage: &Storage) {
        let mut mine = self.state.write();
        std::mem::swap(&mut *mine, &mut *restored.state.write());
        let floor = (mine.applied_seq > mine.flushed_seq).then_some(mine.flushed_seq + 1);
        storage.set_floor(self.id, floor);
    }

    /// After open: start the background build a large replayed hot tier calls for.
    pub(crate) fn resume_background_work(self: &Arc<Self>) {
        let hot_live = self.state.read().hot.live();
        self.maybe_build_in_background(hot_live);
    }

    /// Re-apply a WAL frame at open (frames at or below the flushed sequence are skipped
    /// by the caller).
    pub(crate) fn replay(&self, kind: FrameKind, payload: &[u8], seq: u64) -> Result<()> {
        let bad = |e: crate::storage::codec::ReadError| {
            Error::Corruption(format!("WAL frame {seq}: {} at payload offset {}", e.what, e.offset))
        };
        match kind {
            FrameKind::Upsert => {
                let rec = records::decode_upsert(payload).map_err(bad)?;
                if rec.dim != self.config.dimension {
                    return Err(Error::Corruption(format!(
                        "WAL frame {seq}: dimension {} for collection '{}' of dimension {}",
                        rec.dim, self.name, self.config.dimension
                    )));
                }
                let metadata = rec
                    .metadata
                    .into_iter()
                    .zip(&rec.ids)
                    .map(|(m, &id)| m.map(|json| RowMeta::parse(json, id).map(Arc::new)).transpose())
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| Error::Corruption(format!("WAL frame {seq}: {e}")))?;
                self.apply_upsert(&rec.ids, &rec.vectors, metadata, seq);
            }
            FrameKind::Delete => {
                let rec = records::decode_delete(payload).map_err(bad)?;
                self.apply_delete(&rec.ids, seq);
            }
        }
        Ok(())
    }

    /// Remove vectors by id; ids that are absent are ignored. Returns how many were removed.
    pub fn delete(self: &Arc<Self>, ids: &[u64]) -> Result<usize> {
        self.check_usable()?;
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} ids, got {}", ids.len())));
        }
        let Some(storage) = &self.storage else { return Ok(self.apply_delete(ids, 0)) };
        // Every acknowledged write is already applied, so ids absent now need no log entry.
        let present: Vec<u64> = {
            let st = self.state.read();
            ids.iter().copied().filter(|id| st.locations.contains_key(id)).collect()
        };
        if present.is_empty() {
            return Ok(0);
        }
        let payload = records::encode_delete(self.id, &present);
        let me = Arc::clone(self);
        storage.committer.commit(FrameKind::Delete, payload, Box::new(move |seq| me.apply_delete(&present, seq)))
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
    /// into one segment (deleted rows are purged). Reads and writes continue while it runs.
    /// `progress(done, total)` reports inserted rows. Exact-only in-memory collections
    /// return at once. Returns the number of rows the build indexed.
    pub fn build_index(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.config.index.is_none() && self.storage.is_none() {
            return Ok(0);
        }
        self.build(BuildScope::All, progress)
    }

    /// Make everything written so far durable in segment files (the hot tier becomes a
    /// new segment, deletions are written as bitmaps) so that reopening replays nothing of
    /// it. A no-op in memory. Returns the rows moved out of the hot tier.
    pub fn flush(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.storage.is_none() {
            return Ok(0);
        }
        self.build(BuildScope::Hot, progress)
    }

    /// Merge every segment and the hot tier into one segment, dropping deleted rows.
    pub fn compact(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.storage.is_none() && self.config.index.is_none() {
            return Ok(0);
        }
        self.build(BuildScope::All, progress)
    }

    /// Wait for a running build to finish and keep new ones from starting (close).
    pub(crate) fn quiesce(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.build_lock.lock()
    }

    fn auto_flush_rows(&self) -> Option<usize> {
        match (self.config.index, &self.storage) {
            (Some(ix), _) => Some(ix.auto_build_rows),
            (None, Some(_)) => Some(EXACT_FLUSH_ROWS),
            (None, None) => None,
        }
    }

    fn maybe_build_in_background(self: &Arc<Self>, hot_live: usize) {
        let Some(threshold) = self.auto_flush_rows() else { return };
        if hot_live < threshold || self.background_build.swap(true, Ordering::AcqRel) {
            return;
        }
        self.spawn_background_build();
    }

    /// Start a background build now (used after recovery when the hot tier is large).
    pub(crate) fn spawn_background_build(self: &Arc<Self>) {
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new().name(format!("kyrodb-build-{}", self.name)).spawn(move || {
            // A failed background build (database closed meanwhile, disk full) leaves the
            // rows in the hot tier and the WAL, where they are still found; nothing is lost.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
                me.build(BuildScope::Hot, &mut |_, _| {})?;
                let base = me.auto_flush_rows().unwrap_or(DEFAULT_AUTO_BUILD_ROWS);
                loop {
                    let live: Vec<usize> = me.state.read().segments.iter().map(Segment::live).collect();
                    let Some(pick) = pick_merge(&live, base) else { return Ok(()) };
                    me.build(BuildScope::Segments(pick), &mut |_, _| {})?;
                }
            }));
            me.background_build.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.background_build.store(false, Ordering::Release);
        }
    }

    fn build(&self, scope: BuildScope, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        let _building = self.build_lock.lock();
        self.check_usable()?;
        let dim = self.config.dimension;

        // 1. Snapshot the live source rows (short read lock). Hot rows never move while
        //    the build lock is held, and segments are only added or removed by builds.
        //    `snapshot_seq`: every WAL frame up to it is reflected in the snapshot.
        let (sources, vectors, metas, hot_prefix, consumed_segments, snapshot_seq) = {
            let st = self.state.read();
            let mut sources = Vec::new();
            let mut vectors = Vec::new();
            let mut metas = Vec::new();
            let consumed: Vec<usize> = match &scope {
                BuildScope::Hot => Vec::new(),
                BuildScope::All => (0..st.segments.len()).collect(),
                BuildScope::Segments(v) => v.iter().copied().filter(|&i| i < st.segments.len()).collect(),
            };
            for &s in &consumed {
                let seg = &st.segments[s];
                for r in 0..seg.len() as u32 {
                    if !seg.is_deleted(r) {
                        sources.push((seg.id(r), Loc::Seg(s as u32, r)));
                        vectors.extend_from_slice(seg.vector(r));
                        metas.push(seg.meta(r).cloned());
                    }
                }
            }
            let hot_prefix = if matches!(scope, BuildScope::Segments(_)) { 0 } else { st.hot.len() };
            for r in 0..hot_prefix as u32 {
                if !st.hot.is_dead(r) {
                    sources.push((st.hot.id(r), Loc::Hot(r)));
                    vectors.extend_from_slice(st.hot.vector(r));
                    metas.push(st.hot.meta(r).cloned());
                }
            }
            // A merge of segments alone leaves the hot tier (and so the WAL position
            // covered by the files) where it was.
            let covered = if hot_prefix == 0 && matches!(scope, BuildScope::Segments(_)) {
                st.flushed_seq
            } else {
                st.applied_seq
            };
            (sources, vectors, metas, hot_prefix, consumed, covered)
        };
        let built = sources.len();
        if !consumed_segments.is_empty() || hot_prefix > 0 {
            // 2. Build (and store) without any lock.
            let rows: Vec<SegmentRow<'_>> = sources
                .iter()
                .zip(vectors.chunks_exact(dim))
                .zip(metas)
                .map(|((&(id, _), vector), meta)| SegmentRow { id, vector, meta })
                .collect();
            let params = self.config.index.map(|ix| ix.params);
            let mut segment = Segment::build(rows, dim, self.config.metric, params, progress, &|| self.usable())?;
            drop(vectors);
            if let (Some(storage), false) = (&self.storage, segment.is_empty()) {
                segment = self.store_segment(storage, &segment)?;
            }
            // 3. Swap (short write lock).
            self.swap(segment, &sources, hot_prefix, &consumed_segments);
        } else {
            progress(0, 0);
        }
        if let Some(storage) = &self.storage {
            let swapped = !consumed_segments.is_empty() || hot_prefix > 0;
            self.checkpoint(storage, snapshot_seq, swapped)?;
        }
        Ok(built)
    }

    /// Write `segment` to a new segment file and return it opened from that file.
    fn store_segment(&self, storage: &Storage, segment: &Segment) -> Result<Segment> {
        let file = storage.allocate_file();
        segment_file::write(storage.seg_dir(), file, &segment.parts(self.config.metric))?;
        let path = storage.seg_dir().join(segment_file::file_name(file));
        let opened = segment_file::open(&path, self.config.dimension, self.config.metric)
            .and_then(|f| Segment::from_file(f, None, SegmentFiles { file, deletes: None, persisted_deleted: 0 }));
        if opened.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        opened
    }

    /// Install a built segment in place of the hot prefix and consumed segments it was
    /// built from. Rows whose source died during the build arrive deleted.
    fn swap(&self, mut segment: Segment, sources: &[(u64, Loc)], hot_prefix: usize, consumed: &[usize]) {
        let mut st = self.state.write();
        let src_of_row: IdMap<Loc> = sources.iter().copied().collect();
        // Segments that stay keep their order; the new one goes last.
        let mut new_pos = vec![u32::MAX; st.segments.len()];
        let mut kept = 0u32;
        for (i, pos) in new_pos.iter_mut().enumerate() {
            if !consumed.contains(&i) {
                *pos = kept;
                kept += 1;
            }
        }
        let new_index = kept;
        let mut moved = Vec::with_capacity(segment.len());
        for r in 0..segment.len() as u32 {
            let id = segment.id(r);
            let still_live = src_of_row.get(&id).is_some_and(|src| st.locations.get(&id) == Some(src));
            if still_live {
                moved.push((id, Loc::Seg(new_index, r)));
            } else {
                segment.delete_row(r);
            }
        }
        let old = std::mem::take(&mut st.segments);
        st.segments = old.into_iter().enumerate().filter(|(i, _)| !consumed.contains(i)).map(|(_, s)| s).collect();
        st.hot.drain_front(hot_prefix);
        // Rows that stayed hot move down by `hot_prefix`; kept segments are renumbered.
        // Locations in consumed segments are left for `moved` to overwrite: every row
        // live at swap time was live at snapshot time, so each of them is in `moved`.
        for loc in st.locations.values_mut() {
            match loc {
                Loc::Hot(r) if *r as usize >= hot_prefix => *r -= hot_prefix as u32,
                Loc::Hot(_) => {}
                Loc::Seg(s, _) => {
                    if let Some(&p) = new_pos.get(*s as usize).filter(|&&p| p != u32::MAX) {
                        *s = p;
                    }
                }
            }
        }
        for (id, loc) in moved {
            st.locations.insert(id, loc);
        }
        debug_assert!(st.locations.values().all(|l| match l {
            Loc::Hot(r) => (*r as usize) < st.hot.len(),
            Loc::Seg(s, _) => *s <= new_index,
        }));
        if segment.live() > 0 {
            st.segments.push(segment);
        } else if let (Some(storage), Some(f)) = (&self.storage, segment.files) {
            let _ = std::fs::remove_file(storage.seg_dir().join(segment_file::file_name(f.file)));
        }
    }

    /// Record in the manifest that every frame up to `snapshot_seq` is in the segment
    /// files: write the deletion bitmaps that changed, then the manifest, then drop the
    /// WAL files nobody needs. Frames after `snapshot_seq` are replayed at open; replaying
    /// a delete or an upsert the segments already reflect changes nothing, so the bitmaps
    /// may safely be newer than `snapshot_seq`.
    fn checkpoint(&self, storage: &Storage, snapshot_seq: u64, swapped: bool) -> Result<()> {
        // Capture the segment list and changed bitmaps (short read lock).
        let captured: Vec<(SegmentFiles, u64, Option<(Vec<u64>, usize)>)> = {
            let st = self.state.read();
            if !swapped
                && st.flushed_seq >= snapshot_seq
                && st.segments.iter().all(|s| s.files.is_some_and(|f| f.persisted_deleted == s.deletions().1))
            {
                return Ok(());
            }
            st.segments
                .iter()
                .filter_map(|s| {
                    let f = s.files?;
                    let (words, count) = s.deletions();
                    let changed = count != f.persisted_deleted;
                    Some((f, s.len() as u64, changed.then(|| (words.to_vec(), count))))
                })
                .collect()
        };
        let mut entries = Vec::with_capacity(captured.len());
        let mut updated = Vec::new();
        for (f, rows, changed) in captured {
            let deletes = match changed {
                Some((words, count)) => {
                    let file = storage.allocate_file();
                    deletes::write(storage.seg_dir(), file, f.file, rows as usize, &words)?;
                    updated.push((f.file, file, count));
                    Some(file)
                }
                None => f.deletes,
            };
            entries.push(SegmentEntry { file: f.file, rows, deletes });
        }
        storage.update_manifest(|m| {
            let c = m
                .collection_mut(self.id)
                .ok_or_else(|| Error::NotFound(format!("collection '{}' is no longer in the manifest", self.name)))?;
            c.flushed_seq = c.flushed_seq.max(snapshot_seq);
            c.segments = entries;
            Ok(())
        })?;
        {
            let mut st = self.state.write();
            for seg in st.segments.iter_mut() {
                if let Some(f) = seg.files.as_mut() {
                    if let Some(&(_, file, count)) = updated.iter().find(|u| u.0 == f.file) {
                        f.deletes = Some(file);
                        f.persisted_deleted = count;
                    }
                }
            }
            st.flushed_seq = st.flushed_seq.max(snapshot_seq);
            let floor = (st.applied_seq > st.flushed_seq).then_some(st.flushed_seq + 1);
            storage.set_floor(self.id, floor);
        }
        storage.trim_wal(false)
    }

    /// Bytes of vector and index data held in memory.
    pub fn memory_bytes(&self) -> usize {
        let st = self.state.read();
        st.hot.memory_bytes()
            + st.segments.iter().map(Segment::memory_bytes).sum::<usize>()
            + st.locations.capacity() * 24
    }
}

#[cfg(test)]
mod tests {
    use super::pick_merge;

    #[test]
    fn merges_pick_a_full_tier_of_similar_sizes() {
        assert_eq!(pick_merge(&[100, 100, 100], 100), None);
        assert_eq!(pick_merge(&[100, 120, 90, 300], 100), Some(vec![0, 1, 2, 3]));
        // A big segment does not get rewritten with small ones.
        assert_eq!(pick_merge(&[5000, 100, 100, 100, 100], 100), Some(vec![1, 2, 3, 4]));
        assert_eq!(pick_merge(&[5000, 100, 100, 100], 100), None);
        assert_eq!(pick_merge(&[2000, 1600, 1700, 1900], 100), Some(vec![0, 1, 2, 3]));
    }
}
