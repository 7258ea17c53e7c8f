//! The query cache never changes an answer: random interleavings of upserts (new ids and
//! replacements, with and without metadata), deletes, flushes into segments and repeated
//! searches (with and without filters) give exactly the answers of the same run with the
//! cache off — and the cache does answer the repeats. With near repeats on, searches close
//! to cached ones give exactly the answers of the cache-off run too (the collections here
//! search exactly, so the triangle-inequality proof must make every near answer exact).

use kyrodb_core::vector::filter::Filter;
use kyrodb_core::{CollectionConfig, Database, Metric, OpenOptions, SearchParams};
use proptest::prelude::*;

const DIM: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Upsert(Vec<(u64, [i8; DIM], Option<u8>)>),
    Delete(Vec<u64>),
    Flush,
    Search { q: [i8; DIM], k: usize, filter: Option<u8>, shift: [i8; DIM] },
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0u64..24;
    let v = prop::array::uniform3(-3i8..4);
    prop_oneof![
        3 => prop::collection::vec((id.clone(), v, prop::option::of(0u8..3)), 1..5).prop_map(|mut rows| {
            rows.sort_by_key(|r| r.0);
            rows.dedup_by_key(|r| r.0);
            Op::Upsert(rows)
        }),
        1 => prop::collection::vec(id, 1..4).prop_map(Op::Delete),
        1 => Just(Op::Flush),
        // Few distinct queries, so searches repeat.
        6 => (
            prop::sample::select(vec![[0i8, 0, 0], [1, 1, 1], [-2, 1, 3], [3, 3, -3]]),
            1usize..6,
            prop::option::of(0u8..3),
            // Mostly exact repeats; sometimes a small shift (a paraphrase)
            // (units of 0.03; rows lie on a grid of spacing 1), and sometimes a large one.
            prop_oneof![3 => Just([0i8; DIM]), 2 => prop::array::uniform3(-2i8..3), 2 => prop::array::uniform3(-20i8..21)],
        )
            .prop_map(|(q, k, filter, shift)| Op::Search { q, k, filter, shift }),
    ]
}

