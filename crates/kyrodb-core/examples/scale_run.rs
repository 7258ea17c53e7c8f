//! The HNSW scale run (issue 3, "once, documented, not in CI"): clustered-128 at 10M
//! vectors — build time, resident memory, single-thread search latency and recall@10.
//! With `--wal-rows`, also the reopen of that database with more vectors left in the WAL
//! (issue 4's reopen figure).
//!
//! ```text
//! cargo run --release -p kyrodb-core --example scale_run -- \
//!     --n 10000000 --db /work/scale/kyrodb-10m --queries 1000 --efs 32,48,64,96,128 [--wal-rows 1000000]
//! ```
//!
//! Data: the clustered-128 mixture of `benches/datasets/clustered.mjs` (1,000 centres
//! uniform in [−50, 50)^128, per-dimension noise scale in [1, 8), Gaussian noise, seed 128),
//! generated here with the same generator (mulberry32 + Box–Muller, checked below against
//! the cached 1M file when it exists), base rows first, then `--queries` query rows, then
//! the `--wal-rows` extra rows. `--centres C` draws from C centres instead of 1,000 (the
//! points per cluster, not the total, is what makes the within-cluster search hard: 1M rows
//! from 100 centres reproduce the 10M set's 10,000 points per cluster at a tenth of the
//! build); `--m` and `--ef-construction` set the graph's parameters (defaults 16 and 200).
//! Ground truth: exact top-10 by a tiled brute-force scan
//! written here (independent of the engine), cached beside the database as `gt-<n>-<q>.i32`.
//!
//! Phases, each printed with its time and the process's resident memory (`VmRSS`, and the
//! peak `VmHWM`):
//! 1. (first run only) create a durable database at `--db`, upsert the base rows in batches
//!    of 10,000 (durability `full`; the hot tier never builds in the background), then
//!    `build_index` (one segment, M = 16, efConstruction = 200, 2 threads) and close;
//! 2. reopen (deleting rows an earlier `--wal-rows` run added), then for each ef run the queries one at a time on one thread (`--rounds`
//!    passes; the first pass warms the mapped segment and is not timed), printing recall@10,
//!    QPS, p50/p99/max latency;
//! 3. with `--wal-rows R`: upsert R more rows (they stay in the WAL and the hot tier), close,
//!    reopen, time the open and the first search. This changes the database: run it last.
//!
//! `--reopen-only` skips all of that: open the existing database, answer one search, then
//! finish the deferred vector checks (`Database::verify`), printing the time of each and
//! the resident memory — the reopen figure of issue 4. `--check-all` checks every section
//! at open instead (`segment_file::Checks::All`, the behaviour before deferred checks).

use kyrodb_core::storage::segment_file::Checks;
use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{CollectionConfig, Database, IndexConfig, Metric, OpenOptions, SearchParams};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "common/open_log.rs"]
mod open_log;

const DIM: usize = 128;
/// Centres of the mixture unless `--centres` says otherwise (`clustered.mjs` uses 1,000).
const CENTRES: usize = 1000;
const SEED: u32 = 128;
const K: usize = 10;

/// `mulberry32` exactly as `benches/datasets/glove.mjs` writes it.
struct Mulberry32(u32);

impl Mulberry32 {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6d2b_79f5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        (t ^ (t >> 14)) as f64 / 4_294_967_296.0
    }
}

/// The clustered-128 mixture, row by row, in the order `clustered.mjs` draws it.
struct Mixture {
    rand: Mulberry32,
    n_centres: usize,
    /// Centre of every row drawn so far.
    labels: Vec<u32>,
    spare: Option<f64>,
    centres: Vec<f32>,
    scale: Vec<f32>,
}

impl Mixture {
    fn new(seed: u32, n_centres: usize) -> Mixture {
        let mut rand = Mulberry32(seed);
        let centres = (0..n_centres * DIM).map(|_| ((rand.next() * 2.0 - 1.0) * 50.0) as f32).collect();
        let scale = (0..DIM).map(|_| (1.0 + 7.0 * rand.next()) as f32).collect();
        Mixture { rand, n_centres, labels: Vec::new(), spare: None, centres, scale }
    }

