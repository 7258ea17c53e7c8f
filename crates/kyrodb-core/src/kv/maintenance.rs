//! Maintenance of the key-value store: a full memtable is frozen and written out as a
//! sorted run with its learned index (in the background); runs merge size-tiered
//! (`MERGE_FANIN` adjacent runs of one tier, `crate::tiers`); `compact` and `build_index` merge
//! everything into one run. Each new run is published by a manifest update that also
//! records the WAL position it covers, then swapped in under the state lock (readers see
//! the old or the new set, never a mix).

use super::memtable::Memtable;
use super::run::{self, Found, Run, RunColumns};
use super::value::ValueKind;
use super::KvStore;
use crate::error::{Error, Result};
use crate::storage::manifest::RunEntry;
use crate::storage::records::KV_STORE;
use crate::storage::run_file;
use crate::tiers::{size_tier, MERGE_FANIN};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Entries of the smallest tier.
const TIER_BASE: usize = 1 << 16;

/// The adjacent runs (`start..end` in newest-first order) the next merge combines, if any.
fn pick_merge(sizes: &[usize]) -> Option<std::ops::Range<usize>> {
    let tier = |n: usize| size_tier(n, TIER_BASE);
    let mut start = 0;
    for i in 1..=sizes.len() {
        if i == sizes.len() || tier(sizes[i]) != tier(sizes[start]) {
            if i - start >= MERGE_FANIN {
                return Some(start..i);
            }
            start = i;
        }
    }
    None
}

impl KvStore {
    /// Write the memtable out as a run (durable databases: a run file recorded in the
    /// manifest, after which the WAL it covered can go). Returns the entries written.
    pub fn flush(&self) -> Result<usize> {
        self.check_open()?;
        let _m = self.maintenance.lock();
        self.flush_locked()
    }

    fn flush_locked(&self) -> Result<usize> {
        self.check_open()?;
        let (frozen, seq, live, older_runs) = {
            let mut st = self.state.write();
            if st.frozen.is_none() {
                if st.active.is_empty() {
                    return Ok(0);
                }
                let m = Arc::new(std::mem::take(&mut st.active));
                st.frozen = Some(m);
                // Everything applied so far is in `frozen` or the runs; `live` counts
                // exactly that. (A flush that failed left these for the retry.)
                st.frozen_seq = st.applied_seq;
                st.frozen_live = st.live;
            }
            let frozen = Arc::clone(st.frozen.as_ref().expect("frozen"));
            (frozen, st.frozen_seq, st.frozen_live, !st.runs.is_empty())
        };
        let started = std::time::Instant::now();
        let columns = columns_of(&frozen, older_runs);
        let run = self.persist(columns)?;
        let entries = run.as_ref().map_or(0, |r| r.len());
        if let Some(storage) = self.storage() {
            storage.update_manifest(|m| {
                if let Some(r) = &run {
                    m.kv.runs.insert(0, RunEntry { file: r.file, entries: r.len() as u64 });
                }
                m.kv.flushed_seq = seq;
                m.kv.live = live;
                Ok(())
            })?;
        }
        {
            let mut st = self.state.write();
            if let Some(r) = run {
                st.runs.insert(0, Arc::new(r));
            }
            st.frozen = None;
            st.flushed_seq = seq;
            if let Some(storage) = self.storage() {
                storage.set_floor(KV_STORE, (st.applied_seq > st.flushed_seq).then_some(st.flushed_seq + 1));
            }
        }
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        log::info!("kv: memtable written out as a run of {entries} entries in {:.1} ms", ms(started));
        self.flushed.1.notify_all();
        if let Some(storage) = self.storage() {
            storage.trim_wal(false)?;
        }
        Ok(entries)
    }

    /// Write columns as a run (a file when durable), with its learned index. `None` for
    /// no entries.
    fn persist(&self, columns: RunColumns) -> Result<Option<Run>> {
        if columns.is_empty() {
            return Ok(None);
        }
        let index = run::build_index(&columns.keys, &self.counters);
        match self.storage() {
            None => Run::in_memory(columns, index).map(Some),
            Some(storage) => {
                let file = storage.allocate_file();
                run_file::write(storage.seg_dir(), file, &columns.parts(&index))?;
                drop(columns);
                let f = run_file::open(&storage.seg_dir().join(run_file::file_name(file)))?;
                Run::from_file(file, f).map(Some)
            }
        }
    }

