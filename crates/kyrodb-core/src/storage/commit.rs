//! Group commit: concurrent writers queue their frames; the first in line becomes the
//! leader, writes every queued frame with one `write`, makes them durable with one
//! `fdatasync` (in `full` mode), applies them to memory in sequence order, and wakes the
//! others. Memory therefore never shows a write the WAL does not hold, and the order of
//! the WAL is the order of memory (what recovery relies on).
//!
//! A failure poisons the database (`READ_ONLY` until reopened): an fsync that fails, and a
//! panic while a logged write is applied to memory. After such a panic memory may hold part
//! of a batch whose frame is in the WAL, so the write's caller — and the callers of the
//! frames after it in the group, which are not applied — get an error saying the outcome
//! is unknown: reopening replays the frames (if they reached the disk) and applies them
//! whole. Until then memory must never be written out as if it were a consistent state:
//! [`Committer::check_memory_persistable`] refuses every manifest update.

use super::manifest::TagEntry;
use super::wal::{self, FrameKind, WalWriter};
use crate::error::{Error, Result};
use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When an acknowledged write is on stable storage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged means fsynced (default).
    Full,
    /// fsync at most every `interval`: a crash of the machine (not of the process) can lose
    /// the writes acknowledged during the last `interval`.
    Normal {
        /// Longest time between fsyncs.
        interval: Duration,
    },
    /// Never fsync (tests and benchmarks): writes survive a killed process, not power loss.
    None,
}

/// What a queued write does once its frame is in the WAL: apply to memory, given the
/// frame's sequence number; returns the caller's result.
pub type Apply = Box<dyn FnOnce(u64) -> usize + Send>;

/// One write for [`Committer::commit_many`]: its frame's kind and payload, an optional tag
/// logged in the same frame, and what to do once it is logged.
pub struct Request {
    /// Frame kind.
    pub kind: FrameKind,
    /// Frame payload.
    pub payload: Vec<u8>,
    /// The writer's tag ([`Committer::last_tag`]).
    pub tag: Option<u64>,
    /// Apply to memory.
    pub apply: Apply,
}

struct Slot {
    request: Mutex<Option<Request>>,
    result: Mutex<Option<Result<usize>>>,
    /// Shared by the slots of one [`Committer::commit_many`]: the error of the first that
    /// failed, after which the others are not attempted (their order would be broken).
    chain: Option<Arc<Mutex<Option<Error>>>>,
}

impl Slot {
    fn fail(&self, e: Error) {
        if let Some(c) = &self.chain {
            c.lock().get_or_insert_with(|| e.clone());
        }
        *self.result.lock() = Some(Err(e));
    }
}

/// The later of two tags by position; on a tie `b` (the tag of a manifest change made
/// after the frame at the same position was logged).
pub fn later_tag(a: Option<TagEntry>, b: Option<TagEntry>) -> Option<TagEntry> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if x.seq > y.seq { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    }
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Arc<Slot>>,
    leader: bool,
}

/// Most frame bytes one leader writes in one go.
const GROUP_BYTES: usize = 64 << 20;

/// Totals of the commit pipeline since open (for metrics).
#[derive(Default)]
pub struct CommitCounters {
    frames: AtomicU64,
    bytes: AtomicU64,
    groups: AtomicU64,
    fsyncs: AtomicU64,
}

/// A copy of [`CommitCounters`] plus the WAL's size on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Frames (batches) appended since open.
    pub frames: u64,
    /// Bytes appended since open (frame headers included).
    pub bytes: u64,
    /// Group commits (one `write` each) since open.
    pub groups: u64,
    /// `fdatasync` calls on WAL files since open.
    pub fsyncs: u64,
    /// Bytes of WAL files on disk now (what a reopen would have to scan).
    pub disk_bytes: u64,
    /// WAL files on disk now.
    pub files: u64,
}

/// The commit pipeline of one database.
pub struct Committer {
    counters: CommitCounters,
    queue: Mutex<Queue>,
    wake: Condvar,
    wal: Mutex<Option<WalWriter>>,
    durability: Durability,
    last_sync: Mutex<Instant>,
    read_only: Mutex<Option<String>>,
    /// Set when a panic interrupted an apply: memory no longer matches any prefix of the WAL.
    apply_panicked: Mutex<Option<String>>,
    /// First sequence number of the group that is in the WAL but not yet applied to
    /// memory (`u64::MAX`: none). Its writes have set no WAL floor yet, so a checkpoint
    /// must keep its frames ([`Committer::unapplied_from`]).
    applying_from: crate::sync::AtomicU64,
    /// The last tag applied (recovered at open), and the last one a manifest holds.
    tags: Mutex<Tags>,
}

