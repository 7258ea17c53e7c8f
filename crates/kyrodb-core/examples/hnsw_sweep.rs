//! Recall/QPS sweep of the graph search on a cached data set, in Rust (no Node in the
//! loop): the quick way to measure a change to the search kernel before the side-by-side
//! run of `benches/hnsw.mjs`.
//!
//! ```text
//! cargo run --release -p kyrodb-core --example hnsw_sweep -- \
//!     --data benches/.data/glove --db /tmp/kyrodb-glove --metric cosine --efs 64,128,192,256
//! ```
//!
//! `--data` is a directory written by `benches/datasets/*.mjs` (`base.f32`, `queries.f32`,
//! `gt.i32`, `meta.json` with `dim` and `nQueries`; clustered-128 is L2: `--metric l2`). The database at `--db` is built
//! once (M = 16, efConstruction = 200, ids = base row numbers) and reused by later runs.
//! Queries run one at a time on one thread; each ef is timed in `--rounds` interleaved rounds
//! and the median round is printed with recall@10 against the data set's ground truth.
//!
//! `--bucket-lt B` measures filtered search instead: the database (use another `--db`) is
//! built with metadata `{"bucket": row % 100}`, queries carry the filter `bucket < B`
//! (B = 10: 10% of the rows pass), and recall is against a brute-force scan of the rows
//! that pass.

use kyrodb_core::vector::filter::Filter;
use kyrodb_core::{CollectionConfig, Database, Metric, SearchParams};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn read_f32(p: &Path) -> Vec<f32> {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn read_i32(p: &Path) -> Vec<i32> {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn meta_usize(meta: &serde_json::Value, key: &str) -> usize {
    meta[key].as_u64().unwrap_or_else(|| panic!("meta.json has no {key}")) as usize
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let data = PathBuf::from(arg("--data").unwrap_or_else(|| "benches/.data/glove".into()));
    let db_dir = PathBuf::from(arg("--db").unwrap_or_else(|| "/tmp/kyrodb-glove".into()));
    let metric = Metric::parse(&arg("--metric").unwrap_or_else(|| "cosine".into())).expect("metric");
    let efs: Vec<usize> = arg("--efs")
        .unwrap_or_else(|| "32,64,96,128,192,256,384".into())
        .split(',')
        .map(|s| s.parse().expect("ef"))
        .collect();
    let rounds: usize = arg("--rounds").map_or(3, |s| s.parse().expect("rounds"));
    let n_queries: Option<usize> = arg("--queries").map(|s| s.parse().expect("queries"));
    let bucket_lt: Option<u32> = arg("--bucket-lt").map(|s| s.parse().expect("bucket-lt"));

    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("meta.json")).expect("meta.json")).expect("meta.json");
    let dim = meta_usize(&meta, "dim");
    let total_queries = meta_usize(&meta, "nQueries");
    let nq = n_queries.unwrap_or(total_queries).min(total_queries);
    let queries = read_f32(&data.join("queries.f32"));
    let mut gt = read_i32(&data.join("gt.i32"));
    let mut gt_k = gt.len() / total_queries;

    let fresh = !db_dir.exists();
    let db = Database::open(Some(&db_dir)).expect("open");
    let col = if fresh {
        let base = read_f32(&data.join("base.f32"));
        let n = base.len() / dim;
        let col = db.create_collection("sweep", CollectionConfig::indexed(dim, metric)).expect("create");
        let t0 = Instant::now();
        for s in (0..n).step_by(50_000) {
            let e = (s + 50_000).min(n);
            let ids: Vec<u64> = (s as u64..e as u64).collect();
            let meta = bucket_lt.map(|_| ids.iter().map(|i| Some(format!("{{\"bucket\":{}}}", i % 100))).collect());
            col.upsert(&ids, base[s * dim..e * dim].to_vec(), meta).expect("upsert");
        }
        col.build_index(&mut |_, _| {}).expect("build");
        println!("built {n} rows in {:.1} s", t0.elapsed().as_secs_f64());
        col
    } else {
        let t0 = Instant::now();
        let col = db.collection("sweep").expect("collection");
        println!("reopened in {:.2} s (open included)", t0.elapsed().as_secs_f64());
        col
    };
    println!("segments (rows, live, graph): {:?}", col.stats().expect("stats").segments);

    let k = 10;
    let filter = bucket_lt.map(|b| Filter::parse_json(&format!("{{\"bucket\":{{\"$lt\":{b}}}}}")).expect("filter"));
    if let Some(b) = bucket_lt {
        // Ground truth over the rows that pass, by brute force.
        let base = read_f32(&data.join("base.f32"));
        let kernels = kyrodb_core::simd::kernels();
        let prep = |v: &[f32]| -> Vec<f32> {
            let mut v = v.to_vec();
            metric.prepare(&mut v, &String::new).expect("finite");
            v
        };
        let rows: Vec<(usize, Vec<f32>)> = (0..base.len() / dim)
            .filter(|r| (r % 100) < b as usize)
            .map(|r| (r, prep(&base[r * dim..(r + 1) * dim])))
            .collect();
        gt_k = k;
        gt = (0..nq)
            .flat_map(|q| {
                let query = prep(&queries[q * dim..(q + 1) * dim]);
                let mut d: Vec<(f32, usize)> =
                    rows.iter().map(|(r, v)| (metric.distance(kernels, &query, v), *r)).collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                d.into_iter().take(k).map(|(_, r)| r as i32).collect::<Vec<_>>()
            })
            .collect();
    }
    let mut qps: Vec<Vec<f64>> = vec![Vec::new(); efs.len()];
    let mut recall = vec![0.0; efs.len()];
    for round in 0..rounds {
        for (i, &ef) in efs.iter().enumerate() {
            let params = SearchParams { k, ef: Some(ef), filter: filter.clone(), ..SearchParams::default() };
            let mut hits = 0usize;
            let t0 = Instant::now();
            for q in 0..nq {
                let r = col.search(&queries[q * dim..(q + 1) * dim], &params).expect("search");
                if round == 0 {
                    let truth = &gt[q * gt_k..q * gt_k + k];
                    hits += r.ids.iter().filter(|&&id| truth.contains(&(id as i32))).count();
                }
            }
            qps[i].push(nq as f64 / t0.elapsed().as_secs_f64());
            if round == 0 {
                recall[i] = hits as f64 / (nq * k) as f64;
            }
        }
    }
    println!("{:>6} {:>9} {:>10}", "ef", "recall", "QPS");
    for (i, &ef) in efs.iter().enumerate() {
        let mut v = qps[i].clone();
        v.sort_by(f64::total_cmp);
        println!("{ef:>6} {:>9.4} {:>10.0}", recall[i], v[v.len() / 2]);
    }
}
