//! What happens around the in-memory half of a write (feature `failpoints`): a panic while
//! a logged batch is being applied, and readers racing a large key-value batch.
//!
//! Run with `cargo test -p kyrodb-core --features failpoints --test apply_failures`.

use kyrodb_core::kv::{KvStore, ValueKind, Write};
use kyrodb_core::storage::failpoints::{self, points};
use kyrodb_core::Database;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Hooks are global to the process: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn put(key: u64, v: &'static str) -> Write<'static> {
    Write::Put(key, ValueKind::Str, v.as_bytes())
}

/// Every key below `space` that has a value, and `count()`.
fn contents(kv: &KvStore, space: u64) -> (BTreeMap<u64, String>, u64) {
    let mut m = BTreeMap::new();
    for k in 0..space {
        if let Some(v) = kv.get(k).unwrap() {
            m.insert(k, String::from_utf8(v.bytes).unwrap());
        }
    }
    (m, kv.count().unwrap())
}

#[test]
fn a_panic_while_applying_a_batch_makes_the_database_read_only_and_reopen_applies_the_logged_batch() {
    let _serial = SERIAL.lock();
    failpoints::reset();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    let kv = Arc::clone(db.kv());
    let first: Vec<Write<'_>> = (1..=10).map(|k| put(k, "a")).collect();
    assert_eq!(kv.write(&first).unwrap(), 10);
    let mut acked: BTreeMap<u64, String> = (1..=10).map(|k| (k, "a".to_string())).collect();

    // The 4th write of the next batch panics inside `apply`: three are in memory already.
    let n = Arc::new(AtomicUsize::new(0));
    let hit = Arc::clone(&n);
    failpoints::set_hook(
        points::KV_APPLY_WRITE,
        Some(Arc::new(move || {
            if hit.fetch_add(1, Ordering::SeqCst) + 1 == 4 {
                panic!("failpoint: a panic inside apply");
            }
        })),
    );
    let mut batch: Vec<Write<'_>> = vec![Write::Delete(1), put(2, "b")];
    batch.extend((11..=20).map(|k| put(k, "b")));
    let err = kv.write(&batch).unwrap_err();
    failpoints::set_hook(points::KV_APPLY_WRITE, None);
    assert!(n.load(Ordering::SeqCst) >= 4);
    assert_eq!(err.code(), "INTERNAL", "{err}");
    let msg = err.to_string();
    assert!(msg.contains("outcome is unknown") && msg.contains("reopen"), "{msg}");

    // Every later write fails, whatever it writes to.
    assert_eq!(kv.put(100, ValueKind::Str, b"c").unwrap_err().code(), "READ_ONLY");
    assert_eq!(kv.delete(5).unwrap_err().code(), "READ_ONLY");
    assert_eq!(db.create_collection("v", config()).unwrap_err().code(), "READ_ONLY");
    // Reads still work: acknowledged writes the batch did not touch read as written.
    for k in 3..=10 {
        assert_eq!(kv.get(k).unwrap().map(|v| v.bytes), Some(b"a".to_vec()), "key {k}");
    }
    // Memory holds part of the batch: it must never be written out as if it were whole.
    assert!(db.flush(&mut |_, _| {}).is_err(), "a flush persisted a half-applied batch");
    db.close().unwrap();

    // The batch is in the (fsynced) log, so reopening applies all of it: the acknowledged
    // writes plus the whole batch whose outcome the caller was told is unknown.
    acked.remove(&1);
    acked.insert(2, "b".into());
    acked.extend((11..=20).map(|k| (k, "b".to_string())));
    let db = Database::open(Some(dir.path())).unwrap();
    let kv = Arc::clone(db.kv());
    let (state, count) = contents(&kv, 200);
    assert_eq!(state, acked);
    assert_eq!(count, acked.len() as u64);
    // Writable again, and the store survives a flush and another reopen.
    kv.put(100, ValueKind::Str, b"c").unwrap();
    acked.insert(100, "c".into());
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    let (state, count) = contents(db.kv(), 200);
    assert_eq!(state, acked);
    assert_eq!(count, acked.len() as u64);
}

fn config() -> kyrodb_core::CollectionConfig {
    kyrodb_core::CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: 4,
        metric: kyrodb_core::Metric::Cosine,
        index: None,
    }
}

