//! Entry points for fuzzing the on-disk readers: the `fuzz/` cargo-fuzz targets and the
//! stable `tests/readers_fuzz.rs` call these with arbitrary bytes. Whatever the bytes, a
//! reader must return data or an error — never panic, hang, or read outside the file.
//!
//! Random bytes almost never pass the checksums, which would leave everything behind
//! them untested; [`reseal_sectioned`] and [`reseal_wal`] recompute the checksums of
//! damaged bytes so that the structural checks (counts, section sizes, offsets, lengths,
//! record encodings, the learned index) are what is exercised.

use super::codec::{le_u32, le_u64};
use super::manifest::Manifest;
use super::sectioned::{header_len, HEADER, MAX_SECTIONS};
use super::segment_file::{self, Checks};
use super::{deletes, records, run_file, wal};
use crate::kv::run::{Found, Run};
use crate::kv::stats::KvCounters;
use crate::vector::Metric;
use std::path::Path;

/// Recompute the header and section checksums of a sectioned file (segment or run), for
/// every section that lies inside the bytes.
pub fn reseal_sectioned(bytes: &mut [u8]) {
    if bytes.len() < HEADER {
        return;
    }
    let sections = (le_u32(bytes, 44) as usize).min(MAX_SECTIONS);
    let header = header_len(sections);
    if bytes.len() < header {
        return;
    }
    for i in 0..sections {
        let at = 48 + i * 24;
        let (off, len) = (le_u64(bytes, at), le_u64(bytes, at + 8));
        if let Some(end) = off.checked_add(len).filter(|&e| e <= bytes.len() as u64) {
            let crc = crc32c::crc32c(&bytes[off as usize..end as usize]);
            bytes[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&bytes[0..header - 16]);
    bytes[header - 16..header - 12].copy_from_slice(&crc.to_le_bytes());
}

/// Recompute a deletion file's checksum (bytes 12..16, of bytes 16..end).
pub fn reseal_deletes(bytes: &mut [u8]) {
    if bytes.len() >= 16 {
        let crc = crc32c::crc32c(&bytes[16..]);
        bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Recompute a manifest's body length and checksum (bytes 12..20, of bytes 20..end).
pub fn reseal_manifest(bytes: &mut [u8]) {
    if bytes.len() >= 20 {
        let len = (bytes.len() - 20) as u32;
        let crc = crc32c::crc32c(&bytes[20..]);
        bytes[12..16].copy_from_slice(&len.to_le_bytes());
        bytes[16..20].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Recompute a WAL file's header checksum and the checksum of every frame whose declared
/// length fits in the bytes.
pub fn reseal_wal(bytes: &mut [u8]) {
    if bytes.len() < wal::FILE_HEADER {
        return;
    }
    let crc = crc32c::crc32c(&bytes[0..36]);
    bytes[36..40].copy_from_slice(&crc.to_le_bytes());
    let mut pos = wal::FILE_HEADER;
    while pos + 4 <= bytes.len() {
        let len = le_u32(bytes, pos) as usize;
        if len < wal::FRAME_HEADER + wal::FRAME_TRAILER || pos + len > bytes.len() {
            return;
        }
        let crc = crc32c::crc32c(&bytes[pos..pos + len - 4]);
        bytes[pos + len - 4..pos + len].copy_from_slice(&crc.to_le_bytes());
        pos += len;
    }
}

/// Open `bytes` as a key-value run file (written to `dir`) and read everything: every
/// entry, a point lookup of every key, and lookups of edge keys. Returns the entries read,
/// or `None` when the file was refused.
pub fn read_run(bytes: &[u8], dir: &Path) -> Option<usize> {
    let path = dir.join("fuzz.krun");
    std::fs::write(&path, bytes).ok()?;
    let run = run_file::open(&path).and_then(|f| Run::from_file(1, f)).ok()?;
    let counters = KvCounters::default();
    let mut read = 0;
    for i in 0..run.len() {
        let Ok((key, found)) = run.entry(i) else { continue };
        read += 1;
        if let Found::Value(_, v) = found {
            std::hint::black_box(v.iter().map(|&b| b as u64).sum::<u64>());
        }
        let _ = run.get(key, &counters);
        let _ = run.get(key.wrapping_add(1), &counters);
    }
    for x in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
        let at = run.lower_bound(x, &counters);
        assert!(at <= run.len(), "lower_bound past the end");
        let _ = run.get(x, &counters);
    }
    let _ = run.warm(true);
    Some(read)
}

/// Check `bytes` as the newest WAL file (header fields taken from the bytes themselves, so
/// that a sealed header passes) and decode every frame's payload by its kind. Returns the
/// frames decoded, or `None` when the file was refused.
pub fn read_wal(bytes: &[u8], dir: &Path) -> Option<usize> {
    let path = dir.join("fuzz.wal");
    let (db_id, first_seq) =
        if bytes.len() >= wal::FILE_HEADER { (le_u64(bytes, 16), le_u64(bytes, 24)) } else { (0, 0) };
    wal::check_header(&path, bytes, db_id, first_seq).ok()??;
    let mut decoded = 0;
    let scan = wal::scan_file(&path, bytes, first_seq, true, &mut |frame| {
        let ok = match frame.kind {
            wal::FrameKind::Upsert => records::decode_upsert(frame.payload).is_ok(),
            wal::FrameKind::Delete => records::decode_delete(frame.payload).is_ok(),
            wal::FrameKind::KvBatch => records::decode_kv(frame.payload, &mut |op| {
                std::hint::black_box((op.key, op.value.len()));
            })
            .is_ok(),
            wal::FrameKind::Tag => frame.tag.is_some(),
        };
        decoded += ok as usize;
        Ok(())
    });
    scan.ok().map(|_| decoded)
}

/// The dimension and metric a segment file's header names, as a database would take them
/// from its manifest (a dimension outside `1..=MAX_DIMENSION` becomes 1, an unknown metric
/// code L2: a collection never has either).
pub fn segment_shape(bytes: &[u8]) -> (usize, Metric) {
    if bytes.len() < 32 {
        return (1, Metric::L2);
    }
    let dim = le_u32(bytes, 24) as usize;
    let dim = if (1..=crate::vector::MAX_DIMENSION).contains(&dim) { dim } else { 1 };
    let metric = match bytes[28] {
        0 => Metric::Cosine,
        2 => Metric::InnerProduct,
        _ => Metric::L2,
    };
    (dim, metric)
}

/// Open `bytes` as a segment file (written to `dir`) of a collection of `dim` and `metric`,
/// with every check at open, and read everything the search kernel would: every row's
/// id, vector and metadata, and for a graph every neighbour list on every layer, with the
/// vector and 8-bit code of each neighbour. Returns the rows, or `None` when the file was
/// refused.
pub fn read_segment(bytes: &[u8], dir: &Path, dim: usize, metric: Metric) -> Option<usize> {
    let path = dir.join(segment_file::file_name(1));
    std::fs::write(&path, bytes).ok()?;
    let f = segment_file::open(&path, dim, metric, Checks::All).ok()?;
    let mut sum = 0u64;
    for r in 0..f.rows {
        sum = sum.wrapping_add(f.ids[r]);
        sum = sum.wrapping_add(f.vectors[r * dim..(r + 1) * dim].iter().map(|x| x.to_bits() as u64).sum::<u64>());
        sum = sum.wrapping_add(f.metadata.get(r).map_or(0, |m| m.len() as u64));
        if let Some(order) = &f.id_order {
            // Every row named by the id order is read.
            sum = sum.wrapping_add(order.rows_of(f.ids[r]).iter().map(|&row| f.ids[row as usize]).sum::<u64>());
        }
    }
    if let Some(index) = &f.index {
        // Every posting list is read (an Exists of each path would need the paths; the
        // encoded form round-trips instead, which walks them all).
        sum = sum.wrapping_add(index.encode().len() as u64);
    }
    let touch = |v: u32| -> u64 {
        let v = v as usize;
        let code = f.quant.as_ref().map_or(0, |q| q.row(v as u32).iter().map(|&c| c as u64).sum::<u64>());
        f.vectors[v * dim].to_bits() as u64 + code
    };
    if let Some(g) = &f.graph {
        sum = sum.wrapping_add(touch(g.entry));
        let stride0 = g.stride0();
        for u in 0..g.n {
            let d = g.adj0[u * stride0] as usize;
            for &v in &g.adj0[u * stride0 + 1..u * stride0 + 1 + d] {
                sum = sum.wrapping_add(touch(v));
            }
            let start = g.upper_slot[u] as usize;
            for l in 0..g.levels[u] as usize {
                let s = start + l * (g.m + 1);
                let d = g.upper_adj[s] as usize;
                for &v in &g.upper_adj[s + 1..s + 1 + d] {
                    sum = sum.wrapping_add(touch(v));
                }
            }
        }
    }
    std::hint::black_box(sum);
    Some(f.rows)
}

/// Read `bytes` as deletion file number 2 (written to `dir`) of segment `segment` with
/// `rows` rows. Returns the deleted rows, or `None` when the file was refused.
pub fn read_deletes(bytes: &[u8], dir: &Path, segment: u64, rows: usize) -> Option<usize> {
    let path = dir.join(deletes::file_name(2));
    std::fs::write(&path, bytes).ok()?;
    let words = deletes::read(&path, segment, rows).ok()?;
    assert!(words.len() == rows.div_ceil(64), "{} words for {rows} rows", words.len());
    Some(words.iter().map(|w| w.count_ones() as usize).sum())
}

/// Read `bytes` as the `MANIFEST` of `dir`. Returns the live files it names, or `None`
/// when it was refused.
pub fn read_manifest(bytes: &[u8], dir: &Path) -> Option<usize> {
    std::fs::write(dir.join(super::manifest::FILE), bytes).ok()?;
    let m = Manifest::read(dir).ok()??;
    Some(m.live_files().len())
}
