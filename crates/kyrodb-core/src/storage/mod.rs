//! Durable storage: the write-ahead log, segment and deletion files, the manifest, the
//! directory lock, and recovery. The vector layer decides *what* to write; this module
//! owns *how* bytes reach the disk and come back.
//!
//! Directory layout:
//!
//! ```text
//! <dir>/LOCK                    exclusive lock, held while open
//! <dir>/MANIFEST                live collections, segments, and the WAL position they cover
//! <dir>/wal/<first seq>.wal     write-ahead log files
//! <dir>/seg/<n>.kseg            immutable segment files (mmap'd)
//! <dir>/seg/<n>.kdel            deletion bitmaps of segments
//! <dir>/seg/<n>.krun            sorted runs of the key-value store (mmap'd)
//! ```
//!
//! - [`fs`]: the file operations allowed (each behind a failpoint) and atomic publication;
//! - [`failpoints`]: fault injection for tests;
//! - [`lock`]: the directory lock;
//! - [`codec`], [`records`]: bounds-checked little-endian encoding, WAL payloads;
//! - [`wal`]: WAL files and frames: append, sync, rotate, scan;
//! - [`commit`]: group commit and durability modes;
//! - [`manifest`], [`sectioned`], [`segment_file`], [`deletes`], [`run_file`]: the other
//!   file formats;
//! - [`slab`]: arrays that are either owned or mapped from a segment file.

pub mod codec;
pub mod commit;
pub mod deferred;
pub mod deletes;
pub mod failpoints;
pub mod fs;
#[doc(hidden)]
pub mod fuzzing;
pub mod lock;
pub mod manifest;
pub mod records;
pub mod run_file;
pub mod sectioned;
pub mod segment_file;
pub mod slab;
pub mod wal;

pub use commit::Durability;

use crate::error::{Error, Result};
use commit::Committer;
use lock::DirLock;
use manifest::Manifest;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How to open a database directory.
#[derive(Copy, Clone, Debug)]
pub struct OpenOptions {
    /// Durability mode of writes.
    pub durability: Durability,
    /// On damage, recover what is intact instead of failing with `CORRUPTION` (what was
    /// dropped is listed in [`crate::Database::recovery_report`]).
    pub salvage: bool,
    /// Key-value store tuning.
    pub kv: crate::kv::KvConfig,
    /// How much of each segment file is checked at open; by default the vectors of large
    /// segments are checked on first use and by a background sweep instead
    /// (`docs/ARCHITECTURE.md`, D6). `salvage` checks everything at open.
    pub segment_checks: segment_file::Checks,
    /// Byte budget of the query-result cache shared by the collections (`0`: off).
    pub query_cache_bytes: usize,
    /// The query cache's admission test (`crate::cache::admission`).
    pub query_cache_admission: crate::cache::admission::AdmissionMode,
    /// Near repeats in the query cache: the largest distance (the collection's metric)
    /// between a search and a cached one whose answer may serve it (`crate::cache::near`);
    /// `0`: off.
    pub near_repeat_distance: f32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Full,
            salvage: false,
            kv: crate::kv::KvConfig::default(),
            segment_checks: segment_file::Checks::DeferLargeVectors(segment_file::DEFAULT_DEFER_VECTOR_BYTES),
            query_cache_bytes: crate::cache::query::DEFAULT_QUERY_CACHE_BYTES,
            query_cache_admission: crate::cache::admission::AdmissionMode::default(),
            near_repeat_distance: 0.0,
        }
    }
}

impl OpenOptions {
    /// The segment checks in force: `salvage` must find every damaged segment at open.
    pub fn effective_segment_checks(&self) -> segment_file::Checks {
        if self.salvage {
            segment_file::Checks::All
        } else {
            self.segment_checks
        }
    }
}

/// Default fsync interval of the `normal` durability mode.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// Background work done on the durable side since open (for metrics).
#[derive(Default)]
pub struct MaintenanceCounters {
    /// Hot tiers written out as new vector segments.
    pub segment_builds: std::sync::atomic::AtomicU64,
    /// Merges of vector segments (size-tiered, `compact`, `buildIndex`).
    pub merges: std::sync::atomic::AtomicU64,
}

