//! Mixed-load chaos: concurrent searches, upserts, deletes, flushes and compactions on one
//! durable collection for at least a few seconds (`KYRODB_CHAOS_SECS` for longer runs).
//! Writers own disjoint id ranges, so their models compose; at the end (and after a reopen)
//! the collection must equal the union of the models, and no search may return an id that
//! was never written or out of order.
//!
//! The load is not cut at a deadline and then judged by how much got done (a count that
//! depends on the machine's speed): writers keep writing until the time has passed *and*
//! each writer, the readers and the maintenance thread have done a minimum of work, so
//! that much of every kind of operation always overlaps the writes. A thread starved by
//! the others keeps the quota from being met; after a generous watchdog the test fails
//! with the counts instead of hanging.

mod common;

use common::durable::*;
use kyrodb_core::{Database, SearchParams};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITERS: u64 = 3;
const RANGE: u64 = 400;
/// Least work done while the writers write: batches per writer, searches, and
/// flushes/compactions.
const MIN_BATCHES: usize = 20;
const MIN_SEARCHES: usize = 20;
const MIN_MAINTENANCE: usize = 3;
/// Not a measurement: only how long a starved thread may hold up the test.
const WATCHDOG: Duration = Duration::from_secs(600);

/// Raises its flag when its thread unwinds (a failed assertion in a reader or the
/// maintenance thread), so the writers stop waiting for that thread's quota.
struct RaiseOnPanic(Arc<AtomicBool>);

impl Drop for RaiseOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

#[test]
fn concurrent_reads_writes_flushes_and_compactions_make_progress_and_lose_nothing() {
    let secs: u64 = std::env::var("KYRODB_CHAOS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(Some(dir.path())).unwrap());
    let c = db.create_collection("v", config()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicUsize::new(0));
    let maintenance = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let c = Arc::clone(&c);
            let searches = Arc::clone(&searches);
            let maintenance = Arc::clone(&maintenance);
            let failed = Arc::clone(&failed);
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(w);
                let mut model = Model::new();
                let mut batches = 0;
                // A failed reader or maintenance thread ends the writes; its join below fails the test.
                while !failed.load(Ordering::Acquire) {
                    let (s, m) = (searches.load(Ordering::Relaxed), maintenance.load(Ordering::Relaxed));
                    if batches >= MIN_BATCHES && s >= MIN_SEARCHES && m >= MIN_MAINTENANCE && Instant::now() >= deadline
                    {
                        break;
                    }
                    assert!(
                        start.elapsed() < WATCHDOG,
                        "starved: writer {w} made {batches} batches, {s} searches and {m} maintenance operations ran"
                    );
                    let mut b = random_batch(&mut rng, RANGE);
                    // Shift into this writer's own id range.
                    match &mut b {
                        Batch::Upsert(ids, _, meta) => {
                            for (id, m) in ids.iter_mut().zip(meta.iter_mut()) {
                                *id += w * RANGE;
                                *m = None;
                            }
                        }
                        Batch::Delete(ids) => ids.iter_mut().for_each(|id| *id += w * RANGE),
                    }
                    apply_to_db(&c, &b).unwrap();
                    apply_to_model(&mut model, &b);
                    batches += 1;
                }
                model
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let c = Arc::clone(&c);
            let stop = Arc::clone(&stop);
            let searches = Arc::clone(&searches);
            let raise = RaiseOnPanic(Arc::clone(&failed));
            std::thread::spawn(move || {
                let _raise = raise;
                let mut rng = StdRng::seed_from_u64(100 + r);
                while !stop.load(Ordering::Acquire) {
                    let q: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                    let hits = c.search(&q, &SearchParams::top(10)).unwrap();
                    assert!(hits.ids.iter().all(|&id| id < WRITERS * RANGE));
                    assert!(hits.distances.windows(2).all(|d| d[0] <= d[1]));
                    searches.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let maint = {
        let db = Arc::clone(&db);
        let stop = Arc::clone(&stop);
        let maintenance = Arc::clone(&maintenance);
        let raise = RaiseOnPanic(Arc::clone(&failed));
        std::thread::spawn(move || {
            let _raise = raise;
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                if i % 3 == 2 {
                    db.compact(&mut |_, _| {}).unwrap();
                } else {
                    db.flush(&mut |_, _| {}).unwrap();
                }
                maintenance.fetch_add(1, Ordering::Relaxed);
                i += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut model = Model::new();
    for w in writers {
        model.extend(w.join().unwrap());
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    maint.join().unwrap();
    matches(&db, "v", &model, WRITERS * RANGE).unwrap();
    db.close().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    matches(&db, "v", &model, WRITERS * RANGE).unwrap();
}
