//! `cachesim`: replays key traces through KyroDB's query cache (TinyLFU and learned
//! admission) and through the best classic policies at equal bytes, with Belady's optimum
//! as the ceiling; prints a table and writes a CSV, an SVG plot and a section of
//! `benches/RESULTS.md`.
//!
//! `cargo run --release -p kyrodb-cachesim -- [--requests N] [--keys N] [--sizes a,b,c]
//! [--out DIR] [--no-results]`

mod policies;
mod svg;
mod traces;

use kyrodb_core::cache::admission::AdmissionMode;
use policies::{belady, KyroCache, Lru, Moka, Policy, QuickCache, Sieve};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The policies compared, in table order (Belady first).
pub const POLICIES: [&str; 8] = [
    "Belady",
    "LRU",
    "SIEVE",
    "S3-FIFO (quick_cache)",
    "W-TinyLFU (moka)",
    "kyro TinyLFU",
    "kyro S3-FIFO",
    "kyro learned",
];
/// Which of them are classic (online, not ours-learned): the "best classic" is the best of these.
const CLASSIC: [usize; 6] = [1, 2, 3, 4, 5, 6];
const LEARNED: usize = 7;
/// The learned mode's ablation: the same cache with the TinyLFU test.
const ABLATION: usize = 5;

struct Args {
    requests: usize,
    keys: usize,
    sizes: Vec<usize>,
    out: PathBuf,
    results: bool,
}

