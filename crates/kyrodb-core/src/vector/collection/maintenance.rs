//! Maintenance of a collection: builds that freeze the hot tier into a segment, merges of
//! segments (size-tiered in the background, everything on `compact`), the swap that
//! installs a built segment, and — for durable collections — the checkpoint that records
//! it in the manifest (see `docs/ARCHITECTURE.md` §3 and §6).

use super::*;
use crate::tiers::{size_tier, MERGE_FANIN};
use crate::vector::hnsw::FrozenGraph;
use crate::vector::segment::SegmentGrowth;

/// Which rows a build consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum BuildScope {
    /// The hot tier only; the new segment is added beside the existing ones.
    Hot,
    /// Everything: the hot tier and every segment merge into one new segment.
    All,
    /// These segments (uids) merge into one; the hot tier stays.
    Segments(Vec<u32>),
}

/// Rows copied per read-lock hold when a build snapshots its sources: copying a whole
/// merge input under one hold (hundreds of MB at 1M rows) would make every search queued
/// behind a waiting writer wait for all of it (parking_lot's lock is fair).
const SNAPSHOT_CHUNK_ROWS: u32 = 2048;

/// A copied row's metadata: hot rows carry it parsed; segment rows as stored text, parsed
/// after the copy (the new segment's field index needs the parsed form) so no lock is held
/// while parsing.
enum CopiedMeta {
    Parsed(Arc<RowMeta>),
    Text(Arc<str>),
}

/// Parse the copied metadata that is still text (`ids[i]` holds `metas[i]`).
fn parse_copied(metas: Vec<Option<CopiedMeta>>, ids: &[u64]) -> Result<Vec<Option<Arc<RowMeta>>>> {
    metas
        .into_iter()
        .zip(ids)
        .map(|(m, &id)| match m {
            None => Ok(None),
            Some(CopiedMeta::Parsed(p)) => Ok(Some(p)),
            Some(CopiedMeta::Text(json)) => RowMeta::parse(json.to_string(), id)
                .map(|p| Some(Arc::new(p)))
                .map_err(|e| Error::Corruption(format!("stored metadata of id {id}: {e}"))),
        })
        .collect()
}

/// Unsettled segments past which hot builds wait for merges: every search walks every
/// segment, so their number is a backlog too. When writes outrun merges, the hot tier then
/// fills to its cap and writers wait (the indexing rate, merges included, paces the writes).
/// Segments that were written settled (by rows stored, deleted ones included) do not count,
/// even after deletions shrink them: merges may take them again, but writers never wait on
/// that.
pub const MAX_SEGMENTS: usize = 8;

/// Size tier ([`crate::tiers`]) from which a segment is *settled*: background merges leave
/// it alone, so the indexing work per written row stops growing with the collection (a
/// merge that grows a graph costs more per row the larger the graph, and an unbounded top
/// tier would make writers wait tens of minutes behind one merge at 10M rows). Tier 4 is
/// 256 × autoBuildRows live rows: 1,280,000 at the default. A settled segment merges
/// again only through `compact` / `buildIndex`, or once deletions take its live rows
/// below the tier. The price is on the read side: a search walks every settled segment.
pub const SETTLED_TIER: u32 = 4;

/// Largest merge a background merge writes, in multiples of the tier base (2,560,000 rows
/// at the default autoBuildRows), counting the rows its inputs store (a seed graph carries
/// its deleted rows along): a merge keeps dropping its largest input until its inputs fit
/// (two segments that count toward [`MAX_SEGMENTS`] always do).
const MAX_MERGED_BASES: usize = 512;

/// Pause after a failed background merge before the next one starts.
const MERGE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A segment as the merge policy sees it.
#[derive(Copy, Clone, Debug)]
struct SegmentSize {
    /// Rows stored, deleted ones included.
    rows: usize,
    /// Live rows.
    live: usize,
}

impl SegmentSize {
    fn of(seg: &Segment) -> SegmentSize {
        SegmentSize { rows: seg.len(), live: seg.live() }
    }

    /// Whether it counts toward [`MAX_SEGMENTS`]: it was not written settled.
    fn counted(self, base: usize) -> bool {
        size_tier(self.rows, base) < SETTLED_TIER
    }

    /// Whether merges may take it by its tier: its live rows are below the settled tier.
    fn mergeable(self, base: usize) -> bool {
        size_tier(self.live, base) < SETTLED_TIER
    }
}

