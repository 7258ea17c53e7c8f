//! Crash-point enumeration (feature `failpoints`): for every write, fsync and rename a
//! workload performs, crash exactly there — optionally with a zero-filled tail, as a file
//! system may leave after power loss — then reopen: the state is exactly the state before
//! or after the interrupted operation, and never unreadable. Also: a write that fails (a
//! full disk) is rejected, reads go on, and nothing acknowledged is lost.
//!
//! Run with `cargo test -p kyrodb-core --features failpoints --test crash_points`.

mod common;

use common::durable::*;
use kyrodb_core::storage::failpoints::{self, Op};
use kyrodb_core::Database;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;

const IDS: u64 = 600;
/// Failpoint counters are global: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Clone, Debug)]
enum Step {
    Write(Batch),
    Flush,
    Compact,
}

fn workload() -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(11);
    let mut steps = Vec::new();
    for i in 0..24 {
        steps.push(Step::Write(random_batch(&mut rng, IDS)));
        if i % 8 == 7 {
            steps.push(Step::Flush);
        }
        if i == 20 {
            steps.push(Step::Compact);
        }
    }
    steps
}

/// Run the workload until a storage operation fails. Returns the database (if it opened),
/// the model of everything acknowledged, and the model including the step that failed.
fn run(dir: &Path, steps: &[Step]) -> (Option<Database>, Model, Model, bool) {
    let mut acked = Model::new();
    let db = match Database::open(Some(dir)) {
        Ok(db) => db,
        Err(_) => return (None, acked.clone(), acked, true),
    };
    let c = match db.create_collection("v", config()) {
        Ok(c) => c,
        Err(_) => return (Some(db), acked.clone(), acked, true),
    };
    for step in steps {
        let mut after = acked.clone();
        let r = match step {
            Step::Write(b) => {
                apply_to_model(&mut after, b);
                apply_to_db(&c, b).map(|_| ())
            }
            Step::Flush => db.flush(&mut |_, _| {}),
            Step::Compact => db.compact(&mut |_, _| {}),
        };
        match r {
            Ok(()) => acked = after,
            Err(e) => {
                assert!(matches!(e.code(), "IO" | "READ_ONLY" | "CLOSED"), "unexpected error {e}");
                return (Some(db), acked, after, true);
            }
        }
    }
    (Some(db), acked.clone(), acked, false)
}

fn zero_tail(dir: &Path) {
    let mut wals: Vec<_> = std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    wals.sort();
    if let Some(last) = wals.last() {
        let mut b = std::fs::read(last).unwrap();
        b.extend_from_slice(&[0u8; 1000]);
        std::fs::write(last, b).unwrap();
    }
}

#[test]
fn every_crash_point_recovers_to_before_or_after_the_interrupted_step() {
    let _serial = SERIAL.lock();
    let steps = workload();
    // Dry run: how many operations of each kind the workload performs.
    failpoints::reset();
    let dir = tempfile::tempdir().unwrap();
    let (db, model, _, failed) = run(dir.path(), &steps);
    assert!(!failed);
    db.unwrap().close().unwrap();
    let totals = [Op::Write, Op::Sync, Op::Rename].map(|op| (op, failpoints::count(op)));
    let mut trials = 0;
    for (op, total) in totals {
        assert!(total > 5, "{op:?}: {total}");
        for nth in 1..=total {
            for zero in [false, true] {
                failpoints::reset();
                failpoints::arm(op, nth);
                let dir = tempfile::tempdir().unwrap();
                let (db, before, after, failed) = run(dir.path(), &steps);
                assert!(failed, "{op:?} #{nth} did not interrupt the workload");
                if let Some(db) = db {
                    db.crash_for_tests();
                }
                failpoints::reset();
                if zero {
                    zero_tail(dir.path());
                }
                let db = Database::open(Some(dir.path()))
                    .unwrap_or_else(|e| panic!("{op:?} #{nth} zero={zero}: reopen failed: {e}"));
                let state = match db.collection("v") {
                    Ok(c) => read_all(&c, IDS),
                    Err(_) => {
                        assert!(before.is_empty(), "{op:?} #{nth}: collection lost");
                        Model::new()
                    }
                };
                assert!(
                    state == before || state == after,
                    "{op:?} #{nth} zero={zero}: state is neither before ({} ids) nor after ({} ids) the step: {} ids",
                    before.len(),
                    after.len(),
                    state.len()
                );
                if db.collection("v").is_ok() {
                    let expect = if state == before { &before } else { &after };
                    matches(&db, "v", expect, IDS).unwrap_or_else(|e| panic!("{op:?} #{nth}: {e}"));
                }
                db.close().unwrap();
                trials += 1;
            }
        }
    }
    assert!(trials > 50);
    assert!(!model.is_empty());
}

#[test]
fn a_failed_write_is_rejected_reads_go_on_and_nothing_acknowledged_is_lost() {
    let _serial = SERIAL.lock();
    let steps = workload();
    for nth in [3, 9, 17] {
        failpoints::reset();
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(Some(dir.path())).unwrap();
        let c = db.create_collection("v", config()).unwrap();
        failpoints::reset();
        failpoints::arm_once(Op::Write, nth);
        let mut acked = Model::new();
        let mut rejected = 0;
        for step in &steps {
            if let Step::Write(b) = step {
                match apply_to_db(&c, b) {
                    Ok(_) => apply_to_model(&mut acked, b),
                    Err(e) => {
                        assert_eq!(e.code(), "IO", "{e}");
                        rejected += 1;
                        // Reads still work and show only acknowledged writes.
                        matches(&db, "v", &acked, IDS).unwrap();
                    }
                }
            }
        }
        assert_eq!(rejected, 1);
        matches(&db, "v", &acked, IDS).unwrap();
        db.close().unwrap();
        let db = Database::open(Some(dir.path())).unwrap();
        matches(&db, "v", &acked, IDS).unwrap();
    }
}

#[test]
fn a_failed_fsync_makes_the_database_read_only_until_reopened() {
    let _serial = SERIAL.lock();
    failpoints::reset();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    let c = db.create_collection("v", config()).unwrap();
    c.upsert(&[1], vec![0.5; DIM], None).unwrap();
    failpoints::arm_once(Op::Sync, failpoints::count(Op::Sync) + 1);
    assert_eq!(c.upsert(&[2], vec![0.5; DIM], None).unwrap_err().code(), "IO");
    assert_eq!(c.upsert(&[3], vec![0.5; DIM], None).unwrap_err().code(), "READ_ONLY");
    assert!(c.get(1).unwrap().is_some());
    assert!(c.get(2).unwrap().is_none());
    db.close().unwrap();
    failpoints::reset();
    let db = Database::open(Some(dir.path())).unwrap();
    let c = db.collection("v").unwrap();
    assert!(c.get(1).unwrap().is_some());
    c.upsert(&[3], vec![0.5; DIM], None).unwrap();
}