#[derive(Default)]
struct Tags {
    last: Option<TagEntry>,
    in_manifest: Option<TagEntry>,
}

impl Committer {
    /// A committer appending to `wal`; `last_tag` is the last tag recovery found.
    /// `in_manifest` the one the manifest holds.
    pub fn new(
        wal: WalWriter,
        durability: Durability,
        last_tag: Option<TagEntry>,
        in_manifest: Option<TagEntry>,
    ) -> Committer {
        Committer {
            counters: CommitCounters::default(),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            wal: Mutex::new(Some(wal)),
            durability,
            last_sync: Mutex::new(Instant::now()),
            read_only: Mutex::new(None),
            apply_panicked: Mutex::new(None),
            applying_from: crate::sync::AtomicU64::new(u64::MAX),
            tags: Mutex::new(Tags { last: later_tag(in_manifest, last_tag), in_manifest }),
        }
    }

    /// The last tag logged: the tag of the tagged frame logged last (noted before its
    /// apply runs), or of a tagged manifest change (create or drop of a collection) made
    /// after it.
    pub fn last_tag(&self) -> Option<TagEntry> {
        self.tags.lock().last
    }

    /// A manifest recording `tag` was written.
    pub fn note_manifest_tag(&self, tag: Option<TagEntry>) {
        let mut t = self.tags.lock();
        t.last = later_tag(t.last, tag);
        t.in_manifest = later_tag(t.in_manifest, tag);
    }

    /// The sequence number of the frame holding the last tag while no manifest holds it:
    /// the WAL must keep that frame (read under the WAL lock, after
    /// [`Committer::unapplied_from`], like the stores' floors).
    pub fn uncovered_tag(&self) -> Option<u64> {
        let t = self.tags.lock();
        match (t.last, t.in_manifest) {
            (Some(last), Some(m)) if last.seq <= m.seq => None,
            (Some(last), _) => Some(last.seq),
            (None, _) => None,
        }
    }

    /// Before a manifest records a tag: make every frame written so far durable, so the
    /// manifest never names a tag whose frame a power loss could take (`full` has synced
    /// them already; `normal` and `none` may not have — `none` syncs only here, and only
    /// when a manifest write records a new tag).
    pub fn sync_for_manifest(&self) -> Result<()> {
        match self.durability {
            Durability::Normal { .. } | Durability::None => self.sync_if_dirty(),
            Durability::Full => Ok(()),
        }
    }

    /// `Err(INVALID_ARGUMENT)` when a payload of `len` bytes is over the frame limit.
    pub fn check_frame_size(len: usize, tagged: bool) -> Result<()> {
        let need = wal::tagged_frame_len(len, tagged);
        if need > wal::MAX_FRAME {
            return Err(Error::invalid(format!(
                "this batch needs {need} bytes in the log, over the {} byte limit of one batch; split it",
                wal::MAX_FRAME
            )));
        }
        Ok(())
    }

    /// The first sequence number in the WAL that may not be reflected in memory yet
    /// (`u64::MAX`: everything appended is applied). Read it under [`Committer::with_wal`]
    /// and *before* the floors the applied writes set: appends are serialized by the WAL
    /// lock, and a group's floors are set before this is cleared.
    pub fn unapplied_from(&self) -> u64 {
        self.applying_from.load(std::sync::atomic::Ordering::Acquire)
    }

    /// `Err(READ_ONLY)` once a write could not be made durable.
    pub fn check_writable(&self) -> Result<()> {
        match &*self.read_only.lock() {
            Some(why) => Err(Error::ReadOnly(why.clone())),
            None => Ok(()),
        }
    }

    /// `Err(READ_ONLY)` once a panic left a write partly applied: memory must not be
    /// written out (a flush would record half a batch as durable and let the WAL frame
    /// that holds all of it go). Every manifest update checks this.
    pub fn check_memory_persistable(&self) -> Result<()> {
        match &*self.apply_panicked.lock() {
            Some(why) => Err(Error::ReadOnly(why.clone())),
            None => Ok(()),
        }
    }

    fn poison(&self, why: String) {
        let mut r = self.read_only.lock();
        if r.is_none() {
            log::error!("the database is read-only until reopened: {why}");
            *r = Some(why);
        }
    }

    /// Log one frame and, once it is durable (per the mode), run `apply` with its sequence
    /// number. Returns `apply`'s result; on error nothing was applied.
    pub fn commit(&self, kind: FrameKind, payload: Vec<u8>, apply: Apply) -> Result<usize> {
        self.commit_many(vec![Request { kind, payload, tag: None, apply }]).pop().unwrap_or(Err(Error::Closed))
    }