/// Segments that count toward [`MAX_SEGMENTS`].
fn counted_segments(segs: impl IntoIterator<Item = SegmentSize>, base: usize) -> usize {
    segs.into_iter().filter(|s| s.counted(base)).count()
}

/// `pick` without its largest inputs while the rows they store together pass the merge
/// cap ([`MAX_MERGED_BASES`]); at least two inputs stay.
fn within_merge_cap(mut pick: Vec<usize>, segs: &[SegmentSize], base: usize) -> Vec<usize> {
    let cap = base.max(1).saturating_mul(MAX_MERGED_BASES);
    while pick.len() > 2 && pick.iter().map(|&i| segs[i].rows).sum::<usize>() > cap {
        if let Some(largest) = (0..pick.len()).max_by_key(|&j| segs[pick[j]].rows) {
            pick.remove(largest);
        }
    }
    pick
}

/// A segment whose deleted share is above this is not used as a merge's seed (its
/// deleted rows would be carried along); the merge rebuilds it and drops them.
const MAX_SEED_DELETED_SHARE: f64 = 0.2;

/// `seg`'s graph, if a merge may grow it: a graph read from a file, few deletions.
fn seed_graph(seg: &Segment) -> Option<FrozenGraph> {
    let few_deleted = (seg.len() - seg.live()) as f64 <= MAX_SEED_DELETED_SHARE * seg.len() as f64;
    few_deleted.then(|| seg.shared_graph()).flatten()
}

/// The segments (indices, ascending) the next merge should combine, if any: a full tier
/// of live rows below the settled tier (`crate::tiers`); or, with [`MAX_SEGMENTS`] or more
/// segments that count toward it, the [`MERGE_FANIN`] smallest of those.
fn pick_merge(segs: &[SegmentSize], base: usize) -> Option<Vec<usize>> {
    let mut by_tier: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, s) in segs.iter().enumerate().filter(|(_, s)| s.mergeable(base)) {
        by_tier.entry(size_tier(s.live, base)).or_default().push(i);
    }
    let pick = by_tier.values().find(|v| v.len() >= MERGE_FANIN).map(|v| {
        // Exactly a fan-in's worth: a smaller merge finishes (and lets hot builds that
        // wait on the segment count go on) sooner.
        v[..MERGE_FANIN].to_vec()
    });
    let pick = pick.or_else(|| {
        let mut counted: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].counted(base)).collect();
        (counted.len() >= MAX_SEGMENTS).then(|| {
            counted.sort_by_key(|&i| segs[i].live);
            counted.truncate(MERGE_FANIN);
            counted.sort_unstable();
            counted
        })
    })?;
    Some(within_merge_cap(pick, segs, base))
}

/// Threads of the pool that background builds and merges run their parallel loops on:
/// `KYRODB_BACKGROUND_THREADS`, or half the cores (at least one), so that a build started
/// by writes leaves the other cores to searches and writes. Builds a caller asked for
/// (`flush`, `compact`, `buildIndex`) use every core: the caller is waiting for them.
pub fn background_threads() -> usize {
    std::env::var("KYRODB_BACKGROUND_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| (p.get() / 2).max(1)))
}

/// Scheduling priority (Linux nice, per thread) of background builds and merges:
/// `KYRODB_BACKGROUND_NICE`, default 5. At nice 5 a build thread gets about a quarter of a
/// core's share against a search thread at nice 0 when both want the same core, so
/// searches beside an ingest are not queued behind index maintenance, yet indexing (which
/// writers past the backlog cap wait for) keeps moving when the app keeps every core
/// busy; at nice 10 it stalled for minutes behind a search loop and V8's GC threads.
fn background_nice() -> i32 {
    std::env::var("KYRODB_BACKGROUND_NICE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &i32| (0..=19).contains(n))
        .unwrap_or(5)
}

/// Lower the calling thread's priority to [`background_nice`] (advice: ignored where the
/// OS refuses).
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; setpriority on our own thread id
    // changes only this thread's nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, background_nice());
    }
}

/// Which background pool a job runs on: hot builds and merges get one each, so a long
/// merge never keeps the hot tier (and writers waiting on its backlog) from being built.
#[derive(Copy, Clone)]
enum Lane {
    Build,
    Merge,
}

