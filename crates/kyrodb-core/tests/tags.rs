//! Tags: an opaque `u64` logged in the same WAL frame as a write (or the same manifest
//! write as a create or drop) and recovered with it, `Database::last_tag`; and
//! `Database::write_group`, several writes in one WAL group, each checked against the
//! state the writes before it left. The crash-point enumeration is `tag_crash_points.rs`.

mod common;

use common::durable::*;
use kyrodb_core::storage::wal;
use kyrodb_core::{CollectionWrite, Database, GroupOp, GroupWrite, KvWrite, ValueKind};
use std::path::Path;

fn upsert(collection: &str, ids: &[u64], tag: Option<u64>) -> GroupWrite {
    let vectors = ids.iter().flat_map(|&id| (0..DIM).map(move |j| (id * 10 + j as u64) as f32)).collect();
    GroupWrite {
        op: GroupOp::Collection {
            name: collection.into(),
            write: CollectionWrite::Upsert { ids: ids.to_vec(), vectors, metadata: None },
        },
        tag,
    }
}

fn delete(collection: &str, ids: &[u64], tag: Option<u64>) -> GroupWrite {
    GroupWrite {
        op: GroupOp::Collection { name: collection.into(), write: CollectionWrite::Delete { ids: ids.to_vec() } },
        tag,
    }
}

fn put(key: u64, value: &str, tag: Option<u64>) -> GroupWrite {
    GroupWrite { op: GroupOp::Kv(vec![KvWrite::Put(key, ValueKind::Str, value.as_bytes().to_vec())]), tag }
}

fn ok(results: Vec<kyrodb_core::Result<usize>>) -> Vec<usize> {
    results.into_iter().map(|r| r.expect("write")).collect()
}

fn wal_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn the_last_tag_survives_close_crash_flush_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), None);
    db.create_collection("v", config()).unwrap();
    assert_eq!(ok(db.write_group(vec![upsert("v", &[1, 2], Some(10)), put(5, "a", Some(11))]).unwrap()), vec![2, 1]);
    // An untagged write keeps the last tag.
    ok(db.write_group(vec![upsert("v", &[3], None)]).unwrap());
    assert_eq!(db.last_tag().unwrap(), Some(11));
    db.close().unwrap();

    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(11));
    ok(db.write_group(vec![delete("v", &[1], Some(12))]).unwrap());
    db.crash_for_tests();

    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(12));
    assert_eq!(db.collection("v").unwrap().count().unwrap(), 2);
    // A flush trims every WAL file: the manifest keeps the tag.
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    let covered = wal_files(dir.path());
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(12));
    assert!(covered.iter().all(|f| std::fs::metadata(f).map_or(true, |m| m.len() == wal::FILE_HEADER as u64)));
    // A tag alone (no data to flush) survives a flush too.
    ok(db.write_group(vec![GroupWrite { op: GroupOp::Tag, tag: Some(13) }]).unwrap());
    db.flush(&mut |_, _| {}).unwrap();
    db.crash_for_tests();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(13));
    db.close().unwrap();
}

#[test]
fn tagged_create_and_drop_record_the_tag_with_the_manifest_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    db.create_collection_tagged("a", config(), Some(1)).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(1));
    ok(db.write_group(vec![upsert("a", &[1], Some(2))]).unwrap());
    db.create_collection_tagged("b", config(), Some(3)).unwrap();
    db.crash_for_tests();
    let db = Database::open(Some(dir.path())).unwrap();
    // The manifest's tag (3, after the frame of 2) wins over the replayed frame's.
    assert_eq!(db.last_tag().unwrap(), Some(3));
    db.drop_collection_tagged("b", Some(4)).unwrap();
    // A refused create records no tag.
    assert_eq!(db.create_collection_tagged("a", config(), Some(5)).unwrap_err().code(), "ALREADY_EXISTS");
    db.crash_for_tests();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(4));
    assert!(db.collection("b").is_err());
    assert_eq!(db.collection("a").unwrap().count().unwrap(), 1);
    db.close().unwrap();
}

