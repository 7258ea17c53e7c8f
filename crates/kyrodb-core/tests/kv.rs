//! The key-value store against a plain `BTreeMap` model: random put/delete/get/range
//! sequences across flushes, merges, compaction, clean reopen and crash; key sets that
//! stress learned models; bad input.

use kyrodb_core::kv::{KvConfig, Value, ValueKind, Write};
use kyrodb_core::{Database, OpenOptions};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

type Model = BTreeMap<u64, Value>;

fn small_memtables() -> OpenOptions {
    // Tiny memtables so that a few hundred writes go through many runs and merges.
    OpenOptions { kv: KvConfig { memtable_bytes: 4 << 10, rmi_rebuild_appends: 64 }, ..OpenOptions::default() }
}

fn large_memtable() -> OpenOptions {
    // Nothing is flushed: every write stays in the WAL until the test flushes.
    OpenOptions { kv: KvConfig { memtable_bytes: 1 << 30, rmi_rebuild_appends: u64::MAX }, ..OpenOptions::default() }
}

fn value(rng: &mut StdRng) -> Value {
    if rng.gen_bool(0.5) {
        let n = rng.gen_range(0..40);
        Value { kind: ValueKind::Bytes, bytes: (0..n).map(|_| rng.gen()).collect() }
    } else {
        Value { kind: ValueKind::Str, bytes: format!("v{}é", rng.gen::<u32>()).into_bytes() }
    }
}

fn check(db: &Database, model: &Model, probes: &[u64]) {
    let kv = db.kv();
    assert_eq!(kv.count().unwrap(), model.len() as u64, "count");
    for &k in probes {
        assert_eq!(kv.get(k).unwrap().as_ref(), model.get(&k), "get {k}");
    }
    // Full scans both ways, in small pages.
    for reverse in [false, true] {
        let mut got = Vec::new();
        let mut bounds = Some((0, u64::MAX));
        while let Some((lo, hi)) = bounds {
            let page = kv.range_page(lo, hi, reverse, 7).unwrap();
            got.extend(page.entries);
            bounds = page.next;
        }
        let mut want: Vec<(u64, Value)> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
        if reverse {
            want.reverse();
        }
        assert_eq!(got, want, "scan reverse={reverse}");
    }
    // A bounded range.
    if let (Some(&a), Some(&b)) = (probes.first(), probes.last()) {
        let (lo, hi) = (a.min(b), a.max(b));
        let page = kv.range_page(lo, hi, false, usize::MAX).unwrap();
        let want: Vec<(u64, Value)> = model.range(lo..=hi).map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(page.entries, want, "range {lo}..={hi}");
    }
}

/// Random writes against the model, with flushes, compactions, clean reopens and crashes.
fn run_sequence(seed: u64, keys: &[u64], steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::new();
    let mut db = Database::open_with(Some(dir.path()), small_memtables()).unwrap();
    let pick = |rng: &mut StdRng| keys[rng.gen_range(0..keys.len())];
    for step in 0..steps {
        match rng.gen_range(0..100) {
            0..=54 => {
                let n = rng.gen_range(1..20);
                let batch: Vec<(u64, Value)> = (0..n).map(|_| (pick(&mut rng), value(&mut rng))).collect();
                let writes: Vec<Write<'_>> = batch.iter().map(|(k, v)| Write::Put(*k, v.kind, &v.bytes)).collect();
                db.kv().write(&writes).unwrap();
                model.extend(batch);
            }
            55..=74 => {
                let k = pick(&mut rng);
                assert_eq!(db.kv().delete(k).unwrap(), model.remove(&k).is_some(), "delete {k} result");
            }
            75..=84 => {
                let probes: Vec<u64> = (0..20).map(|_| pick(&mut rng)).collect();
                check(&db, &model, &probes);
            }
            85..=89 => {
                db.kv().flush().unwrap();
            }
            90..=92 => {
                db.kv().compact().unwrap();
            }
            93..=96 => {
                db.close().unwrap();
                db = Database::open_with(Some(dir.path()), small_memtables()).unwrap();
            }
            _ => {
                // Full durability: everything acknowledged survives a crash.
                db.crash_for_tests();
                db = Database::open_with(Some(dir.path()), small_memtables()).unwrap();
                assert!(step < steps);
            }
        }
    }
    let probes: Vec<u64> = keys.iter().copied().take(200).collect();
    check(&db, &model, &probes);
    db.close().unwrap();
    let db = Database::open_with(Some(dir.path()), small_memtables()).unwrap();
    check(&db, &model, &probes);
}

