//! A vector collection: a hot tier of recent writes (searched exactly) in front of
//! immutable segments (HNSW graphs). Where an id's live version is: the hot tier's id map
//! says for recent writes, and each segment's id order (its ids sorted, stored in its
//! file) for the rest — so opening a collection builds no id map at all.
//!
//! Invariants (tested in `tests/collection.rs` and `__test__/model.test.ts`):
//! 1. Every id has at most one live row, anywhere: every other row that ever held the id
//!    is dead (hot tombstone) or deleted (segment bit). `hot_ids[id]` names the live hot
//!    row; an id absent from it is live in at most one segment.
//! 2. A call that returns an error has changed nothing: batches are validated completely
//!    before the first row is touched.
//! 3. A build (freeze) or merge never holds a lock for longer than copying one chunk of
//!    rows or the final swap, and a write that lands while a build runs wins: its source
//!    row is dead at swap time, so the copy in the new segment is deleted on arrival.
//! 4. The unindexed backlog is bounded: an upsert that would take the hot tier past
//!    `max_unindexed_rows` live rows waits until builds bring it back under (see
//!    [`Collection::set_max_unindexed_rows`]), so a search never scans more than that.
//!
//! A hot row is named by its absolute row number (rows drained into segments so far + its
//! index), a segment row by the segment's uid and the row. Installing a segment removes
//! the ids of the hot rows it took in from `hot_ids` and rewrites nothing else (at 1M
//! ids, rewriting one global map took milliseconds under the write lock on every flush).
//! A lookup by id costs one hash probe plus, for ids not in the hot tier, one binary
//! search per segment (about `MAX_SEGMENTS` unsettled ones plus one settled segment per
//! 1.28M–2.56M rows at the default `autoBuildRows`; ids outside a segment's range cost two
//! compares).

mod cached;
mod maintenance;
mod scan;
mod write;
pub use maintenance::{background_threads, MAX_SEGMENTS, SETTLED_TIER};
pub use scan::ScanPage;
pub use write::CollectionWrite;

use super::filter::Filter;
use super::hnsw::{BuildParams, DEFAULT_EF_SEARCH, MAX_EF};
use super::ids::{check_string_id, string_key, IdType};
use super::metric::Metric;
use super::row::{HotTier, RowMeta};
use super::segment::{Segment, SegmentFiles};
use super::topk::Candidate;
use crate::cache::query::{next_collection_id, Entry, Marks, QueryCache, QueryKey};
use crate::error::{Error, Result};
use crate::storage::commit::Request;
use crate::storage::manifest::SegmentEntry;
use crate::storage::wal::FrameKind;
use crate::storage::{deletes, records, segment_file, Storage};
use crate::sync::{Mutex, RwLock};
use std::collections::HashSet;

/// Id-keyed maps: foldhash (randomly seeded) is several times faster than SipHash on u64
/// keys, and writes and recovery do one lookup per row.
type IdMap<V> = std::collections::HashMap<u64, V, foldhash::fast::RandomState>;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use super::row::MAX_METADATA_BYTES;

/// Kills remembered for the query cache's revalidation (an entry older than that many
/// kills is dropped instead of checked) and for a build's swap (which re-checks under the
/// write lock only the ids killed since its read-locked check, or every row when more
/// died than the log keeps).
const KILLED_LOG_ROWS: usize = 4096;
/// New hot rows the query cache checks an entry against before dropping it instead.
const REVALIDATE_MAX_ROWS: u64 = 4096;

/// Largest accepted dimension.
pub const MAX_DIMENSION: usize = 16_384;
/// Largest accepted `k` for a search.
pub const MAX_K: usize = 10_000;
/// Most vectors in one upsert, delete or search batch.
pub const MAX_BATCH: usize = 1_000_000;
/// Default number of live hot rows that triggers a background freeze into a segment (with
/// the default backlog cap of twice this, every search scans at most 10,000 unindexed
/// rows: on 1M clustered-128 rows beside a full-speed writer, a 20,000-row cap kept
/// search p99 at 4.8-5.3x the quiet p99 and a 5,000-row cap at 3.4x; benches/RESULTS.md
/// § ingest).
pub const DEFAULT_AUTO_BUILD_ROWS: usize = 5_000;
/// Live hot rows that make a durable exact-only collection flush its hot tier into a
/// segment (exact scans of this many rows take well under a millisecond).
pub const EXACT_FLUSH_ROWS: usize = 65_536;
/// Default cap on unindexed (hot) live rows of an indexed collection, as a multiple of its
/// `auto_build_rows`: past it, upserts wait for background builds.
pub const DEFAULT_UNINDEXED_FACTOR: usize = 2;

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
    /// What ids are (`u64`, or strings keyed by their hash; see [`super::ids`]).
    pub id_type: IdType,
}