/// The background pools (created at first use; `None` if the OS refused their threads,
/// and then the job runs on the global pool).
fn background_pool(lane: Lane) -> Option<&'static rayon::ThreadPool> {
    static BUILD: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    static MERGE: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let (cell, name) = match lane {
        Lane::Build => (&BUILD, "kyrodb-build"),
        Lane::Merge => (&MERGE, "kyrodb-merge"),
    };
    cell.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(background_threads())
            .thread_name(move |i| format!("{name}-{i}"))
            .start_handler(|_| lower_thread_priority())
            .build()
            .ok()
    })
    .as_ref()
}

/// Run `work` on `lane`'s pool, catching a panic; returns whether it succeeded.
fn run_in_background(
    name: &str,
    lane: Lane,
    work: impl FnOnce() -> Result<()> + Send,
) -> std::result::Result<(), String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match background_pool(lane) {
        Some(pool) => pool.install(work),
        None => work(),
    }));
    match outcome {
        Ok(Ok(())) | Ok(Err(Error::Closed)) => Ok(()),
        Ok(Err(e)) => {
            log::warn!("collection {name}: background work failed (rows stay where they were, nothing is lost): {e}");
            Err(e.to_string())
        }
        Err(_) => {
            log::error!("collection {name}: background work panicked (rows stay where they were, nothing is lost)");
            Err("a background build panicked".into())
        }
    }
}

impl Collection {
    /// Build the graph index over everything stored: the hot tier and every segment merge
    /// into one segment (deleted rows are purged). Reads and writes continue while it runs.
    /// `progress(done, total)` reports inserted rows. Exact-only in-memory collections
    /// return at once. Returns the number of rows the build indexed.
    pub fn build_index(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.config.index.is_none() && self.storage().is_none() {
            return Ok(0);
        }
        self.build(BuildScope::All, progress)
    }

    /// Make everything written so far durable in segment files (the hot tier becomes a
    /// new segment, deletions are written as bitmaps) so that reopening replays nothing of
    /// it. A no-op in memory. Returns the rows moved out of the hot tier.
    pub fn flush(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.storage().is_none() {
            return Ok(0);
        }
        self.build(BuildScope::Hot, progress)
    }

    /// Merge every segment and the hot tier into one segment, dropping deleted rows.
    pub fn compact(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.check_usable()?;
        if self.storage().is_none() && self.config.index.is_none() {
            return Ok(0);
        }
        self.build(BuildScope::All, progress)
    }

    /// Wait for running builds and merges to finish and keep new ones from starting
    /// (close).
    pub(crate) fn quiesce(&self) -> (crate::sync::MutexGuard<'_, ()>, crate::sync::MutexGuard<'_, ()>) {
        let merging = self.merge_lock.lock();
        (merging, self.flush_lock.lock())
    }

    fn auto_flush_rows(&self) -> Option<usize> {
        match (self.config.index, self.storage()) {
            (Some(ix), _) => Some(ix.auto_build_rows),
            (None, Some(_)) => Some(EXACT_FLUSH_ROWS),
            (None, None) => None,
        }
    }

    pub(super) fn maybe_build_in_background(self: &Arc<Self>, hot_live: usize) {
        let Some(threshold) = self.auto_flush_rows() else { return };
        if hot_live >= threshold {
            self.start_background_build();
        }
    }

    /// Start a background build of the hot tier unless one is running (writers waiting
    /// on the backlog call this whatever the threshold: a cap below `auto_build_rows`
    /// must still make progress). With [`MAX_SEGMENTS`] segments that count, merges go first.
    pub(super) fn start_background_build(self: &Arc<Self>) {
        let Some(base) = self.auto_flush_rows() else { return };
        if counted_segments(self.state.read().segments.iter().map(SegmentSize::of), base) >= MAX_SEGMENTS {
            self.maybe_merge_in_background();
            return;
        }
        if !self.background_build.swap(true, Ordering::AcqRel) {
            self.spawn_background_build();
        }
    }

