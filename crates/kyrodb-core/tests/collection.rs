//! Collections: exact search against a brute-force oracle, the validation rules, and the
//! rule that a failed call changes nothing.

use kyrodb_core::vector::MAX_K;
use kyrodb_core::{CollectionConfig, Database, Error, Metric, SearchParams};
use rand::{Rng, SeedableRng};

fn db() -> Database {
    Database::open(None).expect("open")
}

fn oracle(metric: Metric, data: &[(u64, Vec<f32>)], q: &[f32], k: usize) -> Vec<(u64, f64)> {
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let mut all: Vec<(u64, f64)> = data
        .iter()
        .map(|(id, v)| {
            let d = match metric {
                Metric::L2 => v.iter().zip(q).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum(),
                Metric::InnerProduct => 1.0 - v.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>(),
                Metric::Cosine => {
                    1.0 - v.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() / (norm(v) * norm(q))
                }
            };
            (*id, d)
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

#[test]
fn exact_search_matches_brute_force_for_every_metric() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        for dim in [1usize, 3, 16, 100, 129] {
            let db = db();
            let c = db.create_collection("c", CollectionConfig::exact(dim, metric)).expect("create");
            let data: Vec<(u64, Vec<f32>)> =
                (0..500u64).map(|i| (i * 7 + 3, (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect())).collect();
            let ids: Vec<u64> = data.iter().map(|d| d.0).collect();
            let flat: Vec<f32> = data.iter().flat_map(|d| d.1.clone()).collect();
            c.upsert(&ids, flat, None).expect("upsert");
            let queries: Vec<f32> = (0..20 * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let batch = c.search_batch(&queries, &SearchParams::top(10)).expect("batch");
            for (qi, q) in queries.chunks(dim).enumerate() {
                let hits = c.search(q, &SearchParams::top(10)).expect("search");
                assert_eq!(hits, batch[qi], "batch and single search agree");
                let want = oracle(metric, &data, q, 10);
                // Ids agree except where two distances are within float noise of each other.
                for (i, (id, d)) in want.iter().enumerate() {
                    assert!((hits.distances[i] as f64 - d).abs() < 1e-4, "{metric:?} dim {dim}: distance {i}");
                    if i + 1 < want.len()
                        && (want[i + 1].1 - d).abs() > 1e-4
                        && (i == 0 || (d - want[i - 1].1).abs() > 1e-4)
                    {
                        assert_eq!(hits.ids[i], *id, "{metric:?} dim {dim}: rank {i}");
                    }
                }
            }
        }
    }
}

#[test]
fn ties_are_broken_by_smaller_id() {
    let db = db();
    let c = db.create_collection("t", CollectionConfig::exact(2, Metric::L2)).expect("create");
    // Four points at the same distance from the origin, inserted in scrambled id order.
    c.upsert(&[40, 10, 30, 20], vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0], None).expect("upsert");
    let hits = c.search(&[0.0, 0.0], &SearchParams::top(3)).expect("search");
    assert_eq!(hits.ids, vec![10, 20, 30]);
    assert_eq!(hits.distances, vec![1.0, 1.0, 1.0]);
}

#[test]
fn batch_search_splits_rows_when_there_are_few_queries() {
    // 2 queries over 50k rows takes the split-by-rows path; it must equal the single scan.
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let db = db();
    let c = db.create_collection("big", CollectionConfig::exact(8, Metric::L2)).expect("create");
    let n = 50_000u64;
    let ids: Vec<u64> = (0..n).collect();
    let flat: Vec<f32> = (0..n as usize * 8).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    c.upsert(&ids, flat, None).expect("upsert");
    let queries: Vec<f32> = (0..16).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let batch = c.search_batch(&queries, &SearchParams::top(25)).expect("batch");
    for (i, q) in queries.chunks(8).enumerate() {
        assert_eq!(batch[i], c.search(q, &SearchParams::top(25)).expect("search"));
    }
}

#[test]
fn upsert_replaces_and_delete_keeps_rows_consistent() {
    let db = db();
    let c = db.create_collection("u", CollectionConfig::exact(1, Metric::L2)).expect("create");
    c.upsert(&[1, 2, 3, 4], vec![1.0, 2.0, 3.0, 4.0], None).expect("upsert");
    c.upsert(&[2], vec![20.0], Some(vec![Some(r#"{"v":2}"#.into())])).expect("replace");
    assert_eq!(c.count().expect("count"), 4);
    let got = c.get(2).expect("get").expect("present");
    assert_eq!(got.vector, vec![20.0]);
    assert_eq!(got.metadata.as_deref(), Some(r#"{"v":2}"#));
    // Delete the first row; the others must stay findable.
    assert_eq!(c.delete(&[1, 1, 99]).expect("delete"), 1);
    assert_eq!(c.count().expect("count"), 3);
    assert_eq!(c.get(4).expect("get").expect("moved row").vector, vec![4.0]);
    assert_eq!(c.search(&[4.1], &SearchParams::top(1)).expect("search").ids, vec![4]);
    assert!(c.get(1).expect("get").is_none());
    assert_eq!(c.delete(&[2, 3, 4]).expect("delete"), 3);
    assert_eq!(c.count().expect("count"), 0);
    assert!(c.search(&[0.0], &SearchParams::top(5)).expect("search").ids.is_empty());
}

#[test]
fn failed_upserts_change_nothing() {
    let db = db();
    let c = db.create_collection("f", CollectionConfig::exact(2, Metric::Cosine)).expect("create");
    c.upsert(&[1], vec![1.0, 0.0], None).expect("upsert");
    let before = (c.count().expect("count"), c.get(1).expect("get"));
    // (ids, vectors, metadata, expected error code)
    type Case<'a> = (Vec<u64>, Vec<f32>, Option<Vec<Option<String>>>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![1, 2], vec![0.0, 1.0, f32::NAN, 0.0], None, "INVALID_ARGUMENT"),
        (vec![1, 2], vec![0.0, 1.0, f32::INFINITY, 0.0], None, "INVALID_ARGUMENT"),
        (vec![1, 2], vec![0.0, 1.0, 0.0, 0.0], None, "INVALID_ARGUMENT"), // zero vector under cosine
        (vec![1, 2], vec![0.0, 1.0, 1.0], None, "DIMENSION_MISMATCH"),
        (vec![1, 2], vec![0.0, 1.0], None, "INVALID_ARGUMENT"),
        (vec![2, 2], vec![0.0, 1.0, 1.0, 0.0], None, "INVALID_ARGUMENT"),
        (vec![1, 2], vec![0.0, 1.0, 1.0, 0.0], Some(vec![None]), "INVALID_ARGUMENT"),
        (vec![1, 2], vec![0.0, 1.0, 1.0, 0.0], Some(vec![None, Some("[1]".into())]), "INVALID_ARGUMENT"),
        (vec![1, 2], vec![0.0, 1.0, 1.0, 0.0], Some(vec![None, Some("{".into())]), "INVALID_ARGUMENT"),
    ];
    for (ids, vectors, meta, code) in cases {
        let err = c.upsert(&ids, vectors, meta).expect_err("must fail");
        assert_eq!(err.code(), code, "{err}");
        assert_eq!((c.count().expect("count"), c.get(1).expect("get")), before, "unchanged after {err}");
    }
}

#[test]
fn search_arguments_are_checked() {
    let db = db();
    let c = db.create_collection("s", CollectionConfig::exact(2, Metric::Cosine)).expect("create");
    c.upsert(&[1], vec![1.0, 0.0], None).expect("upsert");
    assert_eq!(c.search(&[1.0, 0.0], &SearchParams::top(0)).expect_err("k=0").code(), "INVALID_ARGUMENT");
    assert_eq!(c.search(&[1.0, 0.0], &SearchParams::top(MAX_K + 1)).expect_err("k too big").code(), "INVALID_ARGUMENT");
    assert_eq!(c.search(&[1.0], &SearchParams::top(1)).expect_err("dim").code(), "DIMENSION_MISMATCH");
    assert_eq!(c.search(&[0.0, 0.0], &SearchParams::top(1)).expect_err("zero").code(), "INVALID_ARGUMENT");
    assert_eq!(c.search(&[f32::NAN, 0.0], &SearchParams::top(1)).expect_err("nan").code(), "INVALID_ARGUMENT");
    assert_eq!(
        c.search_batch(&[1.0, 0.0, 1.0], &SearchParams::top(1)).expect_err("ragged").code(),
        "DIMENSION_MISMATCH"
    );
    assert_eq!(c.search(&[1.0, 0.0], &SearchParams::top(MAX_K)).expect("k = max").ids, vec![1]);
}

#[test]
fn database_lifecycle_and_names() {
    let db = db();
    let cfg = CollectionConfig::exact(4, Metric::L2);
    for bad in ["", "../x", "a\0b", "has space", "ü", &"x".repeat(65)] {
        assert_eq!(db.create_collection(bad, cfg).expect_err(bad).code(), "INVALID_ARGUMENT");
    }
    assert_eq!(
        db.create_collection("ok", CollectionConfig::exact(0, Metric::L2)).expect_err("dim 0").code(),
        "INVALID_ARGUMENT"
    );
    let b = db.create_collection("b", cfg).expect("b");
    db.create_collection(&"a".repeat(64), cfg).expect("64 chars is fine");
    assert_eq!(db.create_collection("b", cfg).expect_err("dup").code(), "ALREADY_EXISTS");
    assert_eq!(db.list_collections().expect("list").iter().map(|c| c.name.len()).collect::<Vec<_>>(), vec![64, 1]);
    db.drop_collection("b").expect("drop");
    assert_eq!(b.count().expect_err("dropped handle"), Error::NotFound("collection 'b' was dropped".into()));
    assert_eq!(db.collection("b").expect_err("gone").code(), "NOT_FOUND");
    assert_eq!(db.drop_collection("b").expect_err("gone").code(), "NOT_FOUND");
    let c = db.collection(&"a".repeat(64)).expect("lookup");
    db.close().unwrap();
    db.close().unwrap();
    assert_eq!(c.count().expect_err("closed"), Error::Closed);
    assert_eq!(db.collection("x").expect_err("closed"), Error::Closed);
    assert_eq!(db.create_collection("x", cfg).expect_err("closed"), Error::Closed);
}

#[test]
fn concurrent_readers_and_writers_make_progress() {
    let db = std::sync::Arc::new(db());
    let c = db.create_collection("cc", CollectionConfig::exact(4, Metric::L2)).expect("create");
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let c = c.clone();
            s.spawn(move || {
                for i in 0..200u64 {
                    let id = t * 1000 + i;
                    c.upsert(&[id], vec![id as f32; 4], None).expect("upsert");
                    if i % 3 == 0 {
                        c.delete(&[id]).expect("delete");
                    }
                }
            });
        }
        for _ in 0..2 {
            let c = c.clone();
            s.spawn(move || {
                for _ in 0..200 {
                    let hits = c.search(&[5.0; 4], &SearchParams::top(5)).expect("search");
                    assert!(hits.distances.windows(2).all(|w| w[0] <= w[1]));
                }
            });
        }
    });
    assert_eq!(c.count().expect("count"), 2 * (200 - 67));
}
