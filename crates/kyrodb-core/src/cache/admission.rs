//! The query cache's admission test: when the cache is full, may a new answer take the
//! place of the eviction victim?
//!
//! Three modes ([`AdmissionMode`]), measured against each other and the best classic
//! policies by `crates/kyrodb-cachesim` (`benches/RESULTS.md` § query-cache policies):
//!
//! - **`S3Fifo`** (the default): no admission test over LRU but S3-FIFO's queues (see
//!   the variant); this module keeps its ghost table.
//! - **`TinyLfu`** (the classic test, and the learned mode's ablation): a count-min sketch
//!   of recent lookups (4-bit counters, halved every `10 × width` lookups) admits the
//!   newcomer only if it was looked up more often than the victim.
//! - **`Learned`**: a logistic model over features of the newcomer and the victim —
//!   frequency at two time scales (the TinyLFU sketch and a second one halved ten times
//!   as often), whether the newcomer was recently evicted or rejected (a ghost table),
//!   how long the victim has been idle — predicts whether admitting the newcomer pays:
//!   whether it is asked for again while it would still be cached (within about one
//!   cache's worth of lookups) and before the victim. It is admitted if that is more
//!   likely than not. The model starts as the TinyLFU test and is retrained in the
//!   background on a bounded log of lookups (fingerprints in a ring) and of the admission
//!   decisions taken (one in four, so the ring spans the log): a decision's label is
//!   read off the log, so it does not depend on what the cache did. Labelled decisions
//!   are remembered across retrains (a ring half as long as the log) and the fit is
//!   pulled toward the TinyLFU weights, so a few noisy outcomes cannot undo it. Retraining is scheduled every half log of lookups, copies
//!   the logs (a bounded copy under the cache lock, the only work done there) and runs
//!   on its own thread with a bounded number of gradient steps (`EPOCHS ×` the memory);
//!   the new weights are swapped in through atomics. A retrain still running when the
//!   next is due makes that one skipped, never waited for: no search waits on training.
//!
//! Every byte of the sketches, ghost tables, logs and model, and of the trainer's memory
//! and working buffers, is counted by [`Admission::bytes`], which the cache subtracts
//! from its entries' budget.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// How the query cache decides whether a new answer may displace an old one.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum AdmissionMode {
    /// TinyLFU: the more frequently looked-up key wins (count-min sketch), over LRU.
    TinyLfu,
    /// A logistic model retrained in the background on the cache's own access log.
    Learned,
    /// S3-FIFO (Yang et al., SOSP '23) instead of LRU with an admission test: newcomers
    /// enter a small FIFO queue (a tenth of the bytes) and move to the main FIFO queue
    /// only if asked for again while there; keys recently dropped from the small queue
    /// (a ghost table) enter the main queue directly; the main queue reinserts entries
    /// asked for since they were last at its tail (up to 3 times). The default: the best
    /// of the three in `benches/RESULTS.md` § query-cache policies on every trace but
    /// drifting popularity (where `Learned` is).
    #[default]
    S3Fifo,
}

impl AdmissionMode {
    /// The mode's name as the API spells it (`tinylfu`, `learned`, `s3fifo`).
    pub fn name(self) -> &'static str {
        match self {
            AdmissionMode::TinyLfu => "tinylfu",
            AdmissionMode::Learned => "learned",
            AdmissionMode::S3Fifo => "s3fifo",
        }
    }

    /// The mode named `s` (`tinylfu`, `learned`, `s3fifo`).
    pub fn parse(s: &str) -> Option<AdmissionMode> {
        match s {
            "tinylfu" => Some(AdmissionMode::TinyLfu),
            "learned" => Some(AdmissionMode::Learned),
            "s3fifo" => Some(AdmissionMode::S3Fifo),
            _ => None,
        }
    }
}

/// The admission model's state, for stats.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmissionStats {
    /// The mode in force.
    pub mode: AdmissionMode,
    /// Microseconds since the weights in force were made (by the last retrain, or at
    /// open); 0 in `TinyLfu` mode.
    pub model_age_us: u64,
    /// How long the last retrain took, microseconds (0: none yet).
    pub last_retrain_us: u64,
    /// Retrains completed.
    pub retrains: u64,
}

