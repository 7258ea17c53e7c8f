//! Collections with graph segments: recall floors against brute force, deletes and
//! updates across segments, builds racing with writes, automatic builds, filters.

mod common;

use common::*;
use kyrodb_core::vector::collection::DEFAULT_AUTO_BUILD_ROWS;
use kyrodb_core::vector::filter::Filter;
use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{CollectionConfig, Database, IndexConfig, Metric, SearchParams};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Arc;

fn config(dim: usize, metric: Metric, auto: usize) -> CollectionConfig {
    CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: dim,
        metric,
        index: Some(IndexConfig { params: BuildParams::default(), auto_build_rows: auto }),
    }
}

fn ids(n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| i * 3 + 1).collect()
}

#[test]
fn tiny_collections_have_perfect_recall() {
    let db = Database::open(None).expect("open");
    for (i, n) in [1usize, 2, 10, 99, 500].into_iter().enumerate() {
        let dim = 8;
        let c =
            db.create_collection(&format!("t{i}"), config(dim, Metric::L2, DEFAULT_AUTO_BUILD_ROWS)).expect("create");
        let all = clustered(n + 20, dim, 5, i as u64);
        let (data, queries) = all.split_at(n * dim);
        c.upsert(&ids(n), data.to_vec(), None).expect("upsert");
        c.build_index(&mut |_, _| {}).expect("build");
        assert_eq!(c.stats().expect("stats").segments.len(), 1);
        for q in queries.chunks_exact(dim) {
            let found = c.search(q, &SearchParams::top(10)).expect("search").ids;
            let truth: Vec<u64> =
                brute_force(Metric::L2, data, dim, q, 10).into_iter().map(|r| r as u64 * 3 + 1).collect();
            assert_eq!(found, truth, "n = {n}");
        }
    }
}

#[test]
fn graph_segment_recall_deletes_and_updates() {
    let db = Database::open(None).expect("open");
    let dim = 32;
    let n = 12_000;
    let c = db.create_collection("g", config(dim, Metric::L2, usize::MAX)).expect("create");
    let all = clustered(n + 200, dim, 50, 9);
    let (data, queries) = all.split_at(n * dim);
    let idv = ids(n);
    c.upsert(&idv, data.to_vec(), None).expect("upsert");
    let mut progress = Vec::new();
    c.build_index(&mut |d, t| progress.push((d, t))).expect("build");
    assert_eq!(progress.last(), Some(&(n, n)), "progress reaches the total");
    let stats = c.stats().expect("stats");
    assert_eq!((stats.count, stats.hot_rows, stats.segments.len()), (n, 0, 1));
    assert!(stats.segments[0].2, "large segment has a graph");

    let recall_now = |live: &HashMap<u64, Vec<f32>>| {
        let flat: Vec<f32> = live.values().flatten().copied().collect();
        let keys: Vec<u64> = live.keys().copied().collect();
        let mut total = 0.0;
        for q in queries.chunks_exact(dim) {
            let hits = c.search(q, &SearchParams::top(10)).expect("search").ids;
            assert!(hits.iter().all(|id| live.contains_key(id)), "a dead id came back");
            let truth: Vec<usize> = brute_force(Metric::L2, &flat, dim, q, 10);
            let truth_ids: Vec<u64> = truth.iter().map(|&r| keys[r]).collect();
            total += truth_ids.iter().filter(|t| hits.contains(t)).count() as f64 / 10.0;
        }
        total / (queries.len() / dim) as f64
    };
    let mut live: HashMap<u64, Vec<f32>> =
        idv.iter().zip(data.chunks_exact(dim)).map(|(&i, v)| (i, v.to_vec())).collect();
    let r0 = recall_now(&live);
    println!("recall@10 after build: {r0:.4}");
    assert!(r0 >= 0.95);

    // Delete a random 10%.
    let mut rng = StdRng::seed_from_u64(3);
    let gone: Vec<u64> = idv.iter().copied().filter(|_| rng.gen_bool(0.1)).collect();
    assert_eq!(c.delete(&gone).expect("delete"), gone.len());
    gone.iter().for_each(|g| {
        live.remove(g);
    });
    let r1 = recall_now(&live);
    println!("recall@10 after deleting 10%: {r1:.4}");
    assert!(r1 >= 0.95);

    // Update some ids: the new vector lands in the hot tier and must win.
    let moved: Vec<u64> = live.keys().copied().take(50).collect();
    let target = queries[..dim].to_vec();
    for (i, id) in moved.iter().enumerate() {
        let v: Vec<f32> = target.iter().map(|x| x + i as f32 * 1e-3).collect();
        c.upsert(&[*id], v.clone(), None).expect("update");
        live.insert(*id, v);
    }
    assert_eq!(c.count().expect("count"), live.len());
    let hits = c.search(&target, &SearchParams::top(10)).expect("search").ids;
    assert!(hits.iter().all(|h| moved.contains(h)), "updated vectors are found: {hits:?}");
    // And again after a rebuild moves them into the segment.
    c.build_index(&mut |_, _| {}).expect("rebuild");
    assert_eq!(c.stats().expect("stats").hot_rows, 0);
    assert_eq!(c.search(&target, &SearchParams::top(10)).expect("search").ids, hits);
    for id in moved.iter().chain(gone.iter().take(5)) {
        assert_eq!(c.get(*id).expect("get").map(|s| s.vector), live.get(id).cloned());
    }
}

