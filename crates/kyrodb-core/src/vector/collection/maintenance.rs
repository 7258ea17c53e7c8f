//! Maintenance of a collection: builds that freeze the hot tier into a segment, merges of
//! segments (size-tiered in the background, everything on `compact`), the swap that
//! installs a built segment, and — for durable collections — the checkpoint that records
//! it in the manifest (see `docs/ARCHITECTURE.md` §3 and §6).

use super::*;
use crate::tiers::{size_tier, MERGE_FANIN};

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

/// The segments (indices, ascending) the next merge should combine, if any tier of live
/// rows above `base` is full (`crate::tiers`).
fn pick_merge(live_rows: &[usize], base: usize) -> Option<Vec<usize>> {
    let mut by_tier: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, &rows) in live_rows.iter().enumerate() {
        by_tier.entry(size_tier(rows, base)).or_default().push(i);
    }
    by_tier.into_values().find(|v| v.len() >= MERGE_FANIN).map(|mut v| {
        v.truncate(2 * MERGE_FANIN);
        v
    })
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

/// The background pool (created at first use; `None` if the OS refused its threads, and
/// then the build runs on the global pool).
fn background_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(background_threads())
            .thread_name(|i| format!("kyrodb-background-{i}"))
            .build()
            .ok()
    })
    .as_ref()
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

    /// Wait for a running build to finish and keep new ones from starting (close).
    pub(crate) fn quiesce(&self) -> crate::sync::MutexGuard<'_, ()> {
        self.build_lock.lock()
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
        if hot_live < threshold || self.background_build.swap(true, Ordering::AcqRel) {
            return;
        }
        self.spawn_background_build();
    }

    /// Flush the hot tier, then merge segments while a size tier is full, on a thread.
    fn spawn_background_build(self: &Arc<Self>) {
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new().name(format!("kyrodb-build-{}", self.name)).spawn(move || {
            // A failed background build (database closed meanwhile, disk full) leaves the
            // rows in the hot tier and the WAL, where they are still found; nothing is lost.
            let work = || -> Result<()> {
                me.build(BuildScope::Hot, &mut |_, _| {})?;
                let base = me.auto_flush_rows().unwrap_or(DEFAULT_AUTO_BUILD_ROWS);
                loop {
                    let live: Vec<usize> = me.state.read().segments.iter().map(Segment::live).collect();
                    let Some(pick) = pick_merge(&live, base) else { return Ok(()) };
                    me.build(BuildScope::Segments(pick), &mut |_, _| {})?;
                }
            };
            // The build's parallel loops run on the background pool, not on every core.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match background_pool() {
                Some(pool) => pool.install(work),
                None => work(),
            }));
            match outcome {
                Ok(Ok(())) | Ok(Err(Error::Closed)) => {}
                Ok(Err(e)) => log::warn!(
                    "collection {}: background build failed (rows stay in the hot tier and WAL): {e}",
                    me.name
                ),
                Err(_) => {
                    log::error!("collection {}: background build panicked (rows stay in the hot tier and WAL)", me.name)
                }
            }
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

        // 0. Verify the stored vectors the snapshot will copy, outside the lock (a no-op
        //    once open's background sweep is done; damage fails the build here).
        if !matches!(scope, BuildScope::Hot) {
            let pending: Vec<_> = {
                let st = self.state.read();
                match &scope {
                    BuildScope::Segments(v) => {
                        v.iter().filter_map(|&i| st.segments.get(i)).filter_map(Segment::pending_check).collect()
                    }
                    _ => st.segments.iter().filter_map(Segment::pending_check).collect(),
                }
            };
            pending.iter().try_for_each(|d| d.check_all())?;
        }

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
                        vectors.extend_from_slice(seg.vector(r)?);
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
        let started = std::time::Instant::now();
        if !consumed_segments.is_empty() || hot_prefix > 0 {
            // 2. Build (and store) without any lock.
            let ids: Vec<u64> = sources.iter().map(|&(id, _)| id).collect();
            let params = self.config.index.map(|ix| ix.params);
            let mut segment =
                Segment::build(&ids, &vectors, metas, dim, self.config.metric, params, progress, &|| self.usable())?;
            drop(vectors);
            if let (Some(storage), false) = (self.storage(), segment.is_empty()) {
                segment = self.store_segment(storage, &segment)?;
            }
            // 3. Swap (short write lock).
            self.swap(segment, &sources, hot_prefix, &consumed_segments);
            if let Some(storage) = self.storage() {
                let counter = if consumed_segments.is_empty() {
                    &storage.counters.segment_builds
                } else {
                    &storage.counters.merges
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            log::info!(
                "collection {}: {} of {built} rows ({} segments merged) in {:.1} ms",
                self.name,
                if consumed_segments.is_empty() { "segment build" } else { "merge" },
                consumed_segments.len(),
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
        let opened = segment_file::open(&path, self.config.dimension, self.config.metric, storage.segment_checks)
            .and_then(|f| Segment::from_file(f, None, SegmentFiles { file, deletes: None, persisted_deleted: 0 }));
        match &opened {
            Ok(segment) => segment.start_background_check(),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
            }
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
        } else if let (Some(storage), Some(f)) = (self.storage(), segment.files) {
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
