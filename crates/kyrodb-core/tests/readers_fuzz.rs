//! The on-disk readers (run files, WAL files, segment files of every format version,
//! deletion files, the manifest) against damaged bytes, on stable Rust and in every
//! `cargo test` (the cargo-fuzz targets in `fuzz/` run the same entry points without
//! end). Valid files are damaged by bit flips, random bytes, truncation, extension and
//! rewritten structural fields (counts, section offsets and lengths, frame lengths, graph
//! lists), and half the time resealed with correct checksums so that the structural checks
//! behind them are what gets tested. Every case must read or refuse — a panic fails the
//! test, and a refusal must be `CORRUPTION`.

use kyrodb_core::kv::run::{build_index, RunColumns};
use kyrodb_core::kv::stats::KvCounters;
use kyrodb_core::kv::ValueKind;
use kyrodb_core::storage::fuzzing::{
    read_deletes, read_manifest, read_run, read_segment, read_wal, reseal_deletes, reseal_manifest, reseal_sectioned,
    reseal_wal,
};
use kyrodb_core::storage::records::{encode_delete, encode_kv, encode_upsert, KvOp};
use kyrodb_core::storage::{deletes, manifest, segment_file};
use kyrodb_core::storage::{run_file, wal};
use kyrodb_core::{CollectionConfig, Database, Metric};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CASES: usize = 3000;

/// Every allocation of this test binary is capped: a reader that sizes a buffer from a
/// damaged count instead of the file's length fails the test (the process aborts on the
/// refused allocation) instead of passing on a machine with enough memory.
struct CappedAlloc;

const ALLOC_CAP: usize = 256 << 20;

// SAFETY: defers to the system allocator, refusing only oversized requests (null is the
// allocator's documented failure result).
unsafe impl std::alloc::GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

fn valid_run(dir: &std::path::Path) -> (Vec<u8>, usize) {
    let n = 500;
    let mut cols = RunColumns::with_capacity(n, n * 8);
    for i in 0..n as u64 {
        let kind = match i % 7 {
            0 => ValueKind::Deleted,
            1 => ValueKind::Str,
            _ => ValueKind::Bytes,
        };
        let value = if kind == ValueKind::Deleted { vec![] } else { vec![i as u8; (i % 13) as usize] };
        cols.push(i * i * 31 + 7, kind, &value);
    }
    let index = build_index(&cols.keys, &KvCounters::default());
    run_file::write(dir, 9, &cols.parts(&index)).unwrap();
    (std::fs::read(dir.join(run_file::file_name(9))).unwrap(), n)
}

fn valid_wal() -> (Vec<u8>, usize) {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(wal::MAGIC);
    bytes.extend_from_slice(&wal::VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&0xD8u64.to_le_bytes()); // database id
    bytes.extend_from_slice(&100u64.to_le_bytes()); // first sequence
    bytes.extend_from_slice(&[0u8; 8]); // reserved + checksum (resealed below)
    let mut frames = 0;
    for i in 0..40u64 {
        let payload = match i % 3 {
            0 => encode_kv(&[
                KvOp { op: 1, key: i, value: b"value" },
                KvOp { op: 0, key: i + 1, value: b"" },
                KvOp { op: 2, key: i + 2, value: "é".as_bytes() },
            ]),
            1 => encode_upsert(3, 4, &[i, i + 1], &[0.5; 8], &[Some("{\"a\":1}"), None], None),
            _ => encode_delete(3, &[i, i + 9]),
        };
        let kind = [wal::FrameKind::KvBatch, wal::FrameKind::Upsert, wal::FrameKind::Delete][(i % 3) as usize];
        wal::encode_frame(&mut bytes, kind, 100 + i, &payload);
        frames += 1;
    }
    reseal_wal(&mut bytes);
    (bytes, frames)
}

