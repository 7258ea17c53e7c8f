//! The run-file and WAL readers against damaged bytes, on stable Rust and in every
//! `cargo test` (the cargo-fuzz targets in `fuzz/` run the same entry points without
//! end). Valid files are damaged by bit flips, random bytes, truncation and rewritten
//! structural fields (counts, section offsets and lengths, frame lengths), and half the
//! time resealed with correct checksums so that the structural checks behind them are
//! what gets tested. Every case must read or refuse — a panic fails the test.

use kyrodb_core::kv::run::{build_index, RunColumns};
use kyrodb_core::kv::stats::KvCounters;
use kyrodb_core::kv::ValueKind;
use kyrodb_core::storage::fuzzing::{read_run, read_wal, reseal_sectioned, reseal_wal};
use kyrodb_core::storage::records::{encode_delete, encode_kv, encode_upsert, KvOp};
use kyrodb_core::storage::{run_file, wal};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CASES: usize = 3000;

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
            1 => encode_upsert(3, 4, &[i, i + 1], &[0.5; 8], &[Some("{\"a\":1}"), None]),
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
