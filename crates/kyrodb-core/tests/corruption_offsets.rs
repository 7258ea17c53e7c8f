//! Corruption messages name where the damage is: each test damages a byte at a known
//! offset of a file, reseals its checksums so that the structural check behind them is
//! what fails, and checks that the `CORRUPTION` message names an offset at or just before
//! the damaged byte (the start of the damaged entry), not offset 0 or a section's start.

use kyrodb_core::kv::run::{build_index, Run, RunColumns};
use kyrodb_core::kv::stats::KvCounters;
use kyrodb_core::kv::ValueKind;
use kyrodb_core::storage::fuzzing::{reseal_manifest, reseal_sectioned, reseal_wal};
use kyrodb_core::storage::{manifest, run_file, segment_file};
use kyrodb_core::{CollectionConfig, Database, Error, Metric};
use std::path::{Path, PathBuf};

fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
}

/// Offset of section `i` of a sectioned file.
fn section(b: &[u8], i: usize) -> usize {
    u64_at(b, 48 + i * 24)
}

/// The offset an error message names ("... at offset N").
fn named_offset(e: &Error) -> usize {
    let msg = e.to_string();
    assert!(matches!(e, Error::Corruption(_)), "CORRUPTION, not {msg}");
    let tail = msg.rsplit("at offset ").next().unwrap_or_else(|| panic!("no offset in {msg}"));
    let digits: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("no offset in {msg}"))
}

/// The message names `damaged`, or the start of its entry at most `entry` bytes before.
fn names_near(e: &Error, damaged: usize, entry: usize) {
    let at = named_offset(e);
    assert!(at <= damaged && damaged - at < entry.max(1), "byte {damaged} damaged, the message says: {e}");
}

fn run_file_bytes(dir: &Path) -> (PathBuf, Vec<u8>) {
    let n = 400;
    let mut cols = RunColumns::with_capacity(n, n * 8);
    for i in 0..n as u64 {
        cols.push(i * 13 + 5, if i % 5 == 0 { ValueKind::Str } else { ValueKind::Bytes }, &[i as u8; 6]);
    }
    let index = build_index(&cols.keys, &KvCounters::default());
    run_file::write(dir, 4, &cols.parts(&index)).unwrap();
    let path = dir.join(run_file::file_name(4));
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

fn open_run(path: &Path) -> kyrodb_core::Result<Run> {
    run_file::open(path).and_then(|f| Run::from_file(4, f))
}

#[test]
fn run_entry_with_bad_value_offsets_names_the_offset_field() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut b) = run_file_bytes(dir.path());
    // Entry 250's end offset (offsets[251]) points past the values.
    let damaged = section(&b, 2) + 251 * 8;
    b[damaged..damaged + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal_sectioned(&mut b);
    std::fs::write(&path, &b).unwrap();
    let run = open_run(&path).unwrap();
    assert!(run.entry(249).is_ok());
    names_near(&run.entry(250).unwrap_err(), damaged, 8);
}

#[test]
fn run_entry_with_unknown_kind_names_the_kind_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut b) = run_file_bytes(dir.path());
    let damaged = section(&b, 1) + 333;
    b[damaged] = 77;
    reseal_sectioned(&mut b);
    std::fs::write(&path, &b).unwrap();
    let run = open_run(&path).unwrap();
    names_near(&run.entry(333).unwrap_err(), damaged, 1);
}

#[cfg(feature = "learned-index")]
#[test]
fn run_with_a_damaged_learned_index_names_the_index_section() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut b) = run_file_bytes(dir.path());
    // The index's own magic: the decoder refuses it.
    let damaged = section(&b, 4);
    b[damaged] ^= 0xFF;
    reseal_sectioned(&mut b);
    std::fs::write(&path, &b).unwrap();
    let e = open_run(&path).unwrap_err();
    names_near(&e, damaged, 1);
    assert!(named_offset(&e) > 0, "{e}");
}

fn graph_segment() -> Vec<u8> {
    // The v2 fixture's 2,100-row graph segment (dimension 8, L2, M = 4).
    let seg = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segment-v2/db/seg");
    std::fs::read(seg.join(segment_file::file_name(1))).unwrap()
}

fn open_segment(dir: &Path, b: &[u8]) -> kyrodb_core::Result<segment_file::SegmentFile> {
    let path = dir.join(segment_file::file_name(9));
    std::fs::write(&path, b).unwrap();
    segment_file::open(&path, 8, Metric::L2, segment_file::Checks::All)
}