#[test]
fn writes_racing_a_build_are_never_lost() {
    let db = Database::open(None).expect("open");
    let dim = 8;
    let c = db.create_collection("race", config(dim, Metric::L2, usize::MAX)).expect("create");
    let base = clustered(6_000, dim, 10, 11);
    c.upsert(&(0..6_000).collect::<Vec<u64>>(), base.clone(), None).expect("upsert");
    let writer = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || {
            let mut model: HashMap<u64, Option<f32>> = HashMap::new();
            let mut rng = StdRng::seed_from_u64(5);
            for step in 0..3_000u64 {
                let id = rng.gen_range(0..8_000u64);
                if rng.gen_bool(0.3) {
                    c.delete(&[id]).expect("delete");
                    model.insert(id, None);
                } else {
                    let x = step as f32;
                    c.upsert(&[id], vec![x; dim], None).expect("upsert");
                    model.insert(id, Some(x));
                }
            }
            model
        })
    };
    c.build_index(&mut |_, _| {}).expect("build");
    let model = writer.join().expect("writer");
    c.build_index(&mut |_, _| {}).expect("second build");
    let mut expected = 6_000usize;
    for (id, state) in &model {
        let got = c.get(*id).expect("get");
        match state {
            Some(x) => assert_eq!(got.map(|s| s.vector), Some(vec![*x; dim]), "id {id}"),
            None => assert!(got.is_none(), "deleted id {id} still present"),
        }
        let existed = *id < 6_000;
        match (existed, state.is_some()) {
            (true, false) => expected -= 1,
            (false, true) => expected += 1,
            _ => {}
        }
    }
    assert_eq!(c.count().expect("count"), expected);
    // Search never returns an id twice.
    let hits = c.search(&[1000.0; 8], &SearchParams::top(100)).expect("search").ids;
    let mut uniq = hits.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), hits.len());
}