/// Damage `bytes` one of several ways; `fields` are offsets of structural u32/u64 fields.
fn damage(rng: &mut StdRng, bytes: &mut Vec<u8>, fields: &[usize]) {
    for _ in 0..rng.gen_range(1..=3) {
        match rng.gen_range(0..5) {
            0 if !bytes.is_empty() => {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= 1 << rng.gen_range(0..8);
            }
            1 if !bytes.is_empty() => {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] = rng.gen();
            }
            2 => {
                let len = rng.gen_range(0..=bytes.len());
                bytes.truncate(len);
            }
            3 => {
                let at = fields[rng.gen_range(0..fields.len())];
                let edge = [0u64, 1, 7, 63, 64, 255, 4096, u32::MAX as u64, u32::MAX as u64 + 1, u64::MAX, rng.gen()];
                let v = edge[rng.gen_range(0..edge.len())];
                let width = if rng.gen_bool(0.5) { 4 } else { 8 };
                if at + width <= bytes.len() {
                    bytes[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
                }
            }
            _ => {
                let extra = rng.gen_range(1..64);
                bytes.extend((0..extra).map(|_| rng.gen::<u8>()));
            }
        }
    }
}

#[test]
fn damaged_run_files_are_read_or_refused_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (run, entries) = valid_run(dir.path());
    assert_eq!(read_run(&run, dir.path()), Some(entries), "the undamaged run reads whole");
    // Entry count, index flag, and the section table (offset, length per section).
    let mut fields = vec![12, 20, 44];
    for i in 0..5 {
        fields.extend([48 + i * 24, 48 + i * 24 + 8]);
    }
    let mut rng = StdRng::seed_from_u64(0xF0221);
    let (mut refused, mut read) = (0, 0);
    for _ in 0..CASES {
        let mut bytes = run.clone();
        damage(&mut rng, &mut bytes, &fields);
        if rng.gen_bool(0.5) {
            reseal_sectioned(&mut bytes);
        }
        match read_run(&bytes, dir.path()) {
            Some(_) => read += 1,
            None => refused += 1,
        }
    }
    eprintln!("{read} read, {refused} refused");
    assert!(refused > 0 && read > 0, "both outcomes occur: {read} read, {refused} refused");
}

#[test]
fn damaged_wal_files_are_read_or_refused_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (log, frames) = valid_wal();
    assert_eq!(read_wal(&log, dir.path()), Some(frames), "the undamaged log decodes whole");
    // Header fields and the first frames' length fields.
    let mut fields = vec![8, 16, 24];
    let mut pos = wal::FILE_HEADER;
    for _ in 0..6 {
        fields.extend([pos, pos + 8, pos + 16, pos + 24]);
        pos += u32::from_le_bytes(log[pos..pos + 4].try_into().unwrap()) as usize;
    }
    let mut rng = StdRng::seed_from_u64(0xF0222);
    let (mut refused, mut read) = (0, 0);
    for _ in 0..CASES {
        let mut bytes = log.clone();
        damage(&mut rng, &mut bytes, &fields);
        if rng.gen_bool(0.5) {
            reseal_wal(&mut bytes);
        }
        match read_wal(&bytes, dir.path()) {
            Some(_) => read += 1,
            None => refused += 1,
        }
    }
    eprintln!("{read} read, {refused} refused");
    assert!(refused > 0 && read > 0, "both outcomes occur: {read} read, {refused} refused");
}

/// A small durable database whose files are the seeds: an indexed collection (a graph
/// segment in the current format with metadata, some rows deleted) and its manifest.
struct Seeds {
    segment: Vec<u8>,
    segment_number: u64,
    rows: usize,
    deletes: Vec<u8>,
    deleted: usize,
    manifest: Vec<u8>,
}

