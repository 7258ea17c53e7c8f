//! The key-value store: `u64` keys, bytes or string values.
//!
//! Write path: WAL frame (group commit, the database's durability mode) → memtable →
//! acknowledge. Read path: memtable, the frozen memtable being written out, then the
//! sorted runs newest to oldest, each searched through its learned index (an RMI, see
//! `kyrodb-rmi`): a predicted window bounded by the model's measured error, searched with
//! AVX-512/AVX2 compares. Maintenance (`maintenance.rs`): a full memtable becomes a run in
//! the background; runs merge size-tiered; `compact`/`build_index` merge everything.
//!
//! - [`value`]: what a key holds, limits;
//! - [`memtable`]: the in-memory writes;
//! - [`run`]: sorted runs and their lookups;
//! - [`range`]: ordered scans merging every layer;
//! - [`stats`]: counters for the metrics endpoint.

pub mod maintenance;
pub mod memtable;
pub mod range;
pub mod run;
pub mod stats;
pub mod value;

use crate::error::{Error, Result};
use crate::storage::commit::Request;
use crate::storage::records::{self, KV_STORE};
use crate::storage::wal::FrameKind;
use crate::storage::Storage;
use memtable::{Memtable, ReplayLog};
use parking_lot::{Condvar, Mutex, RwLock};
use run::{Found, Run};
use stats::{KvCounters, KvStats};
use std::sync::atomic::{AtomicBool, Ordering, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
pub use value::{Entry, Value, ValueKind, Write, MAX_BATCH_BYTES, MAX_BATCH_OPS, MAX_VALUE_BYTES};

/// Tuning of the key-value store.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct KvConfig {
    /// Memtable bytes that trigger a flush into a run.
    pub memtable_bytes: usize,
    /// Appends after which the memtable is written out as a run with a freshly built
    /// learned index (the original server's `--rmi-rebuild-appends`).
    pub rmi_rebuild_appends: u64,
}

/// Replayed entries from which recovery freezes the memtable it loads and writes it out
/// as a run, rather than keeping it as the active memtable (whose first write would copy
/// it into a map).
const REPLAY_FREEZE_ENTRIES: usize = 65_536;

/// Keys a write looks up per read-lock hold while it plans ([`KvStore::plan`]): short
/// enough that a flush waiting for the write lock (which new readers queue behind) is not
/// held up long.
const PLAN_CHUNK: usize = 4096;

/// Default memtable bound.
pub const DEFAULT_MEMTABLE_BYTES: usize = 64 << 20;
/// Default appends between learned-index builds.
pub const DEFAULT_RMI_REBUILD_APPENDS: u64 = 1_000_000;

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig { memtable_bytes: DEFAULT_MEMTABLE_BYTES, rmi_rebuild_appends: DEFAULT_RMI_REBUILD_APPENDS }
    }
}

/// Everything readers see, swapped under one lock.
#[derive(Default)]
pub(crate) struct KvState {
    pub(crate) active: Memtable,
    /// The memtable being written out as a run (still read).
    pub(crate) frozen: Option<Arc<Memtable>>,
    /// `applied_seq` and `live` when `frozen` was frozen.
    pub(crate) frozen_seq: u64,
    pub(crate) frozen_live: u64,
    /// Runs, newest first.
    pub(crate) runs: Vec<Arc<Run>>,
    /// Live keys.
    pub(crate) live: u64,
    /// Sequence number of the last key-value frame applied.
    pub(crate) applied_seq: u64,
    /// Every frame ≤ this is in the runs.
    pub(crate) flushed_seq: u64,
}

/// The key-value store of one database.
pub struct KvStore {
    closed: Arc<AtomicBool>,
    storage: OnceLock<Arc<Storage>>,
    pub(crate) state: RwLock<KvState>,
    pub(crate) config: KvConfig,
    pub(crate) counters: KvCounters,
    /// One flush or merge at a time.
    pub(crate) maintenance: Mutex<()>,
    /// One apply at a time (durable writes are applied one at a time anyway, by the
    /// group-commit leader; this orders in-memory databases' writers too). Only an apply
    /// changes which keys have a value — flushes and merges move entries between layers —
    /// so lookups made under it, before the state's write lock, stay true until the apply
    /// takes that lock ([`KvStore::plan`]).
    apply_lock: Mutex<()>,
    pub(crate) background: AtomicBool,
    /// Writers waiting for a flush when the memtable is over twice its bound.
    pub(crate) flushed: (Mutex<()>, Condvar),
    /// Writes replayed from the WAL at open, in log order, and the last frame's sequence
    /// number, until `finish_replay`.
    replayed: Mutex<(ReplayLog, u64)>,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore").field("config", &self.config).finish()
    }
}