    /// Log several frames, consecutive and in the given order, in as few groups as their
    /// size allows (one `write` and one fsync per group; one group up to 64 MiB), and apply
    /// each once it is durable. One result per request, in order. A group that fails to be
    /// logged fails every request in it and applies none; the requests of later groups are
    /// still attempted only if the earlier ones were logged.
    pub fn commit_many(&self, requests: Vec<Request>) -> Vec<Result<usize>> {
        if let Err(e) = self.check_writable() {
            return requests.iter().map(|_| Err(e.clone())).collect();
        }
        let mut slots = Vec::with_capacity(requests.len());
        let mut results: Vec<Option<Result<usize>>> = Vec::with_capacity(requests.len());
        let chain = (requests.len() > 1).then(|| Arc::new(Mutex::new(None)));
        let mut refused = false;
        for r in requests {
            // After a refused write nothing later in the group is attempted: what is applied
            // is always a prefix.
            let checked = if refused {
                Err(Error::invalid("not attempted: an earlier write of this group was refused".to_string()))
            } else {
                Committer::check_frame_size(r.payload.len(), r.tag.is_some())
            };
            refused |= checked.is_err();
            match checked {
                Ok(()) => {
                    let slot = Slot { request: Mutex::new(Some(r)), result: Mutex::new(None), chain: chain.clone() };
                    slots.push((results.len(), Arc::new(slot)));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let mut q = self.queue.lock();
        // Pushed under one hold: nobody else's frame comes between them.
        for (_, slot) in &slots {
            q.pending.push_back(Arc::clone(slot));
        }
        let mut waiting = slots.len();
        loop {
            for (i, slot) in &slots {
                if results[*i].is_none() {
                    if let Some(r) = slot.result.lock().take() {
                        results[*i] = Some(r);
                        waiting -= 1;
                    }
                }
            }
            if waiting == 0 {
                return results.into_iter().map(|r| r.unwrap_or(Err(Error::Closed))).collect();
            }
            if !q.leader {
                q.leader = true;
                let mut group = Vec::new();
                let mut bytes = 0;
                while let Some(s) = q.pending.front() {
                    let len = s.request.lock().as_ref().map_or(0, |r| r.payload.len());
                    if !group.is_empty() && bytes + len > GROUP_BYTES {
                        break;
                    }
                    bytes += len;
                    group.extend(q.pending.pop_front());
                }
                drop(q);
                // The leader flag must be cleared however the group ends.
                struct Release<'a>(&'a Committer);
                impl Drop for Release<'_> {
                    fn drop(&mut self) {
                        self.0.queue.lock().leader = false;
                        self.0.wake.notify_all();
                    }
                }
                let release = Release(self);
                self.run_group(group);
                drop(release);
                q = self.queue.lock();
                continue;
            }
            self.wake.wait(&mut q);
        }
    }

    fn run_group(&self, group: Vec<Arc<Slot>>) {
        // A slot whose predecessor of the same `commit_many` failed is not attempted.
        let group: Vec<Arc<Slot>> = group
            .into_iter()
            .filter(|s| match s.chain.as_ref().and_then(|c| c.lock().clone()) {
                Some(e) => {
                    *s.result.lock() = Some(Err(Error::Internal(format!(
                        "not attempted: an earlier write of the same group failed ({e})"
                    ))));
                    false
                }
                None => true,
            })
            .collect();
        if group.is_empty() {
            return;
        }
        let requests: Vec<Request> = group.iter().filter_map(|s| s.request.lock().take()).collect();
        let fail_all = |e: Error| {
            for s in &group {
                s.fail(e.clone());
            }
        };
        let first_seq = {
            let mut guard = self.wal.lock();
            let Some(w) = guard.as_mut() else { return fail_all(Error::Closed) };
            if let Err(e) = self.check_writable() {
                return fail_all(e);
            }
            let first_seq = w.next_seq();
            let mut buf = Vec::with_capacity(
                requests.iter().map(|r| wal::tagged_frame_len(r.payload.len(), r.tag.is_some())).sum(),
            );
            for (i, r) in requests.iter().enumerate() {
                wal::encode_tagged_frame(&mut buf, r.kind, first_seq + i as u64, &r.payload, r.tag);
            }
            if let Err(e) = w.append(&buf, requests.len() as u64) {
                if e.fatal {
                    self.poison(e.error.to_string());
                }
                return fail_all(e.error);
            }
            self.counters.frames.fetch_add(requests.len() as u64, Relaxed);
            self.counters.bytes.fetch_add(buf.len() as u64, Relaxed);
            self.counters.groups.fetch_add(1, Relaxed);
            let must_sync = match self.durability {
                Durability::Full => true,
                Durability::Normal { interval } => self.last_sync.lock().elapsed() >= interval,
                Durability::None => false,
            };
            if must_sync {
                self.counters.fsyncs.fetch_add(1, Relaxed);
                if let Err(e) = w.sync() {
                    // fsync failures are never retried (the kernel may have dropped the
                    // dirty pages): stop accepting writes until the database is reopened.
                    self.poison(e.to_string());
                    return fail_all(e);
                }
                *self.last_sync.lock() = Instant::now();
            }
            if let Err(e) = w.rotate_if_needed(false) {
                self.poison(format!("cannot start a new WAL file: {e}"));
            }
            self.applying_from.store(first_seq, std::sync::atomic::Ordering::Release);
            first_seq
        };
        let durable = if self.durability == Durability::Full { "" } else { " if it reached the disk" };
        let mut panicked_at = None;
        for (i, (Request { apply, tag, .. }, slot)) in requests.into_iter().zip(&group).enumerate() {
            let seq = first_seq + i as u64;
            if let (Some(tag), None) = (tag, panicked_at) {
                // Noted before the apply: a checkpoint that sees the write applied writes a
                // manifest holding this tag (or a later one), so the tag outlives the frame.
                let mut t = self.tags.lock();
                if t.last.is_none_or(|t| seq > t.seq) {
                    t.last = Some(TagEntry { seq, tag });
                }
            }
            let r = match panicked_at {
                // Memory holds part of an earlier frame: applying more on top of it could
                // only make it worse. This frame is logged too; reopening applies it.
                Some(at) => Err(Error::Internal(format!(
                    "write {seq} was logged but not applied to memory after a panic applying write {at}; \
                     its outcome is unknown: the database is read-only, and reopening it applies the write{durable}"
                ))),
                None => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(seq))) {
                    Ok(n) => Ok(n),
                    Err(_) => {
                        panicked_at = Some(seq);
                        let why = format!("a panic while applying write {seq} to memory left it partly applied");
                        *self.apply_panicked.lock() = Some(why.clone());
                        self.poison(why);
                        Err(Error::Internal(format!(
                            "a panic while applying logged write {seq} to memory; its outcome is unknown: the \
                             database is read-only, and reopening it applies the whole write{durable}"
                        )))
                    }
                },
            };
            match r {
                Ok(n) => *slot.result.lock() = Some(Ok(n)),
                Err(e) => slot.fail(e),
            }
        }
        // After a panic, frames from `first_seq` on may have set no floor (or half of one):
        // `applying_from` stays, so that no WAL trim removes them before the reopen.
        if panicked_at.is_none() {
            self.applying_from.store(u64::MAX, std::sync::atomic::Ordering::Release);
        }
    }

    /// fsync the WAL if it has unsynced bytes (the `normal` mode's timer calls this).
    pub fn sync_if_dirty(&self) -> Result<()> {
        let mut guard = self.wal.lock();
        let Some(w) = guard.as_mut() else { return Ok(()) };
        if !w.dirty() {
            return Ok(());
        }
        self.counters.fsyncs.fetch_add(1, Relaxed);
        if let Err(e) = w.sync() {
            self.poison(e.to_string());
            return Err(e);
        }
        *self.last_sync.lock() = Instant::now();
        Ok(())
    }

    /// Run `f` on the WAL writer (checkpoints: rotate, remove covered files).
    pub fn with_wal<T>(&self, f: impl FnOnce(&mut WalWriter) -> Result<T>) -> Result<T> {
        let mut guard = self.wal.lock();
        match guard.as_mut() {
            Some(w) => f(w),
            None => Err(Error::Closed),
        }
    }

    /// Totals since open and the WAL's current size on disk.
    pub fn stats(&self) -> WalStats {
        let (disk_bytes, files) = self.wal.lock().as_ref().map_or((0, 0), WalWriter::disk_usage);
        let c = &self.counters;
        WalStats {
            frames: c.frames.load(Relaxed),
            bytes: c.bytes.load(Relaxed),
            groups: c.groups.load(Relaxed),
            fsyncs: c.fsyncs.load(Relaxed),
            disk_bytes,
            files,
        }
    }

    /// Sequence number the next frame will get.
    pub fn next_seq(&self) -> u64 {
        self.wal.lock().as_ref().map_or(0, WalWriter::next_seq)
    }

    /// Stop without syncing (crash simulation).
    pub fn abandon(&self) {
        *self.wal.lock() = None;
    }

    /// Sync what is unsynced and stop: later commits fail with `CLOSED`.
    pub fn close(&self) -> Result<()> {
        let r = self.sync_if_dirty();
        *self.wal.lock() = None;
        r
    }
}