fn seeds() -> Seeds {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(Some(dir.path())).unwrap();
    let c = db.create_collection("v", CollectionConfig::indexed(8, Metric::L2)).unwrap();
    let rows = 300;
    let mut rng = StdRng::seed_from_u64(0x5E6);
    let vectors: Vec<f32> = (0..rows * 8).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let meta: Vec<Option<String>> =
        (0..rows).map(|i| (i % 5 != 0).then(|| format!(r#"{{"i":{i},"t":"{}"}}"#, ["a", "b"][i % 2]))).collect();
    let ids: Vec<u64> = (0..rows as u64).map(|i| i * 3 + 1).collect();
    c.upsert(&ids, vectors, Some(meta)).unwrap();
    c.build_index(&mut |_, _| {}).unwrap();
    let gone: Vec<u64> = ids.iter().copied().step_by(7).collect();
    c.delete(&gone).unwrap();
    db.flush(&mut |_, _| {}).unwrap();
    db.close().unwrap();
    let (mut segment, mut del) = (None, None);
    for e in std::fs::read_dir(dir.path().join("seg")).unwrap() {
        let p = e.unwrap().path();
        match p.extension().and_then(|x| x.to_str()) {
            Some("kseg") => segment = Some(p),
            Some("kdel") => del = Some(p),
            _ => {}
        }
    }
    let segment = segment.expect("a segment file");
    let segment_number: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    Seeds {
        segment: std::fs::read(&segment).unwrap(),
        segment_number,
        rows,
        deletes: std::fs::read(del.expect("a deletion file")).unwrap(),
        deleted: gone.len(),
        manifest: std::fs::read(dir.path().join(manifest::FILE)).unwrap(),
    }
}

/// Offsets of a segment file's structural fields: header fields, the section table, and
/// the first entries of the metadata offsets (2), levels (4), layer-0 lists (5), upper
/// slots (6) and upper lists (7).
fn segment_fields(bytes: &[u8]) -> Vec<usize> {
    let sections = u32::from_le_bytes(bytes[44..48].try_into().unwrap()) as usize;
    let mut fields = vec![12, 16, 20, 24, 28, 29, 32, 36, 40, 44];
    for i in 0..sections {
        let at = 48 + i * 24;
        fields.extend([at, at + 8]);
        if [2, 4, 5, 6, 7].contains(&i) {
            let off = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let len = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
            fields.extend((0..len.min(256)).step_by(4).map(|j| off + j));
            fields.extend((len.saturating_sub(64)..len).step_by(4).map(|j| off + j));
        }
    }
    fields
}

/// Damage `seed` `CASES` times (resealing half of them) and read each result with `read`;
/// returns (read, refused).
fn mutate(
    seed: &[u8],
    fields: &[usize],
    rng_seed: u64,
    cases: usize,
    reseal: fn(&mut [u8]),
    mut read: impl FnMut(&[u8]) -> Option<usize>,
) -> (usize, usize) {
    let mut rng = StdRng::seed_from_u64(rng_seed);
    let (mut refused, mut read_ok) = (0, 0);
    for _ in 0..cases {
        let mut bytes = seed.to_vec();
        damage(&mut rng, &mut bytes, fields);
        if rng.gen_bool(0.5) {
            reseal(&mut bytes);
        }
        match read(&bytes) {
            Some(_) => read_ok += 1,
            None => refused += 1,
        }
    }
    eprintln!("{read_ok} read, {refused} refused");
    (read_ok, refused)
}

/// Refusals are `CORRUPTION` (checked on a sample: `read_*` only say refused).
fn refusal_is_corruption(
    bytes: &[u8],
    dir: &std::path::Path,
    open: impl Fn(&std::path::Path) -> kyrodb_core::Result<()>,
) {
    let path = dir.join("probe");
    std::fs::write(&path, bytes).unwrap();
    if let Err(e) = open(&path) {
        assert!(matches!(e, kyrodb_core::Error::Corruption(_)), "a damaged file gives CORRUPTION, not {e:?}");
    }
}

fn fixture_segments() -> Vec<(String, Vec<u8>, usize, Metric)> {
    // The fixtures' "docs" segments (dimension 8, L2): format versions 1 and 2.
    let mut out = Vec::new();
    for v in ["segment-v1", "segment-v2"] {
        let seg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(v).join("db/seg");
        let mut files: Vec<_> = std::fs::read_dir(&seg)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "kseg"))
            .collect();
        files.sort();
        // The first file is the 300-row graph segment of "docs".
        out.push((v.to_string(), std::fs::read(&files[0]).unwrap(), 8, Metric::L2));
    }
    out
}

#[test]
fn damaged_segment_files_are_read_or_refused_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = seeds();
    let mut all = vec![("current".to_string(), s.segment.clone(), 8, Metric::L2)];
    all.extend(fixture_segments());
    for (i, (name, seed, dim, metric)) in all.into_iter().enumerate() {
        let rows = read_segment(&seed, dir.path(), dim, metric);
        assert!(rows.is_some_and(|r| r >= 300), "the undamaged {name} segment reads whole: {rows:?}");
        let fields = segment_fields(&seed);
        let (read, refused) = mutate(&seed, &fields, 0xF0223 + i as u64, CASES / 6, reseal_sectioned, |b| {
            read_segment(b, dir.path(), dim, metric)
        });
        assert!(refused > 0 && read > 0, "{name}: both outcomes occur: {read} read, {refused} refused");
        // A sample of refusals: always CORRUPTION.
        let mut rng = StdRng::seed_from_u64(7 + i as u64);
        for _ in 0..50 {
            let mut bytes = seed.clone();
            damage(&mut rng, &mut bytes, &fields);
            reseal_sectioned(&mut bytes);
            refusal_is_corruption(&bytes, dir.path(), |p| {
                segment_file::open(p, dim, metric, segment_file::Checks::All).map(|_| ())
            });
        }
    }
}