/// Look `key` up in every layer, newest first.
#[inline]
pub(crate) fn lookup<'s>(st: &'s KvState, key: u64, counters: &KvCounters) -> Result<Option<(ValueKind, &'s [u8])>> {
    let found = |(kind, v): (ValueKind, &'s [u8])| (kind != ValueKind::Deleted).then_some((kind, v));
    if let Some(e) = st.active.get(key) {
        return Ok(found(e));
    }
    if let Some(e) = st.frozen.as_ref().and_then(|f| f.get(key)) {
        return Ok(found(e));
    }
    for r in &st.runs {
        match r.get(key, counters)? {
            Some(Found::Deleted) => return Ok(None),
            Some(Found::Value(kind, v)) => return Ok(Some((kind, v))),
            None => {}
        }
    }
    Ok(None)
}

impl KvStore {
    /// A store with nothing in it, or with the runs and position recovery found.
    pub(crate) fn new(closed: Arc<AtomicBool>, config: KvConfig) -> KvStore {
        KvStore {
            closed,
            storage: OnceLock::new(),
            state: RwLock::new(KvState::default()),
            config,
            counters: KvCounters::default(),
            maintenance: Mutex::new(()),
            apply_lock: Mutex::new(()),
            background: AtomicBool::new(false),
            flushed: (Mutex::new(()), Condvar::new()),
            replayed: Mutex::new((ReplayLog::default(), 0)),
        }
    }

    /// Install what the manifest lists (recovery, before replay).
    pub(crate) fn restore(&self, runs: Vec<Arc<Run>>, live: u64, flushed_seq: u64) {
        let mut st = self.state.write();
        st.runs = runs;
        st.live = live;
        st.flushed_seq = flushed_seq;
        st.applied_seq = flushed_seq;
    }

    /// Start writing through `storage` (after replay).
    pub(crate) fn attach_storage(&self, storage: Arc<Storage>) {
        let st = self.state.read();
        let floor = (st.applied_seq > st.flushed_seq).then_some(st.flushed_seq + 1);
        storage.set_floor(KV_STORE, floor);
        let _ = self.storage.set(storage);
    }

    pub(crate) fn storage(&self) -> Option<&Arc<Storage>> {
        self.storage.get()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Collect a WAL frame's writes at open (applied together by `finish_replay`).
    /// `payload` lies in `file` at byte `payload_at`; the replayed values keep referring
    /// to `file`.
    pub(crate) fn replay(
        &self,
        payload: &[u8],
        file: &crate::storage::LogBytes,
        payload_at: u64,
        seq: u64,
    ) -> Result<()> {
        let mut replayed = self.replayed.lock();
        let (log, last_seq) = &mut *replayed;
        let before = log.len();
        let chunk: memtable::Chunk = file.clone();
        let mut misplaced = None;
        records::decode_kv(payload, &mut |op| {
            let kind = ValueKind::from_code(op.op).unwrap_or(ValueKind::Deleted);
            if let Err(why) = log.push(op.key, kind, &chunk, op.value) {
                misplaced.get_or_insert(why);
            }
        })
        .map_err(|e| {
            Error::Corruption(format!("WAL frame {seq}: {} at offset {}", e.what, payload_at + e.offset as u64))
        })
        .and_then(|()| match misplaced {
            Some(why) => Err(Error::Internal(format!("WAL frame {seq}: {why}"))),
            None => Ok(()),
        })
        .inspect_err(|_| log.truncate(before))?;
        *last_seq = (*last_seq).max(seq);
        Ok(())
    }

    /// After replay: load every replayed write into the memtable at once
    /// ([`Memtable::from_log`]: one parallel sort by key, the last write of a key wins, no
    /// allocation per value; docs/decisions/0019). Deletes of keys without a value
    /// are dropped (they need no tombstone).
    pub(crate) fn finish_replay(&self) {
        let (log, last_seq) = std::mem::take(&mut *self.replayed.lock());
        let appends = log.len() as u64;
        let mut guard = self.state.write();
        let st = &mut *guard;
        st.applied_seq = st.applied_seq.max(last_seq);
        // The memtable is empty at open: what a key held before replay is in the runs.
        let loaded = Memtable::from_log(log, &mut |key, kind| self.count_write(st, key, kind));
        if loaded.len() >= REPLAY_FREEZE_ENTRIES {
            // Large: frozen, and written out as a run right after open
            // (`resume_background_work`), so that no write ever converts it into a map.
            st.frozen = Some(Arc::new(loaded));
            st.frozen_seq = st.applied_seq;
            st.frozen_live = st.live;
        } else {
            // Small: values copied out, so that a few replayed writes do not keep whole WAL
            // files mapped.
            st.active = loaded.into_map();
        }
        self.counters.appends.fetch_add(appends, Relaxed);
    }

    /// Update the live count for a write of `key` about to be applied; returns whether it
    /// changes anything (a delete of a key without a value does not, and needs no
    /// tombstone). A damaged run makes the lookup fail; the write still wins (it is logged).
    fn count_write(&self, st: &mut KvState, key: u64, kind: ValueKind) -> bool {
        let existed = matches!(lookup(st, key, &self.counters), Ok(Some(_)));
        match (kind == ValueKind::Deleted, existed) {
            (true, false) => return false,
            (true, true) => st.live = st.live.saturating_sub(1),
            (false, false) => st.live += 1,
            (false, true) => {}
        }
        true
    }

    /// For each write of a batch about to be applied, whether it changes anything (a
    /// delete of a key without a value does not, and needs no tombstone), and the change of
    /// the live count. Must hold `apply_lock`. The lookups run under short read locks
    /// ([`PLAN_CHUNK`] keys each), so readers — and flushes — go on meanwhile; only the
    /// apply that follows takes the write lock, and it looks nothing up. A damaged run
    /// makes a lookup fail; the write still wins (it is logged), as if the key had no value.
    fn plan(&self, entries: &[(u64, Entry)]) -> (Vec<bool>, i64) {
        let mut changes = Vec::with_capacity(entries.len());
        let mut delta = 0i64;
        // Whether a key written earlier in this batch has a value after that write.
        let mut in_batch: std::collections::HashMap<u64, bool, foldhash::fast::RandomState> = Default::default();
        for chunk in entries.chunks(PLAN_CHUNK) {
            let st = self.state.read();
            for (key, e) in chunk {
                crate::storage::failpoints::hook(crate::storage::failpoints::points::KV_COUNT_PROBE);
                let existed = match in_batch.get(key) {
                    Some(&has) => has,
                    None => matches!(lookup(&st, *key, &self.counters), Ok(Some(_))),
                };
                let deleting = e.kind == ValueKind::Deleted;
                // A put adds a key unless it existed; a delete removes one if it did.
                delta += i64::from(!deleting) - i64::from(existed);
                changes.push(!deleting || existed);
                if entries.len() > 1 {
                    in_batch.insert(*key, !deleting);
                }
            }
        }
        (changes, delta)
    }

    /// Apply logged writes to memory; returns how many keys changed (puts, and deletes of
    /// keys that existed). Readers wait only while the memtable takes the writes, not for
    /// the lookups that keep `count()` exact ([`KvStore::plan`]).
    fn apply(&self, entries: Vec<(u64, Entry)>, seq: u64) -> usize {
        let _one = self.apply_lock.lock();
        let (changes, delta) = self.plan(&entries);
        let mut st = self.state.write();
        let mut changed = 0;
        let n = entries.len() as u64;
        for ((key, e), change) in entries.into_iter().zip(changes) {
            crate::storage::failpoints::hook(crate::storage::failpoints::points::KV_APPLY_WRITE);
            if change {
                changed += 1;
                st.active.insert(key, e);
            }
        }
        st.live = st.live.saturating_add_signed(delta);
        st.applied_seq = st.applied_seq.max(seq);
        self.counters.appends.fetch_add(n, Relaxed);
        changed
    }

    /// Validate, log and apply a batch of writes (in order; a later write of the same key
    /// wins). Returns the number of keys changed.
    pub fn write(self: &Arc<Self>, writes: &[Write<'_>]) -> Result<usize> {
        let entries = self.validate(writes)?;
        if entries.is_empty() {
            return Ok(0);
        }
        self.wait_for_room();
        let changed = match self.storage() {
            None => {
                let changed = self.apply(entries, 0);
                self.after_apply();
                changed
            }
            Some(storage) => {
                let r = self.request(entries, None);
                storage.committer.commit(r.kind, r.payload, r.apply)?
            }
        };
        Ok(changed)
    }

    /// The checks of [`KvStore::write`]: the writes as entries to apply.
    fn validate(&self, writes: &[Write<'_>]) -> Result<Vec<(u64, Entry)>> {
        self.check_open()?;
        if writes.len() > MAX_BATCH_OPS {
            return Err(Error::invalid(format!(
                "a batch holds at most {MAX_BATCH_OPS} operations, got {}",
                writes.len()
            )));
        }
        let mut total = 0usize;
        let mut entries = Vec::with_capacity(writes.len());
        for w in writes {
            entries.push(match *w {
                Write::Put(key, kind, value) => {
                    if value.len() > MAX_VALUE_BYTES {
                        return Err(Error::invalid(format!(
                            "value of key {key} is {} bytes, over the {MAX_VALUE_BYTES} byte limit",
                            value.len()
                        )));
                    }
                    if kind == ValueKind::Deleted {
                        return Err(Error::invalid("a put needs a bytes or string value"));
                    }
                    if kind == ValueKind::Str && std::str::from_utf8(value).is_err() {
                        return Err(Error::invalid(format!("value of key {key} is not valid UTF-8")));
                    }
                    total += value.len();
                    (key, Entry { kind, value: value.into() })
                }
                Write::Delete(key) => (key, Entry { kind: ValueKind::Deleted, value: Box::default() }),
            });
        }
        if total > MAX_BATCH_BYTES {
            return Err(Error::invalid(format!(
                "a batch holds at most {MAX_BATCH_BYTES} value bytes, got {total}; split it"
            )));
        }
        Ok(entries)
    }

    /// A validated batch as a WAL frame and the apply that follows it.
    fn request(self: &Arc<Self>, entries: Vec<(u64, Entry)>, tag: Option<u64>) -> Request {
        let ops: Vec<records::KvOp<'_>> =
            entries.iter().map(|(k, e)| records::KvOp { op: e.kind as u8, key: *k, value: &e.value }).collect();
        let payload = records::encode_kv(&ops);
        drop(ops);
        let me = Arc::clone(self);
        Request {
            kind: FrameKind::KvBatch,
            payload,
            tag,
            apply: Box::new(move |seq| {
                let changed = me.apply(entries, seq);
                me.after_apply();
                changed
            }),
        }
    }

    /// Validate a batch of [`crate::Database::write_group`] and return its frame (`None`:
    /// an empty batch needs none). Durable stores only.
    pub(crate) fn prepare(self: &Arc<Self>, writes: &[Write<'_>], tag: Option<u64>) -> Result<Option<Request>> {
        let entries = self.validate(writes)?;
        if entries.is_empty() {
            return Ok(None);
        }
        self.wait_for_room();
        Ok(Some(self.request(entries, tag)))
    }

    /// Bookkeeping after a logged write: the WAL floor, a background flush when full.
    fn after_apply(self: &Arc<Self>) {
        let (full, floor) = {
            let st = self.state.read();
            let full = st.active.bytes() >= self.config.memtable_bytes
                || st.active.appends() >= self.config.rmi_rebuild_appends;
            (full, (st.applied_seq > st.flushed_seq).then_some(st.flushed_seq + 1))
        };
        if let Some(storage) = self.storage() {
            storage.set_floor(KV_STORE, floor);
        }
        if full {
            self.flush_in_background();
        }
    }

    /// Back-pressure: while a memtable is being written out and the next is already over
    /// twice the bound, writers wait (bounded memory).
    fn wait_for_room(&self) {
        let over = || {
            let st = self.state.read();
            st.frozen.is_some() && st.active.bytes() >= 2 * self.config.memtable_bytes
        };
        let mut g = self.flushed.0.lock();
        while over() && !self.closed.load(Ordering::Acquire) {
            self.flushed.1.wait_for(&mut g, std::time::Duration::from_millis(50));
        }
    }

    /// Store one value.
    pub fn put(self: &Arc<Self>, key: u64, kind: ValueKind, value: &[u8]) -> Result<()> {
        self.write(&[Write::Put(key, kind, value)]).map(|_| ())
    }

    /// Remove a key; returns whether it existed.
    pub fn delete(self: &Arc<Self>, key: u64) -> Result<bool> {
        self.write(&[Write::Delete(key)]).map(|n| n > 0)
    }

    /// Read the value of `key` and hand it to `f` without copying it.
    #[inline]
    pub fn get_with<T>(&self, key: u64, f: impl FnOnce(ValueKind, &[u8]) -> T) -> Result<Option<T>> {
        self.check_open()?;
        self.counters.lookups.fetch_add(1, Relaxed);
        let st = self.state.read();
        let found = lookup(&st, key, &self.counters)?;
        if found.is_some() {
            self.counters.hits.fetch_add(1, Relaxed);
        }
        Ok(found.map(|(k, v)| f(k, v)))
    }

    /// The value of `key`, copied out.
    pub fn get(&self, key: u64) -> Result<Option<Value>> {
        self.get_with(key, |kind, v| Value { kind, bytes: v.to_vec() })
    }

    /// Whether `key` has a value.
    pub fn has(&self, key: u64) -> Result<bool> {
        self.get_with(key, |_, _| ()).map(|v| v.is_some())
    }

    /// Values of many keys, in order, under one read lock; `f` sees each found value.
    pub fn get_many_with(&self, keys: &[u64], mut f: impl FnMut(usize, ValueKind, &[u8])) -> Result<()> {
        self.check_open()?;
        self.counters.lookups.fetch_add(keys.len() as u64, Relaxed);
        let st = self.state.read();
        let mut hits = 0;
        for (i, &k) in keys.iter().enumerate() {
            if let Some((kind, v)) = lookup(&st, k, &self.counters)? {
                hits += 1;
                f(i, kind, v);
            }
        }
        self.counters.hits.fetch_add(hits, Relaxed);
        Ok(())
    }

    /// Live keys.
    pub fn count(&self) -> Result<u64> {
        self.check_open()?;
        Ok(self.state.read().live)
    }

    /// Counters and shape.
    pub fn stats(&self) -> Result<KvStats> {
        self.check_open()?;
        let mut s = KvStats::default();
        self.counters.fill(&mut s);
        let st = self.state.read();
        s.keys = st.live;
        s.runs = st.runs.len();
        s.memtable_entries = st.active.len() + st.frozen.as_ref().map_or(0, |f| f.len());
        s.index_bytes = st.runs.iter().map(|r| r.index_bytes()).sum();
        s.learned_index = cfg!(feature = "learned-index");
        s.probe_kind = probe_kind().to_string();
        Ok(s)
    }

    /// Bytes held in native memory: memtable values and entries, and the runs' learned
    /// indexes (run keys and values are mapped: the page cache holds them).
    pub fn memory_bytes(&self) -> usize {
        let st = self.state.read();
        st.active.bytes()
            + st.frozen.as_ref().map_or(0, |f| f.bytes())
            + st.runs.iter().map(|r| r.index_bytes()).sum::<usize>()
    }

    /// Touch the pages of every run (keys, index, and values if `values`) so that the
    /// first lookups are served from memory. Returns the bytes touched.
    pub fn warmup(&self, values: bool) -> Result<usize> {
        self.check_open()?;
        let runs: Vec<Arc<Run>> = self.state.read().runs.clone();
        Ok(runs.iter().map(|r| r.warm(values)).sum())
    }

    /// After open: write out the frozen replayed memtable, or an active one that is
    /// already full.
    pub(crate) fn resume_background_work(self: &Arc<Self>) {
        self.after_apply();
        if self.state.read().frozen.is_some() {
            self.flush_in_background();
        }
    }

    /// Wake writers waiting for room; stop background work (close).
    pub(crate) fn stop(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.flushed.1.notify_all();
        self.maintenance.lock()
    }
}

/// Name of the last-mile search in use.
pub fn probe_kind() -> &'static str {
    #[cfg(feature = "learned-index")]
    {
        kyrodb_rmi::probe::selected().kind().name()
    }
    #[cfg(not(feature = "learned-index"))]
    {
        "binary-search"
    }
}