    /// Run `work` on a thread of its own (named `{thread}-{collection}`, lowered priority)
    /// and `lane`'s pool; `flag` is cleared when it ends (or at once if the thread cannot
    /// start), then `then` gets the outcome.
    fn spawn_background(
        self: &Arc<Self>,
        flag: fn(&Collection) -> &AtomicBool,
        thread: &str,
        lane: Lane,
        work: impl FnOnce(&Arc<Self>) -> Result<()> + Send + 'static,
        then: impl FnOnce(&Arc<Self>, std::result::Result<(), String>) + Send + 'static,
    ) {
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new().name(format!("{thread}-{}", self.name)).spawn(move || {
            lower_thread_priority();
            let outcome = run_in_background(&me.name, lane, || work(&me));
            flag(&me).store(false, Ordering::Release);
            then(&me, outcome);
        });
        if spawned.is_err() {
            flag(self).store(false, Ordering::Release);
        }
    }

    /// Flush the hot tier on a background thread, then start merges if a size tier is
    /// full. A failed background build (database closed meanwhile, disk full) leaves the
    /// rows in the hot tier and the WAL, where they are still found; nothing is lost.
    fn spawn_background_build(self: &Arc<Self>) {
        self.spawn_background(
            |c| &c.background_build,
            "kyrodb-build",
            Lane::Build,
            |me| me.build(BuildScope::Hot, &mut |_, _| {}).map(drop),
            |me, outcome| {
                *me.last_build_error.lock() = outcome.err();
                me.indexed.notify_all();
                if me.usable() {
                    me.maybe_merge_in_background();
                    // Writes that arrived during the build may already call for the next one.
                    let hot_live = me.state.read().hot.live();
                    me.maybe_build_in_background(hot_live);
                }
            },
        );
    }

    /// The segments (uids) that should merge now, if any ([`pick_merge`]).
    fn merge_pick(&self) -> Option<Vec<u32>> {
        let base = self.auto_flush_rows().unwrap_or(DEFAULT_AUTO_BUILD_ROWS);
        let st = self.state.read();
        let sizes: Vec<SegmentSize> = st.segments.iter().map(SegmentSize::of).collect();
        let pick = pick_merge(&sizes, base)?;
        Some(pick.into_iter().map(|i| st.seg_uids[i]).collect())
    }

    /// Merge segments while a size tier is full, on its own thread and pool, so a long
    /// merge never holds up the hot tier's builds. A failed merge is reported to writers
    /// waiting on the segment count (as a failed hot build is), and the next one starts
    /// [`MERGE_RETRY_AFTER`] later at the earliest.
    fn maybe_merge_in_background(self: &Arc<Self>) {
        let backing_off = self.merge_failed_at.lock().is_some_and(|t| t.elapsed() < MERGE_RETRY_AFTER);
        if backing_off || self.merge_pick().is_none() || self.background_merge.swap(true, Ordering::AcqRel) {
            return;
        }
        self.spawn_background(
            |c| &c.background_merge,
            "kyrodb-merge",
            Lane::Merge,
            |me| {
                while let Some(pick) = me.merge_pick() {
                    crate::storage::failpoints::hook(crate::storage::failpoints::points::COLLECTION_MERGE);
                    me.build(BuildScope::Segments(pick), &mut |_, _| {})?;
                }
                Ok(())
            },
            |me, outcome| {
                *me.merge_failed_at.lock() = outcome.is_err().then(std::time::Instant::now);
                if let Err(msg) = outcome {
                    *me.last_build_error.lock() = Some(msg);
                    me.indexed.notify_all();
                }
                if me.usable() {
                    // Hot builds may have been waiting for the segment count to come down.
                    let hot_live = me.state.read().hot.live();
                    me.maybe_build_in_background(hot_live);
                }
            },
        );
    }

