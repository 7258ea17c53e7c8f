//! The container shared by the immutable data files (segments `.kseg`, key-value runs
//! `.krun`): a checksummed header, then up to 16 sections, each starting on a 64-byte
//! boundary with its own CRC32C, so that opening is one `mmap` plus checks and readers
//! use the mapped arrays in place.
//!
//! ```text
//! header (256 bytes for up to 8 sections, 512 bytes for 9 to 16)
//!   0  magic                     8 bytes, names the format
//!   8  format version u32
//!  12  format fields             32 bytes, defined by the format
//!  44  section count u32         (≤ 16)
//!  48  count × section { offset u64, length u64 (bytes), crc32c u32, reserved u32 }
//! header − 16: crc32c u32 of every header byte before it; zero padding to the end
//! sections, each starting on a 64-byte boundary, in order
//! ```
//!
//! (Files of up to 8 sections — every run file, and segment files of format version 1 —
//! keep the original 256-byte header byte for byte.)
//!
//! Files are written under a temporary name, fsynced, renamed and the directory fsynced
//! ([`AtomicFile`]); they are never modified afterwards.

use super::codec::{le_u32, le_u64};
use super::fs::AtomicFile;
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::path::Path;
use std::sync::Arc;

/// Header size of a file of at most 8 sections.
pub const HEADER: usize = 256;
/// Header size of a file of 9 to 16 sections.
pub const LARGE_HEADER: usize = 512;
/// Most sections in one file.
pub const MAX_SECTIONS: usize = 16;

/// Header size for a table of `sections` entries.
pub fn header_len(sections: usize) -> usize {
    if sections <= 8 {
        HEADER
    } else {
        LARGE_HEADER
    }
}
/// Alignment of every section.
pub const ALIGN: u64 = 64;
/// Offset of the format's own header fields.
pub const FIELDS: usize = 12;
/// Bytes of format fields (12..44).
pub const FIELDS_LEN: usize = 32;

/// Write `sections` as `dir/name` with `magic`, `version` and the format's `fields`
/// (at most [`FIELDS_LEN`] bytes, stored from offset 12).
pub fn write(
    dir: &Path,
    name: &str,
    magic: &[u8; 8],
    version: u32,
    fields: &[u8],
    sections: &[&[u8]],
) -> std::io::Result<()> {
    assert!(sections.len() <= MAX_SECTIONS && fields.len() <= FIELDS_LEN, "sectioned file layout");
    let header_len = header_len(sections.len());
    let mut header = vec![0u8; header_len];
    header[0..8].copy_from_slice(magic);
    header[8..12].copy_from_slice(&version.to_le_bytes());
    header[FIELDS..FIELDS + fields.len()].copy_from_slice(fields);
    header[44..48].copy_from_slice(&(sections.len() as u32).to_le_bytes());
    let mut offset = header_len as u64;
    for (i, s) in sections.iter().enumerate() {
        offset = offset.div_ceil(ALIGN) * ALIGN;
        let at = 48 + i * 24;
        header[at..at + 8].copy_from_slice(&offset.to_le_bytes());
        header[at + 8..at + 16].copy_from_slice(&(s.len() as u64).to_le_bytes());
        header[at + 16..at + 20].copy_from_slice(&crc32c::crc32c(s).to_le_bytes());
        offset += s.len() as u64;
    }
    let crc_at = header_len - 16;
    let crc = crc32c::crc32c(&header[0..crc_at]);
    header[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());

    let mut f = AtomicFile::create(dir, name)?;
    f.write(&header)?;
    for s in sections {
        f.pad_to(ALIGN)?;
        // Large sections go out in 8 MiB pieces (bounded syscall sizes).
        for chunk in s.chunks(8 << 20) {
            f.write(chunk)?;
        }
    }
    f.commit()
}

/// A sectioned file, mapped, its header checked.
pub struct Sectioned {
    /// The whole file.
    pub map: Arc<Mmap>,
    /// `(offset, length)` of each section.
    pub sections: Vec<(usize, usize)>,
    /// The open file, for positioned reads that check sections without mapping them in.
    pub file: Arc<std::fs::File>,
    /// Where it is (for error messages).
    pub path: std::path::PathBuf,
}

impl Sectioned {
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Section `i`'s bytes.
    pub fn section(&self, i: usize) -> &[u8] {
        let (off, len) = self.sections[i];
        &self.map[off..off + len]
    }

    /// The format fields (bytes 12..44 of the header).
    pub fn fields(&self) -> &[u8] {
        &self.map[FIELDS..FIELDS + FIELDS_LEN]
    }

    /// Format version.
    pub fn version(&self) -> u32 {
        le_u32(&self.map, 8)
    }

    /// Check the checksums of the sections `which` (every section, for [`open`]).
    pub fn check(&self, which: &[usize]) -> Result<()> {
        let ranges: Vec<(usize, usize)> = which.iter().map(|&i| self.sections[i]).collect();
        let crcs = section_crcs(&self.file, &ranges)
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", self.path.display())))?;
        for (&i, crc) in which.iter().zip(crcs) {
            if crc != le_u32(&self.map, 48 + i * 24 + 16) {
                let offset = self.sections[i].0;
                return Err(Error::Corruption(format!(
                    "{}: section {i} checksum mismatch at offset {offset}",
                    self.path.display()
                )));
            }
        }
        Ok(())
    }
}