fn args() -> Args {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Args {
        requests: 1_000_000,
        keys: 100_000,
        sizes: vec![500, 2000, 8000],
        out: repo.join("benches"),
        results: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => a.requests = value().parse().expect("--requests N"),
            "--keys" => a.keys = value().parse().expect("--keys N"),
            "--sizes" => a.sizes = value().split(',').map(|s| s.parse().expect("--sizes a,b,c")).collect(),
            "--out" => a.out = PathBuf::from(value()),
            "--no-results" => a.results = false,
            "--help" | "-h" => {
                println!("cachesim [--requests N] [--keys N] [--sizes a,b,c] [--out DIR] [--no-results]");
                std::process::exit(0);
            }
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

/// GloVe's vocabulary in corpus-frequency order, from the benches' data cache, if there.
fn glove_words(repo_benches: &Path) -> Option<(Vec<String>, PathBuf)> {
    let dir = repo_benches.join(".data/glove");
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(&dir).ok()?.flatten().map(|e| e.path().join("words.json")).collect();
    found.sort();
    let path = found.into_iter().find(|p| p.exists())?;
    let words: Vec<String> = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    Some((words, path))
}

pub struct Row {
    pub trace: String,
    pub entries: usize,
    /// Hit rate per policy, in [`POLICIES`] order.
    pub hit: [f64; 8],
    /// Entries the kyro caches held at the end (TinyLFU, S3-FIFO, learned): their
    /// admission state is paid from the same bytes.
    pub kyro_entries: [u64; 3],
    pub retrains: u64,
}

fn main() {
    let a = args();
    let started = Instant::now();
    let (entry_bytes, _) = KyroCache::entry_bytes();
    let n = a.keys;
    let len = a.requests;
    let mut traces: Vec<(String, Vec<u64>)> = Vec::new();
    for (i, alpha) in [0.6, 0.8, 1.0, 1.2].into_iter().enumerate() {
        traces.push((format!("zipf-{alpha:.1}"), traces::zipf(n, alpha, len, 11 + i as u64)));
    }
    traces.push(("shift (zipf-1.0, new ranks every 100k)".into(), traces::shifting(n, 1.0, len, 100_000, 21)));
    traces.push(("drift (zipf-1.0, rotate 1 rank / 20 req)".into(), traces::drifting(n, 1.0, len, 20, 22)));
    traces.push(("scan (zipf-1.0 + 5k one-offs / 20k)".into(), traces::with_scans(n, 1.0, len, 20_000, 5_000, 23)));
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches");
    let words_note = match glove_words(&benches) {
        Some((w, path)) => {
            let note = format!(
                "GloVe vocabulary ({} words, `{}`), ranked by corpus frequency as the file lists them, drawn by Zipf(1.0) over that rank",
                w.len(),
                Path::new("benches").join(path.strip_prefix(&benches).unwrap_or(&path)).display()
            );
            traces.push(("words (GloVe vocabulary, zipf-1.0 by rank)".into(), traces::words(&w, 1.0, len, 24)));
            note
        }
        None => {
            let note = "GloVe vocabulary not found under benches/.data/glove (run `node benches/datasets/glove.mjs` first): the word trace is left out".to_string();
            eprintln!("{note}");
            note
        }
    };

    let mut rows = Vec::new();
    for (name, trace) in &traces {
        for &entries in &a.sizes {
            let t0 = Instant::now();
            let mut hit = [0.0; 8];
            let rate = |hits: u64| hits as f64 / trace.len() as f64;
            hit[0] = rate(belady(trace, entries));
            let run = |p: &mut dyn Policy| rate(trace.iter().map(|&k| p.access(k) as u64).sum());
            hit[1] = run(&mut Lru::new(entries));
            hit[2] = run(&mut Sieve::new(entries));
            hit[3] = run(&mut QuickCache::new(entries));
            hit[4] = run(&mut Moka::new(entries));
            let mut tiny = KyroCache::new(entries * entry_bytes, AdmissionMode::TinyLfu);
            hit[5] = run(&mut tiny);
            let mut s3 = KyroCache::new(entries * entry_bytes, AdmissionMode::S3Fifo);
            hit[6] = run(&mut s3);
            let mut learned = KyroCache::new(entries * entry_bytes, AdmissionMode::Learned);
            hit[7] = run(&mut learned);
            let (ts, ss, ls) = (tiny.stats(), s3.stats(), learned.stats());
            let row = Row {
                trace: name.clone(),
                entries,
                hit,
                kyro_entries: [ts.entries, ss.entries, ls.entries],
                retrains: ls.retrains,
            };
            eprintln!(
                "{name:<45} {entries:>6}  {}  ({:.1}s)",
                hit.iter().map(|h| format!("{:.4}", h)).collect::<Vec<_>>().join(" "),
                t0.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }

    let table = table(&rows);
    println!("{table}");
    std::fs::create_dir_all(&a.out).expect("output dir");
    let csv_path = a.out.join("cache-policies.csv");
    std::fs::write(&csv_path, csv(&rows)).expect("write csv");
    let svg_path = a.out.join("cache-policies.svg");
    std::fs::write(&svg_path, svg::plot(&rows, &a.sizes)).expect("write svg");
    eprintln!("wrote {} and {} in {:.0}s", csv_path.display(), svg_path.display(), started.elapsed().as_secs_f64());
    if a.results {
        let section = section(&a, &rows, &table, entry_bytes, &words_note);
        let results = a.out.join("RESULTS.md");
        let old = std::fs::read_to_string(&results).unwrap_or_default();
        let (start, end) = ("<!-- cache-policies:start -->", "<!-- cache-policies:end -->");
        let new = match (old.find(start), old.find(end)) {
            (Some(s), Some(e)) => format!("{}{}{}", &old[..s], section, &old[e + end.len()..]),
            _ => format!("{}\n{}\n", old.trim_end(), section),
        };
        std::fs::write(&results, new).expect("write RESULTS.md");
        eprintln!("updated {}", results.display());
    }
}

fn best_classic(r: &Row) -> (usize, f64) {
    CLASSIC.iter().map(|&i| (i, r.hit[i])).fold((0, -1.0), |b, x| if x.1 > b.1 { x } else { b })
}

/// Fewer misses of learned than of the best classic policy, as a fraction of the latter.
fn miss_reduction(r: &Row) -> f64 {
    let (_, best) = best_classic(r);
    ((1.0 - best) - (1.0 - r.hit[LEARNED])) / (1.0 - best)
}

fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| trace | entries | {} | best classic | learned − Belady (pp) | learned vs ablation (pp) | learned: fewer misses than best classic |",
        POLICIES.join(" | ")
    );
    let _ = writeln!(s, "| --- | ---: |{} --- | ---: | ---: | ---: |", " ---: |".repeat(POLICIES.len()));
    for r in rows {
        let (bi, best) = best_classic(r);
        let cells: Vec<String> = r
            .hit
            .iter()
            .enumerate()
            .map(|(i, h)| if i == bi { format!("**{:.2}%**", h * 100.0) } else { format!("{:.2}%", h * 100.0) })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} ({:.2}%) | {:+.2} | {:+.2} | {:+.1}% |",
            r.trace,
            r.entries,
            cells.join(" | "),
            POLICIES[bi],
            best * 100.0,
            (r.hit[LEARNED] - r.hit[0]) * 100.0,
            (r.hit[LEARNED] - r.hit[ABLATION]) * 100.0,
            miss_reduction(r) * 100.0
        );
    }
    s
}

fn csv(rows: &[Row]) -> String {
    let mut s = String::from("trace,entries,policy,hit_rate,miss_rate,gap_to_belady\n");
    for r in rows {
        for (i, p) in POLICIES.iter().enumerate() {
            let _ = writeln!(
                s,
                "\"{}\",{},{},{:.6},{:.6},{:.6}",
                r.trace,
                r.entries,
                p,
                r.hit[i],
                1.0 - r.hit[i],
                r.hit[0] - r.hit[i]
            );
        }
    }
    s
}