    fn gauss(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let mut u = 0.0;
        while u == 0.0 {
            u = self.rand.next();
        }
        let v = self.rand.next();
        let r = (-2.0 * u.ln()).sqrt();
        self.spare = Some(r * (2.0 * std::f64::consts::PI * v).sin());
        r * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Append `rows` rows to `out`. Each value is rounded to `f32` the way JS stores
    /// `centre + gauss·scale` in a `Float32Array` (the sum is computed in f64).
    fn rows(&mut self, rows: usize, out: &mut Vec<f32>) {
        out.reserve(rows * DIM);
        for _ in 0..rows {
            let centre = (self.rand.next() * self.n_centres as f64).floor() as usize;
            self.labels.push(centre as u32);
            let c = centre * DIM;
            for j in 0..DIM {
                let x = self.centres[c + j] as f64 + self.gauss() * self.scale[j] as f64;
                out.push(x as f32);
            }
        }
    }
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or("?".to_string(), |kb| format!("{:.2} GiB", kb / 1048576.0))
    };
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

/// Exact top-`K` rows of every query by a tiled scan: each thread takes a share of the
/// queries and streams the base once, a tile of rows at a time.
fn brute_force(base: &[f32], queries: &[f32]) -> Vec<i32> {
    const TILE: usize = 2048;
    let kernels = kyrodb_core::simd::kernels();
    let n = base.len() / DIM;
    let nq = queries.len() / DIM;
    let per_thread = nq.div_ceil(rayon::current_num_threads().max(1));
    let mut gt = vec![0i32; nq * K];
    gt.par_chunks_mut(per_thread * K).enumerate().for_each(|(chunk, out)| {
        let q0 = chunk * per_thread;
        let qs = out.len() / K;
        // Per query: the best K so far as (distance, row), sorted ascending.
        let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::with_capacity(K + 1); qs];
        for t in (0..n).step_by(TILE) {
            let end = (t + TILE).min(n);
            for (qi, top) in best.iter_mut().enumerate() {
                let q = &queries[(q0 + qi) * DIM..(q0 + qi + 1) * DIM];
                for r in t..end {
                    let d = kernels.l2sq(q, &base[r * DIM..(r + 1) * DIM]);
                    if top.len() < K || d < top[K - 1].0 {
                        let at = top.partition_point(|&(bd, br)| (bd, br) <= (d, r as u32));
                        top.insert(at, (d, r as u32));
                        top.truncate(K);
                    }
                }
            }
        }
        for (qi, top) in best.iter().enumerate() {
            for (i, &(_, r)) in top.iter().enumerate() {
                out[qi * K + i] = r as i32;
            }
        }
    });
    gt
}