/// A large batch's lookups (which keep `count()` exact) do not hold readers up, and a write
/// that races them still leaves `count()` exact.
#[test]
fn readers_do_not_wait_for_the_lookups_of_a_large_batch_and_count_stays_exact() {
    let _serial = SERIAL.lock();
    for durable in [false, true] {
        failpoints::reset();
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(durable.then(|| dir.path())).unwrap();
        let kv = Arc::clone(db.kv());
        let old: Vec<Write<'_>> = (0..1000).map(|k| put(k, "old")).collect();
        kv.write(&old).unwrap();
        db.kv().flush().unwrap(); // some keys in a run, some in the memtable
        kv.write(&[put(3000, "old"), Write::Delete(7)]).unwrap();

        // The first lookup of the next write stops until the test lets it go on.
        let (entered_tx, entered_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
        let first = AtomicBool::new(true);
        failpoints::set_hook(
            points::KV_COUNT_PROBE,
            Some(Arc::new(move || {
                if first.swap(false, Ordering::SeqCst) {
                    let _ = entered_tx.lock().send(());
                    let _ = release_rx.lock().recv_timeout(Duration::from_secs(60));
                }
            })),
        );
        let big = {
            let kv = Arc::clone(&kv);
            std::thread::spawn(move || {
                let mut w: Vec<Write<'_>> = (500..5000).map(|k| put(k, "new")).collect();
                w.push(Write::Delete(10));
                w.push(put(600, "newer")); // a key twice in one batch
                w.push(Write::Delete(3000));
                w.push(Write::Delete(3000));
                kv.write(&w)
            })
        };
        entered_rx.recv_timeout(Duration::from_secs(60)).expect("the batch looks its keys up");
        // A reader on another thread answers while the batch is inside its lookups.
        let (done_tx, done_rx) = mpsc::channel();
        {
            let kv = Arc::clone(&kv);
            std::thread::spawn(move || {
                let _ = done_tx.send((kv.get(5).unwrap().map(|v| v.bytes), kv.count().unwrap()));
            });
        }
        let read = done_rx.recv_timeout(Duration::from_secs(10));
        // Another writer touching the same keys races the batch.
        let racer = {
            let kv = Arc::clone(&kv);
            std::thread::spawn(move || kv.write(&[Write::Delete(20), put(4000, "racer"), put(9000, "racer")]))
        };
        std::thread::sleep(Duration::from_millis(20)); // let the racer reach the store
        release_tx.send(()).unwrap();
        let big = big.join().unwrap();
        let racer = racer.join().unwrap();
        failpoints::set_hook(points::KV_COUNT_PROBE, None);
        let (value, count) = read.expect("a get waited for the lookups of a batch in progress");
        assert_eq!(value, Some(b"old".to_vec()));
        assert_eq!(count, 1000);
        big.unwrap();
        racer.unwrap();
        let (state, count) = contents(&kv, 10_000);
        assert_eq!(count, state.len() as u64, "durable={durable}");
        assert_eq!(state.get(&600).map(String::as_str), Some("newer"));
        assert!(!state.contains_key(&3000) && !state.contains_key(&10));
        assert!(state.contains_key(&9000));
        // 0..5000 without 7, 10, 20 and 3000, plus 9000 (whichever write went first).
        assert_eq!(state.len(), 4997);
        if durable {
            db.close().unwrap();
            let db = Database::open(Some(dir.path())).unwrap();
            let (after, count) = contents(db.kv(), 10_000);
            assert_eq!(after, state);
            assert_eq!(count, state.len() as u64);
        }
    }
}

/// A background merge that fails while writers wait on the segment count reaches them as
/// an error (before, they waited forever while failing merges restarted in a tight loop),
/// and once the fault is gone merges are retried, after a pause, and writes go on.
#[test]
fn a_failing_merge_reaches_writers_waiting_on_the_segment_count() {
    let _serial = SERIAL.lock();
    failpoints::reset();
    failpoints::set_hook(points::COLLECTION_MERGE, Some(Arc::new(|| panic!("injected merge failure"))));
    let db = Database::open(None).expect("open");
    let c = db
        .create_collection(
            "merges",
            kyrodb_core::CollectionConfig {
                id_type: kyrodb_core::IdType::U64,
                dimension: 4,
                metric: kyrodb_core::Metric::L2,
                index: Some(kyrodb_core::IndexConfig {
                    params: kyrodb_core::vector::hnsw::BuildParams::default(),
                    auto_build_rows: 20,
                }),
            },
        )
        .expect("create");
    let batch = |b: u64| {
        let ids: Vec<u64> = (b * 20..(b + 1) * 20).collect();
        let vectors: Vec<f32> = ids.iter().flat_map(|&i| [i as f32, 1.0, 2.0, 3.0]).collect();
        (ids, vectors)
    };
    // Every batch becomes a segment; merges fail; at MAX_SEGMENTS segments hot builds stop,
    // the hot tier fills to its cap (40 rows) and the writer waits on merges.
    let (tx, rx) = mpsc::channel();
    let writer = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || {
            for b in 0..200u64 {
                let (ids, vectors) = batch(b);
                if let Err(e) = c.upsert(&ids, vectors, None) {
                    let _ = tx.send(Some(e.to_string()));
                    return;
                }
            }
            let _ = tx.send(None);
        })
    };
    let outcome = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the writer neither finished nor failed in 30 s: it waits on merges that keep failing");
    writer.join().expect("writer");
    let msg = outcome.expect("200 batches went in although every merge failed");
    assert!(msg.contains("background build failed"), "{msg}");
    // The fault is gone: after the pause, merges run again and so do writes.
    failpoints::set_hook(points::COLLECTION_MERGE, None);
    std::thread::sleep(Duration::from_millis(1_100));
    for b in 1_000..1_050u64 {
        let (ids, vectors) = batch(b);
        c.upsert(&ids, vectors, None).expect("writes go on once merges succeed");
    }
    assert!(c.stats().expect("stats").merged_rows > 0, "merges ran");
    failpoints::reset();
}

