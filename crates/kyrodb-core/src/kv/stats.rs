//! Counters of the key-value store, read by `db.kv.stats()` and the metrics endpoint.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Buckets of the probe-length histogram: bucket `b` counts probes that examined at most
/// `2^b` keys (bucket 0: one key or none); the last bucket takes everything longer.
pub const PROBE_BUCKETS: usize = 21;

/// Live counters (atomics; cheap enough for the lookup path).
#[derive(Default, Debug)]
pub struct KvCounters {
    pub(crate) lookups: AtomicU64,
    pub(crate) hits: AtomicU64,
    pub(crate) probe_keys: AtomicU64,
    pub(crate) probe_hist: [AtomicU64; PROBE_BUCKETS],
    pub(crate) mispredictions: AtomicU64,
    pub(crate) appends: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) compactions: AtomicU64,
    pub(crate) index_builds: AtomicU64,
    pub(crate) index_build_ns: AtomicU64,
    pub(crate) last_index_build_ns: AtomicU64,
}

impl KvCounters {
    /// Record one run probe that examined `window` keys.
    #[inline]
    pub fn probe(&self, window: usize) {
        self.probe_keys.fetch_add(window as u64, Relaxed);
        let b = (usize::BITS - window.saturating_sub(1).leading_zeros()) as usize;
        self.probe_hist[b.min(PROBE_BUCKETS - 1)].fetch_add(1, Relaxed);
    }

    /// Record one learned-index build.
    pub fn index_built(&self, ns: u64) {
        self.index_builds.fetch_add(1, Relaxed);
        self.index_build_ns.fetch_add(ns, Relaxed);
        self.last_index_build_ns.store(ns, Relaxed);
    }
}

/// A snapshot of the counters and the store's shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KvStats {
    /// Live keys.
    pub keys: u64,
    /// Point lookups served (`get`, `has`, each key of `getMany`).
    pub lookups: u64,
    /// Lookups that found a value.
    pub hits: u64,
    /// Searches inside a run (a lookup may probe several runs, or none when the memtable
    /// answers).
    pub run_probes: u64,
    /// Keys examined by those probes, in total.
    pub probe_keys: u64,
    /// Probe-length histogram, see [`PROBE_BUCKETS`].
    pub probe_histogram: Vec<u64>,
    /// Lookups whose key lay outside the learned index's predicted window (then found by a
    /// binary search): zero unless a model is wrong.
    pub mispredictions: u64,
    /// Writes applied (puts and deletes).
    pub appends: u64,
    /// Memtables written out as runs.
    pub flushes: u64,
    /// Run merges.
    pub compactions: u64,
    /// Learned-index builds, their total and last build time.
    pub index_builds: u64,
    /// Total nanoseconds spent building learned indexes.
    pub index_build_ns: u64,
    /// Nanoseconds of the last build.
    pub last_index_build_ns: u64,
    /// Runs on disk.
    pub runs: usize,
    /// Entries in the memtables (frozen included).
    pub memtable_entries: usize,
    /// Bytes of the learned indexes in memory.
    pub index_bytes: usize,
    /// Whether lookups use the learned index (`learned-index` feature).
    pub learned_index: bool,
    /// The last-mile search in use (`avx512`, `avx2`, `scalar`).
    pub probe_kind: String,
}

impl KvCounters {
    /// Copy the counters into `s`.
    pub fn fill(&self, s: &mut KvStats) {
        s.lookups = self.lookups.load(Relaxed);
        s.hits = self.hits.load(Relaxed);
        s.probe_keys = self.probe_keys.load(Relaxed);
        s.probe_histogram = self.probe_hist.iter().map(|b| b.load(Relaxed)).collect();
        s.run_probes = s.probe_histogram.iter().sum();
        s.mispredictions = self.mispredictions.load(Relaxed);
        s.appends = self.appends.load(Relaxed);
        s.flushes = self.flushes.load(Relaxed);
        s.compactions = self.compactions.load(Relaxed);
        s.index_builds = self.index_builds.load(Relaxed);
        s.index_build_ns = self.index_build_ns.load(Relaxed);
        s.last_index_build_ns = self.last_index_build_ns.load(Relaxed);
    }
}