#[test]
fn a_group_checks_each_write_against_the_writes_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    db.create_collection("v", config()).unwrap();
    let mut named = config();
    named.id_type = kyrodb_core::IdType::String;
    db.create_collection("s", named).unwrap();
    let before = db.stats().wal;
    let out = db
        .write_group(vec![
            upsert("v", &[1, 2, 3], Some(1)),
            upsert("v", &[4], Some(2)),
            put(9, "x", Some(3)),
            // Sees ids 1 and 4 written above: both removed.
            delete("v", &[1, 4, 99], Some(4)),
            GroupWrite {
                op: GroupOp::Collection {
                    name: "s".into(),
                    write: CollectionWrite::UpsertNamed {
                        names: vec!["doc".into()],
                        vectors: vec![0.5; DIM],
                        metadata: None,
                    },
                },
                tag: Some(5),
            },
            GroupWrite {
                op: GroupOp::Collection {
                    name: "s".into(),
                    write: CollectionWrite::DeleteNamed { names: vec!["doc".into()] },
                },
                tag: Some(6),
            },
            GroupWrite { op: GroupOp::Kv(vec![KvWrite::Delete(9)]), tag: Some(7) },
        ])
        .unwrap();
    assert_eq!(ok(out), vec![3, 1, 1, 2, 1, 1, 1]);
    let wal = db.stats().wal;
    assert_eq!(wal.frames - before.frames, 7);
    // Three WAL groups: the deletes and the string-id upsert wait for what precedes them.
    assert!(wal.groups - before.groups <= 4, "{} groups", wal.groups - before.groups);
    let v = db.collection("v").unwrap();
    assert_eq!(v.count().unwrap(), 2);
    assert!(v.get(1).unwrap().is_none() && v.get(2).unwrap().is_some());
    assert_eq!(db.collection("s").unwrap().count().unwrap(), 0);
    assert!(db.kv().get(9).unwrap().is_none());
    assert_eq!(db.last_tag().unwrap(), Some(7));
    db.crash_for_tests();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.collection("v").unwrap().count().unwrap(), 2);
    assert_eq!(db.collection("s").unwrap().count().unwrap(), 0);
    assert_eq!(db.last_tag().unwrap(), Some(7));
    db.close().unwrap();
}

#[test]
fn a_refused_write_changes_nothing_but_records_its_tag() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    db.create_collection("v", config()).unwrap();
    let out = db
        .write_group(vec![
            upsert("v", &[1], Some(1)),
            upsert("missing", &[2], Some(2)),
            GroupWrite {
                op: GroupOp::Collection {
                    name: "v".into(),
                    write: CollectionWrite::Upsert { ids: vec![3], vectors: vec![1.0; DIM + 1], metadata: None },
                },
                tag: Some(3),
            },
        ])
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap(), &1);
    assert_eq!(out[1].as_ref().unwrap_err().code(), "NOT_FOUND");
    assert!(matches!(out[2].as_ref().unwrap_err().code(), "INVALID_ARGUMENT" | "DIMENSION_MISMATCH"));
    assert_eq!(db.last_tag().unwrap(), Some(3));
    // A delete of absent ids logs nothing but its tag.
    ok(db.write_group(vec![delete("v", &[77], Some(4))]).unwrap());
    assert_eq!(db.last_tag().unwrap(), Some(4));
    db.crash_for_tests();
    let db = Database::open(Some(dir.path())).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(4));
    assert_eq!(db.collection("v").unwrap().count().unwrap(), 1);
    db.close().unwrap();
}

#[test]
fn tags_need_a_directory_and_in_memory_groups_still_apply() {
    let db = Database::open(None).unwrap();
    db.create_collection("v", config()).unwrap();
    assert_eq!(db.write_group(vec![upsert("v", &[1], Some(1))]).unwrap_err().code(), "INVALID_ARGUMENT");
    assert_eq!(db.create_collection_tagged("w", config(), Some(1)).unwrap_err().code(), "INVALID_ARGUMENT");
    assert_eq!(ok(db.write_group(vec![upsert("v", &[1, 2], None), delete("v", &[1], None)]).unwrap()), vec![2, 1]);
    assert_eq!(db.collection("v").unwrap().count().unwrap(), 1);
    assert_eq!(db.last_tag().unwrap(), None);
}