/// Key sets that stress learned models (BENCHMARKS.md and the issue).
fn key_set(name: &str, rng: &mut StdRng) -> Vec<u64> {
    let mut keys: Vec<u64> = match name {
        "sequential" => (1000..1400).collect(),
        "equal-spacing" => (0..400).map(|i| i * 1_000_003).collect(),
        "two-clusters" => (0..200).chain((0..200).map(|i| u64::MAX - 1000 + i)).collect(),
        "extremes" => vec![0, u64::MAX, 1, u64::MAX - 1],
        "single" => vec![42],
        "lognormal" => (0..400)
            .map(|_| {
                let n: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
                (n * 2.0 + 20.0).exp() as u64
            })
            .collect(),
        _ => (0..400).map(|_| rng.gen()).collect(),
    };
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[test]
fn random_sequences_match_the_model_on_every_key_set() {
    for (i, name) in
        ["sequential", "equal-spacing", "two-clusters", "extremes", "single", "lognormal", "uniform"].iter().enumerate()
    {
        let mut rng = StdRng::seed_from_u64(i as u64);
        let keys = key_set(name, &mut rng);
        run_sequence(100 + i as u64, &keys, 400);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn any_seed_matches_the_model(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let keys = key_set(["lognormal", "uniform", "two-clusters"][(seed % 3) as usize], &mut rng);
        run_sequence(seed, &keys, 250);
    }
}

#[test]
fn large_runs_answer_through_the_learned_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    let kv = db.kv();
    let n = 200_000u64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let vals: Vec<[u8; 8]> = chunk.iter().map(|k| (k * 7).to_le_bytes()).collect();
        let writes: Vec<Write<'_>> =
            chunk.iter().zip(&vals).map(|(k, v)| Write::Put(k * 3 + 1, ValueKind::Bytes, v)).collect();
        kv.write(&writes).unwrap();
    }
    kv.compact().unwrap();
    let stats = kv.stats().unwrap();
    assert_eq!(stats.runs, 1);
    assert_eq!(stats.keys, n);
    for k in (0..n).step_by(997) {
        assert_eq!(kv.get(k * 3 + 1).unwrap().unwrap().bytes, (k * 7).to_le_bytes());
        assert!(kv.get(k * 3 + 2).unwrap().is_none());
    }
    let stats = kv.stats().unwrap();
    assert_eq!(stats.mispredictions, 0);
    if stats.learned_index {
        // Windows stay small: the mean probe examines a few dozen keys at most.
        assert!(stats.probe_keys / stats.run_probes.max(1) <= 64, "{stats:?}");
        assert!(stats.index_bytes > 0);
    }
    db.close().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.kv().count().unwrap(), n);
    assert_eq!(db.kv().get(1).unwrap().unwrap().bytes, 0u64.to_le_bytes());
}

#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    let db = Database::open(None).unwrap();
    let kv = db.kv();
    kv.put(1, ValueKind::Str, b"one").unwrap();
    let big = vec![0u8; kyrodb_core::kv::MAX_VALUE_BYTES + 1];
    let e = kv.write(&[Write::Put(2, ValueKind::Bytes, b"x"), Write::Put(3, ValueKind::Bytes, &big)]).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert_eq!(kv.put(4, ValueKind::Str, &[0xff, 0xfe]).unwrap_err().code(), "INVALID_ARGUMENT");
    assert_eq!(kv.put(4, ValueKind::Deleted, b"").unwrap_err().code(), "INVALID_ARGUMENT");
    assert_eq!(kv.count().unwrap(), 1);
    assert!(kv.get(2).unwrap().is_none());
    db.close().unwrap();
    assert_eq!(kv.get(1).unwrap_err().code(), "CLOSED");
    assert_eq!(kv.put(1, ValueKind::Str, b"x").unwrap_err().code(), "CLOSED");
}

#[test]
fn in_memory_store_flushes_into_runs_too() {
    let db = Database::open_with(None, small_memtables()).unwrap();
    let kv = db.kv();
    let mut model = Model::new();
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..300 {
        let k = rng.gen_range(0..500);
        let v = value(&mut rng);
        kv.put(k, v.kind, &v.bytes).unwrap();
        model.insert(k, v);
    }
    kv.flush().unwrap();
    assert!(kv.stats().unwrap().runs >= 1);
    let probes: Vec<u64> = (0..500).collect();
    check(&db, &model, &probes);
}

#[test]
fn wal_of_the_store_is_replayed_and_then_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(Some(dir.path())).unwrap();
        for k in 0..1000u64 {
            db.kv().put(k, ValueKind::Bytes, &k.to_be_bytes()).unwrap();
        }
        db.crash_for_tests();
    }
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.kv().count().unwrap(), 1000);
    assert_eq!(db.kv().get(999).unwrap().unwrap().bytes, 999u64.to_be_bytes());
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    let wal_bytes: u64 =
        std::fs::read_dir(dir.path().join("wal")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(wal_bytes < 4096, "WAL still holds {wal_bytes} bytes after a flush");
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.kv().count().unwrap(), 1000);
}

