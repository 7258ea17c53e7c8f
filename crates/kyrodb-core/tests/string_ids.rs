//! String-id collections: ids given and returned as strings through every path (hot
//! tier, WAL replay, segment files, merges), lookups that never confuse two strings, and
//! typed errors for bad ids or ids of the wrong type.

mod common;

use common::*;
use kyrodb_core::vector::filter::Filter;
use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{
    Collection, CollectionConfig, Database, Error, IdType, IndexConfig, Metric, SearchParams, MAX_STRING_ID_BYTES,
};
use std::collections::BTreeMap;
use std::sync::Arc;

const DIM: usize = 8;

fn config(index: bool) -> CollectionConfig {
    CollectionConfig {
        dimension: DIM,
        metric: Metric::L2,
        index: index.then_some(IndexConfig {
            params: BuildParams { m: 8, ef_construction: 40, ..BuildParams::default() },
            auto_build_rows: usize::MAX,
        }),
        id_type: IdType::String,
    }
}

fn name(i: usize) -> String {
    // Varied lengths and scripts, some sharing long prefixes.
    match i % 4 {
        0 => format!("doc-{i}"),
        1 => format!("chunk/{}/{}", i / 7, i),
        2 => format!("Ωμέγα-{i}-{}", "x".repeat(i % 30)),
        _ => format!("{:08x}-4b1e-9d2a-{:012x}", i * 2_654_435_761 % (1 << 32), i),
    }
}

type Model = BTreeMap<String, (Vec<f32>, Option<String>)>;

/// Every id of the model reads back as stored, absent ids read as absent, and an
/// exhaustive search returns exactly the model's ids in distance order.
fn check(c: &Arc<Collection>, model: &Model, absent: &[String]) {
    assert_eq!(c.count().unwrap(), model.len());
    for (id, (v, m)) in model {
        let got = c.get_named(id).unwrap().unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!((&got.vector, got.metadata.as_deref()), (v, m.as_deref()), "{id}");
    }
    for id in absent {
        assert!(c.get_named(id).unwrap().is_none(), "{id} should be absent");
    }
    let q = vec![0.3f32; DIM];
    let p = SearchParams { k: model.len().max(1), ef: Some(5000), ..SearchParams::default() };
    let hits = c.search(&q, &p).unwrap();
    assert_eq!(hits.names.len(), hits.ids.len());
    let mut want: Vec<(f32, &String)> =
        model.iter().map(|(id, (v, _))| (v.iter().zip(&q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(), id)).collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    let got: Vec<&str> = hits.names.iter().map(|n| &**n).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted: Vec<&str> = want.iter().map(|w| w.1.as_str()).collect();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted, "an exhaustive search returns every id once");
}