/// A count-min sketch of 4-bit counters (TinyLFU's frequency estimate), halved every
/// `reset_at` additions.
struct Sketch {
    rows: [Vec<u8>; 4],
    mask: usize,
    additions: usize,
    reset_at: usize,
}

impl Sketch {
    fn new(width: usize, reset_factor: usize) -> Sketch {
        let width = width.next_power_of_two().max(64);
        Sketch {
            rows: std::array::from_fn(|_| vec![0; width]),
            mask: width - 1,
            additions: 0,
            reset_at: width * reset_factor,
        }
    }

    fn bytes(&self) -> usize {
        4 * (self.mask + 1)
    }

    fn slot(&self, h: u64, row: usize) -> usize {
        (h.rotate_left(row as u32 * 16) ^ (h >> 32).wrapping_mul(0x9E37_79B9_7F4A_7C15 >> row)) as usize & self.mask
    }

    fn record(&mut self, h: u64) {
        for r in 0..4 {
            let s = self.slot(h, r);
            if self.rows[r][s] < 15 {
                self.rows[r][s] += 1;
            }
        }
        self.additions += 1;
        if self.additions >= self.reset_at {
            // Age: halve every counter, so popularity that has passed fades.
            for row in &mut self.rows {
                row.iter_mut().for_each(|c| *c >>= 1);
            }
            self.additions /= 2;
        }
    }

    fn estimate(&self, h: u64) -> u8 {
        (0..4).map(|r| self.rows[r][self.slot(h, r)]).min().unwrap_or(0)
    }
}

/// One admission decision in this many is kept for training.
const DECISION_STRIDE: usize = 4;

/// Number of model features (including the bias).
const FEATURES: usize = 9;

/// An admission decision's features, packed: long-term frequency of the newcomer and the
/// victim (4 bits each), short-term frequency of each (4 bits each), ghost hit of the
/// newcomer (1 bit), victim idle time bucket (8 bits).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Packed(u32);

impl Packed {
    fn new(fl_c: u8, fl_v: u8, fs_c: u8, fs_v: u8, ghost: bool, idle: u8) -> Packed {
        Packed(
            fl_c as u32
                | (fl_v as u32) << 4
                | (fs_c as u32) << 8
                | (fs_v as u32) << 12
                | (ghost as u32) << 16
                | (idle as u32) << 17,
        )
    }

    /// The feature vector the model sees, each in `[0, 1]`.
    fn features(self) -> [f32; FEATURES] {
        let n = |shift: u32| ((self.0 >> shift) & 15) as f32 / 15.0;
        let l = |shift: u32| (((self.0 >> shift) & 15) as f32).ln_1p() / 16f32.ln();
        [1.0, n(0), n(4), l(0), l(4), l(8), l(12), ((self.0 >> 16) & 1) as f32, ((self.0 >> 17) & 255) as f32 / 255.0]
    }
}

/// A decision taken, kept for training: the two keys' fingerprints, when, and features.
#[derive(Copy, Clone, Debug, Default)]
struct Decision {
    candidate: u32,
    victim: u32,
    x: Packed,
    /// The lookup clock when it was taken (its low 32 bits: a snapshot spans far fewer
    /// lookups, so it is read relative to the snapshot's start).
    at: u32,
}

/// The weights in force and the training bookkeeping, shared with the trainer thread.
struct Model {
    weights: [AtomicU32; FEATURES],
    born: Instant,
    /// Microseconds after `born` at which the weights in force were made.
    made_at_us: AtomicU64,
    last_retrain_us: AtomicU64,
    retrains: AtomicU64,
    busy: AtomicBool,
    idle: (Mutex<()>, Condvar),
    /// Tests: a retrain holds this lock while it runs, so a test holding it can keep a
    /// retrain running while it looks things up.
    #[cfg(test)]
    gate: Mutex<()>,
}

/// Weights that reproduce the TinyLFU test: admit iff `f(c) > f(v)` in the long sketch.
const INITIAL_WEIGHTS: [f32; FEATURES] = [-0.25, 8.0, -8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];

impl Model {
    fn weights(&self) -> [f32; FEATURES] {
        std::array::from_fn(|i| f32::from_bits(self.weights[i].load(Ordering::Relaxed)))
    }

    fn predict(&self, x: Packed) -> f32 {
        let w = self.weights();
        dot(&w, &x.features())
    }
}

fn dot(w: &[f32; FEATURES], x: &[f32; FEATURES]) -> f32 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