fn run(ops: &[Op], metric: Metric, cache_bytes: usize, near: f32) -> (Vec<String>, kyrodb_core::QueryCacheStats) {
    let tmp = tempfile::tempdir().unwrap();
    let options = OpenOptions { query_cache_bytes: cache_bytes, near_repeat_distance: near, ..OpenOptions::default() };
    let db = Database::open_with(Some(tmp.path()), options).unwrap();
    let c = db.create_collection("c", CollectionConfig::exact(DIM, metric)).unwrap();
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Upsert(rows) => {
                let ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
                // Cosine refuses zero vectors: shift every component off zero.
                let vectors: Vec<f32> = rows.iter().flat_map(|r| r.1.map(|x| x as f32 + 0.5)).collect();
                let metas = rows.iter().map(|r| r.2.map(|t| format!(r#"{{"t":{t}}}"#))).collect();
                c.upsert(&ids, vectors, Some(metas)).unwrap();
            }
            Op::Delete(ids) => {
                out.push(format!("deleted {}", c.delete(ids).unwrap()));
            }
            Op::Flush => db.flush(&mut |_, _| {}).unwrap(),
            Op::Search { q, k, filter, shift } => {
                let p = SearchParams {
                    k: *k,
                    filter: filter.map(|t| Filter::parse_json(&format!(r#"{{"t":{t}}}"#)).unwrap()),
                    with_metadata: true,
                    cache: true,
                    ..SearchParams::default()
                };
                let q: Vec<f32> = q.iter().zip(shift).map(|(&x, &s)| x as f32 + 0.25 + s as f32 * 0.03).collect();
                let h = c.search(&q, &p).unwrap();
                out.push(format!("{:?} {:?} {:?}", h.ids, h.distances, h.metadata));
            }
        }
    }
    let stats = db.query_cache_stats();
    db.close().unwrap();
    (out, stats)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn answers_with_the_cache_equal_answers_without(ops in prop::collection::vec(op(), 1..60), cosine in any::<bool>()) {
        let metric = if cosine { Metric::Cosine } else { Metric::L2 };
        let (with, stats) = run(&ops, metric, 1 << 20, 0.0);
        let (without, off) = run(&ops, metric, 0, 0.0);
        prop_assert_eq!(&with, &without);
        prop_assert_eq!(off.hits + off.entries, 0);
        prop_assert!(stats.bytes <= stats.capacity_bytes);
        prop_assert_eq!(stats.near_hits, 0);
        // Near repeats on (any cached query within distance 1 may answer): still exact.
        let (near, stats) = run(&ops, metric, 1 << 20, 1.0);
        prop_assert_eq!(&near, &without);
        prop_assert!(stats.bytes <= stats.capacity_bytes);
        // And with a budget so small that entries are evicted all the time (the near index
        // must forget every evicted entry).
        let (tiny, stats) = run(&ops, metric, 6 << 10, 1.0);
        prop_assert_eq!(tiny, without);
        prop_assert!(stats.bytes <= stats.capacity_bytes);
    }
}

/// Repeats are answered from the cache, a write that cannot change an answer keeps it,
/// and one that can drops it.
#[test]
fn repeats_hit_and_only_relevant_writes_invalidate() {
    let db = Database::open(None).unwrap();
    let c = db.create_collection("c", CollectionConfig::exact(2, Metric::L2)).unwrap();
    c.upsert(&[1, 2, 3], vec![0.0, 0.0, 1.0, 0.0, 5.0, 5.0], None).unwrap();
    let p = SearchParams { k: 2, cache: true, ..SearchParams::default() };
    let q = [0.1, 0.0];
    let first = c.search(&q, &p).unwrap();
    assert_eq!(first.ids, vec![1, 2]);
    assert_eq!(c.search(&q, &p).unwrap(), first);
    assert_eq!(db.query_cache_stats().hits, 1);
    // Far away (beyond the 2nd distance): cannot enter; the entry is revalidated and kept.
    c.upsert(&[4], vec![9.0, 9.0], None).unwrap();
    assert_eq!(c.search(&q, &p).unwrap(), first);
    let s = db.query_cache_stats();
    assert_eq!((s.hits, s.invalidations), (2, 0));
    // Deleting a row outside the answer keeps it too.
    c.delete(&[3]).unwrap();
    assert_eq!(c.search(&q, &p).unwrap(), first);
    assert_eq!(db.query_cache_stats().hits, 3);
    // A close new row enters the answer: invalidated, recomputed.
    c.upsert(&[5], vec![0.1, 0.05], None).unwrap();
    assert_eq!(c.search(&q, &p).unwrap().ids, vec![5, 1]);
    assert_eq!(db.query_cache_stats().invalidations, 1);
    // Replacing a row of the answer (same id, new vector) invalidates as well.
    c.upsert(&[1], vec![7.0, 7.0], None).unwrap();
    assert_eq!(c.search(&q, &p).unwrap().ids, vec![5, 2]);
    assert_eq!(db.query_cache_stats().invalidations, 2);
    // `cache: false` neither reads nor fills it.
    let before = db.query_cache_stats();
    c.search(&[3.0, 3.0], &SearchParams { k: 1, ..SearchParams::default() }).unwrap();
    let after = db.query_cache_stats();
    assert_eq!((after.hits, after.misses, after.entries), (before.hits, before.misses, before.entries));
}

/// A search close to a cached one is answered from it when the cached candidates provably
/// hold its answer, and computed when they do not.
#[test]
fn near_repeats_are_answered_only_when_proven() {
    let options = OpenOptions { near_repeat_distance: 0.5, ..OpenOptions::default() };
    let db = Database::open_with(None, options).unwrap();
    let c = db.create_collection("c", CollectionConfig::exact(2, Metric::L2)).unwrap();
    // A tight cluster of four rows around (5, 5), the rest far away.
    let ids: Vec<u64> = (1..=10).collect();
    let mut v = vec![5.0, 5.0, 5.1, 5.0, 5.0, 5.1, 5.1, 5.1];
    for i in 0..6 {
        v.extend([25.0 + i as f32, 25.0]);
    }
    c.upsert(&ids, v, None).unwrap();
    let p = SearchParams { k: 2, cache: true, ..SearchParams::default() };
    let first = c.search(&[5.0, 5.0], &p).unwrap();
    assert_eq!(first.ids, vec![1, 2]);
    // Kept 4 candidates (radius: row 4 at 0.02); a shift of 0.01 re-ranks them and is proven.
    let q = [5.01, 5.0];
    let near = c.search(&q, &p).unwrap();
    let exact = c.search(&q, &SearchParams { cache: false, ..p.clone() }).unwrap();
    assert_eq!(near, exact);
    assert_eq!(db.query_cache_stats().near_hits, 1);
    // A shift towards the far rows cannot be proven from the cluster's candidates.
    let far = [5.6, 5.0];
    let computed = c.search(&far, &p).unwrap();
    assert_eq!(computed, c.search(&far, &SearchParams { cache: false, ..p.clone() }).unwrap());
    assert_eq!(db.query_cache_stats().near_hits, 1);
    // A new row inside the cached radius invalidates the entry: the next near search
    // computes, and sees the row.
    c.upsert(&[11], vec![5.012, 5.0], None).unwrap();
    assert_eq!(c.search(&q, &p).unwrap().ids[0], 11);
    assert_eq!(db.query_cache_stats().near_hits, 1);
    // Inner product has no triangle inequality: never near answers.
    let ip = db.create_collection("ip", CollectionConfig::exact(2, Metric::InnerProduct)).unwrap();
    ip.upsert(&[1, 2, 3], vec![1.0, 0.0, 0.0, 1.0, 0.7, 0.7], None).unwrap();
    ip.search(&[1.0, 0.0], &p).unwrap();
    ip.search(&[1.0, 0.01], &p).unwrap();
    assert_eq!(db.query_cache_stats().near_hits, 1);
}
