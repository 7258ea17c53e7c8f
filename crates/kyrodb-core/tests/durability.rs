//! Durability: reopen round trips, the directory lock, torn WAL tails and corruption of
//! every kind of file (see docs/ARCHITECTURE.md, "Durability").

mod common;

use common::durable::*;
use kyrodb_core::{Database, Durability, OpenOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

const IDS: u64 = 1500;

fn open(dir: &Path) -> kyrodb_core::Result<Database> {
    Database::open(Some(dir))
}

/// Write `batches` random batches, flushing and compacting now and then.
fn populate(db: &Database, rng: &mut StdRng, model: &mut Model, batches: usize) {
    let c = db.collection("v").unwrap();
    for i in 0..batches {
        write_random_batch(&c, rng, model, IDS);
        if i % 97 == 96 {
            c.flush(&mut |_, _| {}).unwrap();
        }
        if i % 251 == 250 {
            c.compact(&mut |_, _| {}).unwrap();
        }
    }
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for sub in ["", "wal", "seg"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && p.file_name().unwrap() != "LOCK" {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn reopen_returns_exactly_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Model::new();
    for round in 0..4 {
        let db = open(dir.path()).unwrap();
        if round == 0 {
            db.create_collection("v", config()).unwrap();
        }
        matches(&db, "v", &model, IDS).unwrap_or_else(|e| panic!("round {round} after reopen: {e}"));
        populate(&db, &mut rng, &mut model, 300);
        matches(&db, "v", &model, IDS).unwrap();
        if round == 2 {
            // Like a killed process: nothing synced or flushed on the way out.
            db.crash_for_tests();
            continue;
        }
        db.close().unwrap();
    }
}

#[test]
fn reopen_after_flush_replays_nothing_and_trims_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let mut model = Model::new();
    let db = open(dir.path()).unwrap();
    db.create_collection("v", config()).unwrap();
    populate(&db, &mut rng, &mut model, 200);
    db.flush(&mut |_, _| {}).unwrap();
    let wal_files = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
    assert_eq!(wal_files, 1, "only the fresh WAL file remains after a flush");
    db.close().unwrap();
    let db = open(dir.path()).unwrap();
    assert!(db.recovery_report().is_empty(), "{:?}", db.recovery_report());
    matches(&db, "v", &model, IDS).unwrap();
    let st = db.collection("v").unwrap().stats().unwrap();
    assert_eq!(st.hot_rows, 0, "everything is in segments");
}

#[test]
fn a_checkpoint_that_leaves_nothing_unflushed_drops_the_whole_wal() {
    // A collection's own build (not `db.flush`) that covers every write: the current WAL
    // file holds only covered frames, so it is closed and deleted too, and a reopen reads
    // no frames at all.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let mut model = Model::new();
    let db = open(dir.path()).unwrap();
    let c = db.create_collection("v", config()).unwrap();
    for _ in 0..50 {
        write_random_batch(&c, &mut rng, &mut model, IDS);
    }
    assert!(db.stats().wal.disk_bytes > 4096, "the writes are in the WAL");
    c.build_index(&mut |_, _| {}).unwrap();
    let wal = db.stats().wal;
    assert_eq!(wal.files, 1, "{wal:?}");
    assert!(wal.disk_bytes <= 64, "only a fresh file header is left: {wal:?}");
    // Writes after the checkpoint are kept, and the next checkpoint still sees them.
    write_random_batch(&c, &mut rng, &mut model, IDS);
    db.close().unwrap();
    let db = open(dir.path()).unwrap();
    matches(&db, "v", &model, IDS).unwrap();
}

#[test]
fn stats_count_log_frames_fsyncs_builds_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).unwrap();
    assert_eq!(db.stats().wal.frames, 0);
    let c = db.create_collection("v", config()).unwrap();
    c.upsert(&[1, 2], vec![0.5; 2 * c.config().dimension], None).unwrap();
    db.kv().put(7, kyrodb_core::kv::ValueKind::Bytes, b"seven").unwrap();
    let s = db.stats();
    assert_eq!(s.wal.frames, 2, "one frame per write batch");
    assert!(s.wal.bytes > 0 && s.wal.fsyncs >= 1 && s.wal.groups >= 1, "{s:?}");
    assert!(s.wal.disk_bytes >= s.wal.bytes && s.wal.files == 1, "{s:?}");
    assert_eq!((s.segment_builds, s.merges), (0, 0));
    c.flush(&mut |_, _| {}).unwrap();
    c.upsert(&[3], vec![0.25; c.config().dimension], None).unwrap();
    c.flush(&mut |_, _| {}).unwrap();
    assert_eq!(db.stats().segment_builds, 2);
    c.compact(&mut |_, _| {}).unwrap();
    assert_eq!(db.stats().merges, 1, "compact merges the two segments");
    db.flush(&mut |_, _| {}).unwrap();
    let after = db.stats();
    assert!(after.wal.disk_bytes < 1024 && after.wal.files == 1, "the flush trimmed the log: {after:?}");
    db.close().unwrap();
}

