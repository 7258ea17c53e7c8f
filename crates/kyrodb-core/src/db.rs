//! The database handle: owns the collections, the key-value store, the durable storage
//! (when opened on a directory) and the closed flag every handle checks. Opening a directory is recovery:
//! lock, read the manifest, map the segments, replay the WAL tail.

use crate::cache::query::{QueryCache, QueryCacheStats};
use crate::error::{Error, Result};
use crate::kv::run::Run;
use crate::kv::KvStore;
use crate::kv::{ValueKind, Write};
use crate::storage::commit::{Committer, Request};
use crate::storage::manifest::{CollectionEntry, IndexEntry, TagEntry};
use crate::storage::records::KV_STORE;
use crate::storage::wal::{self, FrameKind};
use crate::storage::{self, deletes, run_file, segment_file, OpenOptions, Storage};
pub use crate::vector::collection::CollectionWrite;
use crate::vector::hnsw::BuildParams;
use crate::vector::segment::{Segment, SegmentFiles};
use crate::vector::{Collection, CollectionConfig, IdType, IndexConfig, Metric};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A KyroDB database.
#[derive(Debug)]
pub struct Database {
    path: Option<PathBuf>,
    closed: Arc<AtomicBool>,
    /// Held while a close stops the collections and syncs; `true` once it has finished.
    close_done: parking_lot::Mutex<bool>,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    kv: Arc<KvStore>,
    storage: Option<Arc<Storage>>,
    recovery_report: Vec<String>,
    recovery_time: std::time::Duration,
    /// Answers to repeated searches, shared by the collections.
    query_cache: Arc<QueryCache>,
}

/// Figures of the durable side since open (all zero in memory), for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseStats {
    /// Write-ahead log totals and size on disk.
    pub wal: storage::commit::WalStats,
    /// Hot tiers written out as vector segments.
    pub segment_builds: u64,
    /// Merges of vector segments.
    pub merges: u64,
    /// How long `open` took (recovery: manifest, segments, WAL replay).
    pub recovery_time: std::time::Duration,
}

/// Summary of one collection, as listed by [`Database::list_collections`].
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionInfo {
    /// Name.
    pub name: String,
    /// Dimension and metric.
    pub config: CollectionConfig,
    /// Live vectors.
    pub count: usize,
}

/// Check a collection name against `^[A-Za-z0-9_-]{1,64}$`, so a name is always a safe
/// file name and a safe URL path segment.
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok =
        (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid collection name {name:?}: use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'"
        )))
    }
}

fn config_of(entry: &CollectionEntry) -> Result<CollectionConfig> {
    let metric = Metric::parse(&entry.metric).map_err(|e| Error::Corruption(format!("MANIFEST: {e}")))?;
    let index = entry.index.as_ref().map(|ix| IndexConfig {
        params: BuildParams { m: ix.m, ef_construction: ix.ef_construction, ..BuildParams::default() },
        auto_build_rows: ix.auto_build_rows,
    });
    let id_type = match entry.id_type.as_deref() {
        None => IdType::U64,
        Some(t) => IdType::parse(t).map_err(|e| Error::Corruption(format!("MANIFEST: {e}")))?,
    };
    let config = CollectionConfig { dimension: entry.dimension, metric, index, id_type };
    config.validate().map_err(|e| Error::Corruption(format!("MANIFEST: collection '{}': {e}", entry.name)))?;
    Ok(config)
}

/// The files that opened. A damaged one (`CORRUPTION`) fails the open, or with `salvage`
/// is dropped and reported as `salvage: dropped <name(i)>: <why>`; other errors fail.
fn keep_intact<T>(
    loaded: Vec<Result<T>>,
    salvage: bool,
    report: &mut Vec<String>,
    name: impl Fn(usize) -> String,
) -> Result<Vec<T>> {
    let mut kept = Vec::with_capacity(loaded.len());
    for (i, r) in loaded.into_iter().enumerate() {
        match r {
            Ok(x) => kept.push(x),
            Err(Error::Corruption(what)) if salvage => report.push(format!("salvage: dropped {}: {what}", name(i))),
            Err(e) => return Err(e),
        }
    }
    Ok(kept)
}

impl Database {
    /// Open a database in memory (`None`) or at a directory (created if missing) with the
    /// default options: `full` durability, no salvage.
    pub fn open(path: Option<&Path>) -> Result<Database> {
        Database::open_with(path, OpenOptions::default())
    }