#[test]
fn segment_neighbour_outside_the_graph_names_the_list_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = graph_segment();
    assert!(open_segment(dir.path(), &b).is_ok());
    let m = u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize;
    // Node 1,500's first layer-0 neighbour.
    let list = section(&b, 5) + 1500 * (2 * m + 1) * 4;
    assert!(u32::from_le_bytes(b[list..list + 4].try_into().unwrap()) >= 1, "node 1500 has neighbours");
    let damaged = list + 4;
    b[damaged..damaged + 4].copy_from_slice(&100_000u32.to_le_bytes());
    reseal_sectioned(&mut b);
    names_near(&open_segment(dir.path(), &b).map(|_| ()).unwrap_err(), damaged, 4);
}

#[test]
fn segment_node_above_the_top_layer_names_its_level_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = graph_segment();
    let damaged = section(&b, 4) + 1777;
    b[damaged] = 250;
    reseal_sectioned(&mut b);
    names_near(&open_segment(dir.path(), &b).map(|_| ()).unwrap_err(), damaged, 1);
}

#[test]
fn manifest_with_a_damaged_body_names_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segment-v2/db/MANIFEST");
    let mut b = std::fs::read(src).unwrap();
    // A colon in the middle of the body becomes a letter: the JSON stops parsing there.
    let damaged = (b.len() / 2..b.len()).find(|&i| b[i] == b':').unwrap();
    b[damaged] = b'x';
    reseal_manifest(&mut b);
    std::fs::write(dir.path().join(manifest::FILE), &b).unwrap();
    let e = manifest::Manifest::read(dir.path()).unwrap_err();
    names_near(&e, damaged, 2);
}

/// A database with one collection write and one key-value write, closed with both still
/// in its only WAL file; returns the WAL file's path and bytes.
fn wal_with_writes(dir: &Path) -> (PathBuf, Vec<u8>) {
    let db = Database::open(Some(dir)).unwrap();
    let c = db.create_collection("c", CollectionConfig::exact(2, Metric::L2)).unwrap();
    c.upsert(&[7], vec![1.0, 2.0], Some(vec![Some(r#"{"name":"MARKERMETA"}"#.to_string())])).unwrap();
    db.kv().put(9, ValueKind::Str, b"MARKERVALUE").unwrap();
    db.close().unwrap();
    let wal: Vec<PathBuf> = std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    let with = |b: &[u8]| b.windows(11).any(|w| w == b"MARKERVALUE") && b.windows(10).any(|w| w == b"MARKERMETA");
    let path = wal.into_iter().find(|p| with(&std::fs::read(p).unwrap())).expect("a WAL file with both writes");
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// Write the WAL of `wal_with_writes`, put a byte that is not UTF-8 `skip` bytes into the
/// first `marker`, reseal, and open: the error and the damaged offset.
fn open_with_non_utf8_after(marker: &[u8], skip: usize) -> (Error, usize) {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut b) = wal_with_writes(dir.path());
    let damaged = find(&b, marker) + skip;
    b[damaged] = 0xFF;
    reseal_wal(&mut b);
    std::fs::write(&path, &b).unwrap();
    (Database::open(Some(dir.path())).map(|_| ()).unwrap_err(), damaged)
}

fn find(b: &[u8], what: &[u8]) -> usize {
    b.windows(what.len()).position(|w| w == what).unwrap()
}

#[test]
fn key_value_frame_with_a_bad_string_names_its_offset_in_the_wal_file() {
    let (e, damaged) = open_with_non_utf8_after(b"MARKERVALUE", 3);
    // The operation's start: its code, key and value length precede the value.
    names_near(&e, damaged, 1 + 8 + 4 + 3 + 1);
}

#[test]
fn collection_frame_with_bad_metadata_names_where_its_payload_starts() {
    let (e, damaged) = open_with_non_utf8_after(b"MARKERMETA", 2);
    // The payload of a one-row upsert is a few dozen bytes.
    names_near(&e, damaged, 128);
}

#[test]
fn deletion_file_of_the_wrong_row_count_names_the_row_field() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segment-v2/db/seg");
    let mut b = std::fs::read(src.join(kyrodb_core::storage::deletes::file_name(4))).unwrap();
    let path = dir.path().join("d.kdel");
    std::fs::write(&path, &b).unwrap();
    assert!(kyrodb_core::storage::deletes::read(&path, 1, 2100).is_ok());
    let damaged = 24;
    b[damaged] ^= 1;
    kyrodb_core::storage::fuzzing::reseal_deletes(&mut b);
    std::fs::write(&path, &b).unwrap();
    names_near(&kyrodb_core::storage::deletes::read(&path, 1, 2100).unwrap_err(), damaged, 1);
}