#[test]
fn a_large_replay_is_loaded_in_bulk_frozen_and_written_out_with_nothing_lost() {
    // More replayed writes than the freeze threshold (65,536), over keys already in a run:
    // overwrites, deletes of present and absent keys, several writes of one key in one
    // frame and across frames. The loaded memtable must answer like the model at once,
    // be written out as a run after open, and survive another crash and reopen.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(77);
    let mut model = Model::new();
    {
        let db = Database::open_with(Some(dir.path()), large_memtable()).unwrap();
        let base: Vec<(u64, Value)> = (0..20_000u64).map(|k| (k * 7, value(&mut rng))).collect();
        let writes: Vec<Write<'_>> = base.iter().map(|(k, v)| Write::Put(*k, v.kind, &v.bytes)).collect();
        db.kv().write(&writes).unwrap();
        model.extend(base.iter().cloned());
        db.kv().flush().unwrap();
        for _ in 0..40 {
            let batch: Vec<(u64, Option<Value>)> = (0..2_500)
                .map(|_| {
                    let k = rng.gen_range(0..200_000u64);
                    (k, (!rng.gen_bool(0.2)).then(|| value(&mut rng)))
                })
                .collect();
            let writes: Vec<Write<'_>> = batch
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => Write::Put(*k, v.kind, &v.bytes),
                    None => Write::Delete(*k),
                })
                .collect();
            db.kv().write(&writes).unwrap();
            for (k, v) in batch {
                match v {
                    Some(v) => model.insert(k, v),
                    None => model.remove(&k),
                };
            }
        }
        db.crash_for_tests();
    }
    let probes: Vec<u64> = (0..2_000).map(|_| rng.gen_range(0..200_000u64)).collect();
    {
        let db = Database::open_with(Some(dir.path()), large_memtable()).unwrap();
        check(&db, &model, &probes);
        // Writes after open go to a fresh memtable beside the frozen one.
        db.kv().put(5, ValueKind::Str, b"after open").unwrap();
        model.insert(5, Value { kind: ValueKind::Str, bytes: b"after open".to_vec() });
        check(&db, &model, &probes);
        db.crash_for_tests();
    }
    let db = Database::open_with(Some(dir.path()), large_memtable()).unwrap();
    check(&db, &model, &probes);
    db.kv().flush().unwrap();
    let stats = db.kv().stats().unwrap();
    assert!(stats.runs >= 2 && stats.memtable_entries == 0, "the replayed writes are in runs now: {stats:?}");
    db.close().unwrap();
    let db = Database::open_with(Some(dir.path()), large_memtable()).unwrap();
    check(&db, &model, &probes);
}

#[test]
fn a_wal_of_several_files_replays_in_order_and_damage_in_an_older_file_is_corruption() {
    // 1 MiB values: ~150 MiB of log, so the WAL rotates (64 MiB files) and every file but
    // the last is read ahead of the replay on its second thread.
    let dir = tempfile::tempdir().unwrap();
    let value_of = |k: u64| -> Vec<u8> { (0..1 << 20).map(|i| (i as u64 ^ k) as u8).collect() };
    {
        let db = Database::open_with(Some(dir.path()), large_memtable()).unwrap();
        for k in 0..150u64 {
            db.kv().put(k % 120, ValueKind::Bytes, &value_of(k)).unwrap();
        }
        db.crash_for_tests();
    }
    let wal_files = || {
        let mut v: Vec<_> = std::fs::read_dir(dir.path().join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    };
    assert!(wal_files().len() >= 3, "{:?}", wal_files());
    {
        let db = Database::open_with(Some(dir.path()), large_memtable()).unwrap();
        assert_eq!(db.kv().count().unwrap(), 120);
        for k in [0u64, 29, 30, 119] {
            let last_write = if k < 30 { k + 120 } else { k };
            assert_eq!(db.kv().get(k).unwrap().unwrap().bytes, value_of(last_write), "key {k}");
        }
        db.crash_for_tests();
    }
    // A flipped byte inside a frame of the first file (not the last): never a torn tail.
    let first = wal_files()[0].clone();
    let mut bytes = std::fs::read(&first).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&first, bytes).unwrap();
    let err = Database::open_with(Some(dir.path()), large_memtable()).unwrap_err();
    assert_eq!(err.code(), "CORRUPTION", "{err}");
    assert!(err.to_string().contains(&first.file_name().unwrap().to_string_lossy().to_string()), "{err}");
}