    /// Open a database with explicit options. A directory is recovered: segments mapped,
    /// the WAL tail replayed, a torn last frame cut off; other damage fails with
    /// `CORRUPTION` unless `options.salvage`.
    pub fn open_with(path: Option<&Path>, options: OpenOptions) -> Result<Database> {
        let started = std::time::Instant::now();
        let closed = Arc::new(AtomicBool::new(false));
        let kv = Arc::new(KvStore::new(closed.clone(), options.kv));
        let query_cache = Arc::new(
            QueryCache::with_admission(options.query_cache_bytes, options.query_cache_admission)
                .with_near_repeats(options.near_repeat_distance),
        );
        let Some(dir) = path else {
            return Ok(Database {
                path: None,
                closed,
                close_done: parking_lot::Mutex::new(false),
                collections: RwLock::new(BTreeMap::new()),
                kv,
                storage: None,
                recovery_report: Vec::new(),
                recovery_time: started.elapsed(),
                query_cache,
            });
        };
        let opened = storage::open_dir(dir)?;
        let manifest = opened.manifest.clone();
        let mut report = Vec::new();

        // Collections and their segments, as the manifest says. They get their storage
        // handle after replay (replay itself writes nothing).
        let mut staged: Vec<(String, Arc<Collection>)> = Vec::new();
        for entry in &manifest.collections {
            let config = config_of(entry)?;
            let c = Arc::new(Collection::with_storage(
                entry.name.clone(),
                config,
                closed.clone(),
                None,
                entry.id,
                entry.flushed_seq,
            ));
            c.attach_query_cache(Arc::clone(&query_cache));
            // Segments open (map, checksum, check) in parallel: at scale, open time is
            // dominated by reading every page once for the checksums.
            use rayon::prelude::*;
            let seg_dir = storage::seg_dir(dir);
            let loaded: Vec<Result<Segment>> = entry
                .segments
                .par_iter()
                .map(|se| {
                    let f = segment_file::open(
                        &seg_dir.join(segment_file::file_name(se.file)),
                        config.dimension,
                        config.metric,
                        options.effective_segment_checks(),
                    )?;
                    if f.rows as u64 != se.rows {
                        return Err(Error::Corruption(format!(
                            "segment file {} has {} rows, the manifest says {} at offset 16",
                            se.file, f.rows, se.rows
                        )));
                    }
                    let deleted = match se.deletes {
                        Some(d) => Some(deletes::read(&seg_dir.join(deletes::file_name(d)), se.file, f.rows)?),
                        None => None,
                    };
                    let persisted_deleted =
                        deleted.as_ref().map_or(0, |w| w.iter().map(|x| x.count_ones() as usize).sum());
                    Segment::from_file(
                        f,
                        deleted,
                        SegmentFiles { file: se.file, deletes: se.deletes, persisted_deleted },
                    )
                })
                .collect();
            let segments = keep_intact(loaded, options.salvage, &mut report, |i| {
                format!("segment {} of collection '{}'", entry.segments[i].file, entry.name)
            })?;
            c.restore_segments(segments)?;
            staged.push((entry.name.clone(), c));
        }

        // The key-value store's runs.
        {
            use rayon::prelude::*;
            let seg_dir = storage::seg_dir(dir);
            let loaded: Vec<Result<Run>> = manifest
                .kv
                .runs
                .par_iter()
                .map(|re| {
                    let f = run_file::open(&seg_dir.join(run_file::file_name(re.file)))?;
                    if f.keys.len() as u64 != re.entries {
                        return Err(Error::Corruption(format!(
                            "run file {} has {} entries, the manifest says {} at offset 12",
                            re.file,
                            f.keys.len(),
                            re.entries
                        )));
                    }
                    Run::from_file(re.file, f)
                })
                .collect();
            let runs = keep_intact(loaded, options.salvage, &mut report, |i| {
                format!("key-value run {}", manifest.kv.runs[i].file)
            })?;
            kv.restore(runs.into_iter().map(Arc::new).collect(), manifest.kv.live, manifest.kv.flushed_seq);
        }

        // Replay the WAL tail into the hot tiers and the memtable.
        let files_loaded = started.elapsed();
        let by_id: std::collections::HashMap<u64, (u64, Arc<Collection>)> = manifest
            .collections
            .iter()
            .zip(&staged)
            .map(|(e, (_, c))| (e.id, (e.flushed_seq, Arc::clone(c))))
            .collect();
        // The last tag: the manifest's, unless a later tagged frame follows.
        let mut last_tag = manifest.last_tag;
        let replayed = storage::replay_wal(dir, manifest.database_id, options.salvage, &mut |frame, file| {
            if let Some(tag) = frame.tag {
                if last_tag.is_none_or(|t| frame.seq > t.seq) {
                    last_tag = Some(TagEntry { seq: frame.seq, tag });
                }
            }
            if frame.kind == FrameKind::Tag {
                return Ok(());
            }
            let id = storage::records::collection_of(frame.payload).map_err(|e| {
                Error::Corruption(format!("WAL frame {}: {} at offset {}", frame.seq, e.what, frame.offset))
            })?;
            if id == KV_STORE {
                if frame.kind != FrameKind::KvBatch {
                    return Err(Error::Corruption(format!(
                        "WAL frame {}: a collection write for the key-value store at offset {}",
                        frame.seq, frame.offset
                    )));
                }
                return if frame.seq > manifest.kv.flushed_seq {
                    kv.replay(frame.payload, file, frame.offset + wal::FRAME_HEADER as u64, frame.seq)
                } else {
                    Ok(())
                };
            }
            match by_id.get(&id) {
                Some((flushed, c)) if frame.seq > *flushed => {
                    // The collection names the payload offset; add where the payload lies.
                    c.replay(frame.kind, frame.payload, frame.seq).map_err(|e| match e {
                        Error::Corruption(what) => Error::Corruption(format!(
                            "{what} (the payload starts at offset {} of its WAL file)",
                            frame.offset + wal::FRAME_HEADER as u64
                        )),
                        other => other,
                    })
                }
                // Already in the segments, or a collection dropped since.
                _ => Ok(()),
            }
        })?;
        report.extend(replayed.report.iter().cloned());
        let wal_replayed = started.elapsed();
        let storage =
            Storage::start(opened, replayed, options.durability, options.effective_segment_checks(), last_tag)?;

        let mut collections = BTreeMap::new();
        for (name, c) in staged {
            c.attach_storage(Arc::clone(&storage));
            collections.insert(name, c);
        }
        kv.finish_replay();
        let memtable_built = started.elapsed();
        kv.attach_storage(Arc::clone(&storage));
        let db = Database {
            path: Some(dir.to_path_buf()),
            closed,
            close_done: parking_lot::Mutex::new(false),
            collections: RwLock::new(collections),
            kv,
            storage: Some(storage),
            recovery_report: report,
            recovery_time: started.elapsed(),
            query_cache,
        };
        for line in &db.recovery_report {
            log::warn!("recovery: {line}");
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        log::info!(
            "opened {} in {:.1} ms (segment and run files {:.1} ms, WAL replay {:.1} ms, key-value memtable build {:.1} ms): {} collections, {} key-value entries",
            dir.display(),
            ms(db.recovery_time),
            ms(files_loaded),
            ms(wal_replayed - files_loaded),
            ms(memtable_built.saturating_sub(wal_replayed)),
            db.collections.read().len(),
            db.kv.count().unwrap_or(0)
        );
        for c in db.collections.read().values() {
            c.resume_background_work();
        }
        db.kv.resume_background_work();
        Ok(db)
    }

    /// What recovery cut or dropped when the database was opened (a torn WAL tail, or with
    /// salvage, damaged files); empty after a clean shutdown.
    pub fn recovery_report(&self) -> &[String] {
        &self.recovery_report
    }

    /// Write-ahead log and maintenance figures since open.
    pub fn stats(&self) -> DatabaseStats {
        let Some(storage) = &self.storage else {
            return DatabaseStats { recovery_time: self.recovery_time, ..DatabaseStats::default() };
        };
        DatabaseStats {
            wal: storage.committer.stats(),
            segment_builds: storage.counters.segment_builds.load(Ordering::Relaxed),
            merges: storage.counters.merges.load(Ordering::Relaxed),
            recovery_time: self.recovery_time,
        }
    }

    /// The key-value store.
    pub fn kv(&self) -> &Arc<KvStore> {
        &self.kv
    }

    /// The directory given at open, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Create an empty collection.
    pub fn create_collection(&self, name: &str, config: CollectionConfig) -> Result<Arc<Collection>> {
        self.create_collection_tagged(name, config, None)
    }

    /// [`Database::create_collection`], recording `tag` in the same manifest write as the
    /// new collection ([`Database::last_tag`]): after a crash both are there or neither.
    pub fn create_collection_tagged(
        &self,
        name: &str,
        config: CollectionConfig,
        tag: Option<u64>,
    ) -> Result<Arc<Collection>> {
        self.check_open()?;
        self.check_tag_allowed(tag)?;
        validate_collection_name(name)?;
        config.validate()?;
        let mut map = self.collections.write();
        if map.contains_key(name) {
            return Err(Error::AlreadyExists(format!("collection '{name}' already exists")));
        }
        let c = match &self.storage {
            None => Arc::new(Collection::new(name.to_string(), config, self.closed.clone())),
            Some(storage) => {
                storage.committer.check_writable()?;
                let mut created = None;
                storage.update_manifest(|m| {
                    let id = m.next_collection;
                    m.next_collection += 1;
                    // Frames before this point cannot belong to the new collection.
                    let flushed_seq = storage.committer.next_seq().saturating_sub(1);
                    m.collections.push(CollectionEntry {
                        id,
                        name: name.to_string(),
                        dimension: config.dimension,
                        metric: config.metric.name().to_string(),
                        index: config.index.map(|ix| IndexEntry {
                            m: ix.params.m,
                            ef_construction: ix.params.ef_construction,
                            auto_build_rows: ix.auto_build_rows,
                        }),
                        id_type: (config.id_type != IdType::U64).then(|| config.id_type.name().to_string()),
                        flushed_seq,
                        segments: Vec::new(),
                    });
                    if let Some(tag) = tag {
                        m.last_tag = Some(TagEntry { seq: storage.tag_position(), tag });
                    }
                    created = Some((id, flushed_seq));
                    Ok(())
                })?;
                let (id, flushed_seq) = created.ok_or_else(|| Error::Internal("manifest update lost".into()))?;
                Arc::new(Collection::with_storage(
                    name.to_string(),
                    config,
                    self.closed.clone(),
                    Some(Arc::clone(storage)),
                    id,
                    flushed_seq,
                ))
            }
        };
        c.attach_query_cache(Arc::clone(&self.query_cache));
        map.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// An existing collection.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        self.check_open()?;
        validate_collection_name(name)?;
        self.collections
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no collection named '{name}'")))
    }

    /// Every collection, by name.
    pub fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        self.check_open()?;
        self.collections
            .read()
            .values()
            .map(|c| Ok(CollectionInfo { name: c.name().to_string(), config: c.config(), count: c.count()? }))
            .collect()
    }