/// Map `path` and check magic, header checksum, format version, section count, every
/// section's bounds, alignment and checksum. `what` names the format in errors ("segment",
/// "run"); `sections_for(version)` is the section count of a supported format version,
/// `None` for a version this build cannot read.
pub fn open(
    path: &Path,
    magic: &[u8; 8],
    what: &str,
    sections_for: &dyn Fn(u32) -> Option<usize>,
) -> Result<Sectioned> {
    let file = map(path, magic, what, sections_for)?;
    file.check(&(0..file.sections.len()).collect::<Vec<_>>())?;
    Ok(file)
}

/// [`open`] without the section checksums: the caller checks the sections it needs with
/// [`Sectioned::check`] before trusting them.
pub fn map(path: &Path, magic: &[u8; 8], what: &str, sections_for: &dyn Fn(u32) -> Option<usize>) -> Result<Sectioned> {
    let bad = |offset: u64, why: &str| Error::Corruption(format!("{}: {why} at offset {offset}", path.display()));
    let file =
        std::fs::File::open(path).map_err(|e| Error::Io(format!("cannot open {what} {}: {e}", path.display())))?;
    // SAFETY: these files are immutable once published (never written after the rename),
    // and only this process holds the database lock, so the mapping does not change under us.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::Io(format!("cannot map {}: {e}", path.display())))?;
    let b: &[u8] = &map;
    if b.len() < HEADER || &b[0..8] != magic {
        return Err(bad(0, &format!("not a KyroDB {what} (bad magic or too short)")));
    }
    // The count is checked by the header checksum it selects: a damaged count picks the
    // wrong checksum position and fails there.
    let count = le_u32(b, 44) as usize;
    let header = header_len(count);
    let crc_at = header - 16;
    if count > MAX_SECTIONS || b.len() < header || crc32c::crc32c(&b[0..crc_at]) != le_u32(b, crc_at) {
        return Err(bad(crc_at as u64, "header checksum mismatch"));
    }
    let version = le_u32(b, 8);
    let Some(sections) = sections_for(version) else {
        return Err(bad(8, &format!("unsupported {what} format version {version}")));
    };
    if count != sections {
        return Err(bad(44, &format!("{count} sections, expected {sections} for format version {version}")));
    }
    let mut out = Vec::with_capacity(sections);
    for i in 0..sections {
        let at = 48 + i * 24;
        let (off, len) = (le_u64(b, at), le_u64(b, at + 8));
        let end = off.checked_add(len).filter(|&e| e <= b.len() as u64 && off % ALIGN == 0 && off >= header as u64);
        if end.is_none() {
            return Err(bad(at as u64, &format!("section {i} lies outside the file")));
        }
        out.push((off as usize, len as usize));
    }
    Ok(Sectioned { map: Arc::new(map), sections: out, file: Arc::new(file), path: path.to_path_buf() })
}

/// Bytes one task reads and checksums when sections are checked at open.
const CHECK_CHUNK: usize = 4 << 20;

thread_local! {
    static CHECK_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// CRC32C of each `(offset, length)` section of `file`, computed from positioned reads of
/// [`CHECK_CHUNK`] pieces spread over the worker pool and combined per section.
///
/// Reading rather than touching the mapping keeps the check out of the process's resident
/// memory: a 10M-vector segment is gigabytes, and after open only the pages a search
/// touches should be mapped in. Open takes about as long as checking through the mapping
/// did (the copy out of the page cache costs what the page faults did;
/// `docs/decisions/0013-parallel-segment-open-and-positioned-checks.md` has the figures).
fn section_crcs(file: &std::fs::File, sections: &[(usize, usize)]) -> std::io::Result<Vec<u32>> {
    use rayon::prelude::*;
    // (section, offset, length) of every piece, in file order.
    let pieces: Vec<(usize, usize, usize)> = sections
        .iter()
        .enumerate()
        .flat_map(|(i, &(off, len))| {
            (0..len.div_ceil(CHECK_CHUNK).max(1)).map(move |c| {
                let start = c * CHECK_CHUNK;
                (i, off + start, CHECK_CHUNK.min(len - start))
            })
        })
        .collect();
    let piece_crcs: Vec<u32> = pieces
        .par_iter()
        .map(|&(_, off, len)| {
            CHECK_BUF.with(|buf| {
                let mut buf = buf.borrow_mut();
                if buf.len() < CHECK_CHUNK {
                    buf.resize(CHECK_CHUNK, 0);
                }
                super::fs::read_exact_at(file, &mut buf[..len], off as u64)?;
                Ok(crc32c::crc32c(&buf[..len]))
            })
        })
        .collect::<std::io::Result<_>>()?;
    let mut crcs = vec![0u32; sections.len()];
    for (&(i, _, len), crc) in pieces.iter().zip(piece_crcs) {
        crcs[i] = crc32c::crc32c_combine(crcs[i], crc, len);
    }
    Ok(crcs)
}