impl CollectionConfig {
    /// An exact-only collection.
    pub fn exact(dimension: usize, metric: Metric) -> CollectionConfig {
        CollectionConfig { dimension, metric, index: None, id_type: IdType::U64 }
    }

    /// A collection with the default graph index settings.
    pub fn indexed(dimension: usize, metric: Metric) -> CollectionConfig {
        CollectionConfig { dimension, metric, index: Some(IndexConfig::default()), id_type: IdType::U64 }
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
    /// Answer from (and fill) the database's query cache, when it has one.
    pub cache: bool,
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
    /// String id of each hit (string-id collections; `ids` then holds their keys).
    pub names: Vec<Arc<str>>,
}

/// A stored vector as returned by [`Collection::get`].
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVector {
    /// The vector as stored (unit length under cosine).
    pub vector: Vec<f32>,
    /// Its metadata JSON, if any.
    pub metadata: Option<Arc<str>>,
}

/// The error for two string ids that share a 64-bit key.
fn collision(name: &str, other: &str) -> Error {
    Error::invalid(format!(
        "id {name:?} shares its 64-bit key with the id {other:?} (a hash collision, about once in 10^19 pairs); use another id"
    ))
}

/// Where an id's live version is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Loc {
    /// Absolute hot row number: `hot_base` + index in the hot tier.
    Hot(u64),
    /// Segment uid, row.
    Seg(u32, u32),
}

impl Loc {
    const HOT: u64 = 1 << 63;

    /// As one `u64` (what the query cache keeps of its candidates' locations).
    fn encode(self) -> u64 {
        match self {
            Loc::Hot(abs) => Loc::HOT | abs,
            Loc::Seg(uid, r) => (uid as u64) << 32 | r as u64,
        }
    }

    fn decode(x: u64) -> Loc {
        if x & Loc::HOT != 0 {
            Loc::Hot(x & !Loc::HOT)
        } else {
            Loc::Seg((x >> 32) as u32, x as u32)
        }
    }
}

struct State {
    hot: HotTier,
    /// Hot rows drained into segments since the collection was opened.
    hot_base: u64,
    segments: Vec<Segment>,
    /// Uid of each segment in `segments` (same order); uids are never reused.
    seg_uids: Vec<u32>,
    next_seg_uid: u32,
    /// Id → absolute row of its live hot row.
    hot_ids: IdMap<u64>,
    /// Live ids (hot and segments).
    live: usize,
    /// Generation of the segment layout (bumped by every swap), for the query cache.
    layout_epoch: u64,
    /// Rows ever killed (deleted or replaced), and the keys of the most recent ones: the
    /// query cache replays them against its entries, and a swap re-checks them. Every
    /// write that kills a live row must go through [`State::note_killed`], or a build
    /// racing it would install a row that should be dead.
    killed_total: u64,
    killed_log: std::collections::VecDeque<u64>,
    /// Sequence number of the last WAL frame applied (durable collections).
    applied_seq: u64,
    /// Every frame up to here is in the segment files and deletion bitmaps.
    flushed_seq: u64,
}

impl State {
    /// Position in `segments` of the segment with `uid` (a handful of segments: a scan).
    fn seg_pos(&self, uid: u32) -> Option<usize> {
        self.seg_uids.iter().position(|&u| u == uid)
    }

    fn hot_row(&self, abs: u64) -> u32 {
        (abs - self.hot_base) as u32
    }

    fn hot_loc(&self, r: u32) -> Loc {
        Loc::Hot(self.hot_base + r as u64)
    }

    fn vector(&self, loc: Loc) -> Result<&[f32]> {
        match loc {
            Loc::Hot(abs) => Ok(self.hot.vector(self.hot_row(abs))),
            Loc::Seg(uid, r) => match self.seg_pos(uid) {
                Some(s) => self.segments[s].vector(r),
                None => Err(Error::Internal(format!("location names segment uid {uid}, which is not installed"))),
            },
        }
    }