    fn build(&self, scope: BuildScope, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        // Lock order: merge, then flush.
        let _merging = (!matches!(scope, BuildScope::Hot)).then(|| self.merge_lock.lock());
        let _flushing = (!matches!(scope, BuildScope::Segments(_))).then(|| self.flush_lock.lock());
        self.check_usable()?;
        let dim = self.config.dimension;

        // 1. Which rows: the consumed segments (uids) and the hot prefix, fixed now.
        //    Hot rows below `hot_end` never move while the flush lock is held, consumed
        //    segments are removed only by a build holding the merge lock, and rows only
        //    ever die, so copying them chunk by chunk below sees each row either live
        //    or dead for good. `snapshot_seq`: every WAL frame up to it is reflected in
        //    the rows consumed (later frames only add hot rows past `hot_end` or kill).
        //    A merge grows the graph of its largest input that is fit (`seedable`)
        //    instead of rebuilding it: the seed is copied first, every row of it (deleted
        //    ones arrive deleted), so its graph's node numbers hold.
        let (consumed, seed, hot_start, hot_end, snapshot_seq) = {
            let st = self.state.read();
            let mut consumed: Vec<u32> = match &scope {
                BuildScope::Hot => Vec::new(),
                BuildScope::All => st.seg_uids.clone(),
                BuildScope::Segments(v) => v.iter().copied().filter(|&u| st.seg_pos(u).is_some()).collect(),
            };
            // Hot builds always build a small graph anew: measured on 1M clustered-128 rows
            // beside a search loop, growing one segment's graph by each hot build was
            // slower per row (inserts into a graph that no longer fits in cache) than small
            // fresh builds, and writers wait on the hot builds (benches/RESULTS.md § ingest).
            // `buildIndex`/`compact` rebuild everything, dropping deleted rows.
            let seed = match &scope {
                BuildScope::Segments(_) => consumed
                    .iter()
                    .filter_map(|&u| {
                        let seg = &st.segments[st.seg_pos(u)?];
                        Some((u, seg.len(), seed_graph(seg)?))
                    })
                    .max_by_key(|&(_, len, _)| len)
                    .map(|(u, _, graph)| (u, graph)),
                BuildScope::Hot | BuildScope::All => None,
            };
            if let Some((u, _)) = &seed {
                consumed.retain(|c| c != u);
                consumed.insert(0, *u);
            }
            let takes_hot = !matches!(scope, BuildScope::Segments(_));
            let hot_end = if takes_hot { st.hot_base + st.hot.len() as u64 } else { st.hot_base };
            // A merge of segments alone leaves the hot tier (and so the WAL position
            // covered by the files) where it was.
            let covered = if takes_hot { st.applied_seq } else { st.flushed_seq };
            (consumed, seed, st.hot_base, hot_end, covered)
        };

        // 2. Verify the stored vectors the copy will read, outside the lock (a no-op once
        //    open's background sweep is done; damage fails the build here).
        let pending: Vec<_> = {
            let st = self.state.read();
            consumed.iter().filter_map(|&u| st.seg_pos(u)).filter_map(|s| st.segments[s].pending_check()).collect()
        };
        pending.iter().try_for_each(|d| d.check_all())?;

        // 3. Copy the source rows, a chunk per read-lock hold: every row of the seed, the
        //    live rows of the rest. `sources` names the live ones (for the swap).
        let mut sources = Vec::new();
        let mut ids = Vec::new();
        let mut born_deleted = Vec::new();
        let mut vectors = Vec::new();
        let mut metas = Vec::new();
        let named = self.config.id_type == IdType::String;
        let mut names: Vec<Arc<str>> = Vec::new();
        let seed_uid = seed.as_ref().map(|(u, _)| *u);
        for &uid in &consumed {
            let is_seed = seed_uid == Some(uid);
            let mut r = 0u32;
            loop {
                let st = self.state.read();
                let Some(s) = st.seg_pos(uid) else { break };
                let seg = &st.segments[s];
                let end = (r + SNAPSHOT_CHUNK_ROWS).min(seg.len() as u32);
                for row in r..end {
                    let dead = seg.is_deleted(row);
                    if !dead || is_seed {
                        if !dead {
                            sources.push((seg.id(row), Loc::Seg(uid, row)));
                        }
                        ids.push(seg.id(row));
                        if named {
                            names.push(seg.name(row).unwrap_or_else(|| Arc::from("")));
                        }
                        born_deleted.push(dead);
                        vectors.extend_from_slice(seg.vector(row)?);
                        // Text only under the lock; parsed (for the new index) after.
                        metas.push(if dead { None } else { seg.meta_json(row).map(CopiedMeta::Text) });
                    }
                }
                r = end;
                if r as usize >= seg.len() {
                    break;
                }
            }
        }
        let mut abs = hot_start;
        while abs < hot_end {
            let st = self.state.read();
            let end = (abs + SNAPSHOT_CHUNK_ROWS as u64).min(hot_end);
            for a in abs..end {
                let r = st.hot_row(a);
                if !st.hot.is_dead(r) {
                    sources.push((st.hot.id(r), Loc::Hot(a)));
                    ids.push(st.hot.id(r));
                    if named {
                        names.push(st.hot.name(r).cloned().unwrap_or_else(|| Arc::from("")));
                    }
                    born_deleted.push(false);
                    vectors.extend_from_slice(st.hot.vector(r));
                    metas.push(st.hot.meta(r).cloned().map(CopiedMeta::Parsed));
                }
            }
            abs = end;
        }
        let hot_prefix = (hot_end - hot_start) as usize;
        let metas = parse_copied(metas, &ids)?;
        let consumed_segments = consumed;
        let seed_graph = seed.map(|(_, graph)| graph);
        // Rows taken from the hot tier, and rows of segments that went through the graph
        // builder (a seed's own rows, all `g.n` of them, are carried, not rebuilt).
        let hot_rows = sources.iter().filter(|s| matches!(s.1, Loc::Hot(_))).count();
        let rebuilt_segment_rows = ids.len() - hot_rows - seed_graph.as_ref().map_or(0, |g| g.n);
        let built = if matches!(scope, BuildScope::Hot) { hot_rows } else { sources.len() };
        let started = std::time::Instant::now();
        if !consumed_segments.is_empty() || hot_prefix > 0 {
            // 4. Build (and store) without any lock.
            let params = self.config.index.map(|ix| ix.params);
            let grow = SegmentGrowth { graph: seed_graph, born_deleted };
            let mut segment = Segment::build(
                &ids,
                named.then_some(names),
                &vectors,
                metas,
                dim,
                self.config.metric,
                params,
                grow,
                progress,
                &|| self.usable(),
            )?;
            drop(vectors);
            if let (Some(storage), false) = (self.storage(), segment.is_empty()) {
                segment = self.store_segment(storage, &segment)?;
            }
            // 5. Swap (short write lock).
            self.swap(segment, &sources, hot_prefix, &consumed_segments);
            self.counters.indexed_rows.fetch_add(hot_rows as u64, Ordering::Relaxed);
            self.counters.merged_rows.fetch_add(rebuilt_segment_rows as u64, Ordering::Relaxed);
            self.indexed.notify_all();
            if let Some(storage) = self.storage() {
                let counter = if consumed_segments.is_empty() {
                    &storage.counters.segment_builds
                } else {
                    &storage.counters.merges
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            log::info!(
                "collection {}: {} of {built} rows ({} segments consumed, {}) in {:.1} ms",
                self.name,
                if matches!(scope, BuildScope::Segments(_)) { "merge" } else { "segment build" },
                consumed_segments.len(),
                if seed_uid.is_some() { "a graph grown" } else { "graph built anew" },
                started.elapsed().as_secs_f64() * 1e3
            );
        } else {
            progress(0, 0);
        }
        if let Some(storage) = self.storage() {
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
        // Rows a grown graph carries deleted stay deleted (the checkpoint writes them out).
        let deleted = segment.deletions().0.to_vec();
        let opened = segment_file::open(&path, self.config.dimension, self.config.metric, storage.segment_checks)
            .and_then(|f| {
                Segment::from_file(f, Some(deleted), SegmentFiles { file, deletes: None, persisted_deleted: 0 })
            });
        match &opened {
            Ok(segment) => segment.start_background_check(),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
            }
        }
        opened
    }

    /// Install a built segment in place of the hot prefix and consumed segments (uids) it
    /// was built from. Rows whose source died during the build arrive deleted.
    ///
    /// The write lock is held for work proportional to the hot rows moved and the rows
    /// killed during the last check, not to the rows built: the new segment is not visible
    /// to anyone yet, so its rows are first checked against their sources under read-lock
    /// holds of [`SNAPSHOT_CHUNK_ROWS`] (readers go on), and under the write lock only the
    /// ids killed since that check (the kill log) are checked again. A merge of 2.5M rows
    /// used to check every row under the write lock, about 100 ms at 1.5M rows, during
    /// which every search waited. If more rows died meanwhile than the log keeps, the check
    /// is repeated, and after a few rounds done under the write lock as before.
    fn swap(&self, mut segment: Segment, sources: &[(u64, Loc)], hot_prefix: usize, consumed: &[u32]) {
        // Where each live source id was when it was copied.
        let src_of_id: IdMap<Loc> = sources.iter().copied().collect();
        // Whether the source of the new segment's live row `r` is still live. Every row live
        // at swap time was live when it was copied, so each live source is in the map; a
        // source that died meanwhile (deleted, or replaced by a newer write) makes the row
        // dead in the new segment too.
        let source_live = |st: &State, id: u64| match src_of_id.get(&id) {
            Some(&Loc::Hot(abs)) => st.hot_ids.get(&id) == Some(&abs),
            Some(&Loc::Seg(u, row)) => st.seg_pos(u).is_some_and(|p| !st.segments[p].is_deleted(row)),
            None => false,
        };
        // Delete the rows of `range` whose source died.
        let drop_dead = |segment: &mut Segment, st: &State, range: std::ops::Range<u32>| {
            for r in range {
                if !segment.is_deleted(r) && !source_live(st, segment.id(r)) {
                    segment.delete_row(r);
                }
            }
        };
        let rows = segment.len() as u32;
        let mut checked_at = None;
        for _round in 0..3 {
            let since = self.state.read().killed_total;
            for start in (0..rows).step_by(SNAPSHOT_CHUNK_ROWS as usize) {
                crate::storage::failpoints::hook(crate::storage::failpoints::points::COLLECTION_SWAP_CHECK);
                drop_dead(&mut segment, &self.state.read(), start..(start + SNAPSHOT_CHUNK_ROWS).min(rows));
            }
            let st = self.state.read();
            if st.killed_total - since <= (KILLED_LOG_ROWS / 2) as u64 {
                checked_at = Some(since);
                break;
            }
        }
        // A failpoint here (a panic) leaves the stored segment file behind; open removes
        // files the manifest does not list.
        crate::storage::failpoints::hook(crate::storage::failpoints::points::COLLECTION_SWAP_LOCK);
        let hot_sources: Vec<(u64, u64)> = sources
            .iter()
            .filter_map(|&(id, loc)| match loc {
                Loc::Hot(abs) => Some((id, abs)),
                Loc::Seg(..) => None,
            })
            .collect();
        let mut st = self.state.write();
        let uid = st.next_seg_uid;
        st.next_seg_uid += 1;
        // Kills since the check, if the log still holds them all: only their ids need a
        // second look. Otherwise (or with no check that kept up) every row, as before.
        let recent: Option<Vec<u64>> = checked_at.and_then(|since| {
            let n = usize::try_from(st.killed_total - since).ok()?;
            (n <= st.killed_log.len()).then(|| st.killed_log.iter().rev().take(n).copied().collect())
        });
        match recent {
            Some(ids) => {
                for id in ids {
                    if let Some(r) = segment.find_live(id) {
                        if !source_live(&st, id) {
                            segment.delete_row(r);
                        }
                    }
                }
            }
            None => drop_dead(&mut segment, &st, 0..rows),
        }
        // The moved hot rows: from now on their ids are found through the new segment's id
        // order.
        for (id, abs) in hot_sources {
            if st.hot_ids.get(&id) == Some(&abs) {
                st.hot_ids.remove(&id);
            }
        }
        let moved = segment.live();
        // Consumed segments leave the list here but are dropped (unmapped, freed) after the
        // write lock is released.
        let mut retired = Vec::with_capacity(consumed.len());
        for &u in consumed {
            if let Some(p) = st.seg_pos(u) {
                st.seg_uids.remove(p);
                retired.push(st.segments.remove(p));
            }
        }
        st.hot.drain_front(hot_prefix);
        st.hot_base += hot_prefix as u64;
        st.layout_epoch += 1;
        let unused_file = if moved > 0 {
            st.segments.push(segment);
            st.seg_uids.push(uid);
            None
        } else {
            segment.files
        };
        drop(st);
        drop(retired);
        if let (Some(storage), Some(f)) = (self.storage(), unused_file) {
            let _ = std::fs::remove_file(storage.seg_dir().join(segment_file::file_name(f.file)));
        }
    }

    /// Record in the manifest that every frame up to `snapshot_seq` is in the segment
    /// files: write the deletion bitmaps that changed, then the manifest, then drop the
    /// WAL files nobody needs. Frames after `snapshot_seq` are replayed at open; replaying
    /// a delete or an upsert the segments already reflect changes nothing, so the bitmaps
    /// may safely be newer than `snapshot_seq`.
    fn checkpoint(&self, storage: &Storage, snapshot_seq: u64, swapped: bool) -> Result<()> {
        // One checkpoint at a time: a merge and a hot build may finish together, and the
        // one that captured the older segment set must not write the manifest last.
        let _checkpointing = self.checkpoint_lock.lock();
        // Capture the segment list and changed bitmaps (short read lock).
        // Per segment: its files, its rows, and its deletion bitmap and count if changed.
        type Captured = (SegmentFiles, u64, Option<(Vec<u64>, usize)>);
        let captured: Vec<Captured> = {
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
}

#[cfg(test)]
mod tests {
    use super::{counted_segments, SegmentSize};

    /// Segments with no deleted rows.
    fn sizes(live: &[usize]) -> Vec<SegmentSize> {
        live.iter().map(|&live| SegmentSize { rows: live, live }).collect()
    }

    fn pick_merge(live: &[usize], base: usize) -> Option<Vec<usize>> {
        super::pick_merge(&sizes(live), base)
    }

    #[test]
    fn merges_pick_a_full_tier_of_similar_sizes() {
        assert_eq!(pick_merge(&[100, 100, 100], 100), None);
        assert_eq!(pick_merge(&[100, 120, 90, 300], 100), Some(vec![0, 1, 2, 3]));
        // A big segment does not get rewritten with small ones.
        assert_eq!(pick_merge(&[5000, 100, 100, 100, 100], 100), Some(vec![1, 2, 3, 4]));
        assert_eq!(pick_merge(&[5000, 100, 100, 100], 100), None);
        assert_eq!(pick_merge(&[2000, 1600, 1700, 1900], 100), Some(vec![0, 1, 2, 3]));
    }

    #[test]
    fn settled_segments_are_never_merged_and_merges_stay_under_the_cap() {
        // Base 100: settled from 25,600 live rows (tier 4); merges write at most 51,200.
        assert_eq!(pick_merge(&[30_000; 4], 100), None);
        assert_eq!(pick_merge(&[30_000; 12], 100), None, "settled segments do not count toward MAX_SEGMENTS");
        // Four of tier 3 would make 80,000 rows: the largest inputs drop out until it fits.
        assert_eq!(pick_merge(&[20_000, 21_000, 20_000, 20_000], 100), Some(vec![0, 2]));
        assert_eq!(pick_merge(&[10_000, 9_000, 12_000, 11_000], 100), Some(vec![0, 1, 2, 3]));
        // Eight unsettled segments of mixed tiers beside settled ones: the four smallest.
        let live = [30_000, 100, 500, 2000, 7000, 150, 450, 1700, 6500, 30_000];
        assert_eq!(pick_merge(&live, 100), Some(vec![1, 2, 5, 6]));
        assert_eq!(pick_merge(&live[..9], 100), Some(vec![1, 2, 5, 6]));
        assert_eq!(pick_merge(&live[..8], 100), None, "seven unsettled: no merge is due");
        // A segment that deletions took back below the tier is a candidate again (here
        // the cap drops it, the largest input: 62,000 rows would not fit, 37,000 do).
        assert_eq!(pick_merge(&[20_000, 25_000, 30_000, 9_000, 8_000], 100), Some(vec![0, 3, 4]));
        assert_eq!(pick_merge(&[20_000, 25_000, 30_000, 9_000], 100), None);
    }

    #[test]
    fn segments_written_settled_never_hold_writers_up_even_when_deletions_shrink_them() {
        // Eight segments written at 30,000 rows (settled) of which 20,000 are live now: they
        // are a full tier again and may merge, two at a time (the cap counts stored rows),
        // but none counts toward MAX_SEGMENTS, so hot builds never wait for those merges.
        let shrunk = vec![SegmentSize { rows: 30_000, live: 20_000 }; 8];
        assert_eq!(counted_segments(shrunk.iter().copied(), 100), 0);
        assert_eq!(super::pick_merge(&shrunk, 100), Some(vec![0, 1]));
        // Beside them, eight small segments are what count, and the fallback takes the
        // four smallest of those.
        let mut mixed = shrunk.clone();
        mixed.extend(sizes(&[100, 500, 2000, 7000, 150, 450, 1700, 6500]));
        assert_eq!(counted_segments(mixed.iter().copied(), 100), 8);
        let mut only_counted = sizes(&[30_000, 30_000]);
        only_counted.extend(sizes(&[100, 500, 2000, 7000, 150, 450, 1700, 6500]));
        assert_eq!(super::pick_merge(&only_counted, 100), Some(vec![2, 3, 6, 7]));
    }
}