/// The durable side of an open database.
pub struct Storage {
    /// Segment builds and merges since open.
    pub counters: MaintenanceCounters,
    dir: PathBuf,
    seg_dir: PathBuf,
    lock: Mutex<Option<DirLock>>,
    /// The WAL and its group commit.
    pub committer: Committer,
    /// How segment files written from now on are checked when opened.
    pub segment_checks: segment_file::Checks,
    manifest: Mutex<Manifest>,
    /// Per collection id: the lowest WAL sequence number it still needs at recovery
    /// (`flushed_seq + 1` while it has unflushed writes). WAL files wholly below the
    /// minimum are deleted.
    floors: Mutex<HashMap<u64, u64>>,
    ticker: Mutex<Option<Ticker>>,
}

impl Drop for Storage {
    /// The last handle gone without `close` (a garbage-collected database whose collections
    /// are gone too): sync what is unsynced and release the lock.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("dir", &self.dir).finish()
    }
}

struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: std::thread::JoinHandle<()>,
}

/// The directory opened, locked and cleaned, its manifest read: what recovery starts from.
pub struct Opened {
    /// Database directory.
    pub dir: PathBuf,
    /// The held lock.
    pub lock: DirLock,
    /// The manifest (a new one for a new database).
    pub manifest: Manifest,
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("{what} {}: {e}", p.display()))
}

fn new_database_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    h.finish()
}

/// Directory of WAL files.
pub fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

/// Directory of segment and deletion files.
pub fn seg_dir(dir: &Path) -> PathBuf {
    dir.join("seg")
}