    fn meta(&self, loc: Loc) -> Option<Arc<str>> {
        match loc {
            Loc::Hot(abs) => self.hot.meta(self.hot_row(abs)).map(|m| Arc::clone(&m.json)),
            Loc::Seg(uid, r) => self.seg_pos(uid).and_then(|s| self.segments[s].meta_json(r)),
        }
    }

    /// String id of the row at `loc` (string-id collections).
    fn name(&self, loc: Loc) -> Option<Arc<str>> {
        match loc {
            Loc::Hot(abs) => self.hot.name(self.hot_row(abs)).cloned(),
            Loc::Seg(uid, r) => self.seg_pos(uid).and_then(|s| self.segments[s].name(r)),
        }
    }

    /// Whether the row at `loc` has string id `name`.
    fn name_is(&self, loc: Loc, name: &str) -> bool {
        match loc {
            Loc::Hot(abs) => self.hot.name(self.hot_row(abs)).is_some_and(|n| &**n == name),
            Loc::Seg(uid, r) => self.seg_pos(uid).is_some_and(|s| self.segments[s].name_is(r, name)),
        }
    }

    /// Where string id `name` (key `key`) is live, if it is.
    fn find_name(&self, key: u64, name: &str) -> Option<Loc> {
        self.find(key).filter(|&loc| self.name_is(loc, name))
    }

    /// Where `id`'s live version is, if it has one.
    fn find(&self, id: u64) -> Option<Loc> {
        if let Some(&abs) = self.hot_ids.get(&id) {
            return Some(Loc::Hot(abs));
        }
        self.find_in_segments(id).map(|(s, r)| Loc::Seg(self.seg_uids[s], r))
    }

    /// The segment (position) and row of `id`'s live segment row, if any.
    fn find_in_segments(&self, id: u64) -> Option<(usize, u32)> {
        // Newest first: a replaced id's live row is likelier in a recent segment.
        self.segments.iter().enumerate().rev().find_map(|(s, seg)| seg.find_live(id).map(|r| (s, r)))
    }

    /// Kill `id`'s live version; returns whether it had one.
    fn kill_id(&mut self, id: u64) -> bool {
        if let Some(abs) = self.hot_ids.remove(&id) {
            let r = self.hot_row(abs);
            self.hot.kill(r);
            self.note_killed(id);
            return true;
        }
        match self.find_in_segments(id) {
            Some((s, r)) => {
                self.segments[s].delete_row(r);
                self.note_killed(id);
                true
            }
            None => false,
        }
    }

    /// Record that a row holding `id` died (for the query cache's revalidation).
    fn note_killed(&mut self, id: u64) {
        self.killed_total += 1;
        if self.killed_log.len() == KILLED_LOG_ROWS {
            self.killed_log.pop_front();
        }
        self.killed_log.push_back(id);
    }

    /// Where the write history stands (see [`Marks`]).
    fn marks(&self) -> Marks {
        Marks { layout: self.layout_epoch, hot_end: self.hot_base + self.hot.len() as u64, killed: self.killed_total }
    }
}

/// Write backpressure and indexing figures of a collection since open.
#[derive(Default)]
struct IndexingCounters {
    /// Upserts that had to wait for indexing.
    write_stalls: std::sync::atomic::AtomicU64,
    /// Total time finished waits of upserts took, in microseconds.
    stall_micros: std::sync::atomic::AtomicU64,
    /// Upserts waiting now, and the sum of their start times (microseconds since
    /// `epoch`), so stats can count waits still in progress.
    waiting: std::sync::atomic::AtomicU64,
    waiting_since_sum: std::sync::atomic::AtomicU64,
    /// Rows moved out of the hot tier into segments by builds.
    indexed_rows: std::sync::atomic::AtomicU64,
    /// Rows rewritten by merges of segments.
    merged_rows: std::sync::atomic::AtomicU64,
}

