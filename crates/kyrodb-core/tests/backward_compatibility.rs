//! Databases written by older commits, in older on-disk formats, open with the current
//! code and give the answers the commit that wrote them gave.
//!
//! Each `tests/fixtures/<format>-v<N>/` holds `db/`, a database directory written by the
//! commit its README names (with `tests/fixtures/generator/gen_fixture.rs` built at that
//! commit), and `expected.json`, what that commit answered for it: collection counts, a
//! get of every id ever written (deleted ones absent), exact searches with and without a
//! filter (checked against brute force when generated), the key-value count and a get of
//! every key ever written. The directories hold segment files of the named format
//! version with and without a graph, deletion files, key-value runs, a manifest, and WAL
//! files with writes that were never flushed, so opening replays a log of that commit too.
//!
//! Every test works on a copy (opening writes: a lock, a new WAL file), checks the
//! answers, then flushes, compacts (rewriting every segment in the current format),
//! reopens and checks them again.

use kyrodb_core::vector::filter::Filter;
use kyrodb_core::{Database, SearchParams};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == ext)).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The fixture holds what it claims: segment files of `segment_version` (and no other),
/// deletion files, key-value runs (if `kv`), a manifest, and WAL frames past the header.
fn check_contents(db: &Path, segment_version: u32, kv: bool) {
    let segments = files_with(&db.join("seg"), "kseg");
    assert!(segments.len() >= 3, "graph and flat segments: {segments:?}");
    for s in &segments {
        let b = std::fs::read(s).unwrap();
        assert_eq!(&b[0..8], b"KYROSEG1");
        assert_eq!(le_u32(&b, 8), segment_version, "{} is format version {segment_version}", s.display());
    }
    let graphs = segments.iter().filter(|s| le_u32(&std::fs::read(s).unwrap(), 12) & 1 == 1).count();
    assert!(graphs >= 1 && graphs < segments.len(), "segments with and without a graph");
    assert!(!files_with(&db.join("seg"), "kdel").is_empty(), "deletion files");
    assert_eq!(!files_with(&db.join("seg"), "krun").is_empty(), kv, "key-value runs");
    let manifest = std::fs::read(db.join("MANIFEST")).unwrap();
    assert_eq!(&manifest[0..8], b"KYROMANI");
    let body: Value = serde_json::from_slice(&manifest[20..]).unwrap();
    assert_eq!(
        body.get("kv").is_some(),
        kv,
        "a manifest {} the key-value section",
        if kv { "with" } else { "without" }
    );
    let wal: u64 = files_with(&db.join("wal"), "wal").iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let wal = if wal == 0 {
        // WAL files may be named without an extension.
        std::fs::read_dir(db.join("wal")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
    } else {
        wal
    };
    assert!(wal > 40, "unflushed writes in the WAL ({wal} bytes)");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * (1.0 + a.abs().max(b.abs()))
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// Check every answer `expected` records against `db`; returns how many were checked.
fn check_answers(db: &Database, expected: &Value, label: &str) -> usize {
    let mut checked = 0;
    for (name, want) in expected["collections"].as_object().unwrap() {
        let c = db.collection(name).unwrap_or_else(|e| panic!("{label}: collection {name}: {e}"));
        assert_eq!(c.config().dimension as u64, want["dimension"].as_u64().unwrap(), "{label}: {name} dimension");
        assert_eq!(format!("{:?}", c.config().metric), want["metric"].as_str().unwrap(), "{label}: {name} metric");
        assert_eq!(c.count().unwrap() as u64, want["count"].as_u64().unwrap(), "{label}: {name} count");
        for g in want["gets"].as_array().unwrap() {
            let id = g["id"].as_u64().unwrap();
            let got = c.get(id).unwrap();
            if g["vector"].is_null() {
                assert!(got.is_none(), "{label}: {name} id {id} is absent, got {got:?}");
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("{label}: {name} id {id} is missing"));
            let want_v = f32s(&g["vector"]);
            assert_eq!(got.vector.len(), want_v.len());
            for (a, b) in got.vector.iter().zip(&want_v) {
                assert!((a - b).abs() <= 1e-6, "{label}: {name} id {id}: vector {:?}, expected {want_v:?}", got.vector);
            }
            let got_meta: Option<Value> = got.metadata.as_deref().map(|m| serde_json::from_str(m).unwrap());
            let want_meta: Option<Value> = g["metadata"].as_str().map(|m| serde_json::from_str(m).unwrap());
            assert_eq!(got_meta, want_meta, "{label}: {name} id {id} metadata");
            checked += 1;
        }
        for s in want["searches"].as_array().unwrap() {
            let query = f32s(&s["query"]);
            let k = s["k"].as_u64().unwrap() as usize;
            let filter = s["filter_tag"].as_str().map(|t| Filter::parse_json(&format!(r#"{{"tag":"{t}"}}"#)).unwrap());
            let ef = expected["search_ef"].as_u64().map(|e| e as usize);
            let params = SearchParams { k, ef, filter, with_metadata: false, with_vectors: false, cache: false };
            let hits = c.search(&query, &params).unwrap();
            let want_ids: Vec<u64> = s["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            assert_eq!(hits.ids, want_ids, "{label}: {name} search {s}");
            for (a, b) in hits.distances.iter().zip(f32s(&s["distances"])) {
                assert!(close(*a as f64, b as f64), "{label}: {name} distances {:?} for {s}", hits.distances);
            }
            checked += 1;
        }
    }
    let kv = &expected["kv"];
    if !kv.is_null() {
        let store = db.kv();
        assert_eq!(store.count().unwrap(), kv["count"].as_u64().unwrap(), "{label}: key-value count");
        for g in kv["gets"].as_array().unwrap() {
            let key = g["key"].as_u64().unwrap();
            let got = store.get(key).unwrap();
            match (g.get("str"), g.get("bytes")) {
                (Some(s), _) => {
                    let v = got.unwrap_or_else(|| panic!("{label}: key {key} is missing"));
                    assert_eq!(v.kind, kyrodb_core::kv::ValueKind::Str, "{label}: key {key}");
                    assert_eq!(std::str::from_utf8(&v.bytes).unwrap(), s.as_str().unwrap(), "{label}: key {key}");
                }
                (None, Some(b)) => {
                    let v = got.unwrap_or_else(|| panic!("{label}: key {key} is missing"));
                    assert_eq!(v.kind, kyrodb_core::kv::ValueKind::Bytes, "{label}: key {key}");
                    let want: Vec<u8> = b.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u8).collect();
                    assert_eq!(v.bytes, want, "{label}: key {key}");
                }
                (None, None) => assert!(got.is_none(), "{label}: key {key} is absent, got {got:?}"),
            }
            checked += 1;
        }
    }
    checked
}

fn check_fixture(name: &str, segment_version: u32, kv: bool) {
    let src = fixture(name);
    check_contents(&src.join("db"), segment_version, kv);
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(src.join("expected.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    copy_dir(&src.join("db"), &dir);

    let db = Database::open(Some(&dir)).unwrap_or_else(|e| panic!("{name}: open: {e}"));
    assert!(db.recovery_report().is_empty() || !db.recovery_report().iter().any(|r| r.contains("dropped")));
    let checked = check_answers(&db, &expected, &format!("{name} as written"));
    assert!(checked > 300, "{name}: {checked} answers checked");
    // The current code writes beside the old files (a flush: new manifest, WAL trimmed)...
    db.flush(&mut |_, _| {}).unwrap();
    check_answers(&db, &expected, &format!("{name} after flush"));
    db.close().unwrap();
    let db = Database::open(Some(&dir)).unwrap();
    check_answers(&db, &expected, &format!("{name} reopened after flush"));
    // ...and rewrites them all in the current format.
    db.compact(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    for s in files_with(&dir.join("seg"), "kseg") {
        let b = std::fs::read(&s).unwrap();
        assert_eq!(le_u32(&b, 8), 4, "{} rewritten in the current format", s.display());
    }
    let db = Database::open(Some(&dir)).unwrap();
    check_answers(&db, &expected, &format!("{name} reopened after compact"));
    db.close().unwrap();
}

#[test]
fn segment_format_v1_database_opens_and_answers() {
    check_fixture("segment-v1", 1, true);
}

#[test]
fn segment_format_v2_database_opens_and_answers() {
    check_fixture("segment-v2", 2, true);
}

#[test]
fn segment_format_v3_database_opens_and_answers() {
    check_fixture("segment-v3", 3, true);
}

#[test]
fn manifest_without_key_value_section_opens_and_answers() {
    check_fixture("manifest-v1-pre-kv", 1, false);
}