#[test]
fn string_ids_round_trip_through_hot_tier_wal_segments_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let data = clustered(3000, DIM, 10, 3);
    let mut model = Model::new();
    let db = Database::open(Some(&dir)).unwrap();
    let c = db.create_collection("docs", config(true)).unwrap();
    let upsert = |c: &Arc<Collection>, model: &mut Model, range: std::ops::Range<usize>, salt: f32| {
        let names: Vec<String> = range.clone().map(name).collect();
        let vectors: Vec<f32> =
            range.clone().flat_map(|i| data[i * DIM..(i + 1) * DIM].iter().map(move |x| x + salt)).collect();
        let metas: Vec<Option<String>> =
            range.clone().map(|i| (i % 3 != 0).then(|| format!(r#"{{"n":{i},"salt":{salt}}}"#))).collect();
        c.upsert_named(names.clone(), vectors.clone(), Some(metas.clone())).unwrap();
        for ((n, v), m) in names.into_iter().zip(vectors.chunks_exact(DIM)).zip(metas) {
            model.insert(n, (v.to_vec(), m));
        }
    };
    upsert(&c, &mut model, 0..2500, 0.0);
    db.flush(&mut |_, _| {}).unwrap(); // a graph segment
    upsert(&c, &mut model, 2000..2700, 0.5); // 500 replacements across the segment
    let gone: Vec<String> = (0..3000).step_by(11).map(name).collect();
    assert_eq!(c.delete_named(&gone).unwrap(), gone.iter().filter(|g| model.contains_key(*g)).count());
    for g in &gone {
        model.remove(g);
    }
    let never: Vec<String> = vec!["never-written".into(), name(2999), "doc-".into()];
    check(&c, &model, &never);
    db.close().unwrap();

    // The WAL part replays with its string ids.
    let db = Database::open(Some(&dir)).unwrap();
    let c = db.collection("docs").unwrap();
    check(&c, &model, &never);
    db.flush(&mut |_, _| {}).unwrap();
    upsert(&c, &mut model, 2700..2800, 1.0);
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();

    // Segments (format 4 with string ids) reopen, and a merge keeps every string.
    let db = Database::open(Some(&dir)).unwrap();
    let c = db.collection("docs").unwrap();
    check(&c, &model, &never);
    db.compact(&mut |_, _| {}).unwrap();
    check(&c, &model, &never);
    let filter = Filter::parse_json(r#""salt == 0.5""#).unwrap();
    let p = SearchParams { k: 1000, ef: Some(5000), filter: Some(filter), ..SearchParams::default() };
    let filtered: Vec<String> = c.search(&[0.0; DIM], &p).unwrap().names.iter().map(|n| n.to_string()).collect();
    let want = model.values().filter(|(_, m)| m.as_deref().is_some_and(|m| m.contains(r#""salt":0.5"#))).count();
    assert_eq!(filtered.len(), want);
    assert!(filtered.iter().all(|n| model[n].1.as_deref().unwrap().contains(r#""salt":0.5"#)));
    db.verify().unwrap();
    db.close().unwrap();
}

#[test]
fn bad_ids_and_ids_of_the_wrong_type_are_invalid_and_change_nothing() {
    let db = Database::open(None).unwrap();
    let s = db.create_collection("s", config(false)).unwrap();
    let u = db.create_collection("u", CollectionConfig::exact(DIM, Metric::L2)).unwrap();
    let v = |n: usize| vec![0.5f32; n * DIM];
    s.upsert_named(vec!["a".into()], v(1), None).unwrap();
    let invalid = |r: kyrodb_core::Result<usize>, what: &str| match r {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("{what}: expected INVALID_ARGUMENT, got {other:?}"),
    };
    assert!(invalid(s.upsert_named(vec!["b".into(), String::new()], v(2), None), "empty").contains("ids[1] is empty"));
    let long = "é".repeat(MAX_STRING_ID_BYTES / 2 + 1);
    assert!(invalid(s.upsert_named(vec![long], v(1), None), "too long").contains("at most 512 bytes"));
    assert!(invalid(s.upsert_named(vec!["c".into(), "c".into()], v(2), None), "twice").contains("more than once"));
    let at_limit = "y".repeat(MAX_STRING_ID_BYTES);
    s.upsert_named(vec![at_limit.clone()], v(1), None).unwrap();
    assert!(invalid(s.upsert(&[1], v(1), None), "numbers into a string collection").contains("has string ids"));
    assert!(invalid(s.delete(&[1]), "numeric delete").contains("has string ids"));
    assert!(s.get(1).is_err());
    assert!(
        invalid(u.upsert_named(vec!["a".into()], v(1), None), "strings into a u64 collection").contains("has u64 ids")
    );
    assert!(u.get_named("a").is_err());
    // Metadata errors name the string id.
    let e = invalid(s.upsert_named(vec!["m".into()], v(1), Some(vec![Some("[1]".into())])), "metadata");
    assert!(e.contains(r#"id "m""#), "{e}");
    assert_eq!(s.count().unwrap(), 2);
    assert!(s.get_named("b").unwrap().is_none() && s.get_named(&at_limit).unwrap().is_some());
    // Deleting absent ids (and the same id twice) removes only what is there.
    assert_eq!(s.delete_named(&["a".into(), "a".into(), "zzz".into()]).unwrap(), 1);
    assert_eq!(s.count().unwrap(), 1);
}

/// `scan` pages through every live row exactly once, in key order, across the hot tier
/// and segments, for both id types.
#[test]
fn scan_returns_every_live_row_once_in_key_order() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Database::open(Some(tmp.path())).unwrap();
    for (name, cfg) in [("s", config(false)), ("u", CollectionConfig::exact(DIM, Metric::L2))] {
        let c = db.create_collection(name, cfg).unwrap();
        let named = cfg.id_type == IdType::String;
        let write = |range: std::ops::Range<usize>| {
            let v: Vec<f32> = range.clone().flat_map(|i| vec![i as f32; DIM]).collect();
            if named {
                c.upsert_named(range.map(self::name).collect(), v, None).unwrap();
            } else {
                c.upsert(&range.map(|i| i as u64 * 7).collect::<Vec<_>>(), v, None).unwrap();
            }
        };
        write(0..700);
        db.flush(&mut |_, _| {}).unwrap();
        write(500..1200); // replaces 200 rows of the segment
        db.flush(&mut |_, _| {}).unwrap();
        write(1100..1300); // hot
        let gone: Vec<usize> = (0..1300).step_by(9).collect();
        if named {
            c.delete_named(&gone.iter().map(|&i| self::name(i)).collect::<Vec<_>>()).unwrap();
        } else {
            c.delete(&gone.iter().map(|&i| i as u64 * 7).collect::<Vec<_>>()).unwrap();
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = c.scan(after, 97).unwrap();
            assert!(page.ids.len() <= 97);
            for (i, &key) in page.ids.iter().enumerate() {
                let v = page.vectors[i * DIM];
                let row = v as usize;
                let id_ok = if named { *page.names[i] == self::name(row) } else { key == row as u64 * 7 };
                assert!(id_ok, "{name}: key {key} carries the vector of row {row}");
                seen.push(key);
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{name}: key order, no repeats");
        assert_eq!(seen.len(), c.count().unwrap(), "{name}: every live row");
        assert_eq!(seen.len(), 1300 - gone.len());
    }
    assert!(db.collection("u").unwrap().scan(None, 0).is_err());
}