fn fingerprint(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// What a retrain works from: the lookup log in order (`log[i]` was lookup number
/// `start + i`) and the decisions taken meanwhile.
struct Snapshot {
    log: Vec<u32>,
    start: u64,
    decisions: Vec<Decision>,
    /// Lookups an admitted entry stays without being asked for (about the number of
    /// entries, under LRU): a newcomer not asked for again within it gains nothing.
    horizon: u64,
}

/// The learned mode's state inside the cache (under its lock).
struct Learned {
    short: Sketch,
    /// Fingerprints of recently evicted or rejected keys, direct-mapped.
    ghosts: Vec<u32>,
    /// Lookup fingerprints, a ring indexed by the lookup clock.
    log: Vec<u32>,
    /// Decisions, a ring.
    decisions: Vec<Decision>,
    decided: usize,
    /// Decisions taken (kept or not).
    seen: usize,
    /// Entries in the cache at the last decision.
    entries: usize,
    model: Arc<Model>,
    trainer: Option<mpsc::SyncSender<Snapshot>>,
}

/// The admission test and its state (lives under the cache lock).
pub(crate) struct Admission {
    mode: AdmissionMode,
    long: Sketch,
    /// S3-FIFO: fingerprints of keys dropped from the small queue, direct-mapped.
    ghosts: Vec<u32>,
    learned: Option<Learned>,
    /// Lookups recorded so far (the clock of recency and of the log).
    clock: u64,
    bytes: usize,
}

impl Admission {
    /// The admission state for a cache of `capacity` bytes.
    pub(crate) fn new(mode: AdmissionMode, capacity: usize) -> Admission {
        const MAX_SIZED_CAPACITY: usize = 1 << 30;
        // About one counter per 256 bytes of budget: a few entries' worth per slot (S3-FIFO
        // does not use it: the smallest).
        let s3 = mode == AdmissionMode::S3Fifo;
        // Sized from the budget, as for 1 GiB at most: a huge `queryBytes` (it may
        // be up to 2^40) must not allocate gigabytes of policy state up front.
        let capacity = capacity.min(MAX_SIZED_CAPACITY);
        let long = Sketch::new(if s3 { 0 } else { capacity / 256 }, 10);
        // S3-FIFO's ghosts: about one per entry (entries are rarely under 512 bytes).
        let ghosts = if s3 { vec![0; (capacity / 512).next_power_of_two().max(64)] } else { Vec::new() };
        let mut bytes = long.bytes() + ghosts.len() * 4;
        let learned = (mode == AdmissionMode::Learned).then(|| {
            let short = Sketch::new(capacity / 512, 10);
            let ghosts = vec![0; (capacity / 1024).next_power_of_two().max(64)];
            let log = vec![0; (capacity / 256).next_power_of_two().max(256)];
            let decisions = vec![Decision::default(); log.len() / 8];
            bytes += short.bytes()
                + ghosts.len() * 4
                + log.len() * 4
                + decisions.len() * std::mem::size_of::<Decision>()
                + std::mem::size_of::<Model>()
                // The trainer's: its memory of labelled decisions (4 bytes each), and
                // while it runs, a snapshot's copy of the logs and the log's index.
                + memory_len(log.len()) * 4
                + log.len() * 4
                + decisions.len() * std::mem::size_of::<Decision>()
                + log.len() * 8;
            let model = Arc::new(Model {
                weights: std::array::from_fn(|i| AtomicU32::new(INITIAL_WEIGHTS[i].to_bits())),
                born: Instant::now(),
                made_at_us: AtomicU64::new(0),
                last_retrain_us: AtomicU64::new(0),
                retrains: AtomicU64::new(0),
                busy: AtomicBool::new(false),
                idle: (Mutex::new(()), Condvar::new()),
                #[cfg(test)]
                gate: Mutex::new(()),
            });
            Learned { short, ghosts, log, decisions, decided: 0, seen: 0, entries: 0, model, trainer: None }
        });
        Admission { mode, long, ghosts, learned, clock: 0, bytes }
    }

    /// Bytes held by the admission state (constant).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the cache runs S3-FIFO's queues instead of LRU and an admission test.
    pub(crate) fn s3fifo(&self) -> bool {
        self.mode == AdmissionMode::S3Fifo
    }

    /// S3-FIFO: key `h` was dropped from the small queue.
    pub(crate) fn ghost(&mut self, h: u64) {
        let n = self.ghosts.len();
        if n > 0 {
            self.ghosts[h as usize & (n - 1)] = fingerprint(h);
        }
    }

    /// S3-FIFO: whether key `h` was dropped from the small queue lately.
    pub(crate) fn is_ghost(&self, h: u64) -> bool {
        let n = self.ghosts.len();
        n > 0 && self.ghosts[h as usize & (n - 1)] == fingerprint(h)
    }

    /// The lookup clock (lookups recorded so far).
    pub(crate) fn now(&self) -> u64 {
        self.clock
    }

    /// A lookup of key hash `h`.
    pub(crate) fn record(&mut self, h: u64) {
        self.long.record(h);
        self.clock += 1;
        let Some(l) = &mut self.learned else { return };
        l.short.record(h);
        let n = l.log.len();
        l.log[(self.clock as usize - 1) & (n - 1)] = fingerprint(h);
        if self.clock.is_multiple_of(n as u64 / 2) && self.clock >= n as u64 {
            l.retrain(self.clock);
        }
    }

    /// Whether the newcomer `candidate` may displace `victim`, idle for `victim_idle`
    /// lookups, in a cache of `entries` entries.
    pub(crate) fn admit(&mut self, candidate: u64, victim: u64, victim_idle: u64, entries: usize) -> bool {
        let (fl_c, fl_v) = (self.long.estimate(candidate), self.long.estimate(victim));
        let Some(l) = &mut self.learned else { return fl_c > fl_v };
        l.entries = entries;
        let ghost = l.ghosts[candidate as usize & (l.ghosts.len() - 1)] == fingerprint(candidate);
        // Idle time relative to the cache's size: 1.0 ≈ a full turnover, capped at 4.
        let idle = ((victim_idle as f64 / entries.max(1) as f64).min(4.0) / 4.0 * 255.0) as u8;
        let x = Packed::new(fl_c, fl_v, l.short.estimate(candidate), l.short.estimate(victim), ghost, idle);
        // One decision in DECISION_STRIDE is kept, so the ring spans the whole log.
        l.seen += 1;
        if l.seen.is_multiple_of(DECISION_STRIDE) {
            let n = l.decisions.len();
            l.decisions[l.decided % n] =
                Decision { candidate: fingerprint(candidate), victim: fingerprint(victim), at: self.clock as u32, x };
            l.decided += 1;
        }
        l.model.predict(x) > 0.0
    }

    /// Key `h` was evicted or kept out: remember it as a ghost.
    pub(crate) fn forgotten(&mut self, h: u64) {
        if let Some(l) = &mut self.learned {
            let n = l.ghosts.len();
            l.ghosts[h as usize & (n - 1)] = fingerprint(h);
        }
    }

    /// The model's state.
    pub(crate) fn stats(&self) -> AdmissionStats {
        let Some(l) = &self.learned else { return AdmissionStats { mode: self.mode, ..AdmissionStats::default() } };
        let m = &l.model;
        let now = m.born.elapsed().as_micros() as u64;
        AdmissionStats {
            mode: self.mode,
            model_age_us: now.saturating_sub(m.made_at_us.load(Ordering::Relaxed)),
            last_retrain_us: m.last_retrain_us.load(Ordering::Relaxed),
            retrains: m.retrains.load(Ordering::Relaxed),
        }
    }

    /// A handle to wait for a running retrain with (`None` in `TinyLfu` mode).
    pub(crate) fn training(&self) -> Option<Training> {
        self.learned.as_ref().map(|l| Training(Arc::clone(&l.model)))
    }
}

/// A handle on the background retraining (see [`Admission::training`]).
pub(crate) struct Training(Arc<Model>);

impl Training {
    /// Block until no retrain is running (for deterministic simulations and tests).
    pub(crate) fn settle(&self) {
        let m = &self.0;
        if !m.busy.load(Ordering::Acquire) {
            return;
        }
        let mut g = m.idle.0.lock();
        while m.busy.load(Ordering::Acquire) {
            m.idle.1.wait(&mut g);
        }
    }

    /// Tests: hold retrains mid-way while the guard lives.
    #[cfg(test)]
    pub(crate) fn hold(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.0.gate.lock()
    }

    /// Whether a retrain is running.
    #[cfg(test)]
    pub(crate) fn busy(&self) -> bool {
        self.0.busy.load(Ordering::Acquire)
    }
}

impl Learned {
    /// Hand a copy of the logs to the trainer, unless it is still busy.
    fn retrain(&mut self, clock: u64) {
        if self.model.busy.swap(true, Ordering::AcqRel) {
            return; // The previous retrain is still running: skip this one.
        }
        let n = self.log.len();
        let start = clock as usize - n;
        let log: Vec<u32> = (start..clock as usize).map(|i| self.log[i & (n - 1)]).collect();
        let kept = self.decided.min(self.decisions.len());
        let decisions: Vec<Decision> = (self.decided - kept..self.decided)
            .map(|i| self.decisions[i % self.decisions.len()])
            .filter(|d| (d.at.wrapping_sub(start as u32) as usize) < n)
            .collect();
        let snapshot = Snapshot { log, start: start as u64, decisions, horizon: self.entries.max(1) as u64 };
        let memory = memory_len(self.log.len());
        let sender = self.trainer.get_or_insert_with(|| spawn_trainer(Arc::clone(&self.model), memory));
        if sender.try_send(snapshot).is_err() {
            self.model.busy.store(false, Ordering::Release);
        }
    }
}

fn spawn_trainer(model: Arc<Model>, memory: usize) -> mpsc::SyncSender<Snapshot> {
    let (tx, rx) = mpsc::sync_channel::<Snapshot>(1);
    let spawned = std::thread::Builder::new().name("kyrodb-cache-train".into()).spawn(move || {
        let mut memory = Memory { samples: Vec::with_capacity(memory), next: 0, labelled_until: 0 };
        // Ends when the cache (the sender) is dropped.
        while let Ok(s) = rx.recv() {
            #[cfg(test)]
            let _held = model.gate.lock();
            let started = Instant::now();
            let w = train(model.weights(), &s, &mut memory);
            for (a, v) in model.weights.iter().zip(w) {
                a.store(v.to_bits(), Ordering::Relaxed);
            }
            model.last_retrain_us.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            model.made_at_us.store(model.born.elapsed().as_micros() as u64, Ordering::Relaxed);
            model.retrains.fetch_add(1, Ordering::Relaxed);
            let _g = model.idle.0.lock();
            model.busy.store(false, Ordering::Release);
            model.idle.1.notify_all();
        }
    });
    if spawned.is_err() {
        // No thread: the model stays as it is (retrains are skipped).
        log::warn!("query cache: could not start the admission trainer; the model will not be retrained");
    }
    tx
}

/// Epochs over a snapshot's decisions per retrain (the CPU bound: `EPOCHS × decisions`
/// gradient steps, plus one pass over the log).
const EPOCHS: usize = 2;

/// Labelled decisions the trainer remembers for a log of `log` lookups.
fn memory_len(log: usize) -> usize {
    log / 2
}

/// The trainer's memory: labelled decisions (packed features, the label in bit 31), a
/// ring of [`memory_len`] of them, so a fit rests on many retrains' worth of outcomes.
struct Memory {
    samples: Vec<u32>,
    next: usize,
    /// The clock of the last decision labelled (later snapshots overlap earlier ones).
    labelled_until: u64,
}

impl Memory {
    fn push(&mut self, x: Packed, y: bool) {
        let v = x.0 | (y as u32) << 31;
        if self.samples.len() < self.samples.capacity() {
            self.samples.push(v);
        } else if !self.samples.is_empty() {
            self.samples[self.next] = v;
            self.next = (self.next + 1) % self.samples.len();
        }
    }
}

/// New weights from `w`, the decisions of a snapshot whose outcome its log shows, and
/// those remembered from earlier snapshots: logistic regression by SGD, pulled toward the
/// TinyLFU weights. A decision's label: admitting paid, i.e. the newcomer was asked for
/// again while it would still have been cached (within `horizon` lookups) and before the
/// victim. Decisions where neither key came back are left out.
fn train(mut w: [f32; FEATURES], s: &Snapshot, memory: &mut Memory) -> [f32; FEATURES] {
    // The log's (fingerprint, position) pairs, sorted: positions of each key in order.
    let mut index: Vec<(u32, u32)> = s.log.iter().enumerate().map(|(i, &f)| (f, i as u32)).collect();
    index.sort_unstable();
    // The first position of `f` at or after log index `after`.
    let next = |f: u32, after: u32| {
        let i = index.partition_point(|&p| p < (f, after));
        index.get(i).filter(|p| p.0 == f).map(|p| p.1)
    };
    for d in &s.decisions {
        // Where in the log it was taken, and its absolute clock.
        let rel = d.at.wrapping_sub(s.start as u32);
        let at = s.start + rel as u64;
        if at <= memory.labelled_until {
            continue; // labelled from an earlier snapshot
        }
        if rel as u64 + s.horizon > s.log.len() as u64 {
            break; // its outcome (and that of every later one) is not known yet
        }
        memory.labelled_until = at;
        let horizon = rel + s.horizon as u32;
        let c = next(d.candidate, rel).filter(|&c| c < horizon);
        let v = next(d.victim, rel);
        let y = match (c, v) {
            (None, None) => continue,
            (None, Some(_)) => false,
            (Some(_), None) => true,
            (Some(c), Some(v)) => c < v,
        };
        memory.push(d.x, y);
    }
    let n = memory.samples.len();
    if n == 0 {
        return w;
    }
    let lr = 0.02;
    let prior = 1e-3;
    let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ s.start;
    for _ in 0..EPOCHS * n {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let v = memory.samples[(rng % n as u64) as usize];
        let x = Packed(v & !(1 << 31)).features();
        let y = (v >> 31) as f32;
        let p = 1.0 / (1.0 + (-dot(&w, &x)).exp());
        let g = p - y;
        for i in 0..FEATURES {
            // L2 toward the TinyLFU weights: a prior that few samples cannot undo.
            w[i] -= lr * (g * x[i] + prior * (w[i] - INITIAL_WEIGHTS[i]));
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tinylfu_admits_only_the_more_frequent() {
        let mut a = Admission::new(AdmissionMode::TinyLfu, 1 << 16);
        for _ in 0..3 {
            a.record(1);
        }
        a.record(2);
        assert!(a.admit(1, 2, 0, 10));
        assert!(!a.admit(2, 1, 0, 10));
        assert!(!a.admit(2, 2, 0, 10), "a tie keeps the victim");
    }

    #[test]
    fn the_initial_model_is_the_tinylfu_test() {
        let mut l = Admission::new(AdmissionMode::Learned, 1 << 16);
        let mut t = Admission::new(AdmissionMode::TinyLfu, 1 << 16);
        let mut rng = 7u64;
        // Fewer lookups than the first retrain needs (half a log after a full one).
        for _ in 0..250 {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let h = (rng >> 33) % 20;
            l.record(h);
            t.record(h);
            let (c, v) = ((rng >> 20) % 20, (rng >> 40) % 20);
            assert_eq!(l.admit(c, v, 0, 10), t.admit(c, v, 0, 10));
        }
    }

    #[test]
    fn training_learns_which_key_comes_back_first() {
        // Keys 0..10 are asked for all the time; the victim (1000) never again. TinyLFU
        // keeps the victim (it was counted more often); the outcomes say otherwise.
        let x = Packed::new(2, 9, 2, 0, false, 200);
        let mut log = Vec::new();
        let mut decisions = Vec::new();
        for i in 0..4000u32 {
            log.push(i % 10);
            if i % 4 == 0 && i < 3000 {
                decisions.push(Decision { candidate: i % 10, victim: 1000, at: i + 1, x });
            }
        }
        let mut memory = Memory { samples: Vec::with_capacity(4096), next: 0, labelled_until: 0 };
        let s = Snapshot { log, start: 0, decisions, horizon: 100 };
        let w = train(INITIAL_WEIGHTS, &s, &mut memory);
        assert_eq!(memory.samples.len(), 750, "every decision with a known outcome is remembered once");
        assert!(dot(&INITIAL_WEIGHTS, &x.features()) < 0.0, "TinyLFU keeps the victim");
        assert!(dot(&w, &x.features()) > 0.0, "the trained model admits the newcomer: {w:?}");
        // The same snapshot again adds nothing (its decisions are labelled already).
        train(w, &s, &mut memory);
        assert_eq!(memory.samples.len(), 750);
    }

    mod in_the_cache {
        use crate::cache::admission::AdmissionMode;
        use crate::cache::query::tests::{hits, key};
        use crate::cache::query::{Marks, QueryCache};

        /// Look `i` up; on a miss, insert it. Whether it hit.
        fn ask(cache: &QueryCache, i: u64) -> bool {
            let m = Marks::default();
            cache.lookup(&key(i), m, false, |_| true).is_some() || {
                cache.insert(key(i), hits(i), m);
                false
            }
        }

        #[test]
        fn bytes_never_exceed_the_bound_in_either_mode() {
            for mode in [AdmissionMode::TinyLfu, AdmissionMode::Learned, AdmissionMode::S3Fifo] {
                for capacity in [8192, 20_000, 1 << 18] {
                    let cache = QueryCache::with_admission(capacity, mode);
                    let mut rng = 99u64;
                    for n in 0..30_000u64 {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        // Popularity that shifts every 5000 lookups, with one-offs.
                        let i =
                            if rng.is_multiple_of(5) { 1_000_000 + n } else { (rng >> 8) % 400 + (n / 5000) * 1000 };
                        ask(&cache, i);
                        if n % 97 == 0 {
                            let s = cache.stats();
                            assert!(s.bytes <= capacity as u64, "{mode:?} {capacity}: {s:?}");
                        }
                    }
                    cache.settle_training();
                    let s = cache.stats();
                    assert!(s.bytes <= capacity as u64 && s.entries > 0, "{mode:?} {capacity}: {s:?}");
                    assert_eq!(s.admission, mode);
                    assert_eq!(s.retrains > 0, mode == AdmissionMode::Learned, "{s:?}");
                }
            }
        }

        #[test]
        fn s3fifo_keeps_a_repeated_key_through_one_offs_and_admits_ghosts_to_main() {
            let cache = QueryCache::with_admission(1 << 14, AdmissionMode::S3Fifo);
            for _ in 0..3 {
                ask(&cache, 0);
            }
            // One-offs pass through the small queue; the repeated key moved to the main one.
            for i in 1..2000 {
                ask(&cache, i);
                assert!(cache.stats().bytes <= 1 << 14);
            }
            assert!(ask(&cache, 0), "the repeated key was kept: {:?}", cache.stats());
            let s = cache.stats();
            assert!(s.evictions > 1000 && s.rejections == 0, "{s:?}");
            // Keys dropped from the small queue and asked for again soon after (ghosts) go
            // to the main queue: they then survive a stream of one-offs without a hit there.
            // (The ghost table is direct-mapped, so a few ghosts are overwritten.)
            let cache = QueryCache::with_admission(1 << 16, AdmissionMode::S3Fifo);
            for i in 0..1000 {
                // Keys asked for twice: they fill the main queue.
                ask(&cache, 1_000_000 + i);
                ask(&cache, 1_000_000 + i);
            }
            for x in 0..20 {
                ask(&cache, x);
            }
            for i in 0..40 {
                ask(&cache, 2_000_000 + i);
            }
            assert!((0..20).all(|x| !ask(&cache, x)), "dropped from the small queue, now asked again");
            for i in 0..3000 {
                ask(&cache, 3_000_000 + i);
            }
            let kept = (0..20).filter(|&x| ask(&cache, x)).count();
            assert!(kept >= 10, "{kept} of 20 ghosts were kept in the main queue");
        }

        #[test]
        fn lookups_and_inserts_proceed_while_a_retrain_runs() {
            let cache = QueryCache::with_admission(1 << 16, AdmissionMode::Learned);
            let training = cache.inner_training();
            let held = training.hold();
            // Enough lookups to schedule a retrain, which then blocks on `held`.
            let mut n = 0u64;
            while !training.busy() {
                ask(&cache, n % 300);
                n += 1;
                assert!(n < 1_000_000, "a retrain was scheduled");
            }
            // The retrain is running (held mid-way): the cache still answers and admits.
            let before = cache.stats();
            assert_eq!(before.retrains, 0);
            for i in 0..5000 {
                ask(&cache, i % 300);
            }
            assert!(ask(&cache, 1), "a hot key hits while the model trains");
            let during = cache.stats();
            assert!(training.busy() && during.retrains == 0, "{during:?}");
            assert!(during.hits > before.hits);
            drop(held);
            cache.settle_training();
            assert_eq!(cache.stats().retrains, 1);
        }
    }
}