/// What the table says about the learned mode and the default, computed from the rows.
fn summary(rows: &[Row]) -> String {
    let n = rows.len();
    let beats: Vec<&Row> = rows.iter().filter(|r| r.hit[LEARNED] >= best_classic(r).1).collect();
    let shifting: Vec<&Row> =
        rows.iter().filter(|r| r.trace.starts_with("shift") || r.trace.starts_with("drift")).collect();
    let range = |xs: &mut dyn Iterator<Item = f64>| {
        xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)))
    };
    let (rlo, rhi) = range(&mut shifting.iter().map(|r| miss_reduction(r) * 100.0));
    let vs_ablation: Vec<f64> = rows.iter().map(|r| (r.hit[LEARNED] - r.hit[ABLATION]) * 100.0).collect();
    let wins = vs_ablation.iter().filter(|&&d| d > 0.0).count();
    let (alo, ahi) = range(&mut vs_ablation.iter().copied());
    let s3_vs_tiny = rows.iter().filter(|r| r.hit[6] > r.hit[ABLATION]).count();
    let s3_vs_learned = rows.iter().filter(|r| r.hit[6] >= r.hit[LEARNED]).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "- **Learned vs the best classic policy** (the best of LRU, SIEVE, S3-FIFO, W-TinyLFU and our own TinyLFU and S3-FIFO modes, per row): learned is at least as good on {} of {n} rows{}. On the shifting traces (shift, drift) its miss reduction against the best classic ranges from {rlo:+.1}% to {rhi:+.1}% (the goal was ≥ +10%): **not met**.",
        beats.len(),
        if beats.is_empty() {
            String::new()
        } else {
            format!(" ({})", beats.iter().map(|r| format!("{} at {}", r.trace, r.entries)).collect::<Vec<_>>().join("; "))
        },
    );
    let _ = writeln!(
        s,
        "- **Learned vs its ablation** (the same cache with the TinyLFU test, the same bytes): better on {wins} of {n} rows, from {alo:+.2} to {ahi:+.2} points: large gains where popularity moves (drift, shift at the larger sizes), small losses on static Zipf with little skew (α ≤ 0.8), where its label (did admitting pay before the victim was asked for again?) admits more than the frequency test and its state takes more of the bytes."
    );
    let _ = writeln!(
        s,
        "- **Default**: `s3fifo` (the cache's S3-FIFO mode) beats TinyLFU over LRU on {s3_vs_tiny} of {n} rows and is at least as good as learned on {s3_vs_learned} of {n}; it is within about a point of `quick_cache`'s S3-FIFO (it pays its ghost table out of the same bytes). Learned stays available (`cache: {{ admission: 'learned' }}`) for workloads whose popularity drifts."
    );
    s
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores; {date}")
}

fn section(a: &Args, rows: &[Row], table: &str, entry_bytes: usize, words_note: &str) -> String {
    let mut s = String::from("<!-- cache-policies:start -->\n### Query-cache policies: hit rate at equal bytes (trace-driven simulation)\n\n");
    let _ = writeln!(
        s,
        "Machine: {} (hit rates do not depend on it). {} requests per trace over {} keys; cache sizes in entries: {}.\n",
        machine(),
        a.requests,
        a.keys,
        a.sizes.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        s,
        "The `kyro` columns are KyroDB's `QueryCache` itself (`crates/kyrodb-core/src/cache/query.rs`) in its three modes, driven through its public API with entries of one fixed size ({entry_bytes} bytes as the cache counts them) and a budget of `entries × {entry_bytes}` bytes: their admission state (TinyLFU's sketch; S3-FIFO's ghost table; for `learned` two sketches, the lookup and decision logs, ghosts, the trainer's memory and working buffers) is paid out of that budget, so they hold fewer entries than the others (at the end of the last trace: {}, {} and {} of {}). The other policies hold exactly `entries` keys and are not charged for their metadata; `moka` seeds its hasher at random, so its figures move by about a tenth of a point between runs (the others are deterministic). Belady is the offline optimum with bypass. Traces: Zipf over ranks scrambled to keys; `shift` draws a fresh random rank → key permutation every 100,000 requests; `drift` maps rank r to key r + ⌊i / 20⌋ at request i; `scan` inserts 5,000 never-repeated keys after every 20,000 Zipf requests; `words`: {words_note}.\n",
        rows.last().map_or(0, |r| r.kyro_entries[0]),
        rows.last().map_or(0, |r| r.kyro_entries[1]),
        rows.last().map_or(0, |r| r.kyro_entries[2]),
        rows.last().map_or(0, |r| r.entries),
    );
    s.push_str(table);
    s.push('\n');
    s.push_str(&summary(rows));
    s.push_str("\n![hit rate per policy, trace and size](cache-policies.svg)\n\nData: `benches/cache-policies.csv`. Reproduce: `npm run bench:cache-policies` (`cargo run --release -p kyrodb-cachesim`).\n<!-- cache-policies:end -->");
    s
}