fn check_against_cached_1m(generated: &[f32]) {
    let cached = Path::new("benches/.data/clustered-128-1000000-q10000-s128/base.f32");
    let Ok(bytes) = std::fs::read(cached) else {
        println!("(no cached 1M clustered file to compare the generator with)");
        return;
    };
    let rows = (bytes.len() / 4).min(generated.len()) / DIM;
    let same = bytes
        .chunks_exact(4)
        .take(rows * DIM)
        .zip(generated)
        .filter(|(b, &g)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_bits() == g.to_bits())
        .count();
    println!(
        "generator check: first {rows} rows vs {}: {same} of {} values bit-identical",
        cached.display(),
        rows * DIM
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let n: usize = arg("--n").map_or(10_000_000, |s| s.replace('_', "").parse().expect("--n"));
    let nq: usize = arg("--queries").map_or(1000, |s| s.parse().expect("--queries"));
    let db_dir = PathBuf::from(arg("--db").unwrap_or_else(|| format!("/tmp/kyrodb-scale-{n}")));
    let efs: Vec<usize> =
        arg("--efs").unwrap_or_else(|| "32,48,64,96,128".into()).split(',').map(|s| s.parse().expect("ef")).collect();
    let rounds: usize = arg("--rounds").map_or(3, |s| s.parse().expect("--rounds"));
    let centres: usize = arg("--centres").map_or(CENTRES, |s| s.parse().expect("--centres"));
    let build = BuildParams {
        m: arg("--m").map_or(BuildParams::default().m, |s| s.parse().expect("--m")),
        ef_construction: arg("--ef-construction")
            .map_or(BuildParams::default().ef_construction, |s| s.parse().expect("--ef-construction")),
        ..BuildParams::default()
    };
    let wal_rows: usize = arg("--wal-rows").map_or(0, |s| s.replace('_', "").parse().expect("--wal-rows"));
    let options = OpenOptions {
        segment_checks: if args.iter().any(|a| a == "--check-all") {
            Checks::All
        } else {
            OpenOptions::default().segment_checks
        },
        ..OpenOptions::default()
    };
    open_log::install();
    if args.iter().any(|a| a == "--reopen-only") {
        reopen_only(&db_dir, options);
        return;
    }
    println!(
        "scale run: n = {n} ({centres} centres), queries = {nq}, M = {}, efConstruction = {}, db = {}, {} threads, kernels {:?}",
        build.m,
        build.ef_construction,
        db_dir.display(),
        rayon::current_num_threads(),
        kyrodb_core::simd::kernels().level()
    );

    // Data (regenerated every run: ~1 min; only the ground truth is cached).
    let t = Instant::now();
    let mut mixture = Mixture::new(SEED, centres);
    let mut base = Vec::new();
    mixture.rows(n, &mut base);
    let mut queries = Vec::new();
    mixture.rows(nq, &mut queries);
    println!("generated {n} + {nq} rows in {:.1} s; {}", t.elapsed().as_secs_f64(), rss());
    if centres == CENTRES {
        check_against_cached_1m(&base);
    }

    let gt_path = db_dir
        .with_file_name(format!("{}-gt-{n}-{nq}.i32", db_dir.file_name().and_then(|s| s.to_str()).unwrap_or("db")));
    let gt: Vec<i32> = match std::fs::read(&gt_path) {
        Ok(b) if b.len() == nq * K * 4 => {
            b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        _ => {
            let t = Instant::now();
            let gt = brute_force(&base, &queries);
            let bytes: Vec<u8> = gt.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::create_dir_all(gt_path.parent().unwrap_or(Path::new("."))).expect("mkdir");
            std::fs::write(&gt_path, bytes).expect("write ground truth");
            println!("ground truth (tiled brute force) in {:.1} s -> {}", t.elapsed().as_secs_f64(), gt_path.display());
            gt
        }
    };

    let config = CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: DIM,
        metric: Metric::L2,
        index: Some(IndexConfig { params: build, auto_build_rows: usize::MAX }),
    };
    if !db_dir.exists() {
        let db = Database::open_with(Some(&db_dir), OpenOptions::default()).expect("open");
        let col = db.create_collection("scale", config).expect("create");
        let t = Instant::now();
        const BATCH: usize = 10_000;
        for s in (0..n).step_by(BATCH) {
            let e = (s + BATCH).min(n);
            let ids: Vec<u64> = (s as u64..e as u64).collect();
            col.upsert(&ids, base[s * DIM..e * DIM].to_vec(), None).expect("upsert");
        }
        println!("upserted {n} rows (durability full) in {:.1} s; {}", t.elapsed().as_secs_f64(), rss());
        drop(std::mem::take(&mut base));
        let t = Instant::now();
        let mut last = 0;
        col.build_index(&mut |done, total| {
            let pct = done * 100 / total.max(1);
            if pct >= last + 10 {
                last = pct;
                println!("  build {pct}% ({done}/{total}) at {:.0} s; {}", t.elapsed().as_secs_f64(), rss());
            }
        })
        .expect("build");
        let secs = t.elapsed().as_secs_f64();
        println!("built the index over {n} rows in {secs:.1} s ({:.0} vectors/s); {}", n as f64 / secs, rss());
        db.close().expect("close");
    }
    if args.iter().any(|a| a == "--probe-graph") {
        probe_graph(&db_dir, &mixture.labels[..n], &queries, &mixture.labels[n..n + nq], &gt);
        return;
    }
    if let Some(ef) = arg("--diagnose") {
        diagnose(&db_dir, options, &mixture.labels, &base, &queries, &gt, ef.parse().expect("--diagnose"));
        return;
    }
    drop(base);

    // Phase 2: reopen and sweep.
    let t = Instant::now();
    let db = Database::open_with(Some(&db_dir), options).expect("reopen");
    let col = db.collection("scale").expect("collection");
    println!("reopened in {:.2} s; {}", t.elapsed().as_secs_f64(), rss());
    // Rows an earlier `--wal-rows` run added (ids n..) are not in the ground truth.
    let extra = col.count().expect("count").saturating_sub(n);
    if extra > 0 {
        let ids: Vec<u64> = (n as u64..(n + extra) as u64).collect();
        let deleted = col.delete(&ids).expect("delete");
        println!("deleted {deleted} rows with ids >= {n} (added by an earlier --wal-rows run) before the sweep");
    }
    println!("segments (rows, live, graph): {:?}", col.stats().expect("stats").segments);
    println!("{:>5} {:>9} {:>8} {:>9} {:>9} {:>9}", "ef", "recall", "QPS", "p50 ms", "p99 ms", "max ms");
    for &ef in &efs {
        let params = SearchParams { k: K, ef: Some(ef), ..SearchParams::default() };
        let mut lat = Vec::with_capacity(nq * rounds);
        let mut hits = 0usize;
        let mut busy = 0.0;
        for round in 0..=rounds {
            for q in 0..nq {
                let t = Instant::now();
                let r = col.search(&queries[q * DIM..(q + 1) * DIM], &params).expect("search");
                let s = t.elapsed().as_secs_f64();
                if round == 0 {
                    let truth = &gt[q * K..q * K + K];
                    hits += r.ids.iter().filter(|&&id| truth.contains(&(id as i32))).count();
                } else {
                    lat.push(s);
                    busy += s;
                }
            }
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "{ef:>5} {:>9.4} {:>8.0} {:>9.3} {:>9.3} {:>9.3}",
            hits as f64 / (nq * K) as f64,
            lat.len() as f64 / busy,
            percentile(&lat, 0.50) * 1e3,
            percentile(&lat, 0.99) * 1e3,
            lat[lat.len() - 1] * 1e3
        );
    }
    println!("after the sweep: {}", rss());

    // Phase 3: reopen with rows in the WAL.
    if wal_rows > 0 {
        let mut extra = Vec::new();
        mixture.rows(wal_rows, &mut extra);
        let t = Instant::now();
        for s in (0..wal_rows).step_by(10_000) {
            let e = (s + 10_000).min(wal_rows);
            let ids: Vec<u64> = ((n + s) as u64..(n + e) as u64).collect();
            col.upsert(&ids, extra[s * DIM..e * DIM].to_vec(), None).expect("upsert");
        }
        println!("upserted {wal_rows} more rows into the WAL in {:.1} s", t.elapsed().as_secs_f64());
        let wal = db.stats().wal.disk_bytes;
        db.close().expect("close");
        drop((col, db, extra));
        let t = Instant::now();
        let db = Database::open_with(Some(&db_dir), options).expect("reopen");
        let opened = t.elapsed().as_secs_f64();
        let col = db.collection("scale").expect("collection");
        let params = SearchParams { k: K, ef: Some(64), ..SearchParams::default() };
        let r = col.search(&queries[..DIM], &params).expect("first search");
        let first = t.elapsed().as_secs_f64();
        println!(
            "reopen with {wal_rows} rows ({:.0} MiB) in the WAL: open {opened:.2} s ({:.0} MiB/s of WAL), first search answered at {first:.2} s ({} hits); {} rows; {}",
            wal as f64 / 1048576.0,
            wal as f64 / 1048576.0 / opened,
            r.ids.len(),
            col.count().expect("count"),
            rss()
        );
    }
}

/// Where the misses are: per-query hits at one `ef` (result ids ≥ n — rows added later
/// with `--wal-rows` — are not counted either way), and for each query that misses more
/// than half, whether its best result lies in the query's own cluster (the centre each
/// row was drawn from: `labels` for base rows then queries).
fn diagnose(dir: &Path, options: OpenOptions, labels: &[u32], base: &[f32], queries: &[f32], gt: &[i32], ef: usize) {
    let kernels = kyrodb_core::simd::kernels();
    let n = base.len() / DIM;
    let nq = queries.len() / DIM;
    let row = |r: usize| &base[r * DIM..(r + 1) * DIM];
    let db = Database::open_with(Some(dir), options).expect("open");
    let col = db.collection("scale").expect("collection");
    let mut wrong_rows = 0usize;
    for id in (0..n).step_by(997) {
        let stored = col.get(id as u64).expect("get").expect("present");
        if stored.vector != row(id) {
            wrong_rows += 1;
            if wrong_rows <= 5 {
                println!("get({id}) differs from the row upserted");
            }
        }
    }
    println!("get of every 997th id: {wrong_rows} of {} differ from the rows upserted", n.div_ceil(997));
    let params = SearchParams { k: K, ef: Some(ef), ..SearchParams::default() };
    let mut histogram = [0usize; K + 1];
    let (mut poor, mut wrong_cluster) = (0usize, 0usize);
    for q in 0..nq {
        let query = &queries[q * DIM..(q + 1) * DIM];
        let r = col.search(query, &params).expect("search");
        let truth = &gt[q * K..q * K + K];
        let hits = r.ids.iter().filter(|&&id| (id as usize) < n && truth.contains(&(id as i32))).count();
        histogram[hits] += 1;
        if hits <= K / 2 {
            poor += 1;
            let own = labels[n + q];
            let found = r.ids.iter().find(|&&id| (id as usize) < n).map(|&id| id as usize);
            let found_centre = found.map(|f| labels[f]);
            if found_centre != Some(own) {
                wrong_cluster += 1;
            }
            if poor <= 20 {
                println!(
                    "query {q}: {hits} hits; centre {own}, true best row {} (centre {}, distance {:.1}), found best {:?} (centre {:?}, distance {:.1})",
                    truth[0],
                    labels[truth[0] as usize],
                    kernels.l2sq(query, row(truth[0] as usize)),
                    found,
                    found_centre,
                    found.map_or(f32::NAN, |f| kernels.l2sq(query, row(f))),
                );
            }
        }
    }
    println!("ef {ef}: queries by hits@{K} (0..={K}): {histogram:?}");
    println!(
        "{poor} queries with at most {} hits; in {wrong_cluster} of them the best result is in another cluster",
        K / 2
    );
}

/// The graph of the database's one segment, read from its file: reachability on layer 0,
/// edges that leave their node's cluster, in-degree by insertion order (id), and for
/// queries the f32 walk misses, where the walk ended up.
fn probe_graph(dir: &Path, labels: &[u32], queries: &[f32], query_labels: &[u32], gt: &[i32]) {
    use kyrodb_core::storage::segment_file;
    use kyrodb_core::vector::hnsw::{search_graph_with, Admission, ExactRows};
    let seg = std::fs::read_dir(dir.join("seg"))
        .expect("seg dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "kseg"))
        .expect("a segment file");
    let f = segment_file::open(&seg, DIM, Metric::L2, Checks::All).expect("open segment");
    let g = f.graph.as_ref().expect("graph");
    let n = f.rows;
    let label = |u: u32| labels[f.ids[u as usize] as usize];
    println!("segment {}: {n} rows, entry {}, max level {}", seg.display(), g.entry, g.max_level);
    // Reachability from the entry on layer 0.
    let mut seen = vec![false; n];
    let mut stack = vec![g.entry];
    seen[g.entry as usize] = true;
    let mut reached = 0usize;
    while let Some(u) = stack.pop() {
        reached += 1;
        for &v in g.neighbours0(u) {
            if !std::mem::replace(&mut seen[v as usize], true) {
                stack.push(v);
            }
        }
    }
    println!("layer 0: {reached} of {n} nodes reachable from the entry");
    // Per tenth of insertion order: out-degree, in-degree, out-edges leaving the cluster,
    // nodes with no out-edge into their own cluster.
    let mut indeg = vec![0u32; n];
    for u in 0..n as u32 {
        for &v in g.neighbours0(u) {
            indeg[v as usize] += 1;
        }
    }
    let tenth = n.div_ceil(10);
    let mut stats = vec![[0u64; 5]; 10];
    for u in 0..n as u32 {
        let id = f.ids[u as usize] as usize;
        let t = &mut stats[id / tenth];
        let own = label(u);
        let list = g.neighbours0(u);
        let foreign = list.iter().filter(|&&v| label(v) != own).count();
        t[0] += 1;
        t[1] += list.len() as u64;
        t[2] += indeg[u as usize] as u64;
        t[3] += foreign as u64;
        t[4] += u64::from(foreign == list.len());
    }
    println!("ids by tenth: nodes, mean out-degree, mean in-degree, out-edges to another cluster, nodes with no edge into their own cluster");
    for (i, t) in stats.iter().enumerate() {
        println!(
            "  {i}: {} {:.2} {:.2} {:.4} {}",
            t[0],
            t[1] as f64 / t[0] as f64,
            t[2] as f64 / t[0] as f64,
            t[3] as f64 / t[1].max(1) as f64,
            t[4]
        );
    }
    // Upper layers: per level, nodes and edges leaving the cluster.
    for level in 1..=g.max_level {
        let (mut nodes, mut edges, mut foreign) = (0usize, 0usize, 0usize);
        for u in 0..n as u32 {
            let list = g.neighbours_upper(u, level);
            if g.levels[u as usize] >= level {
                nodes += 1;
                edges += list.len();
                foreign += list.iter().filter(|&&v| label(v) != label(u)).count();
            }
        }
        println!("layer {level}: {nodes} nodes, {edges} edges, {foreign} to another cluster");
    }
    // The f32 walk: recall, and for misses whether the walk's results are in the query's cluster.
    let row_of: std::collections::HashMap<u64, u32> = (0..n as u32).map(|u| (f.ids[u as usize], u)).collect();
    let kernels = kyrodb_core::simd::kernels();
    let nq = queries.len() / DIM;
    for ef in [128usize, 512] {
        let (mut hits, mut wrong, mut zero) = (0usize, 0usize, 0usize);
        for q in 0..nq {
            let query = &queries[q * DIM..(q + 1) * DIM];
            let rows = ExactRows { vectors: &f.vectors, dim: g.dim, metric: Metric::L2, kernels, query };
            let mut r = search_graph_with(g, &rows, K, ef, Admission::default());
            r.sort_by(|a, b| a.0.total_cmp(&b.0));
            r.truncate(K);
            let truth = &gt[q * K..q * K + K];
            let h = r.iter().filter(|&&(_, u)| truth.contains(&(f.ids[u as usize] as i32))).count();
            hits += h;
            if h == 0 {
                zero += 1;
                if r.first().is_some_and(|&(_, u)| label(u) != query_labels[q]) {
                    wrong += 1;
                }
                if zero <= 5 {
                    let best = row_of[&(truth[0] as u64)];
                    println!(
                        "  ef {ef} query {q}: 0 hits; true best node {best} (level {}, out {}, in {}, reachable {}); found {:?}",
                        g.levels[best as usize],
                        g.neighbours0(best).len(),
                        indeg[best as usize],
                        seen[best as usize],
                        r.iter().take(3).map(|&(d, u)| (d, u, label(u) == query_labels[q])).collect::<Vec<_>>()
                    );
                }
            }
        }
        println!(
            "f32 walk ef {ef}: recall {:.4}; {zero} queries with no hit, {wrong} of them answered from another cluster",
            hits as f64 / (nq * K) as f64
        );
    }
}

/// Open the database at `dir`, answer one search, finish the deferred checks.
fn reopen_only(dir: &Path, options: OpenOptions) {
    let mut query = Vec::new();
    Mixture::new(SEED, CENTRES).rows(1, &mut query);
    let t = Instant::now();
    let db = Database::open_with(Some(dir), options).expect("reopen");
    let opened = t.elapsed().as_secs_f64();
    let col = db.collection("scale").expect("collection");
    let params = SearchParams { k: K, ef: Some(64), ..SearchParams::default() };
    let r = col.search(&query, &params).expect("first search");
    let first = t.elapsed().as_secs_f64();
    let rss_first = rss();
    let wal = db.stats().wal.disk_bytes;
    db.verify().expect("verify");
    println!(
        "reopen ({:?}, {:.0} MiB of WAL): open {opened:.2} s, first search answered at {first:.2} s ({} hits, {} rows; {rss_first}); every deferred check done at {:.2} s; {}",
        options.segment_checks,
        wal as f64 / 1048576.0,
        r.ids.len(),
        col.count().expect("count"),
        t.elapsed().as_secs_f64(),
        rss()
    );
}
