//! Opening a collection reads its segments' stored id order and field index (segment
//! format 4) instead of parsing every row's metadata and building an id map: answers
//! after a reopen match the answers before it, lookups by id find rows in any segment,
//! and the stored index — not the rows' metadata — is what filters read.

mod common;

use common::*;
use kyrodb_core::storage::fuzzing::reseal_sectioned;
use kyrodb_core::storage::segment_file;
use kyrodb_core::vector::filter::Filter;
use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{CollectionConfig, Database, IndexConfig, Metric, SearchParams};
use std::path::Path;

const DIM: usize = 8;

/// Exact-only, so every search is exhaustive and answers compare exactly across
/// compactions (the graph is orthogonal to what is checked here: id order and index).
fn exact() -> CollectionConfig {
    CollectionConfig::exact(DIM, Metric::L2)
}

fn config() -> CollectionConfig {
    CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: DIM,
        metric: Metric::L2,
        index: Some(IndexConfig {
            params: BuildParams { m: 8, ef_construction: 40, ..BuildParams::default() },
            auto_build_rows: usize::MAX,
        }),
    }
}

/// Metadata of row `i`: strings, numbers (-0 included), booleans, null, arrays, nesting,
/// and every seventh row without any.
fn meta(i: u64) -> Option<String> {
    (!i.is_multiple_of(7)).then(|| {
        let page = if i.is_multiple_of(11) { "-0.0".to_string() } else { ((i % 40) as f64 / 4.0).to_string() };
        format!(
            r#"{{"source":"doc-{}","page":{page},"public":{},"tags":["t{}","t{}"],"nested":{{"level":{}}},"maybe":{}}}"#,
            i % 13,
            i.is_multiple_of(3),
            i % 5,
            i % 4,
            i % 6,
            if i.is_multiple_of(2) { "null".to_string() } else { format!("\"x{}\"", i % 3) }
        )
    })
}

const FILTERS: &[&str] = &[
    "public == TRUE",
    "source == 'doc-3' OR source == 'doc-7'",
    "page >= 2.5 AND page < 7",
    "page == 0",
    "tags IN ['t1', 't3'] AND NOT (public == TRUE)",
    "nested.level > 3",
    "maybe == NULL",
    "maybe NOT EXISTS",
    "EXISTS(source) AND source != 'doc-0'",
];

/// Every answer a reopen must keep: per filter the full ranked result of an exhaustive
/// search, and every id's stored vector and metadata.
fn answers(db: &Database, ids: &[u64]) -> Vec<String> {
    let c = db.collection("docs").unwrap();
    let mut out = vec![format!("count {}", c.count().unwrap())];
    let q = vec![0.25f32; DIM];
    for text in FILTERS {
        let filter = Filter::parse_json(&serde_json::to_string(text).unwrap()).unwrap();
        let p = SearchParams {
            k: 500,
            ef: Some(5000),
            filter: Some(filter),
            with_metadata: true,
            ..SearchParams::default()
        };
        let hits = c.search(&q, &p).unwrap();
        out.push(format!("{text}: {:?} {:?}", hits.ids, hits.metadata));
    }
    for &id in ids {
        out.push(format!("{id}: {:?}", c.get(id).unwrap()));
    }
    out
}

/// The answer lists are equal (the first difference is reported, not both lists).
fn same(got: &[String], want: &[String], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    if let Some((g, w)) = got.iter().zip(want).find(|(g, w)| g != w) {
        panic!("{what}: got\n{g}\nwanted\n{w}");
    }
}

fn seg_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("seg"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kseg"))
        .collect();
    v.sort();
    v
}