#[test]
fn automatic_builds_move_rows_into_segments() {
    let db = Database::open(None).expect("open");
    let dim = 8;
    let c = db.create_collection("auto", config(dim, Metric::L2, 2_500)).expect("create");
    let data = clustered(10_000, dim, 10, 13);
    for (i, chunk) in data.chunks(1_000 * dim).enumerate() {
        let ids: Vec<u64> = (i as u64 * 1_000..(i as u64 + 1) * 1_000).collect();
        c.upsert(&ids, chunk.to_vec(), None).expect("upsert");
    }
    // Wait for the background builds to catch up.
    for _ in 0..600 {
        let s = c.stats().expect("stats");
        if s.hot_rows < 2_500 && !s.segments.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let s = c.stats().expect("stats");
    assert!(!s.segments.is_empty(), "a background build ran: {s:?}");
    assert_eq!(s.count, 10_000);
    assert_eq!(s.hot_rows + s.segments.iter().map(|x| x.1).sum::<usize>(), 10_000);
    for id in [0u64, 4_321, 9_999] {
        let v = c.get(id).expect("get").expect("present").vector;
        assert_eq!(v, data[id as usize * dim..(id as usize + 1) * dim].to_vec());
    }
}

#[test]
fn filtered_search_is_exact_about_membership_and_count() {
    let db = Database::open(None).expect("open");
    let dim = 16;
    let n = 8_000;
    let c = db.create_collection("f", config(dim, Metric::L2, usize::MAX)).expect("create");
    let all = clustered(n + 50, dim, 20, 17);
    let (data, queries) = all.split_at(n * dim);
    let meta: Vec<Option<String>> = (0..n)
        .map(|i| {
            let cat = ["science", "art", "sport", "news"][i % 4];
            Some(format!(
                r#"{{"category":"{cat}","year":{},"rare":{},"tags":["t{}","all"]}}"#,
                1990 + i % 35,
                i % 100 == 0,
                i % 7
            ))
        })
        .collect();
    let idv: Vec<u64> = (0..n as u64).collect();
    c.upsert(&idv, data.to_vec(), Some(meta.clone())).expect("upsert");
    // Half in the segment, half in the hot tier: both paths are exercised.
    c.build_index(&mut |_, _| {}).expect("build");
    let extra: Vec<u64> = (n as u64..n as u64 + 500).collect();
    let extra_meta: Vec<Option<String>> =
        extra.iter().map(|i| Some(format!(r#"{{"category":"science","year":{}}}"#, 2000 + i % 30))).collect();
    c.upsert(&extra, clustered(500, dim, 20, 18), Some(extra_meta)).expect("hot rows");

    let cases = [
        (r#"{"category":"science","year":{"$gte":2020}}"#, r#""category == 'science' AND year >= 2020""#),
        (r#"{"rare":true}"#, r#""rare == true""#),
        (r#"{"tags":"t3"}"#, r#""tags == 't3'""#),
        (r#"{"$or":[{"category":"art"},{"year":{"$lt":1992}}]}"#, r#""category == 'art' OR year < 1992""#),
        (
            r#"{"category":{"$nin":["art","sport"]},"tags":{"$exists":true}}"#,
            r#""category NOT IN ['art', 'sport'] AND EXISTS(tags)""#,
        ),
        (r#"{"$not":{"category":"news"}}"#, r#""NOT category == 'news'""#),
    ];
    for (obj, text) in cases {
        let fo = Filter::parse_json(obj).expect("object filter");
        let ft = Filter::parse_json(text).expect("string filter");
        for q in queries.chunks_exact(dim).take(10) {
            let mut p = SearchParams::top(10);
            p.filter = Some(fo.clone());
            let a = c.search(q, &p).expect("search");
            p.filter = Some(ft.clone());
            let b = c.search(q, &p).expect("search");
            assert_eq!(a.ids, b.ids, "{obj} vs {text}");
            for m in &a.metadata {
                let v: serde_json::Value = serde_json::from_str(m.as_deref().expect("has metadata")).expect("json");
                let flat = kyrodb_core::vector::filter::FlatMeta::from_object(v.as_object().expect("object"));
                assert!(fo.matches(Some(&flat)), "{obj}: result {v} does not match");
            }
            let matching = (0..n)
                .filter(|&i| {
                    let v: serde_json::Value = serde_json::from_str(meta[i].as_deref().expect("m")).expect("json");
                    fo.matches(Some(&kyrodb_core::vector::filter::FlatMeta::from_object(v.as_object().expect("o"))))
                })
                .count();
            assert!(a.ids.len() == 10 || a.ids.len() >= matching.min(10), "{obj}: {} results", a.ids.len());
        }
    }
}

/// The graph walk scores 8-bit codes; the answer must still carry exact distances, keep
/// its recall, and come back the same from the segment file (whose codes are stored).
#[test]
fn quantized_walk_answers_with_exact_distances_before_and_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dim = 48;
    let n = 6_000;
    let all = glove_like(n + 100, dim, 21);
    let (data, queries) = all.split_at(n * dim);
    let idv = ids(n);
    let answers = |c: &kyrodb_core::Collection| -> Vec<(Vec<u64>, Vec<f32>)> {
        queries
            .chunks_exact(dim)
            .map(|q| {
                let hits =
                    c.search(q, &SearchParams { k: 10, ef: Some(96), ..SearchParams::default() }).expect("search");
                (hits.ids, hits.distances)
            })
            .collect()
    };
    let before = {
        let db = Database::open(Some(dir.path())).expect("open");
        let c = db.create_collection("q", config(dim, Metric::Cosine, usize::MAX)).expect("create");
        c.upsert(&idv, data.to_vec(), None).expect("upsert");
        c.build_index(&mut |_, _| {}).expect("build");
        assert!(c.stats().expect("stats").segments[0].2, "the segment has a graph");
        let found = answers(&c);
        let mut total = 0.0;
        for (q, (hits, distances)) in queries.chunks_exact(dim).zip(&found) {
            for (id, d) in hits.iter().zip(distances) {
                let stored = c.get(*id).expect("get").expect("present").vector;
                let prepared: Vec<f32> = {
                    let norm = q.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                    q.iter().map(|x| (*x as f64 / norm) as f32).collect()
                };
                let exact = Metric::Cosine.distance(kyrodb_core::simd::kernels(), &prepared, &stored);
                assert!((exact - d).abs() <= 1e-6, "reported {d}, exact {exact}");
            }
            let truth = brute_force(Metric::Cosine, data, dim, q, 10);
            total += recall(hits, &truth.iter().map(|&r| r * 3 + 1).collect::<Vec<_>>());
        }
        let r = total / found.len() as f64;
        println!("recall@10 with the quantized walk: {r:.4}");
        assert!(r >= 0.95, "recall {r}");
        db.close().expect("close");
        found
    };
    let db = Database::open(Some(dir.path())).expect("reopen");
    let c = db.collection("q").expect("collection");
    assert_eq!(answers(&c), before, "the reopened segment answers the same");
}

/// Wait until no background build or merge runs and the hot tier is below `rows`.
fn settle(c: &kyrodb_core::Collection, rows: usize) -> kyrodb_core::vector::collection::CollectionStats {
    for _ in 0..1_200 {
        let s = c.stats().expect("stats");
        if !s.indexing && s.hot_rows < rows {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("background work never settled: {:?}", c.stats());
}

#[test]
fn writers_wait_for_indexing_past_the_backlog_cap() {
    let db = Database::open(None).expect("open");
    let dim = 8;
    // Builds start on their own only at 10^9 rows: past the cap, the waiting writer must
    // start one itself (a cap below autoBuildRows still makes progress).
    let c = db.create_collection("capped", config(dim, Metric::L2, 1_000_000_000)).expect("create");
    assert_eq!(c.stats().expect("stats").max_unindexed_rows, 2_000_000_000, "default: 2 × autoBuildRows");
    c.set_max_unindexed_rows(300);
    let data = clustered(3_000, dim, 10, 21);
    for (i, chunk) in data.chunks(100 * dim).enumerate() {
        let ids: Vec<u64> = (i as u64 * 100..(i as u64 + 1) * 100).collect();
        c.upsert(&ids, chunk.to_vec(), None).expect("upsert");
        // One writer: the cap holds exactly (builds only ever shrink the hot tier).
        let s = c.stats().expect("stats");
        assert!(s.hot_rows <= 300, "hot tier {} past the cap after batch {i}", s.hot_rows);
    }
    let s = settle(&c, usize::MAX);
    assert!(s.write_stalls >= 1, "writers waited: {s:?}");
    assert!(s.indexed_rows >= 2_700, "builds took the rows past the cap: {s:?}");
    assert_eq!(s.count, 3_000);
    for id in [0u64, 1_234, 2_999] {
        assert_eq!(c.get(id).expect("get").expect("present").vector, data[id as usize * dim..][..dim].to_vec());
    }
    // A batch larger than the cap goes in when the hot tier is empty.
    let big = clustered(500, dim, 10, 22);
    c.upsert(&(10_000..10_500).collect::<Vec<u64>>(), big, None).expect("a batch larger than the cap");
    // Cap off: no waiting, the hot tier grows as it likes.
    c.set_max_unindexed_rows(0);
    settle(&c, usize::MAX);
    let stalls = c.stats().expect("stats").write_stalls;
    let more = clustered(2_000, dim, 10, 23);
    for (i, chunk) in more.chunks(500 * dim).enumerate() {
        let ids: Vec<u64> = (20_000 + i as u64 * 500..20_000 + (i as u64 + 1) * 500).collect();
        c.upsert(&ids, chunk.to_vec(), None).expect("upsert");
    }
    let s = c.stats().expect("stats");
    assert_eq!(s.write_stalls, stalls, "no cap, no stall");
    assert!(s.hot_rows >= 2_000, "no cap: the hot tier keeps every row until a build: {s:?}");
    // Exact-only collections have no cap.
    let exact = db.create_collection("exact", CollectionConfig::exact(dim, Metric::L2)).expect("create");
    assert_eq!(exact.stats().expect("stats").max_unindexed_rows, 0);
}

/// Background merges stop at the settled tier (256 × autoBuildRows live rows) and never
/// write a segment past 512 × autoBuildRows, so the indexing work per written row stays
/// flat however large the collection grows; every row stays findable.
#[test]
fn background_merges_stop_at_the_settled_tier() {
    let db = Database::open(None).expect("open");
    let (dim, auto, n) = (8, 25, 60_000);
    let (settled_rows, cap) = (256 * auto, 512 * auto);
    let c = db.create_collection("settled", config(dim, Metric::L2, auto)).expect("create");
    let data = clustered(n, dim, 20, 51);
    for (b, chunk) in data.chunks(250 * dim).enumerate() {
        let ids: Vec<u64> = (b as u64 * 250..(b as u64 + 1) * 250).collect();
        c.upsert(&ids, chunk.to_vec(), None).expect("upsert");
    }
    let s = settle(&c, auto);
    assert!(s.merged_rows > 0, "merges ran: {s:?}");
    assert!(s.segments.iter().all(|x| x.1 <= cap), "a merge wrote past the cap: {s:?}");
    let settled = s.segments.iter().filter(|x| x.1 >= settled_rows).count();
    assert!(settled >= 2, "segments reached the settled tier and stayed there: {s:?}");
    assert!(s.segments.len() - settled <= kyrodb_core::vector::collection::MAX_SEGMENTS, "{s:?}");
    assert_eq!(s.count, n);
    for id in [0u64, 7_777, 59_999] {
        assert_eq!(c.get(id).expect("get").expect("present").vector, data[id as usize * dim..][..dim].to_vec());
        let hits = c
            .search(&data[id as usize * dim..][..dim], &SearchParams { ef: Some(200), ..SearchParams::top(3) })
            .expect("search");
        assert!(hits.ids.contains(&id), "id {id} not found near itself: {hits:?}");
    }
}

/// Hot builds and merges run on their own threads and may finish in any order; deletes and
/// overwrites race both. The end state matches a model, every id lives in one place, and
/// each segment set swap rewrote only the rows it moved (checked through get/count/search).
#[test]
fn builds_and_merges_racing_writes_keep_every_location_right() {
    let db = Database::open(None).expect("open");
    let dim = 8;
    let c = db.create_collection("merges", config(dim, Metric::L2, 200)).expect("create");
    let mut model: HashMap<u64, f32> = HashMap::new();
    let mut rng = StdRng::seed_from_u64(31);
    for step in 0..400u32 {
        let n = rng.gen_range(1..60usize);
        let mut batch: Vec<u64> = (0..n).map(|_| rng.gen_range(0..6_000u64)).collect();
        batch.sort_unstable();
        batch.dedup();
        if rng.gen_bool(0.2) {
            c.delete(&batch).expect("delete");
            for id in &batch {
                model.remove(id);
            }
        } else {
            let x = step as f32;
            let vectors: Vec<f32> = batch.iter().flat_map(|&id| vec![x + id as f32 * 1e-3; dim]).collect();
            c.upsert(&batch, vectors, None).expect("upsert");
            for &id in &batch {
                model.insert(id, x + id as f32 * 1e-3);
            }
        }
    }
    let s = settle(&c, usize::MAX);
    assert!(s.merged_rows > 0, "merges ran: {s:?}");
    assert_eq!(s.count, model.len());
    assert_eq!(s.hot_rows + s.segments.iter().map(|x| x.1).sum::<usize>(), model.len());
    for id in 0..6_000u64 {
        let got = c.get(id).expect("get").map(|v| v.vector);
        assert_eq!(got, model.get(&id).map(|&x| vec![x; dim]), "id {id}");
    }
    // Every live row is found by an exact-enough search for it, with its own distance 0.
    for (&id, &x) in model.iter().take(200) {
        let hits = c.search(&vec![x; dim], &SearchParams { ef: Some(400), ..SearchParams::top(5) }).expect("search");
        assert!(hits.ids.contains(&id), "id {id} not found near itself: {hits:?}");
    }
}

/// Background merges of a durable collection grow their largest input's graph (the other
/// inputs' rows are inserted into it; its deleted rows ride along deleted) instead of
/// rebuilding it: with deletes and overwrites racing builds and merges, the end state
/// matches a model, recall holds against brute force, and all of it survives a reopen.
#[test]
fn merges_that_grow_a_graph_keep_every_row_right() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dim = 16;
    let auto = 2_500;
    let cfg = config(dim, Metric::L2, auto);
    let data = clustered(24_000, dim, 40, 41);
    let mut model: HashMap<u64, Vec<f32>> = HashMap::new();
    {
        let db = Database::open(Some(dir.path())).expect("open");
        let c = db.create_collection("grow", cfg).expect("create");
        let mut rng = StdRng::seed_from_u64(42);
        for (b, chunk) in data.chunks(1_000 * dim).enumerate() {
            let ids: Vec<u64> = (b as u64 * 1_000..(b as u64 + 1) * 1_000).collect();
            c.upsert(&ids, chunk.to_vec(), None).expect("upsert");
            for (i, id) in ids.iter().enumerate() {
                model.insert(*id, chunk[i * dim..(i + 1) * dim].to_vec());
            }
            // Deletes and overwrites of rows that may already sit in the growing graph.
            let victims: Vec<u64> = (0..20).map(|_| rng.gen_range(0..(b as u64 + 1) * 1_000)).collect();
            let mut victims = victims;
            victims.sort_unstable();
            victims.dedup();
            if b % 2 == 0 {
                c.delete(&victims).expect("delete");
                victims.iter().for_each(|id| drop(model.remove(id)));
            } else {
                let v: Vec<f32> = victims.iter().flat_map(|&id| vec![id as f32 * 0.01; dim]).collect();
                c.upsert(&victims, v.clone(), None).expect("overwrite");
                for (i, id) in victims.iter().enumerate() {
                    model.insert(*id, v[i * dim..(i + 1) * dim].to_vec());
                }
            }
        }
        let s = settle(&c, auto);
        assert!(s.merged_rows > 0, "merges ran: {s:?}");
        assert!(s.segments.len() < 24_000 / auto, "merges brought the segment count down: {s:?}");
        check_against_model(&c, &model, dim);
    }
    let db = Database::open(Some(dir.path())).expect("reopen");
    let c = db.collection("grow").expect("collection");
    check_against_model(&c, &model, dim);
}

fn check_against_model(c: &kyrodb_core::Collection, model: &HashMap<u64, Vec<f32>>, dim: usize) {
    assert_eq!(c.count().expect("count"), model.len());
    for id in 0..24_000u64 {
        assert_eq!(c.get(id).expect("get").map(|v| v.vector), model.get(&id).cloned(), "id {id}");
    }
    let mut ids: Vec<u64> = model.keys().copied().collect();
    ids.sort_unstable();
    let flat: Vec<f32> = ids.iter().flat_map(|id| model[id].clone()).collect();
    let mut total = 0.0;
    let queries = clustered(50, dim, 40, 43);
    for q in queries.chunks_exact(dim) {
        let found = c.search(q, &SearchParams { ef: Some(128), ..SearchParams::top(10) }).expect("search").ids;
        let truth: Vec<usize> = brute_force(Metric::L2, &flat, dim, q, 10);
        let truth_ids: Vec<u64> = truth.iter().map(|&r| ids[r]).collect();
        total += found.iter().filter(|id| truth_ids.contains(id)).count() as f64 / 10.0;
    }
    let recall = total / 50.0;
    assert!(recall >= 0.9, "recall@10 {recall}");
}