#[test]
fn dropped_collections_stay_dropped_and_names_can_be_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).unwrap();
    let c = db.create_collection("v", config()).unwrap();
    c.upsert(&[1, 2], vec![0.5; 2 * DIM], None).unwrap();
    db.drop_collection("v").unwrap();
    let c = db.create_collection("v", config()).unwrap();
    c.upsert(&[3], vec![0.25; DIM], None).unwrap();
    db.close().unwrap();
    let db = open(dir.path()).unwrap();
    let c = db.collection("v").unwrap();
    assert_eq!(c.count().unwrap(), 1);
    assert!(c.get(1).unwrap().is_none());
    assert_eq!(c.get(3).unwrap().unwrap().vector, vec![0.25; DIM]);
}

#[test]
fn a_second_open_is_locked_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let mut model = Model::new();
    let db = open(dir.path()).unwrap();
    let c = db.create_collection("v", config()).unwrap();
    write_random_batch(&c, &mut rng, &mut model, IDS);
    // LOCKED while the first handle holds the directory: the second open does not wait for
    // the lock (the holder is closed only below, after it returned).
    let err = open(dir.path()).unwrap_err();
    assert_eq!(err.code(), "LOCKED");
    // The failed open left the holder as it was: still writable, still the only owner.
    write_random_batch(&c, &mut rng, &mut model, IDS);
    matches(&db, "v", &model, IDS).unwrap();
    assert_eq!(open(dir.path()).unwrap_err().code(), "LOCKED");
    db.close().unwrap();
    let db = open(dir.path()).unwrap();
    matches(&db, "v", &model, IDS).unwrap();
}

#[test]
fn durability_modes_all_survive_a_clean_close() {
    for durability in
        [Durability::Full, Durability::Normal { interval: std::time::Duration::from_millis(5) }, Durability::None]
    {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_with(Some(dir.path()), OpenOptions { durability, ..OpenOptions::default() }).unwrap();
        let c = db.create_collection("v", config()).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let mut model = Model::new();
        for _ in 0..50 {
            write_random_batch(&c, &mut rng, &mut model, IDS);
        }
        // No pause before close: close itself must make every mode's writes durable, not
        // a `normal`-mode sync timer that happened to fire first.
        db.close().unwrap();
        let db = open(dir.path()).unwrap();
        matches(&db, "v", &model, IDS).unwrap_or_else(|e| panic!("{durability:?}: {e}"));
    }
}

/// A database with data in every kind of file: segments with deletion bitmaps, and a
/// WAL with frames after the last checkpoint. Returns the model of its contents.
fn rich_database(dir: &Path) -> Model {
    let mut rng = StdRng::seed_from_u64(4);
    let mut model = Model::new();
    let db = open(dir).unwrap();
    db.create_collection("v", config()).unwrap();
    populate(&db, &mut rng, &mut model, 120);
    db.flush(&mut |_, _| {}).unwrap();
    let c = db.collection("v").unwrap();
    let del = apply_to_db(&c, &Batch::Delete((0..60).collect())).unwrap();
    assert!(del > 0);
    apply_to_model(&mut model, &Batch::Delete((0..60).collect()));
    c.flush(&mut |_, _| {}).unwrap();
    for _ in 0..20 {
        write_random_batch(&c, &mut rng, &mut model, IDS);
    }
    db.close().unwrap();
    model
}