    /// Merge runs `range` (newest-first positions) into one; tombstones are dropped when
    /// the merge includes the oldest run. Must hold the maintenance lock.
    fn merge_locked(&self, range: std::ops::Range<usize>) -> Result<()> {
        self.check_open()?;
        let (inputs, includes_oldest) = {
            let st = self.state.read();
            let range = range.start.min(st.runs.len())..range.end.min(st.runs.len());
            (st.runs[range.clone()].to_vec(), range.end == st.runs.len())
        };
        // One run alone is rewritten only to purge its tombstones (it is the oldest).
        if inputs.is_empty() || (inputs.len() == 1 && !includes_oldest) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let columns = merge_runs(&inputs, includes_oldest)?;
        let merged = self.persist(columns)?;
        let old_files: Vec<u64> = inputs.iter().map(|r| r.file).collect();
        if let Some(storage) = self.storage() {
            storage.update_manifest(|m| {
                let at = m.kv.runs.iter().position(|r| r.file == old_files[0]);
                let Some(at) = at else { return Err(Error::Internal("merged runs missing from the manifest".into())) };
                m.kv.runs.retain(|r| !old_files.contains(&r.file));
                if let Some(r) = &merged {
                    m.kv.runs.insert(at, RunEntry { file: r.file, entries: r.len() as u64 });
                }
                Ok(())
            })?;
        }
        let mut st = self.state.write();
        let at = st.runs.iter().position(|r| Arc::ptr_eq(r, &inputs[0])).unwrap_or(0);
        st.runs.retain(|r| !inputs.iter().any(|i| Arc::ptr_eq(i, r)));
        if let Some(r) = merged {
            let at = at.min(st.runs.len());
            st.runs.insert(at, Arc::new(r));
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        log::info!("kv: merged {} runs into one in {:.1} ms", inputs.len(), ms(started));
        Ok(())
    }

    /// Merge size-tiered while a tier is full.
    fn merge_tiers_locked(&self) -> Result<()> {
        loop {
            let sizes: Vec<usize> = self.state.read().runs.iter().map(|r| r.len()).collect();
            let Some(range) = pick_merge(&sizes) else { return Ok(()) };
            self.merge_locked(range)?;
        }
    }

    /// Flush the memtable and merge every run into one, rebuilding its learned index over
    /// all keys (the original server's `rmi/build`); deleted keys are purged. Returns the
    /// entries of the resulting run.
    pub fn compact(&self) -> Result<usize> {
        self.check_open()?;
        let _m = self.maintenance.lock();
        self.flush_locked()?;
        let n = self.state.read().runs.len();
        if n > 0 {
            self.merge_locked(0..n)?;
        }
        Ok(self.state.read().runs.first().map_or(0, |r| r.len()))
    }

    /// Alias of [`KvStore::compact`]: one run, one learned index over every key.
    pub fn build_index(&self) -> Result<usize> {
        self.compact()
    }

    /// Start a background flush (and the merges it leads to) unless one is running.
    pub(crate) fn flush_in_background(self: &Arc<Self>) {
        if self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("kyrodb-kv-flush".into()).spawn(move || {
            // A failed background flush (database closed, disk full) leaves the writes in
            // the memtable and the WAL, where they are still found; nothing is lost.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
                let _m = me.maintenance.lock();
                me.flush_locked()?;
                me.merge_tiers_locked()
            }));
            match outcome {
                Ok(Ok(())) | Ok(Err(Error::Closed)) => {}
                Ok(Err(e)) => log::warn!("kv: background flush failed (the writes stay in the memtable and WAL): {e}"),
                Err(_) => log::error!("kv: background flush panicked (the writes stay in the memtable and WAL)"),
            }
            me.background.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.background.store(false, Ordering::Release);
        }
    }
}

/// Columns of a frozen memtable; tombstones are kept only when older runs exist.
fn columns_of(m: &Memtable, older_runs: bool) -> RunColumns {
    let bytes = m.iter().map(|(_, _, v)| v.len()).sum();
    let mut c = RunColumns::with_capacity(m.len(), bytes);
    for (k, kind, v) in m.iter() {
        if kind != ValueKind::Deleted || older_runs {
            c.push(k, kind, v);
        }
    }
    c
}

/// K-way merge of runs (newest first); the newest entry of a key wins.
fn merge_runs(runs: &[Arc<Run>], drop_tombstones: bool) -> Result<RunColumns> {
    let n: usize = runs.iter().map(|r| r.len()).sum();
    let mut c = RunColumns::with_capacity(n, 0);
    let mut pos = vec![0usize; runs.len()];
    loop {
        let mut key = None;
        for (r, &p) in runs.iter().zip(&pos) {
            if p < r.len() {
                let k = r.keys()[p];
                key = Some(key.map_or(k, |m: u64| m.min(k)));
            }
        }
        let Some(key) = key else { return Ok(c) };
        let mut winner = None;
        for (r, p) in runs.iter().zip(pos.iter_mut()) {
            if *p < r.len() && r.keys()[*p] == key {
                if winner.is_none() {
                    winner = Some(r.entry(*p)?.1);
                }
                *p += 1;
            }
        }
        match winner {
            Some(Found::Value(kind, v)) => c.push(key, kind, v),
            Some(Found::Deleted) if !drop_tombstones => c.push(key, ValueKind::Deleted, &[]),
            _ => {}
        }
    }
}

fn ms(since: std::time::Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_pick_adjacent_runs_of_one_tier() {
        let small = TIER_BASE;
        let big = TIER_BASE * 16;
        assert_eq!(pick_merge(&[small, small, small]), None);
        assert_eq!(pick_merge(&[small, small, small, small, big]), Some(0..4));
        assert_eq!(pick_merge(&[small, big, small, small, small]), None);
        assert_eq!(pick_merge(&[big, big, big, big]), Some(0..4));
    }
}
