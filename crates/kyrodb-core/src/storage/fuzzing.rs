//! Entry points for fuzzing the on-disk readers: the `fuzz/` cargo-fuzz targets and the
//! stable `tests/readers_fuzz.rs` call these with arbitrary bytes. Whatever the bytes, a
//! reader must return data or an error — never panic, hang, or read outside the file.
//!
//! Random bytes almost never pass the checksums, which would leave everything behind
//! them untested; [`reseal_sectioned`] and [`reseal_wal`] recompute the checksums of
//! damaged bytes so that the structural checks (counts, section sizes, offsets, lengths,
//! record encodings, the learned index) are what is exercised.

use super::codec::{le_u32, le_u64};
use super::sectioned::{header_len, HEADER, MAX_SECTIONS};
use super::{records, run_file, wal};
use crate::kv::run::{Found, Run};
use crate::kv::stats::KvCounters;
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
        };
        decoded += ok as usize;
        Ok(())
    });
    scan.ok().map(|_| decoded)
}