#[test]
fn truncating_the_last_wal_frame_anywhere_recovers_before_or_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = rich_database(dir.path());
    let wal = files_in(dir.path()).into_iter().rfind(|p| p.extension().is_some_and(|e| e == "wal")).unwrap();
    let bytes = std::fs::read(&wal).unwrap();
    // Find the start of the last frame by walking the frame lengths.
    let mut pos = 40;
    let mut last = pos;
    while pos < bytes.len() {
        last = pos;
        pos += u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
    }
    assert_eq!(pos, bytes.len());
    let backup = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), backup.path());
    let mut before = None;
    for cut in last..bytes.len() {
        restore(backup.path(), dir.path());
        std::fs::write(&wal, &bytes[..cut]).unwrap();
        let db = open(dir.path()).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let c = db.collection("v").unwrap();
        let state = read_all(&c, IDS);
        let b = before.get_or_insert_with(|| state.clone());
        assert_eq!(&state, b, "every cut inside the last frame gives the state before it");
        assert_ne!(&state, &model, "the last frame changed something");
        db.close().unwrap();
    }
    restore(backup.path(), dir.path());
    let db = open(dir.path()).unwrap();
    matches(&db, "v", &model, IDS).unwrap();
}

#[test]
fn a_zero_filled_tail_is_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let model = rich_database(dir.path());
    let wal = files_in(dir.path()).into_iter().rfind(|p| p.extension().is_some_and(|e| e == "wal")).unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&wal, &bytes).unwrap();
    let db = open(dir.path()).unwrap();
    assert!(!db.recovery_report().is_empty());
    matches(&db, "v", &model, IDS).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for sub in ["", "wal", "seg"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

fn restore(backup: &Path, dir: &Path) {
    for sub in ["wal", "seg"] {
        let _ = std::fs::remove_dir_all(dir.join(sub));
    }
    copy_dir(backup, dir);
}

#[test]
fn flipped_bits_in_any_file_are_reported_or_harmless_never_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let model = rich_database(dir.path());
    let backup = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), backup.path());
    let mut rng = StdRng::seed_from_u64(5);
    let mut outcomes = std::collections::BTreeMap::<String, (usize, usize)>::new();
    for file in files_in(backup.path()) {
        let rel = file.strip_prefix(backup.path()).unwrap().to_path_buf();
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        let kind = rel.extension().map_or("MANIFEST".to_string(), |e| e.to_string_lossy().to_string());
        let samples = 40.min(len);
        for s in 0..samples {
            restore(backup.path(), dir.path());
            std::fs::copy(backup.path().join("MANIFEST"), dir.path().join("MANIFEST")).unwrap();
            let offset = if s < 8 { s * len / 8 } else { rng.gen_range(0..len) };
            let mut bytes = std::fs::read(dir.path().join(&rel)).unwrap();
            bytes[offset] ^= 1 << rng.gen_range(0..8);
            std::fs::write(dir.path().join(&rel), &bytes).unwrap();
            let entry = outcomes.entry(kind.clone()).or_default();
            match open(dir.path()) {
                Err(e) => {
                    assert_eq!(e.code(), "CORRUPTION", "{rel:?} offset {offset}: {e}");
                    entry.0 += 1;
                }
                Ok(db) => {
                    // Harmless flips (padding, reserved bytes) or a torn-looking tail.
                    let c = db.collection("v").unwrap();
                    let state = read_all(&c, IDS);
                    if state != model {
                        // Only the last WAL frame may be lost, and only as a torn tail.
                        assert!(
                            kind == "wal" && !db.recovery_report().is_empty(),
                            "{rel:?} offset {offset}: wrong data"
                        );
                    }
                    entry.1 += 1;
                    db.close().unwrap();
                }
            }
        }
    }
    for kind in ["kseg", "kdel", "wal", "MANIFEST"] {
        let (corrupt, _ok) = outcomes.get(kind).copied().unwrap_or_default();
        assert!(corrupt > 0, "no flip in a {kind} file was detected: {outcomes:?}");
    }
}

