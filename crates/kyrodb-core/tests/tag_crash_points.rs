//! Crash-point enumeration of tagged writes (feature `failpoints`): a workload of tagged
//! write groups (upserts, deletes, key-value batches, refused writes, a tagged create and
//! drop of a collection) and flushes is crashed at every write, fsync and rename; after the
//! reopen, the state is exactly the state after the writes whose tags are at most
//! `last_tag()` — each write is present if and only if its tag is recovered — and no
//! acknowledged tag is lost. Also: a failed WAL write fails its group, and the writes after
//! it in the group are not attempted.
//!
//! Run with `cargo test -p kyrodb-core --features failpoints --test tag_crash_points`.
#![cfg(feature = "failpoints")]

mod common;

use common::durable::*;
use kyrodb_core::storage::failpoints::{self, Op};
use kyrodb_core::{CollectionWrite, Database, GroupOp, GroupWrite, KvWrite, ValueKind};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

const IDS: u64 = 200;
const KEYS: u64 = 50;
static SERIAL: Mutex<()> = Mutex::new(());

/// One tagged write; its tag is its position in the workload (1, 2, ...).
#[derive(Clone, Debug)]
enum W {
    Vec(&'static str, Batch),
    Kv(u64, Option<String>),
    /// Refused: a write to a collection that does not exist.
    Refused,
    Create(&'static str),
    Drop(&'static str),
}

#[derive(Clone, Debug)]
enum Step {
    Group(Vec<W>),
    One(W),
    Flush,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    collections: BTreeMap<String, Model>,
    kv: BTreeMap<u64, String>,
}

impl State {
    fn apply(&mut self, w: &W) {
        match w {
            W::Vec(c, b) => {
                if let Some(m) = self.collections.get_mut(*c) {
                    apply_to_model(m, b)
                }
            }
            W::Kv(k, Some(v)) => {
                self.kv.insert(*k, v.clone());
            }
            W::Kv(k, None) => {
                self.kv.remove(k);
            }
            W::Refused => {}
            W::Create(c) => {
                self.collections.insert(c.to_string(), Model::new());
            }
            W::Drop(c) => {
                self.collections.remove(*c);
            }
        }
    }
}

fn workload() -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut steps = Vec::new();
    let kv =
        |rng: &mut StdRng| W::Kv(rng.gen_range(0..KEYS), rng.gen_bool(0.8).then(|| format!("v{}", rng.gen::<u32>())));
    for i in 0..14 {
        let mut group: Vec<W> = (0..rng.gen_range(1..4)).map(|_| W::Vec("v", random_batch(&mut rng, IDS))).collect();
        group.push(kv(&mut rng));
        if i % 5 == 2 {
            group.push(W::Refused);
        }
        if (4..9).contains(&i) {
            group.push(W::Vec("w", random_batch(&mut rng, IDS)));
        }
        steps.push(Step::Group(group));
        match i {
            3 => steps.push(Step::One(W::Create("w"))),
            9 => steps.push(Step::One(W::Drop("w"))),
            6 | 12 => steps.push(Step::Flush),
            _ => {}
        }
    }
    steps
}

fn write_of(w: &W, tag: u64) -> GroupWrite {
    let op = match w {
        W::Vec(c, Batch::Upsert(ids, vectors, metadata)) => GroupOp::Collection {
            name: c.to_string(),
            write: CollectionWrite::Upsert {
                ids: ids.clone(),
                vectors: vectors.clone(),
                metadata: Some(metadata.clone()),
            },
        },
        W::Vec(c, Batch::Delete(ids)) => {
            GroupOp::Collection { name: c.to_string(), write: CollectionWrite::Delete { ids: ids.clone() } }
        }
        W::Kv(k, Some(v)) => GroupOp::Kv(vec![KvWrite::Put(*k, ValueKind::Str, v.as_bytes().to_vec())]),
        W::Kv(k, None) => GroupOp::Kv(vec![KvWrite::Delete(*k)]),
        W::Refused => GroupOp::Collection {
            name: "missing".into(),
            write: CollectionWrite::Upsert { ids: vec![1], vectors: vec![0.0; DIM], metadata: None },
        },
        W::Create(_) | W::Drop(_) => unreachable!(),
    };
    GroupWrite { op, tag: Some(tag) }
}

/// Every write in order, and the highest tag acknowledged before the workload stopped.
fn run(dir: &Path, steps: &[Step]) -> (Option<Database>, Vec<W>, u64) {
    let mut writes = Vec::new();
    let mut acked = 0;
    let Ok(db) = Database::open(Some(dir)) else { return (None, writes, acked) };
    if db.create_collection("v", config()).is_err() {
        return (Some(db), writes, acked);
    }
    for step in steps {
        let fine = match step {
            Step::Flush => db.flush(&mut |_, _| {}).is_ok(),
            Step::One(w) => {
                writes.push(w.clone());
                let tag = Some(writes.len() as u64);
                match w {
                    W::Create(c) => db.create_collection_tagged(c, config(), tag).is_ok(),
                    W::Drop(c) => db.drop_collection_tagged(c, tag).is_ok(),
                    _ => unreachable!(),
                }
            }
            Step::Group(ws) => {
                let first = writes.len() as u64 + 1;
                writes.extend(ws.iter().cloned());
                let group = ws.iter().enumerate().map(|(i, w)| write_of(w, first + i as u64)).collect();
                match db.write_group(group) {
                    Ok(results) => results.iter().zip(ws).all(|(r, w)| match (r, w) {
                        (Err(e), W::Refused) => e.code() == "NOT_FOUND",
                        (r, _) => r.is_ok(),
                    }),
                    Err(_) => false,
                }
            }
        };
        if !fine {
            return (Some(db), writes, acked);
        }
        acked = writes.len() as u64;
    }
    (Some(db), writes, acked)
}

fn read_state(db: &Database) -> State {
    let mut s = State::default();
    for info in db.list_collections().unwrap() {
        let c = db.collection(&info.name).unwrap();
        s.collections.insert(info.name, read_all(&c, IDS));
    }
    for k in 0..KEYS {
        if let Some(v) = db.kv().get(k).unwrap() {
            s.kv.insert(k, String::from_utf8(v.bytes).unwrap());
        }
    }
    s
}

#[test]
fn every_crash_point_recovers_exactly_the_writes_up_to_the_last_tag() {
    let _serial = SERIAL.lock();
    let steps = workload();
    failpoints::reset();
    let dir = tempfile::tempdir().unwrap();
    let (db, writes, acked) = run(dir.path(), &steps);
    assert_eq!(acked, writes.len() as u64, "the dry run stopped");
    db.unwrap().close().unwrap();
    let totals = [Op::Write, Op::Sync, Op::Rename].map(|op| (op, failpoints::count(op)));
    let mut trials = 0;
    let mut partial = 0;
    for (op, total) in totals {
        assert!(total > 5, "{op:?}: {total}");
        for nth in 1..=total {
            failpoints::reset();
            failpoints::arm(op, nth);
            let dir = tempfile::tempdir().unwrap();
            let (db, writes, acked) = run(dir.path(), &steps);
            if let Some(db) = db {
                db.crash_for_tests();
            }
            failpoints::reset();
            let db = Database::open(Some(dir.path())).unwrap_or_else(|e| panic!("{op:?} #{nth}: reopen failed: {e}"));
            let tag = db.last_tag().unwrap().unwrap_or(0);
            assert!(tag >= acked, "{op:?} #{nth}: tag {tag} below the acknowledged {acked}");
            assert!(tag <= writes.len() as u64, "{op:?} #{nth}: tag {tag} past the writes attempted");
            if tag > acked {
                partial += 1;
            }
            let mut want = State::default();
            want.collections.insert("v".into(), Model::new());
            for w in &writes[..tag as usize] {
                want.apply(w);
            }
            if db.collection("v").is_err() {
                // Crashed before the collection was created.
                assert_eq!(tag, 0, "{op:?} #{nth}");
                want.collections.clear();
            }
            let got = read_state(&db);
            assert!(
                got == want,
                "{op:?} #{nth}: the state is not the writes up to tag {tag} ({} written, {acked} acked)",
                writes.len()
            );
            db.close().unwrap();
            trials += 1;
        }
    }
    assert!(trials > 40, "{trials}");
    // Some crashes fall after a group's frames were logged but before it was acknowledged.
    assert!(partial > 0);
}

#[test]
fn a_failed_wal_write_fails_the_rest_of_its_group() {
    let _serial = SERIAL.lock();
    failpoints::reset();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    db.create_collection("v", config()).unwrap();
    let c = db.collection("v").unwrap();
    let vec = |id: u64| (id, vec![id as f32; DIM]);
    let up = |id: u64, tag: u64| GroupWrite {
        op: GroupOp::Collection {
            name: "v".into(),
            write: CollectionWrite::Upsert { ids: vec![vec(id).0], vectors: vec(id).1, metadata: None },
        },
        tag: Some(tag),
    };
    let del = |id: u64, tag: u64| GroupWrite {
        op: GroupOp::Collection { name: "v".into(), write: CollectionWrite::Delete { ids: vec![id] } },
        tag: Some(tag),
    };
    db.write_group(vec![up(1, 1)]).unwrap().pop().unwrap().unwrap();
    // The delete starts a second WAL group; the first (two upserts) fails to be written.
    failpoints::arm_once(Op::Write, failpoints::count(Op::Write) + 1);
    let out = db.write_group(vec![up(2, 2), up(3, 3), del(1, 4), up(4, 5)]).unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().code(), "IO");
    assert_eq!(out[1].as_ref().unwrap_err().code(), "IO");
    assert!(out[2].is_err() && out[3].is_err(), "{out:?}");
    assert_eq!(c.count().unwrap(), 1);
    assert_eq!(db.last_tag().unwrap(), Some(1));
    // The disk came back: later groups go on.
    db.write_group(vec![up(2, 2)]).unwrap().pop().unwrap().unwrap();
    db.crash_for_tests();
    failpoints::reset();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(2));
    assert_eq!(db.collection("v").unwrap().count().unwrap(), 2);
}
