//! Model tests of the two concurrent protocols at the heart of durability, run on the real
//! code under `shuttle`'s schedulers (random and PCT), which try thousands of thread
//! interleavings (`cargo test -p kyrodb-core --features shuttle --test model_concurrency`;
//! `.ci/run` runs it). The `shuttle` feature swaps the locks of the group-commit queue
//! and of the collections for shuttle's (`src/sync.rs`).
//!
//! - **Group commit** (`storage/commit.rs`): concurrent writers share leaders (one of them
//!   logs its frames with `commit_many`: they get consecutive sequence numbers); every
//!   acknowledged frame is in the WAL once, applied once, in sequence order, and a
//!   checkpoint that reads the unapplied floor under the WAL lock never lets the WAL be
//!   trimmed past a frame that is logged but not yet applied.
//! - **Segment-set swap** (`vector/collection/maintenance.rs`): a flush or compaction
//!   snapshots rows, builds without locks, and swaps the new segment in while upserts and
//!   deletes go on; afterwards every id holds its last written vector, deleted ids stay
//!   deleted, and searches see each live id exactly once.

use kyrodb_core::storage::commit::{Committer, Durability, Request};
use kyrodb_core::storage::wal::{self, FrameKind, WalWriter};
use kyrodb_core::sync::Mutex;
use kyrodb_core::{CollectionConfig, Database, Metric, OpenOptions, SearchParams};
use std::sync::Arc;

const WRITERS: u8 = 3;
const FRAMES_PER_WRITER: u8 = 2;