    /// Delete a collection and its data. Handles to it fail with `NOT_FOUND` afterwards.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.drop_collection_tagged(name, None)
    }

    /// [`Database::drop_collection`], recording `tag` in the same manifest write that
    /// drops it ([`Database::last_tag`]).
    pub fn drop_collection_tagged(&self, name: &str, tag: Option<u64>) -> Result<()> {
        self.check_open()?;
        self.check_tag_allowed(tag)?;
        validate_collection_name(name)?;
        let mut map = self.collections.write();
        let Some(c) = map.get(name).cloned() else {
            return Err(Error::NotFound(format!("no collection named '{name}'")));
        };
        if let Some(storage) = &self.storage {
            storage.committer.check_writable()?;
            let _quiet = c.quiesce();
            c.mark_dropped();
            let id = c.id();
            if let Err(e) = storage.update_manifest(|m| {
                m.collections.retain(|x| x.id != id);
                if let Some(tag) = tag {
                    m.last_tag = Some(TagEntry { seq: storage.tag_position(), tag });
                }
                Ok(())
            }) {
                c.unmark_dropped();
                return Err(e);
            }
            storage.set_floor(id, None);
        } else {
            c.mark_dropped();
        }
        map.remove(name);
        Ok(())
    }

    fn check_tag_allowed(&self, tag: Option<u64>) -> Result<()> {
        if tag.is_some() && self.storage.is_none() {
            return Err(Error::invalid(
                "a tag needs a database opened on a directory (it is recovered with the writes)",
            ));
        }
        Ok(())
    }

    /// The tag of the last tagged write logged ([`Database::write_group`], a tagged
    /// create or drop of a collection), or `None` if no write was ever tagged (or the
    /// database is in memory). A tag is logged in the same WAL frame as its write (and
    /// kept in the manifest once the frame is trimmed), so after a crash the write is
    /// present exactly when this returns its tag or a later one. While writes are in
    /// flight it may name a write that is logged but not yet visible to reads; the call
    /// that made that write has not returned yet.
    pub fn last_tag(&self) -> Result<Option<u64>> {
        self.check_open()?;
        Ok(self.storage.as_ref().and_then(|s| s.committer.last_tag()).map(|t| t.tag))
    }

    /// Apply several writes in order, logging them in as few WAL groups as possible (one
    /// `write` and one fsync per group), each optionally with a tag logged in its own
    /// frame ([`Database::last_tag`]). Returns one result per write, like the single
    /// call's (`Ok(n)`: vectors upserted, removed, or keys changed).
    ///
    /// - Each write is validated as its own call would be, against the state after the
    ///   writes before it: a write whose checks read rows (a delete, a string-id upsert)
    ///   waits until the writes before it are applied, so it may start a new WAL group.
    /// - A write refused by its checks (`INVALID_ARGUMENT`, `DIMENSION_MISMATCH`,
    ///   `NOT_FOUND`, `ALREADY_EXISTS`) changes nothing, but its tag is still logged, in a
    ///   frame of its own: a caller that tags writes with their position in a log of its own
    ///   moves past it.
    /// - Any other failure (I/O, `READ_ONLY`, `CLOSED`, a panic) ends the group: later
    ///   writes are not attempted and fail too, so the writes applied are always a prefix.
    pub fn write_group(&self, writes: Vec<GroupWrite>) -> Result<Vec<Result<usize>>> {
        self.check_open()?;
        let Some(storage) = &self.storage else {
            if writes.iter().any(|w| w.tag.is_some()) {
                self.check_tag_allowed(Some(0))?;
            }
            return Ok(writes.into_iter().map(|w| self.write_now(w.op)).collect());
        };
        let mut results: Vec<Option<Result<usize>>> = (0..writes.len()).map(|_| None).collect();
        let mut pending: Vec<Pending> = Vec::new();
        let mut failed: Option<Error> = None;
        for (i, w) in writes.into_iter().enumerate() {
            if failed.is_none() && !pending.is_empty() && w.reads_state() {
                failed = Self::commit_pending(storage, &mut pending, &mut results).err();
            }
            if let Some(e) = &failed {
                results[i] = Some(Err(not_attempted(e)));
                continue;
            }
            let tag = w.tag;
            match self.prepare(w.op, tag) {
                Ok((Some(request), collection)) => pending.push(Pending { at: i, request, collection, refused: false }),
                Ok((None, _)) => match tag {
                    // Nothing to log; the tag still is.
                    Some(t) => pending.push(Pending { at: i, request: tag_only(t), collection: None, refused: false }),
                    None => results[i] = Some(Ok(0)),
                },
                Err(e) if is_refusal(&e) => {
                    results[i] = Some(Err(e));
                    if let Some(t) = tag {
                        pending.push(Pending { at: i, request: tag_only(t), collection: None, refused: true });
                    }
                }
                Err(e) => {
                    results[i] = Some(Err(e.clone()));
                    failed = Some(e);
                }
            }
        }
        if !pending.is_empty() {
            // Its error is in the results already.
            let _ = Self::commit_pending(storage, &mut pending, &mut results);
        }
        Ok(results.into_iter().map(|r| r.unwrap_or_else(|| Err(Error::Internal("write not run".into())))).collect())
    }

    /// Log and apply the prepared writes; `Err` with the first failure.
    fn commit_pending(
        storage: &Storage,
        pending: &mut Vec<Pending>,
        results: &mut [Option<Result<usize>>],
    ) -> Result<()> {
        let batch = std::mem::take(pending);
        let (meta, requests): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| ((p.at, p.collection, p.refused), p.request)).unzip();
        let mut first_error = None;
        for ((at, collection, refused), r) in meta.into_iter().zip(storage.committer.commit_many(requests)) {
            match r {
                // A refused write's tag frame: the refusal stays its result.
                Ok(_) if refused => {}
                Ok(n) => {
                    results[at] = Some(Ok(n));
                    if let Some(c) = collection {
                        c.after_write();
                    }
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| e.clone());
                    results[at] = Some(Err(e));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Validate one write of a group: its frame, and the collection it writes to.
    fn prepare(&self, op: GroupOp, tag: Option<u64>) -> Result<(Option<Request>, Option<Arc<Collection>>)> {
        match op {
            GroupOp::Collection { name, write } => {
                let c = self.collection(&name)?;
                Ok((sized(c.prepare(write, tag)?)?, Some(c)))
            }
            GroupOp::Kv(writes) => {
                let borrowed: Vec<Write<'_>> = writes.iter().map(KvWrite::as_write).collect();
                Ok((sized(self.kv.prepare(&borrowed, tag)?)?, None))
            }
            GroupOp::Tag => Ok((None, None)),
        }
    }

    /// A write of a group on an in-memory database: the single call.
    fn write_now(&self, op: GroupOp) -> Result<usize> {
        match op {
            GroupOp::Collection { name, write } => {
                let c = self.collection(&name)?;
                match write {
                    CollectionWrite::Upsert { ids, vectors, metadata } => c.upsert(&ids, vectors, metadata),
                    CollectionWrite::UpsertNamed { names, vectors, metadata } => {
                        c.upsert_named(names, vectors, metadata)
                    }
                    CollectionWrite::Delete { ids } => c.delete(&ids),
                    CollectionWrite::DeleteNamed { names } => c.delete_named(&names),
                }
            }
            GroupOp::Kv(writes) => {
                let borrowed: Vec<Write<'_>> = writes.iter().map(KvWrite::as_write).collect();
                self.kv.write(&borrowed)
            }
            GroupOp::Tag => Ok(0),
        }
    }

    /// Make every collection's writes durable in segment files (hot tiers become
    /// segments, deletions become bitmaps) and drop the WAL files that are no longer
    /// needed; reopening afterwards replays nothing. A no-op in memory.
    pub fn flush(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<()> {
        self.check_open()?;
        let Some(storage) = &self.storage else { return Ok(()) };
        for c in self.collections.read().values().cloned().collect::<Vec<_>>() {
            c.flush(progress)?;
        }
        self.kv.flush()?;
        storage.cover_tag()?;
        storage.trim_wal(true)
    }

    /// Verify now what open left to be checked on first use (the vectors of large
    /// segments; everything else is checked at open): `CORRUPTION` naming the file and
    /// offset if something is damaged.
    pub fn verify(&self) -> Result<()> {
        self.check_open()?;
        self.collections.read().values().try_for_each(|c| c.verify())
    }

    /// Bytes this database holds in native memory (hot tiers, in-memory segments, field
    /// indexes, id maps, memtables; mapped files not counted: the page cache holds them
    /// and the OS reclaims it). Reported to V8 by the Node binding.
    pub fn memory_bytes(&self) -> usize {
        self.collections.read().values().map(|c| c.memory_bytes()).sum::<usize>()
            + self.kv.memory_bytes()
            + self.query_cache.stats().bytes as usize
    }

    /// Counters and size of the query-result cache.
    pub fn query_cache_stats(&self) -> QueryCacheStats {
        self.query_cache.stats()
    }

    /// Merge each collection into one segment without deleted rows, then flush.
    pub fn compact(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<()> {
        self.check_open()?;
        for c in self.collections.read().values().cloned().collect::<Vec<_>>() {
            c.compact(progress)?;
        }
        self.kv.compact()?;
        self.flush(&mut |_, _| {})
    }

    /// Flush, then write a consistent copy of the database into `dest` (a new or empty
    /// directory) that opens as a database of its own. Segment files are immutable, so
    /// they are hard-linked where the file system allows and copied otherwise.
    pub fn snapshot(&self, dest: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<()> {
        self.check_open()?;
        let Some(storage) = &self.storage else {
            return Err(Error::invalid("snapshot needs a database opened on a directory"));
        };
        if dest.exists() && std::fs::read_dir(dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
            return Err(Error::invalid(format!(
                "snapshot destination {} must be a new or empty directory",
                dest.display()
            )));
        }
        self.flush(progress)?;
        storage.snapshot_to(dest)
    }

    /// Close the database; every later call on it or its collections fails with `CLOSED`.
    /// Closing twice is allowed.
    pub fn close(&self) -> Result<()> {
        self.begin_close();
        self.finish_close()
    }

    /// The first half of [`Database::close`], which never blocks: every later call on the
    /// database or its collections fails with `CLOSED`. A caller that must not block (the
    /// JavaScript thread) calls this, then [`Database::finish_close`] on another thread.
    pub fn begin_close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The second half of [`Database::close`]: wait for running builds to stop, sync the
    /// WAL and release the directory lock (it calls [`Database::begin_close`] first, in
    /// case the caller did not). When it returns — to any caller — everything acknowledged
    /// is durable and the lock is released: a call racing another waits for it. The call
    /// that does the work gets the sync's error, if any; later calls get `Ok`.
    pub fn finish_close(&self) -> Result<()> {
        self.begin_close();
        let mut done = self.close_done.lock();
        if std::mem::replace(&mut *done, true) {
            return Ok(());
        }
        self.stop_collections();
        self.query_cache.release();
        match &self.storage {
            Some(s) => s.close(),
            None => Ok(()),
        }
    }

    /// Simulate a crash (tests only): stop at once, without syncing or flushing anything,
    /// and release the directory lock so that the directory can be reopened in-process.
    /// What the WAL holds on disk is exactly what a killed process would leave.
    #[doc(hidden)]
    pub fn crash_for_tests(&self) {
        self.closed.store(true, Ordering::Release);
        *self.close_done.lock() = true;
        self.stop_collections();
        if let Some(s) = &self.storage {
            s.abandon();
        }
    }

    /// After the closed flag is set: forget the collections and wait for running builds,
    /// which see the flag and stop, so that nothing writes once the lock goes.
    fn stop_collections(&self) {
        let collections: Vec<Arc<Collection>> = std::mem::take(&mut *self.collections.write()).into_values().collect();
        for c in &collections {
            drop(c.quiesce());
        }
        drop(self.kv.stop());
    }

    /// Whether [`Database::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// One write of [`Database::write_group`].
#[derive(Debug)]
pub struct GroupWrite {
    /// What to write.
    pub op: GroupOp,
    /// A tag to log with it ([`Database::last_tag`]).
    pub tag: Option<u64>,
}

impl GroupWrite {
    fn reads_state(&self) -> bool {
        matches!(&self.op, GroupOp::Collection { write, .. } if write.reads_state())
    }
}

/// What a [`GroupWrite`] writes.
#[derive(Debug)]
pub enum GroupOp {
    /// A write to the collection named `name`.
    Collection {
        /// Collection name.
        name: String,
        /// The write.
        write: CollectionWrite,
    },
    /// A key-value batch.
    Kv(Vec<KvWrite>),
    /// Nothing: only the tag is logged.
    Tag,
}

/// An owned key-value write of a [`GroupOp::Kv`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvWrite {
    /// Store a value.
    Put(u64, ValueKind, Vec<u8>),
    /// Remove a key.
    Delete(u64),
}

impl KvWrite {
    fn as_write(&self) -> Write<'_> {
        match self {
            KvWrite::Put(k, kind, v) => Write::Put(*k, *kind, v),
            KvWrite::Delete(k) => Write::Delete(*k),
        }
    }
}

/// A prepared write of a group waiting for its commit.
struct Pending {
    /// Its index in the group.
    at: usize,
    request: Request,
    collection: Option<Arc<Collection>>,
    /// The tag frame of a refused write.
    refused: bool,
}

/// A frame past the size limit is refused here, with the other checks (so that its tag is
/// still logged), not by the commit.
fn sized(request: Option<Request>) -> Result<Option<Request>> {
    if let Some(r) = &request {
        Committer::check_frame_size(r.payload.len(), r.tag.is_some())?;
    }
    Ok(request)
}

/// A frame holding only `tag`.
fn tag_only(tag: u64) -> Request {
    Request { kind: FrameKind::Tag, payload: Vec::new(), tag: Some(tag), apply: Box::new(|_| 0) }
}

/// Whether a write was refused by its checks (the same input and state refuse it again),
/// rather than failed.
fn is_refusal(e: &Error) -> bool {
    matches!(e.code(), "INVALID_ARGUMENT" | "DIMENSION_MISMATCH" | "NOT_FOUND" | "ALREADY_EXISTS" | "INVALID_FILTER")
}

fn not_attempted(e: &Error) -> Error {
    Error::Internal(format!("not attempted: an earlier write of the group failed ({e})"))
}