/// A durable collection of 3,000 random 128-d rows in one segment with a graph and codes
/// (its vectors span six 256 KiB checksum pieces). Returns the rows.
fn one_graph_segment(dir: &Path) -> Vec<f32> {
    const D: usize = 128;
    let mut rng = StdRng::seed_from_u64(12);
    let rows: Vec<f32> = (0..3000 * D).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let db = open(dir).unwrap();
    let cfg = kyrodb_core::CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: D,
        metric: kyrodb_core::Metric::L2,
        index: Some(kyrodb_core::IndexConfig {
            params: kyrodb_core::vector::hnsw::BuildParams { m: 8, ef_construction: 40, ..Default::default() },
            auto_build_rows: usize::MAX,
        }),
    };
    let c = db.create_collection("v", cfg).unwrap();
    c.upsert(&(0..3000).collect::<Vec<u64>>(), rows.clone(), None).unwrap();
    c.build_index(&mut |_, _| {}).unwrap();
    assert!(c.stats().unwrap().segments.iter().all(|s| s.2), "one segment with a graph");
    db.close().unwrap();
    rows
}

#[test]
fn damaged_vectors_checked_on_first_use_fail_searches_and_never_answer_wrong() {
    use kyrodb_core::storage::segment_file::Checks;
    const D: usize = 128;
    let dir = tempfile::tempdir().unwrap();
    let rows = one_graph_segment(dir.path());
    let deferred = || OpenOptions { segment_checks: Checks::DeferLargeVectors(1), ..OpenOptions::default() };
    let every = || OpenOptions { segment_checks: Checks::All, ..OpenOptions::default() };
    let mut rng = StdRng::seed_from_u64(13);
    let queries: Vec<Vec<f32>> = (0..60).map(|_| (0..D).map(|_| rng.gen_range(-1.0f32..1.0)).collect()).collect();
    let params = kyrodb_core::SearchParams { k: 10, ..Default::default() };
    let search_all = |db: &Database| -> Vec<kyrodb_core::Result<Vec<u64>>> {
        let c = db.collection("v").unwrap();
        queries.iter().map(|q| c.search(q, &params).map(|h| h.ids)).collect()
    };
    // Intact, with deferred checks: the same answers as checking everything at open.
    let reference: Vec<Vec<u64>> = {
        let db = Database::open_with(Some(dir.path()), every()).unwrap();
        search_all(&db).into_iter().map(Result::unwrap).collect()
    };
    {
        let db = Database::open_with(Some(dir.path()), deferred()).unwrap();
        let got: Vec<Vec<u64>> = search_all(&db).into_iter().map(Result::unwrap).collect();
        assert_eq!(got, reference);
        db.verify().unwrap();
        db.close().unwrap();
    }

    let seg = files_in(dir.path()).into_iter().find(|p| p.extension().is_some_and(|e| e == "kseg")).unwrap();
    let intact = std::fs::read(&seg).unwrap();
    let at = |o: usize| u64::from_le_bytes(intact[o..o + 8].try_into().unwrap()) as usize;
    let (vectors_at, vectors_len) = (at(48), at(56));
    assert_eq!(vectors_len, 3000 * D * 4);
    let piece = 1usize << kyrodb_core::storage::segment_file::VECTOR_PIECE_SHIFT;
    let mut failed_searches = 0;
    for p in 0..vectors_len.div_ceil(piece) {
        // Damage a row of this piece that some query finds (rows are stored in graph order,
        // so the row's position is found from its vector): its first component becomes
        // 1e30, which would push it out of that query's answer if it were ever read.
        let rows_here = p * piece / (D * 4)..((p + 1) * piece).min(vectors_len) / (D * 4);
        let stored_row = |id: u64| -> usize {
            let v = &rows[id as usize * D..(id as usize + 1) * D];
            let as_bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            let section = &intact[vectors_at..vectors_at + vectors_len];
            (0..3000).find(|&r| section[r * D * 4..(r + 1) * D * 4] == as_bytes[..]).unwrap()
        };
        let damaged = reference
            .iter()
            .flatten()
            .map(|&id| (id, stored_row(id)))
            .find(|(_, r)| rows_here.contains(r))
            .unwrap_or_else(|| panic!("no answer row in piece {p}"));
        let offset = vectors_at + damaged.1 * D * 4;
        let mut bytes = intact.clone();
        bytes[offset..offset + 4].copy_from_slice(&1e30f32.to_le_bytes());
        std::fs::write(&seg, &bytes).unwrap();
        let damaged_row = damaged.0;

        // Checked at open, the damage is found at open.
        let e = Database::open_with(Some(dir.path()), every()).unwrap_err();
        assert_eq!(e.code(), "CORRUPTION", "piece {p}: {e}");

        // Deferred: the open succeeds; every answer is the intact one or CORRUPTION.
        let db = Database::open_with(Some(dir.path()), deferred()).unwrap();
        for (got, want) in search_all(&db).into_iter().zip(&reference) {
            match got {
                Ok(ids) => assert_eq!(&ids, want, "piece {p}: a search answered from damaged bytes"),
                Err(e) => {
                    assert_eq!(e.code(), "CORRUPTION", "piece {p}: {e}");
                    failed_searches += 1;
                }
            }
        }
        let c = db.collection("v").unwrap();
        let e = c.get(damaged_row).unwrap_err();
        assert_eq!(e.code(), "CORRUPTION", "piece {p}: reading the damaged row");
        assert!(
            e.to_string().contains(&format!("at offset {}", vectors_at + (offset - vectors_at) / piece * piece)),
            "{e}"
        );
        // Once found, the damage fails every read of the segment, and merges.
        assert_eq!(db.verify().unwrap_err().code(), "CORRUPTION");
        assert!(search_all(&db).iter().all(|r| r.as_ref().is_err_and(|e| e.code() == "CORRUPTION")));
        assert_eq!(c.get(0).unwrap_err().code(), "CORRUPTION");
        assert_eq!(c.compact(&mut |_, _| {}).unwrap_err().code(), "CORRUPTION");
        db.close().unwrap();
    }
    // The searches re-rank candidates from every piece: damage was met on the way (by a
    // search, or by the background sweep before it).
    assert!(failed_searches > 0);

    // Restored, everything is as before, and the failed merges changed nothing.
    std::fs::write(&seg, &intact).unwrap();
    let db = Database::open_with(Some(dir.path()), deferred()).unwrap();
    assert_eq!(search_all(&db).into_iter().map(Result::unwrap).collect::<Vec<_>>(), reference);
    let c = db.collection("v").unwrap();
    for id in [0u64, 1234, 2999] {
        assert_eq!(c.get(id).unwrap().unwrap().vector, rows[id as usize * D..(id as usize + 1) * D]);
    }
}