fn group_commit_round() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = WalWriter::open(dir.path(), 7, Vec::new(), 0, wal::VERSION, 1).expect("wal");
    let committer = Arc::new(Committer::new(writer, Durability::None, None, None));
    // (sequence number, payload tag) in the order the writes were applied.
    let applied = Arc::new(Mutex::new(Vec::<(u64, u8)>::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (committer, applied) = (Arc::clone(&committer), Arc::clone(&applied));
            shuttle::thread::spawn(move || {
                let request = |i: u8| {
                    let tag = w * 16 + i;
                    let applied = Arc::clone(&applied);
                    let apply = Box::new(move |seq: u64| {
                        applied.lock().push((seq, tag));
                        seq as usize
                    });
                    (tag, Request { kind: FrameKind::KvBatch, payload: vec![tag], tag: Some(tag as u64), apply })
                };
                if w == 0 {
                    // One call, several frames: consecutive, nobody else's in between.
                    let (tags, requests): (Vec<u8>, Vec<Request>) = (0..FRAMES_PER_WRITER).map(request).unzip();
                    let seqs: Vec<u64> =
                        committer.commit_many(requests).into_iter().map(|r| r.expect("commit") as u64).collect();
                    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "commit_many frames not consecutive: {seqs:?}");
                    return seqs.into_iter().zip(tags).collect::<Vec<_>>();
                }
                (0..FRAMES_PER_WRITER)
                    .map(|i| {
                        let (tag, r) = request(i);
                        (committer.commit(r.kind, r.payload, r.apply).expect("commit") as u64, tag)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // A checkpoint, twice: the floor read under the WAL lock bounds what may be trimmed;
    // every frame below it must already be applied.
    let checkpoint = {
        let (committer, applied) = (Arc::clone(&committer), Arc::clone(&applied));
        shuttle::thread::spawn(move || {
            for _ in 0..2 {
                let bound = committer.with_wal(|w| Ok(committer.unapplied_from().min(w.next_seq()))).expect("wal");
                let done = applied.lock().clone();
                for seq in 1..bound {
                    assert!(
                        done.iter().any(|a| a.0 == seq),
                        "frame {seq} is below the trim bound {bound} but not applied"
                    );
                }
            }
        })
    };
    let mut acknowledged: Vec<(u64, u8)> = writers.into_iter().flat_map(|h| h.join().expect("writer")).collect();
    checkpoint.join().expect("checkpoint");
    let n = (WRITERS * FRAMES_PER_WRITER) as u64;
    let applied = applied.lock().clone();
    assert_eq!(
        applied.iter().map(|a| a.0).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "applied once each, in order"
    );
    acknowledged.sort_unstable();
    assert_eq!(acknowledged, applied, "each writer was told the sequence number its write was applied at");
    // The last tag is that of writer 0's last frame (the only tagged ones).
    let last0 = acknowledged.iter().filter(|a| a.1 < 16).max().expect("writer 0");
    assert_eq!(committer.last_tag().map(|t| (t.seq, t.tag)), Some((last0.0, last0.1 as u64)));
    // The log holds exactly the acknowledged frames.
    let path = dir.path().join(wal::file_name(1));
    let bytes = std::fs::read(&path).expect("read wal");
    let mut logged = Vec::new();
    wal::scan_file(&path, &bytes, 1, true, &mut |f| {
        logged.push((f.seq, f.payload[0]));
        // Tagged frames carry their tag; the others none.
        assert_eq!(f.tag, (f.payload[0] < 16).then_some(f.payload[0] as u64));
        Ok(())
    })
    .expect("scan");
    assert_eq!(logged, applied, "the WAL holds each frame once, in sequence order");
}

#[test]
fn group_commit_logs_and_applies_each_write_once_in_order_and_never_trims_past_an_unapplied_one() {
    shuttle::check_random(group_commit_round, 1500);
    shuttle::check_pct(group_commit_round, 1500, 3);
}

fn row(x: f32) -> Vec<f32> {
    vec![x, -x]
}

fn segment_swap_round() {
    // Durable (builds are no-ops for an in-memory exact-only collection); no fsyncs, and
    // no `normal`-mode timer thread outside the scheduler's control.
    let dir = tempfile::tempdir().expect("tempdir");
    let options = OpenOptions { durability: Durability::None, ..OpenOptions::default() };
    let db = Database::open_with(Some(dir.path()), options).expect("db");
    let c = db.create_collection("c", CollectionConfig::exact(2, Metric::L2)).expect("collection");
    c.upsert(&[1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0].iter().flat_map(|&x| row(x)).collect(), None).expect("upsert");
    let writer = {
        let c = Arc::clone(&c);
        shuttle::thread::spawn(move || {
            c.delete(&[2]).expect("delete");
            c.upsert(&[3], row(30.0), None).expect("update");
            c.upsert(&[5], row(5.0), None).expect("insert");
            c.delete(&[4]).expect("delete");
            c.upsert(&[4], row(40.0), None).expect("re-insert");
        })
    };
    let builder = {
        let c = Arc::clone(&c);
        shuttle::thread::spawn(move || {
            c.flush(&mut |_, _| {}).expect("flush");
            c.compact(&mut |_, _| {}).expect("compact");
        })
    };
    let reader = {
        let c = Arc::clone(&c);
        shuttle::thread::spawn(move || {
            // Mid-way, id 1 (never touched) is always there, with its vector.
            let got = c.get(1).expect("get").expect("id 1 present");
            assert_eq!(got.vector, row(1.0));
            let hits = c.search(&row(0.0), &SearchParams::top(10)).expect("search");
            let mut ids = hits.ids.clone();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), hits.ids.len(), "an id appears once in a search: {:?}", hits.ids);
        })
    };
    writer.join().expect("writer");
    builder.join().expect("builder");
    reader.join().expect("reader");
    c.flush(&mut |_, _| {}).expect("flush after");
    let expected = [(1, Some(1.0)), (2, None), (3, Some(30.0)), (4, Some(40.0)), (5, Some(5.0))];
    for (id, x) in expected {
        assert_eq!(c.get(id).expect("get").map(|v| v.vector), x.map(row), "id {id}");
    }
    assert_eq!(c.count().expect("count"), 4);
    let mut ids = c.search(&row(0.0), &SearchParams::top(10)).expect("search").ids;
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 3, 4, 5], "search sees each live id once and no deleted one");
}

#[test]
fn a_segment_swap_during_upserts_and_deletes_keeps_every_last_write_and_no_deleted_row() {
    shuttle::check_random(segment_swap_round, 1000);
    shuttle::check_pct(segment_swap_round, 1000, 3);
}