#[test]
fn a_frame_with_unknown_flags_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    ok(db.write_group(vec![put(1, "a", Some(1))]).unwrap());
    db.close().unwrap();
    let f = wal_files(dir.path()).pop().unwrap();
    let mut b = std::fs::read(&f).unwrap();
    let at = wal::FILE_HEADER;
    assert_eq!(b[at + 5], wal::FLAG_TAGGED);
    b[at + 5] |= 0x80;
    let len = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let crc = crc32c::crc32c(&b[at..at + len - 4]);
    b[at + len - 4..at + len].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&f, b).unwrap();
    let e = Database::open(Some(dir.path())).unwrap_err();
    assert_eq!(e.code(), "CORRUPTION", "{e}");
    assert!(e.to_string().contains("unknown frame flags"), "{e}");
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_version_1_wal_is_replayed_and_continued_in_a_new_version_2_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    copy_dir(&fixture("segment-v1").join("db"), &dir);
    let old = wal_files(&dir);
    assert!(old.iter().all(|f| u32::from_le_bytes(std::fs::read(f).unwrap()[8..12].try_into().unwrap()) == 1));
    let db = Database::open(Some(&dir)).unwrap();
    assert_eq!(db.last_tag().unwrap(), None);
    let docs = db.collection("docs").unwrap().count().unwrap();
    let keys = db.kv().count().unwrap();
    ok(db.write_group(vec![put(1_000_000, "new", Some(42))]).unwrap());
    db.crash_for_tests();
    let files = wal_files(&dir);
    assert_eq!(files.len(), old.len() + 1, "{files:?}");
    let newest = std::fs::read(files.last().unwrap()).unwrap();
    assert_eq!(u32::from_le_bytes(newest[8..12].try_into().unwrap()), wal::VERSION);
    let db = Database::open(Some(&dir)).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(42));
    assert_eq!(db.collection("docs").unwrap().count().unwrap(), docs);
    assert_eq!(db.kv().count().unwrap(), keys + 1);
    db.close().unwrap();
}

/// A version 1 log whose last file holds no frames (what an older release leaves after a
/// flush) is replaced by a version 2 file of the same name, not listed twice: otherwise the
/// next trim deletes the live file and every write after it is lost at the next open.
#[test]
fn an_empty_version_1_wal_file_is_replaced_and_writes_after_a_flush_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    copy_dir(&fixture("segment-v1").join("db"), &dir);
    // Cut the fixture's last WAL file back to its header: a version 1 file without frames.
    let last = wal_files(&dir).pop().unwrap();
    let header = std::fs::read(&last).unwrap()[..wal::FILE_HEADER].to_vec();
    std::fs::write(&last, header).unwrap();
    let db = Database::open(Some(&dir)).unwrap();
    let keys = db.kv().count().unwrap();
    // A flush with nothing to rotate trims up to the current sequence number.
    db.flush(&mut |_, _| {}).unwrap();
    ok(db.write_group(vec![put(1_000_001, "after the flush", Some(43))]).unwrap());
    db.crash_for_tests();
    assert!(!wal_files(&dir).is_empty(), "the live WAL file was deleted");
    let db = Database::open(Some(&dir)).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(43));
    assert_eq!(db.kv().count().unwrap(), keys + 1);
    db.close().unwrap();
}

/// The fixture `tests/fixtures/wal-v2-tags/db` (written by [`write_wal_v2_fixture`]).
#[test]
fn the_version_2_fixture_with_tagged_frames_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    copy_dir(&fixture("wal-v2-tags").join("db"), &dir);
    let db = Database::open(Some(&dir)).unwrap();
    assert!(db.recovery_report().is_empty(), "{:?}", db.recovery_report());
    // Created with tag 1 (manifest), then frames tagged 2..=5, the last a refusal's.
    assert_eq!(db.last_tag().unwrap(), Some(5));
    let v = db.collection("v").unwrap();
    assert_eq!(v.count().unwrap(), 2);
    assert!(v.get(1).unwrap().is_none());
    assert_eq!(v.get(2).unwrap().unwrap().vector, (0..DIM).map(|j| (20 + j) as f32).collect::<Vec<_>>());
    assert_eq!(db.kv().get(7).unwrap().unwrap().bytes, b"seven");
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    let db = Database::open(Some(&dir)).unwrap();
    assert_eq!(db.last_tag().unwrap(), Some(5));
    assert_eq!(db.collection("v").unwrap().count().unwrap(), 2);
    db.close().unwrap();
}

/// Writes `tests/fixtures/wal-v2-tags/db` into `$KYRODB_FIXTURE_OUT` (run by hand with
/// `--ignored`; see `tests/fixtures/README.md`).
#[test]
#[ignore]
fn write_wal_v2_fixture() {
    let out = std::env::var("KYRODB_FIXTURE_OUT").expect("KYRODB_FIXTURE_OUT");
    let dir = Path::new(&out).join("db");
    let db = Database::open(Some(&dir)).unwrap();
    db.create_collection_tagged("v", config(), Some(1)).unwrap();
    ok(db.write_group(vec![upsert("v", &[1, 2, 3], Some(2)), put(7, "seven", Some(3))]).unwrap());
    let out = db.write_group(vec![delete("v", &[1], Some(4)), upsert("missing", &[1], Some(5))]).unwrap();
    assert!(out[1].is_err());
    db.crash_for_tests();
}