/// Three segments with replacements and deletes
/// across them, and a hot tier left in the WAL.
fn populate(dir: &Path) -> Vec<u64> {
    let db = Database::open(Some(dir)).unwrap();
    let c = db.create_collection("docs", exact()).unwrap();
    let data = clustered(3000, DIM, 12, 5);
    let ids: Vec<u64> = (0..3000u64).map(|i| i * 7919 % 100_003).collect();
    c.upsert(&ids[..2500], data[..2500 * DIM].to_vec(), Some(ids[..2500].iter().map(|&i| meta(i)).collect())).unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    // Replace some rows of the first segment, add new ones: a second segment.
    let replaced: Vec<u64> = ids[..2500].iter().copied().step_by(9).collect();
    let vectors: Vec<f32> = replaced.iter().flat_map(|&i| vec![(i % 97) as f32 / 10.0; DIM]).collect();
    c.upsert(&replaced, vectors, Some(replaced.iter().map(|&i| meta(i + 1)).collect())).unwrap();
    c.upsert(
        &ids[2500..2800],
        data[2500 * DIM..2800 * DIM].to_vec(),
        Some(ids[2500..2800].iter().map(|&i| meta(i)).collect()),
    )
    .unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    // Deletes in both segments, a third segment, then writes only in the WAL.
    let deleted: Vec<u64> = ids[..2800].iter().copied().step_by(13).collect();
    c.delete(&deleted).unwrap();
    c.upsert(
        &ids[2800..2900],
        data[2800 * DIM..2900 * DIM].to_vec(),
        Some(ids[2800..2900].iter().map(|&i| meta(i)).collect()),
    )
    .unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    c.upsert(&ids[2900..], data[2900 * DIM..].to_vec(), Some(ids[2900..].iter().map(|&i| meta(i)).collect())).unwrap();
    c.delete(&ids[2890..2895]).unwrap();
    assert_eq!(c.stats().unwrap().segments.len(), 3);
    db.close().unwrap();
    let mut all = ids.clone();
    all.extend([1, 100_002, 5_000_000]); // never written
    all
}

#[test]
fn reopen_answers_as_before_from_the_stored_id_order_and_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let ids = populate(&dir);
    for f in seg_files(&dir) {
        let b = std::fs::read(&f).unwrap();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), 4, "{} is format 4", f.display());
    }
    let db = Database::open(Some(&dir)).unwrap();
    let before = answers(&db, &ids);
    // Writes after the reopen find their earlier versions through the segments' id order.
    let c = db.collection("docs").unwrap();
    let n = c.count().unwrap();
    let touched: Vec<u64> = ids[..3000].iter().copied().step_by(17).collect();
    let absent = touched.iter().filter(|&&i| c.get(i).unwrap().is_none()).count();
    assert!(absent > 0 && absent < touched.len());
    c.upsert(&touched, vec![1.5; touched.len() * DIM], None).unwrap();
    assert_eq!(c.count().unwrap(), n + absent);
    for &id in &touched {
        let got = c.get(id).unwrap().expect("replaced id present");
        assert_eq!((got.vector, got.metadata), (vec![1.5; DIM], None), "id {id}");
    }
    let removed = c.delete(&touched).unwrap();
    assert_eq!(removed, touched.len());
    assert!(touched.iter().all(|&i| c.get(i).unwrap().is_none()));
    db.close().unwrap();
    let db = Database::open(Some(&dir)).unwrap();
    let after: Vec<String> = answers(&db, &ids);
    // Every untouched id reads back as before the writes; the touched ones are gone.
    for (b, a) in before.iter().zip(&after).skip(1 + FILTERS.len()) {
        let id: u64 = b.split(':').next().unwrap().parse().unwrap();
        if touched.contains(&id) {
            assert_eq!(*a, format!("{id}: None"));
        } else {
            assert_eq!(a, b);
        }
    }
    // Compaction rewrites every segment (new id orders and indexes): same answers.
    db.compact(&mut |_, _| {}).unwrap();
    same(&answers(&db, &ids), &after, "after compaction");
    db.close().unwrap();
    let db = Database::open(Some(&dir)).unwrap();
    same(&answers(&db, &ids), &after, "reopened after compaction");
    db.verify().unwrap();
    db.close().unwrap();
}