#[test]
fn salvage_opens_a_damaged_database_and_says_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    rich_database(dir.path());
    let wal = files_in(dir.path()).into_iter().rfind(|p| p.extension().is_some_and(|e| e == "wal")).unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    let mid = 40 + (bytes.len() - 40) / 3;
    bytes[mid] ^= 0x10;
    std::fs::write(&wal, &bytes).unwrap();
    assert_eq!(open(dir.path()).unwrap_err().code(), "CORRUPTION");
    let db = Database::open_with(Some(dir.path()), OpenOptions { salvage: true, ..OpenOptions::default() }).unwrap();
    assert!(db.recovery_report().iter().any(|r| r.contains("salvage")), "{:?}", db.recovery_report());
    db.collection("v").unwrap().upsert(&[1], vec![0.0; DIM], None).unwrap();
    db.close().unwrap();
    open(dir.path()).unwrap();
}

#[test]
fn snapshot_is_a_database_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let model = rich_database(dir.path());
    let db = open(dir.path()).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let dest = dest.path().join("copy");
    db.snapshot(&dest, &mut |_, _| {}).unwrap();
    db.collection("v").unwrap().delete(&(0..IDS).collect::<Vec<_>>()).unwrap();
    let copy = open(&dest).unwrap();
    matches(&copy, "v", &model, IDS).unwrap();
}

#[test]
fn background_flushes_and_merges_under_continuous_writes_lose_nothing_and_stay_few() {
    // Many small batches: background flushes and size-tiered merges run while writes keep
    // landing in the hot tier; a crash at the end must lose nothing acknowledged.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(6);
    let mut model = Model::new();
    let db = open(dir.path()).unwrap();
    let c = db.create_collection("v", config()).unwrap();
    for i in 0..400 {
        write_random_batch(&c, &mut rng, &mut model, IDS);
        if i % 10 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    let segments = c.stats().unwrap().segments.len();
    assert!(segments < 12, "size-tiered merging keeps the segment count small, got {segments}");
    db.crash_for_tests();
    let db = open(dir.path()).unwrap();
    matches(&db, "v", &model, IDS).unwrap();
}