/// Step 1 of opening: create the layout, take the lock, read (or create) the manifest, and
/// remove files the manifest does not name (debris of crashes before a manifest switch).
pub fn open_dir(dir: &Path) -> Result<Opened> {
    std::fs::create_dir_all(dir).map_err(|e| io_err("cannot create", dir, e))?;
    let lock = DirLock::acquire(dir)?;
    for d in [wal_dir(dir), seg_dir(dir)] {
        std::fs::create_dir_all(&d).map_err(|e| io_err("cannot create", &d, e))?;
    }
    let manifest = match Manifest::read(dir)? {
        Some(m) => m,
        None => {
            if !wal::list(&wal_dir(dir))?.is_empty() {
                return Err(Error::Corruption(format!(
                    "{}: the directory has WAL files but no MANIFEST",
                    dir.display()
                )));
            }
            let m = Manifest::new(new_database_id());
            m.write(dir)?;
            m
        }
    };
    let live = manifest.live_files();
    for d in [dir.to_path_buf(), seg_dir(dir), wal_dir(dir)] {
        for entry in std::fs::read_dir(&d).map_err(|e| io_err("cannot list", &d, e))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            let orphan_segment = d == seg_dir(dir)
                && name.split('.').next().and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| !live.contains(&n));
            if name.ends_with(fs::TMP_SUFFIX) || orphan_segment {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(Opened { dir: dir.to_path_buf(), lock, manifest })
}

/// What WAL replay found.
pub struct Replayed {
    /// WAL files kept, oldest first.
    pub files: Vec<(u64, PathBuf)>,
    /// Length of the last file after any truncation.
    pub last_len: u64,
    /// Format version of the last file.
    pub last_version: u32,
    /// Sequence number after the last good frame.
    pub next_seq: u64,
    /// What salvage dropped, or what a torn tail cut (empty when the log was clean).
    pub report: Vec<String>,
}

/// A WAL file's bytes during replay, mapped read-only. Frames borrow from it; a store that
/// keeps replayed bytes (the key-value memtable keeps values) holds the mapping instead of
/// copying them.
///
/// Mapping instead of reading spares a copy of every byte of the log out of the page cache
/// and, for the values the key-value store keeps, a second copy into fresh memory (page
/// faults and clearing included); the figures are in `docs/decisions/0015-*.md` (vector
/// replay) and `docs/decisions/0019-*.md` (key-value replay).
pub type LogBytes = Arc<memmap2::Mmap>;

/// Map a WAL file for replay, its pages populated up front where the OS allows it.
fn map_log(path: &Path) -> Result<LogBytes> {
    let file = std::fs::File::open(path).map_err(|e| io_err("cannot open", path, e))?;
    #[cfg(unix)]
    {
        // SAFETY: only this process writes the directory (it holds the lock), and it never
        // rewrites bytes of a WAL file: it appends after the last frame, or cuts a torn or
        // failed tail that no replayed frame (and so no borrowed slice) reaches into.
        let map =
            unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(|e| io_err("cannot map", path, e))?;
        Ok(Arc::new(map))
    }
    #[cfg(not(unix))]
    {
        // Elsewhere a mapped file cannot be truncated (a torn tail) or deleted (trimming):
        // the bytes are read into anonymous memory of the same type instead.
        use std::io::Read;
        let len = file.metadata().map_err(|e| io_err("cannot stat", path, e))?.len() as usize;
        let mut anon = memmap2::MmapMut::map_anon(len).map_err(|e| io_err("cannot allocate for", path, e))?;
        (&file).read_exact(&mut anon).map_err(|e| io_err("cannot read", path, e))?;
        Ok(Arc::new(anon.make_read_only().map_err(|e| io_err("cannot protect", path, e))?))
    }
}

/// Step 2: replay every WAL frame in order through `apply` (with the mapping the frame
/// lies in). A torn tail of the last file is cut off; other damage is `CORRUPTION` unless
/// `salvage`, which cuts the log at the damage and says so in the report.
pub fn replay_wal(
    dir: &Path,
    db_id: u64,
    salvage: bool,
    apply: &mut dyn FnMut(wal::Frame<'_>, &LogBytes) -> Result<()>,
) -> Result<Replayed> {
    let wdir = wal_dir(dir);
    let mut files = wal::list(&wdir)?;
    let mut report = Vec::new();
    // A crash while creating a WAL file can leave it without a complete header. The last
    // file's mapping, made here, is reused by the scan below.
    let mut last_map: Option<LogBytes> = None;
    let mut last_version = wal::VERSION;
    while let Some((first, path)) = files.last().cloned() {
        let map = map_log(&path)?;
        if let Some(version) = wal::check_header(&path, &map, db_id, first)? {
            last_map = Some(map);
            last_version = version;
            break;
        }
        drop(map);
        std::fs::remove_file(&path).map_err(|e| io_err("cannot remove", &path, e))?;
        report.push(format!("removed {} (created but never written)", path.display()));
        files.pop();
    }
    let mut next_seq = files.first().map_or(0, |f| f.0);
    let mut last_len = 0;
    // The other files are mapped ahead on a second thread (populating a mapping reads the
    // file if it is not cached), so that the next file's pages arrive while this one is
    // applied.
    let ahead: Vec<PathBuf> = files
        .iter()
        .take(if last_map.is_some() { files.len() - 1 } else { files.len() })
        .map(|f| f.1.clone())
        .collect();
    std::thread::scope(|scope| -> Result<()> {
        let (mapped_tx, mapped_rx) = std::sync::mpsc::sync_channel::<Result<LogBytes>>(1);
        scope.spawn(move || {
            for path in ahead {
                if mapped_tx.send(map_log(&path)).is_err() {
                    return;
                }
            }
        });
        let mut i = 0;
        while i < files.len() {
            let (first, path) = files[i].clone();
            let last = i + 1 == files.len();
            let map: LogBytes = match (&last_map, last) {
                (Some(m), true) => Arc::clone(m),
                _ => mapped_rx.recv().map_err(|_| Error::Internal("the WAL mapping thread stopped".into()))??,
            };
            let bytes: &[u8] = &map;
            let mut scanned = wal::check_header(&path, bytes, db_id, first).and_then(|h| {
                if h.is_none() {
                    return Err(Error::Corruption(format!("{}: missing WAL file header at offset 0", path.display())));
                }
                if i > 0 && first != next_seq {
                    return Err(Error::Corruption(format!(
                    "{}: WAL file starts at sequence {first} but the previous file ends before {next_seq} at offset 24",
                    path.display()
                )));
                }
                wal::scan_file(&path, bytes, first, last, &mut |f| apply(f, &map))
            });
            if let (Err(Error::Corruption(what)), true) = (&scanned, salvage) {
                // Cut the log at the damage: keep the good prefix of this file (its frames were
                // applied by the failed scan), drop the rest and every later file.
                let what = what.clone();
                let header_ok = matches!(wal::check_header(&path, bytes, db_id, first), Ok(Some(_)));
                let dropped: Vec<PathBuf> = files.drain(i + 1..).map(|f| f.1).collect();
                for p in &dropped {
                    let _ = std::fs::remove_file(p);
                }
                // The file the log now ends with may be of an older version than the one it
                // ended with: never append to it, start a new file.
                last_version = 0;
                if !header_ok {
                    let _ = std::fs::remove_file(&path);
                    files.truncate(i);
                    report.push(format!(
                        "salvage: {what}; removed {} and {} later WAL file(s)",
                        path.display(),
                        dropped.len()
                    ));
                    break;
                }
                let (at, after) = good_prefix(&path, bytes, first);
                report.push(format!(
                    "salvage: {what}; kept {at} bytes of {}, dropped {} bytes and {} later WAL file(s)",
                    path.display(),
                    bytes.len() as u64 - at,
                    dropped.len()
                ));
                scanned = Ok(wal::FileScan { end: wal::FileEnd::Torn { at }, next_seq: after });
            }
            let scan = scanned?;
            next_seq = scan.next_seq;
            last_len = bytes.len() as u64;
            if let wal::FileEnd::Torn { at } = scan.end {
                let f =
                    std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| io_err("cannot open", &path, e))?;
                f.set_len(at).map_err(|e| io_err("cannot truncate", &path, e))?;
                fs::sync_data(&f).map_err(|e| io_err("cannot sync", &path, e))?;
                if !salvage {
                    report.push(format!(
                        "cut a torn last frame: {} bytes at offset {at} of {}",
                        bytes.len() as u64 - at,
                        path.display()
                    ));
                }
                last_len = at;
            }
            i += 1;
        }
        Ok(())
    })?;
    if files.is_empty() {
        next_seq = 0;
        last_len = 0;
    }
    Ok(Replayed { files, last_len, last_version, next_seq, report })
}

/// Length of the good prefix of a damaged WAL file and the sequence number after it.
fn good_prefix(path: &Path, bytes: &[u8], first: u64) -> (u64, u64) {
    let mut good = (wal::FILE_HEADER as u64, first);
    let _ = wal::scan_file(path, bytes, first, false, &mut |f| {
        good = (f.offset + f.len, f.seq + 1);
        Ok(())
    });
    good
}

impl Storage {
    /// Step 3: start writing. `replayed` is the result of [`replay_wal`].
    /// `last_tag` is the last tag recovery found (the manifest's, or a later tagged frame's).
    pub fn start(
        opened: Opened,
        replayed: Replayed,
        durability: Durability,
        segment_checks: segment_file::Checks,
        last_tag: Option<manifest::TagEntry>,
    ) -> Result<Arc<Storage>> {
        let Opened { dir, lock, manifest } = opened;
        let next_seq = replayed.next_seq.max(manifest.next_seq).max(1);
        let manifest_tag = manifest.last_tag;
        let writer = wal::WalWriter::open(
            &wal_dir(&dir),
            manifest.database_id,
            replayed.files,
            replayed.last_len,
            replayed.last_version,
            next_seq,
        )?;
        let storage = Arc::new(Storage {
            counters: MaintenanceCounters::default(),
            seg_dir: seg_dir(&dir),
            dir,
            lock: Mutex::new(Some(lock)),
            committer: Committer::new(writer, durability, last_tag, manifest_tag),
            segment_checks,
            manifest: Mutex::new(manifest),
            floors: Mutex::new(HashMap::new()),
            ticker: Mutex::new(None),
        });
        if let Durability::Normal { interval } = durability {
            let stop = Arc::new((Mutex::new(false), Condvar::new()));
            let weak = Arc::downgrade(&storage);
            let stop2 = Arc::clone(&stop);
            let thread = std::thread::Builder::new()
                .name("kyrodb-wal-sync".into())
                .spawn(move || loop {
                    {
                        let mut stopped = stop2.0.lock();
                        if !*stopped {
                            stop2.1.wait_for(&mut stopped, interval);
                        }
                        if *stopped {
                            return;
                        }
                    }
                    let Some(s) = weak.upgrade() else { return };
                    // A failure turns the database read-only (reported to the next writer).
                    let _ = s.committer.sync_if_dirty();
                })
                .map_err(|e| Error::Io(format!("cannot start the WAL sync thread: {e}")))?;
            *storage.ticker.lock() = Some(Ticker { stop, thread });
        }
        Ok(storage)
    }

    /// Directory of segment files.
    pub fn seg_dir(&self) -> &Path {
        &self.seg_dir
    }

    /// Reserve a new file number (persisted with the next manifest write; an unused one
    /// only leaves a gap).
    pub fn allocate_file(&self) -> u64 {
        let mut m = self.manifest.lock();
        let n = m.next_file;
        m.next_file += 1;
        n
    }

    /// Change the manifest with `f` and write it (atomically). On failure the in-memory
    /// manifest is left as it was. Files the old manifest named and the new one does not
    /// are deleted afterwards.
    ///
    /// Every manifest records the last tag applied so far (`last_tag`), so that a tag
    /// outlives the WAL frame that carried it once that frame is trimmed; `f` may set a
    /// newer one itself (a tagged create or drop of a collection, [`Storage::tag_position`]).
    pub fn update_manifest(&self, f: impl FnOnce(&mut Manifest) -> Result<()>) -> Result<()> {
        // After a panic in the middle of an apply, memory is not a state the files may
        // record (see `storage::commit`).
        self.committer.check_memory_persistable()?;
        if self.lock.lock().is_none() {
            return Err(Error::Closed);
        }
        let mut m = self.manifest.lock();
        let mut next = m.clone();
        // Read before `f` and before the sync below: the frame of this tag is written.
        let applied = self.committer.last_tag();
        f(&mut next)?;
        next.last_tag = commit::later_tag(applied, next.last_tag);
        if next.last_tag != m.last_tag {
            // The frames up to the tag must be on disk before a manifest says they were
            // applied (in `full` mode they are already).
            self.committer.sync_for_manifest()?;
        }
        next.next_seq = next.next_seq.max(self.committer.next_seq());
        next.write(&self.dir)?;
        let before = m.live_files();
        let after = next.live_files();
        self.committer.note_manifest_tag(next.last_tag);
        *m = next;
        drop(m);
        for gone in before.difference(&after) {
            let _ = std::fs::remove_file(self.seg_dir.join(segment_file::file_name(*gone)));
            let _ = std::fs::remove_file(self.seg_dir.join(deletes::file_name(*gone)));
            let _ = std::fs::remove_file(self.seg_dir.join(run_file::file_name(*gone)));
        }
        Ok(())
    }

    /// The position a tag of a change made outside the WAL (creating or dropping a
    /// collection) takes in the order of tags: the sequence number of the last frame
    /// logged. Call inside [`Storage::update_manifest`] (the manifest lock orders it).
    pub fn tag_position(&self) -> u64 {
        self.committer.next_seq().saturating_sub(1)
    }

    /// Write the manifest if the last tag is only in the WAL (so a flush can drop every
    /// WAL file).
    pub fn cover_tag(&self) -> Result<()> {
        if self.committer.uncovered_tag().is_some() {
            self.update_manifest(|_| Ok(()))?;
        }
        Ok(())
    }

    /// Record the lowest WAL sequence number collection `id` needs (`None`: none).
    pub fn set_floor(&self, id: u64, floor: Option<u64>) {
        let mut f = self.floors.lock();
        match floor {
            Some(s) => f.insert(id, s),
            None => f.remove(&id),
        };
    }

    /// Delete WAL files no collection needs any more. The current file is closed first
    /// (so that it can go too) when `rotate` asks for it or when nothing in it is needed:
    /// otherwise a database whose writes are all in segments would still read up to a
    /// whole file of covered frames at every open.
    pub fn trim_wal(&self, rotate: bool) -> Result<()> {
        self.committer.with_wal(|w| {
            // Frames appended but not yet applied have set no floor: keep them. Read before
            // the floors (see `Committer::unapplied_from`).
            let unapplied = self.committer.unapplied_from();
            // The frame of the last tag, until a manifest holds the tag.
            let tag = self.committer.uncovered_tag().unwrap_or(u64::MAX);
            let needed_from = self.floors.lock().values().copied().min().unwrap_or(u64::MAX).min(unapplied).min(tag);
            if rotate || needed_from >= w.next_seq() {
                w.rotate_if_needed(true)?;
            }
            w.remove_covered(needed_from.min(w.next_seq()));
            Ok(())
        })
    }

    /// Copy the live files into `dest` as a database of its own: segment and deletion
    /// files (hard links where possible; they are immutable), then the manifest last.
    /// Call right after a flush, so that the segments hold everything.
    pub fn snapshot_to(&self, dest: &Path) -> Result<()> {
        let m = self.manifest.lock();
        let dseg = seg_dir(dest);
        for d in [dest.to_path_buf(), wal_dir(dest), dseg.clone()] {
            std::fs::create_dir_all(&d).map_err(|e| io_err("cannot create", &d, e))?;
        }
        let mut names = Vec::new();
        for c in &m.collections {
            for s in &c.segments {
                names.push(segment_file::file_name(s.file));
                names.extend(s.deletes.map(deletes::file_name));
            }
        }
        names.extend(m.kv.runs.iter().map(|r| run_file::file_name(r.file)));
        for name in names {
            let (from, to) = (self.seg_dir.join(&name), dseg.join(&name));
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(|e| io_err("cannot copy", &from, e))?;
                let f = std::fs::File::open(&to).map_err(|e| io_err("cannot open", &to, e))?;
                fs::sync_data(&f).map_err(|e| io_err("cannot sync", &to, e))?;
            }
        }
        fs::sync_dir(&dseg).map_err(|e| io_err("cannot sync", &dseg, e))?;
        // The WAL files are copied (never linked: the live one keeps growing). Writes that
        // landed after the manifest's flushed positions are replayed by the copy; a frame
        // being appended during the copy is a torn tail there, cut at its open.
        let (src_wal, dst_wal) = (wal_dir(&self.dir), wal_dir(dest));
        for (_, path) in wal::list(&src_wal)? {
            let to = dst_wal.join(path.file_name().unwrap_or_default());
            match std::fs::copy(&path, &to) {
                Ok(_) => {
                    let f = std::fs::File::open(&to).map_err(|e| io_err("cannot open", &to, e))?;
                    fs::sync_data(&f).map_err(|e| io_err("cannot sync", &to, e))?;
                }
                // Removed meanwhile as covered by the manifest: not needed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("cannot copy", &path, e)),
            }
        }
        fs::sync_dir(&dst_wal).map_err(|e| io_err("cannot sync", &dst_wal, e))?;
        m.write(dest)
    }

    fn stop_ticker(&self) {
        if let Some(t) = self.ticker.lock().take() {
            *t.stop.0.lock() = true;
            t.stop.1.notify_all();
            let _ = t.thread.join();
        }
    }

    /// Stop without syncing and release the lock (crash simulation in tests).
    pub fn abandon(&self) {
        self.stop_ticker();
        self.committer.abandon();
        let _m = self.manifest.lock();
        *self.lock.lock() = None;
    }

    /// Sync, stop writing, release the lock. Idempotent.
    pub fn close(&self) -> Result<()> {
        self.stop_ticker();
        let r = self.committer.close();
        // The manifest mutex orders this after any manifest write in flight.
        let _m = self.manifest.lock();
        *self.lock.lock() = None;
        r
    }
}