/// A named set of vectors of one dimension and metric.
pub struct Collection {
    name: String,
    config: CollectionConfig,
    /// Id in the manifest and in WAL frames (0 in memory).
    id: u64,
    /// Durable storage; unset for an in-memory database, and during recovery until the
    /// WAL has been replayed into the collection.
    storage: std::sync::OnceLock<Arc<Storage>>,
    state: RwLock<State>,
    /// Held for the whole of a build of the hot tier, so those never overlap.
    flush_lock: Mutex<()>,
    /// Held for the whole of a merge of segments. A merge may run beside a hot build (they
    /// touch disjoint rows and each swaps in its own result); a build of everything
    /// (`compact`, `buildIndex`) holds both.
    merge_lock: Mutex<()>,
    /// Serialises checkpoints (capture of the segment set → manifest), so a checkpoint
    /// that captured an older segment set never overwrites a newer one's manifest.
    checkpoint_lock: Mutex<()>,
    /// Set while a background hot build is scheduled or running.
    background_build: AtomicBool,
    /// Set while background merges are scheduled or running.
    background_merge: AtomicBool,
    /// Live hot rows past which upserts wait for indexing; 0: no cap.
    max_unindexed_rows: std::sync::atomic::AtomicUsize,
    /// Woken after every swap, for writers waiting on the backlog.
    indexed: parking_lot::Condvar,
    indexed_lock: parking_lot::Mutex<()>,
    counters: IndexingCounters,
    /// Clock of the stall figures.
    epoch: std::time::Instant,
    /// Why the last background build failed, if it did (reported to stalled writers).
    last_build_error: parking_lot::Mutex<Option<String>>,
    /// When the last background merge failed (`None` once one succeeds): merges back off.
    merge_failed_at: parking_lot::Mutex<Option<std::time::Instant>>,
    dropped: AtomicBool,
    db_closed: Arc<AtomicBool>,
    /// The database's query cache (set once, when the collection is created or opened).
    query_cache: std::sync::OnceLock<Arc<QueryCache>>,
    /// This collection instance's id in query-cache keys.
    cache_id: u64,
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
    /// Live rows in the hot tier: the unindexed backlog every search scans exactly.
    pub hot_rows: usize,
    /// Per segment: (rows, live rows, has a graph).
    pub segments: Vec<(usize, usize, bool)>,
    /// The backlog cap in force (0: none).
    pub max_unindexed_rows: usize,
    /// Upserts that waited for indexing since open.
    pub write_stalls: u64,
    /// Total time upserts waited for indexing since open, in microseconds (waits still in
    /// progress included).
    pub stall_micros: u64,
    /// Upserts waiting for indexing right now.
    pub writers_waiting: u64,
    /// Rows moved from the hot tier into segments since open.
    pub indexed_rows: u64,
    /// Rows rewritten by segment merges since open.
    pub merged_rows: u64,
    /// Whether a background build or merge is running.
    pub indexing: bool,
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
            storage: storage.map(std::sync::OnceLock::from).unwrap_or_default(),
            state: RwLock::new(State {
                hot: HotTier::new(config.dimension),
                hot_base: 0,
                segments: Vec::new(),
                seg_uids: Vec::new(),
                next_seg_uid: 0,
                hot_ids: IdMap::default(),
                live: 0,
                layout_epoch: 0,
                killed_total: 0,
                killed_log: std::collections::VecDeque::new(),
                applied_seq: flushed_seq,
                flushed_seq,
            }),
            flush_lock: Mutex::new(()),
            merge_lock: Mutex::new(()),
            checkpoint_lock: Mutex::new(()),
            background_build: AtomicBool::new(false),
            background_merge: AtomicBool::new(false),
            max_unindexed_rows: std::sync::atomic::AtomicUsize::new(
                config.index.map_or(0, |ix| ix.auto_build_rows.saturating_mul(DEFAULT_UNINDEXED_FACTOR)),
            ),
            indexed: parking_lot::Condvar::new(),
            indexed_lock: parking_lot::Mutex::new(()),
            counters: IndexingCounters::default(),
            epoch: std::time::Instant::now(),
            last_build_error: parking_lot::Mutex::new(None),
            merge_failed_at: parking_lot::Mutex::new(None),
            dropped: AtomicBool::new(false),
            query_cache: std::sync::OnceLock::new(),
            cache_id: next_collection_id(),
            db_closed,
        }
    }

    /// Microseconds since this collection handle was created (the clock of stall stats).
    fn epoch_micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Install the segments read at open (before WAL replay). Every id may be live in at
    /// most one of them (checkpoints keep it so; `verify` checks it).
    pub(crate) fn restore_segments(&self, segments: Vec<Segment>) -> Result<()> {
        let mut st = self.state.write();
        // Each segment's id order came with its file: nothing to build here.
        st.live = segments.iter().map(Segment::live).sum();
        st.seg_uids = (0..segments.len() as u32).collect();
        st.next_seg_uid = segments.len() as u32;
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
        Ok(self.state.read().live)
    }

    /// Layout counts.
    pub fn stats(&self) -> Result<CollectionStats> {
        self.check_usable()?;
        let s = self.state.read();
        let c = &self.counters;
        Ok(CollectionStats {
            count: s.live,
            hot_rows: s.hot.live(),
            segments: s.segments.iter().map(|g| (g.len(), g.live(), g.has_graph())).collect(),
            max_unindexed_rows: self.max_unindexed_rows(),
            write_stalls: c.write_stalls.load(Ordering::Relaxed),
            stall_micros: {
                // Waits in progress count up to now (the two figures are read apart, so a
                // wait ending between the reads is at worst counted once or not at all).
                let waiting = c.waiting.load(Ordering::Relaxed);
                let since_sum = c.waiting_since_sum.load(Ordering::Relaxed);
                let ongoing = (waiting * self.epoch_micros()).saturating_sub(since_sum);
                c.stall_micros.load(Ordering::Relaxed) + ongoing
            },
            writers_waiting: c.waiting.load(Ordering::Relaxed),
            indexed_rows: c.indexed_rows.load(Ordering::Relaxed),
            merged_rows: c.merged_rows.load(Ordering::Relaxed),
            indexing: self.background_build.load(Ordering::Relaxed) || self.background_merge.load(Ordering::Relaxed),
        })
    }

    /// Durable storage, if any.
    fn storage(&self) -> Option<&Arc<Storage>> {
        self.storage.get()
    }

    /// Connect a recovered collection (segments restored, WAL replayed) to the storage
    /// that is now running, telling it which WAL frames the collection still needs.
    pub(crate) fn attach_storage(&self, storage: Arc<Storage>) {
        let st = self.state.read();
        let floor = (st.applied_seq > st.flushed_seq).then_some(st.flushed_seq + 1);
        storage.set_floor(self.id, floor);
        // Set once, right after recovery; a second call would be a bug and changes nothing.
        let _ = self.storage.set(storage);
    }

    /// After open: start the background build a large replayed hot tier calls for.
    pub(crate) fn resume_background_work(self: &Arc<Self>) {
        let hot_live = {
            let st = self.state.read();
            st.segments.iter().for_each(Segment::start_background_check);
            st.hot.live()
        };
        self.maybe_build_in_background(hot_live);
    }

    /// Verify every stored vector whose check was deferred at open (large segments are
    /// otherwise checked on first use and by a background sweep), and that no id is live
    /// twice (in two segments, or in a segment and the hot tier): `CORRUPTION` naming the
    /// file and offset, or the id, if not.
    pub fn verify(&self) -> Result<()> {
        self.check_usable()?;
        // Checked outside the lock: at 10M rows this reads gigabytes, and writers (then
        // readers queued behind them) would wait for it.
        let pending: Vec<_> = self.state.read().segments.iter().filter_map(Segment::pending_check).collect();
        pending.iter().try_for_each(|d| d.check_all())?;
        self.verify_unique_ids()
    }

    /// Every live segment row's id is live nowhere else. Reads a chunk of rows per
    /// read-lock hold (a segment merged away meanwhile ends its check early: its rows are
    /// in the merged segment, checked on its own if it was listed at the start).
    fn verify_unique_ids(&self) -> Result<()> {
        let uids = self.state.read().seg_uids.clone();
        for uid in uids {
            let mut r = 0u32;
            loop {
                let st = self.state.read();
                let Some(p) = st.seg_pos(uid) else { break };
                let seg = &st.segments[p];
                let end = (r + 65_536).min(seg.len() as u32);
                for row in (r..end).filter(|&row| !seg.is_deleted(row)) {
                    let id = seg.id(row);
                    let elsewhere = st.hot_ids.contains_key(&id)
                        || st.segments.iter().enumerate().any(|(q, other)| q != p && other.find_live(id).is_some());
                    if elsewhere {
                        return Err(Error::Corruption(format!(
                            "collection '{}': id {id} is live in segment file {:?} and elsewhere",
                            self.name,
                            seg.files.map(|f| f.file)
                        )));
                    }
                }
                r = end;
                if r as usize >= seg.len() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The stored vector and metadata of `id`, or `None`.
    pub fn get(&self, id: u64) -> Result<Option<StoredVector>> {
        self.check_usable()?;
        self.expect_ids(IdType::U64)?;
        let st = self.state.read();
        let Some(loc) = st.find(id) else { return Ok(None) };
        Ok(Some(StoredVector { vector: st.vector(loc)?.to_vec(), metadata: st.meta(loc) }))
    }

    /// [`Collection::get`] for a string-id collection.
    pub fn get_named(&self, name: &str) -> Result<Option<StoredVector>> {
        self.check_usable()?;
        self.expect_ids(IdType::String)?;
        let st = self.state.read();
        let Some(loc) = st.find_name(string_key(name), name) else { return Ok(None) };
        Ok(Some(StoredVector { vector: st.vector(loc)?.to_vec(), metadata: st.meta(loc) }))
    }

    fn prepare_queries(&self, queries: &[f32]) -> Result<Vec<f32>> {
        let dim = self.config.dimension;
        let mut prepared = queries.to_vec();
        for (i, q) in prepared.chunks_exact_mut(dim).enumerate() {
            self.config.metric.prepare(q, &|| format!("query {i}"))?;
        }
        Ok(prepared)
    }

    /// Search many queries (`queries` row-major), spread over every core.
    pub fn search_batch(&self, queries: &[f32], params: &SearchParams) -> Result<Vec<SearchHits>> {
        use rayon::prelude::*;
        self.check_usable()?;
        let ef = params.validate()?;
        let dim = self.config.dimension;
        if !queries.len().is_multiple_of(dim) {
            return Err(Error::batch_length(dim, queries.len()));
        }
        if queries.len() / dim > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} queries")));
        }
        let queries = self.prepare_queries(queries)?;
        let st = self.state.read();
        let hot = st.hot.search_batch(self.config.metric, &queries, params.k, params.filter.as_ref());
        queries.par_chunks(dim).zip(hot).map(|(q, hot)| self.merge(&st, q, hot, params, ef)).collect()
    }

    /// Search every segment and merge with the hot tier's candidates.
    fn merge(
        &self,
        st: &State,
        query: &[f32],
        hot: Vec<Candidate>,
        params: &SearchParams,
        ef: usize,
    ) -> Result<SearchHits> {
        self.merge_located(st, query, hot, params, ef, None)
    }

    /// [`Collection::merge`] that also pushes each hit's location onto `locs`
    /// ([`Loc::encode`]).
    fn merge_located(
        &self,
        st: &State,
        query: &[f32],
        hot: Vec<Candidate>,
        params: &SearchParams,
        ef: usize,
        mut locs: Option<&mut Vec<u64>>,
    ) -> Result<SearchHits> {
        let mut all: Vec<(Candidate, Option<u32>)> = hot.into_iter().map(|c| (c, None)).collect();
        for (s, seg) in st.segments.iter().enumerate() {
            let found = seg.search(self.config.metric, query, params.k, ef, params.filter.as_ref())?;
            all.extend(found.into_iter().map(|c| (c, Some(st.seg_uids[s]))));
        }
        all.sort_by_key(|a| a.0);
        all.truncate(params.k);
        let mut out = SearchHits {
            ids: Vec::with_capacity(all.len()),
            distances: Vec::with_capacity(all.len()),
            ..SearchHits::default()
        };
        let named = self.config.id_type == IdType::String;
        for (c, src) in all {
            let loc = src.map_or(st.hot_loc(c.row), |uid| Loc::Seg(uid, c.row));
            if let Some(l) = locs.as_deref_mut() {
                l.push(loc.encode());
            }
            out.ids.push(c.id);
            if named {
                out.names.push(st.name(loc).unwrap_or_else(|| Arc::from("")));
            }
            out.distances.push(c.distance);
            if params.with_metadata {
                out.metadata.push(st.meta(loc));
            }
            if params.with_vectors {
                out.vectors.push(st.vector(loc)?.to_vec());
            }
        }
        Ok(out)
    }

    /// Bytes of vector and index data held in memory.
    pub fn memory_bytes(&self) -> usize {
        let st = self.state.read();
        st.hot.memory_bytes()
            + st.segments.iter().map(Segment::memory_bytes).sum::<usize>()
            + st.hot_ids.capacity() * 24
    }
}