/// Filters read the stored index: a row whose stored metadata text was replaced (same
/// length, checksums resealed) keeps matching what it held when the segment was written,
/// and returns the replaced text. Opening parsed no metadata, or it would have indexed
/// the new text (or refused it: it is not JSON).
#[test]
fn filters_read_the_stored_index_not_the_rows_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Database::open(Some(&dir)).unwrap();
    let c = db.create_collection("docs", config()).unwrap();
    let ids: Vec<u64> = (0..100).collect();
    let metas: Vec<Option<String>> = ids.iter().map(|i| Some(format!(r#"{{"kind":"k{}"}}"#, i % 10))).collect();
    c.upsert(&ids, clustered(100, DIM, 3, 1), Some(metas)).unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    let file = seg_files(&dir).pop().unwrap();
    let mut b = std::fs::read(&file).unwrap();
    let at = b.windows(13).position(|w| w == br#"{"kind":"k3"}"#).expect("row 3's metadata");
    b[at..at + 13].copy_from_slice(b"not json!! ;)");
    reseal_sectioned(&mut b);
    std::fs::write(&file, &b).unwrap();

    let db = Database::open(Some(&dir)).unwrap();
    let c = db.collection("docs").unwrap();
    let filter = Filter::parse_json(r#"{"kind":"k3"}"#).unwrap();
    let p = SearchParams { k: 100, filter: Some(filter), with_metadata: true, ..SearchParams::default() };
    let mut hits = c.search(&[0.0; DIM], &p).unwrap().ids;
    hits.sort();
    assert_eq!(hits, vec![3, 13, 23, 33, 43, 53, 63, 73, 83, 93]);
    let changed: Vec<u64> = hits
        .iter()
        .copied()
        .filter(|&i| c.get(i).unwrap().unwrap().metadata.as_deref() == Some("not json!! ;)"))
        .collect();
    assert_eq!(changed.len(), 1, "exactly the rewritten row returns the new text");
    db.close().unwrap();
}

/// A segment of format 3 (no stored id order or index) written by the last commit that
/// wrote it opens, answers, and is rewritten in format 4 by compaction: covered with
/// every answer in `tests/backward_compatibility.rs` (fixture `segment-v3`). Here: a v4
/// file whose id order names rows out of order, or past the segment, is `CORRUPTION`
/// naming the entry.
#[test]
fn damaged_id_order_is_corruption_naming_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    populate(&dir);
    let file = seg_files(&dir).remove(0);
    let good = std::fs::read(&file).unwrap();
    let section = |b: &[u8], i: usize| u64::from_le_bytes(b[48 + i * 24..56 + i * 24].try_into().unwrap()) as usize;
    let open = |b: &[u8]| {
        let p = tmp.path().join(segment_file::file_name(77));
        std::fs::write(&p, b).unwrap();
        segment_file::open(&p, DIM, Metric::L2, segment_file::Checks::All).map(|_| ())
    };
    assert!(open(&good).is_ok());
    // Sorted id 100 made smaller than id 99.
    let mut b = good.clone();
    let at = section(&b, 11) + 100 * 8;
    b[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    reseal_sectioned(&mut b);
    let e = open(&b).unwrap_err().to_string();
    assert!(e.contains(&format!("sorted ids out of order at offset {at}")), "{e}");
    // Row of sorted id 42 past the segment.
    let mut b = good.clone();
    let at = section(&b, 12) + 42 * 4;
    b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal_sectioned(&mut b);
    let e = open(&b).unwrap_err().to_string();
    assert!(e.contains(&format!("row past the segment at offset {at}")), "{e}");
    // The field index's row count.
    let mut b = good.clone();
    let at = section(&b, 13);
    b[at] ^= 1;
    reseal_sectioned(&mut b);
    let e = open(&b).unwrap_err().to_string();
    assert!(e.contains("field index") && e.contains(&format!("at offset {at}")), "{e}");
}

/// Opening trusts the checkpoints' invariant that an id is live in one segment at most
/// (checking it would cost a lookup per row); `verify` checks it. Here a deletion bitmap
/// is cleared (checksum resealed) so a replaced row comes back to life beside its
/// replacement.
#[test]
fn verify_finds_an_id_live_in_two_segments() {
    use kyrodb_core::storage::fuzzing::reseal_deletes;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Database::open(Some(&dir)).unwrap();
    let c = db.create_collection("docs", exact()).unwrap();
    c.upsert(&[1, 2, 3], vec![0.5; 3 * DIM], None).unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    c.upsert(&[2], vec![0.7; DIM], None).unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    db.verify().unwrap();
    db.close().unwrap();
    let del: Vec<_> = std::fs::read_dir(dir.join("seg"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdel"))
        .collect();
    assert_eq!(del.len(), 1, "one deletion bitmap: the first segment's");
    let mut b = std::fs::read(&del[0]).unwrap();
    b[32..].fill(0);
    reseal_deletes(&mut b);
    std::fs::write(&del[0], &b).unwrap();
    let db = Database::open(Some(&dir)).unwrap();
    let e = db.verify().unwrap_err();
    assert!(matches!(e, kyrodb_core::Error::Corruption(_)) && e.to_string().contains("id 2 is live"), "{e}");
    db.close().unwrap();
}