#[test]
fn damaged_deletion_files_are_read_or_refused_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = seeds();
    let (segment, rows) = (s.segment_number, s.rows);
    assert_eq!(read_deletes(&s.deletes, dir.path(), segment, rows), Some(s.deleted), "the undamaged file reads");
    let fields: Vec<usize> = vec![8, 12, 16, 24, 32, 40, 48, s.deletes.len() - 8];
    let (read, refused) =
        mutate(&s.deletes, &fields, 0xF0224, CASES, reseal_deletes, |b| read_deletes(b, dir.path(), segment, rows));
    assert!(refused > 0 && read > 0, "both outcomes occur: {read} read, {refused} refused");
    let mut rng = StdRng::seed_from_u64(8);
    for _ in 0..200 {
        let mut bytes = s.deletes.clone();
        damage(&mut rng, &mut bytes, &fields);
        refusal_is_corruption(&bytes, dir.path(), |p| deletes::read(p, segment, rows).map(|_| ()));
    }
}

#[test]
fn damaged_manifests_are_read_or_refused_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = seeds();
    let live = read_manifest(&s.manifest, dir.path());
    assert!(live.is_some_and(|n| n >= 2), "the undamaged manifest reads: {live:?}");
    // Header fields, and JSON numbers and brackets of the body.
    let mut fields = vec![8, 12, 16];
    fields.extend(
        s.manifest
            .iter()
            .enumerate()
            .filter(|(i, &b)| *i >= 20 && b"0123456789[{".contains(&b))
            .map(|x| x.0)
            .step_by(5),
    );
    let (read, refused) =
        mutate(&s.manifest, &fields, 0xF0225, CASES, reseal_manifest, |b| read_manifest(b, dir.path()));
    assert!(refused > 0 && read > 0, "both outcomes occur: {read} read, {refused} refused");
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..200 {
        let mut bytes = s.manifest.clone();
        damage(&mut rng, &mut bytes, &fields);
        reseal_manifest(&mut bytes);
        std::fs::write(dir.path().join(manifest::FILE), &bytes).unwrap();
        if let Err(e) = manifest::Manifest::read(dir.path()) {
            assert!(matches!(e, kyrodb_core::Error::Corruption(_)), "a damaged manifest gives CORRUPTION, not {e:?}");
        }
    }
}