/// A build's swap checks the new segment's rows against their sources with no write lock
/// held (a search goes on meanwhile), and rows that die after that check, before the write
/// lock (`kills` deletes and a replacement), still arrive dead: the write-locked part
/// re-checks the ids killed since, from the kill log (500 kills) or, when more died than
/// the log keeps (5,000), every row.
fn rows_killed_between_the_check_and_the_swap_arrive_dead(kills: u64) {
    let _serial = SERIAL.lock();
    failpoints::reset();
    let db = Database::open(None).expect("open");
    let dim = 4;
    let c = db
        .create_collection(
            "swap",
            kyrodb_core::CollectionConfig {
                id_type: kyrodb_core::IdType::U64,
                dimension: dim,
                metric: kyrodb_core::Metric::L2,
                index: Some(kyrodb_core::IndexConfig {
                    params: kyrodb_core::vector::hnsw::BuildParams::default(),
                    auto_build_rows: 1_000_000_000,
                }),
            },
        )
        .expect("create");
    c.set_max_unindexed_rows(0);
    let n = 20_000u64;
    let replaced = 15_000u64;
    let row = |i: u64, x: f32| [i as f32, x, 0.0, 1.0];
    let ids: Vec<u64> = (0..n).collect();
    c.upsert(&ids, ids.iter().flat_map(|&i| row(i, 0.0)).collect(), None).expect("upsert");
    let chunks = Arc::new(AtomicUsize::new(0));
    let searched = Arc::new(AtomicBool::new(false));
    {
        let (c, chunks, searched) = (Arc::clone(&c), Arc::clone(&chunks), Arc::clone(&searched));
        failpoints::set_hook(
            points::COLLECTION_SWAP_CHECK,
            Some(Arc::new(move || {
                // Halfway through the check, a search from another thread must finish.
                if chunks.fetch_add(1, Ordering::SeqCst) != 5 {
                    return;
                }
                let (tx, rx) = mpsc::channel();
                let reader = Arc::clone(&c);
                std::thread::spawn(move || {
                    let hits = reader.search(&row(7, 0.0), &kyrodb_core::SearchParams::top(1));
                    let _ = tx.send(hits.map(|h| h.ids));
                });
                let hits = rx.recv_timeout(Duration::from_secs(10)).expect("a search waited for the swap's check");
                searched.store(hits.expect("search") == vec![7], Ordering::SeqCst);
            })),
        );
    }
    {
        let c = Arc::clone(&c);
        let once = AtomicBool::new(false);
        failpoints::set_hook(
            points::COLLECTION_SWAP_LOCK,
            Some(Arc::new(move || {
                if once.swap(true, Ordering::SeqCst) {
                    return;
                }
                c.delete(&(0..kills).collect::<Vec<u64>>()).expect("delete after the check");
                c.upsert(&[replaced], row(replaced, 9.0).to_vec(), None).expect("replace after the check");
            })),
        );
    }
    c.build_index(&mut |_, _| {}).expect("build");
    failpoints::reset();
    let wide = |k: usize| kyrodb_core::SearchParams { ef: Some(400), ..kyrodb_core::SearchParams::top(k) };
    assert_eq!(chunks.load(Ordering::SeqCst), 10, "the check ran in 10 chunks outside the write lock");
    assert!(searched.load(Ordering::SeqCst), "the search during the check answered");
    let live = (n - kills) as usize;
    assert_eq!(c.count().expect("count"), live);
    for id in (0..kills).step_by(7) {
        assert!(c.get(id).expect("get").is_none(), "id {id}, deleted before the swap, is back");
    }
    assert_eq!(c.get(replaced).expect("get").expect("present").vector, row(replaced, 9.0).to_vec());
    let hits = c.search(&row(replaced, 9.0), &wide(3)).expect("search");
    assert_eq!(hits.ids.iter().filter(|&&id| id == replaced).count(), 1, "the replaced row is live once: {hits:?}");
    let hits = c.search(&row(replaced, 0.0), &wide(3)).expect("search");
    let old_version = hits.ids.iter().zip(&hits.distances).any(|(&id, &d)| id == replaced && d == 0.0);
    assert!(!old_version, "the replaced version answers: {hits:?}");
    let hits = c.search(&row(kills / 2, 0.0), &wide(5)).expect("search");
    assert!(hits.ids.iter().all(|&id| id >= kills), "deleted rows answer: {hits:?}");
    let s = c.stats().expect("stats");
    assert_eq!(s.segments.iter().map(|x| x.1).sum::<usize>() + s.hot_rows, live, "{s:?}");
}

#[test]
fn rows_killed_before_the_swap_arrive_dead_through_the_kill_log() {
    rows_killed_between_the_check_and_the_swap_arrive_dead(500);
}

#[test]
fn rows_killed_before_the_swap_arrive_dead_when_more_died_than_the_log_keeps() {
    rows_killed_between_the_check_and_the_swap_arrive_dead(5_000);
}
