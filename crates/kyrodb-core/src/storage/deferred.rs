//! A section checked piece by piece on first use instead of at open.
//!
//! A 10M × 128-d segment holds 5.1 GB of full-precision vectors that a search reads only
//! to re-rank its last few candidates (the walk scores 8-bit codes). Checksumming them at
//! open is most of a large database's open time, and on a cold page cache it reads the
//! whole file from disk. Segments of format version 3 therefore store one CRC32C per
//! piece of the vector section (2^`piece_shift` bytes, the last piece shorter), and a
//! [`DeferredCheck`] verifies each piece before its first read, while a background sweep
//! verifies the rest (`docs/ARCHITECTURE.md`, D6).
//!
//! A piece is read with a positioned read (not through the mapping, which would make the
//! whole piece resident), checksummed and compared; once one piece fails, every later
//! check fails with the same `CORRUPTION` error, so a damaged segment is never half used.

use super::fs::read_exact_at;
use super::slab::Slab;
use crate::error::{Error, Result};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

/// Smallest and largest piece sizes a file may declare (4 KiB .. 1 GiB).
pub const PIECE_SHIFTS: std::ops::RangeInclusive<u32> = 12..=30;

/// The checks still owed on one section of one file.
pub struct DeferredCheck {
    file: Arc<File>,
    path: PathBuf,
    /// Section position and length in the file.
    offset: u64,
    len: u64,
    piece_shift: u32,
    /// Expected CRC32C of each piece (checked at open as part of its own section).
    crcs: Slab<u32>,
    /// One bit per piece: verified.
    verified: Box<[AtomicU64]>,
    unverified: AtomicUsize,
    damage: OnceLock<String>,
}

impl std::fmt::Debug for DeferredCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredCheck")
            .field("path", &self.path)
            .field("pieces", &self.crcs.len())
            .field("unverified", &self.unverified.load(Ordering::Relaxed))
            .finish()
    }
}

thread_local! {
    static PIECE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Pieces of `2^piece_shift` bytes covering `len` bytes.
pub fn piece_count(len: u64, piece_shift: u32) -> usize {
    len.div_ceil(1 << piece_shift) as usize
}

/// CRC32C of each `2^piece_shift`-byte piece of `bytes`.
pub fn piece_crcs(bytes: &[u8], piece_shift: u32) -> Vec<u32> {
    bytes.chunks(1 << piece_shift).map(crc32c::crc32c).collect()
}

impl DeferredCheck {
    /// Checks owed on the `len` bytes at `offset` of `file`, in pieces of
    /// `2^piece_shift` bytes whose checksums are `crcs`. `None` if the table does not fit
    /// the section (the caller reports that as damage).
    pub fn new(
        file: Arc<File>,
        path: PathBuf,
        offset: u64,
        len: u64,
        piece_shift: u32,
        crcs: Slab<u32>,
    ) -> Option<DeferredCheck> {
        if !PIECE_SHIFTS.contains(&piece_shift) || crcs.len() != piece_count(len, piece_shift) {
            return None;
        }
        let pieces = crcs.len();
        Some(DeferredCheck {
            file,
            path,
            offset,
            len,
            piece_shift,
            crcs,
            verified: (0..pieces.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            unverified: AtomicUsize::new(pieces),
            damage: OnceLock::new(),
        })
    }

    /// Whether every piece has been verified (one load: the common case once the sweep
    /// has finished).
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.unverified.load(Ordering::Acquire) == 0
    }

    /// Verify the pieces holding section bytes `start..end` (a no-op for verified pieces).
    pub fn check_bytes(&self, start: u64, end: u64) -> Result<()> {
        self.undamaged()?;
        if start >= end {
            return Ok(());
        }
        let (first, last) = (start >> self.piece_shift, (end - 1) >> self.piece_shift);
        for p in first..=last {
            self.check_piece(p as usize)?;
        }
        Ok(())
    }

    /// Verify every piece not yet verified.
    pub fn check_all(&self) -> Result<()> {
        self.undamaged()?;
        for p in 0..self.crcs.len() {
            self.check_piece(p)?;
        }
        Ok(())
    }

    /// `CORRUPTION` once any piece has failed: a damaged section is never half used.
    fn undamaged(&self) -> Result<()> {
        match self.damage.get() {
            Some(why) => Err(Error::Corruption(why.clone())),
            None => Ok(()),
        }
    }

    fn is_verified(&self, p: usize) -> bool {
        self.verified[p >> 6].load(Ordering::Relaxed) >> (p & 63) & 1 == 1
    }

    fn check_piece(&self, p: usize) -> Result<()> {
        if self.is_verified(p) {
            return Ok(());
        }
        self.undamaged()?;
        let start = (p as u64) << self.piece_shift;
        let len = (self.len - start).min(1 << self.piece_shift) as usize;
        let crc = PIECE_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            if buf.len() < len {
                buf.resize(len, 0);
            }
            read_exact_at(&self.file, &mut buf[..len], self.offset + start).map(|()| crc32c::crc32c(&buf[..len]))
        });
        let crc = crc.map_err(|e| Error::Io(format!("cannot read {}: {e}", self.path.display())))?;
        if crc != self.crcs[p] {
            let why = format!(
                "{}: checksum mismatch in vector bytes {start}..{} at offset {}",
                self.path.display(),
                start + len as u64,
                self.offset + start
            );
            return Err(Error::Corruption(self.damage.get_or_init(|| why).clone()));
        }
        let bit = 1u64 << (p & 63);
        if self.verified[p >> 6].fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            self.unverified.fetch_sub(1, Ordering::Release);
        }
        Ok(())
    }

    /// Verify every piece on a background thread, stopping early when the check is
    /// dropped (its segment replaced) or damage is found (then reported on next use).
    pub fn sweep_in_background(check: &Arc<DeferredCheck>) {
        if check.is_complete() {
            return;
        }
        let weak: Weak<DeferredCheck> = Arc::downgrade(check);
        let spawned = std::thread::Builder::new().name("kyrodb-verify".into()).spawn(move || {
            let pieces = match weak.upgrade() {
                Some(c) => c.crcs.len(),
                None => return,
            };
            for p in 0..pieces {
                let Some(c) = weak.upgrade() else { return };
                if c.check_piece(p).is_err() {
                    if let Some(why) = c.damage.get() {
                        log::error!("{why}");
                    }
                    return;
                }
            }
        });
        // Without a thread the pieces are still checked, on first use.
        drop(spawned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, Arc<File>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        let f = Arc::new(File::open(&path).unwrap());
        (dir, f, path)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn intact_pieces_verify_once_and_complete() {
        let bytes = sample(10_000 + 100);
        let section = &bytes[100..];
        let (_d, f, path) = file_with(&bytes);
        let crcs = piece_crcs(section, 12);
        assert_eq!(crcs.len(), 3);
        let c = DeferredCheck::new(f, path, 100, section.len() as u64, 12, crcs.into()).unwrap();
        assert!(!c.is_complete());
        c.check_bytes(4000, 4200).unwrap(); // spans pieces 0 and 1
        assert_eq!(c.unverified.load(Ordering::Relaxed), 1);
        c.check_bytes(4000, 4200).unwrap();
        assert_eq!(c.unverified.load(Ordering::Relaxed), 1, "a verified piece is not counted twice");
        c.check_all().unwrap();
        assert!(c.is_complete());
    }

    #[test]
    fn a_damaged_piece_fails_and_then_every_check_fails() {
        let mut bytes = sample(3 * 4096);
        let crcs = piece_crcs(&bytes, 12);
        bytes[2 * 4096 + 5] ^= 0x10;
        let (_d, f, path) = file_with(&bytes);
        let c = DeferredCheck::new(f, path, 0, bytes.len() as u64, 12, crcs.into()).unwrap();
        c.check_bytes(0, 10).unwrap();
        let e = c.check_bytes(8192, 8200).unwrap_err();
        assert_eq!(e.code(), "CORRUPTION");
        assert!(e.to_string().contains("at offset 8192"), "{e}");
        assert_eq!(c.check_bytes(0, 10).unwrap_err().code(), "CORRUPTION", "damage poisons the section");
        assert_eq!(c.check_all().unwrap_err().code(), "CORRUPTION");
        assert!(!c.is_complete());
    }

    #[test]
    fn a_table_that_does_not_fit_the_section_is_refused() {
        let bytes = sample(5000);
        let (_d, f, path) = file_with(&bytes);
        let crcs = piece_crcs(&bytes, 12);
        assert!(DeferredCheck::new(f.clone(), path.clone(), 0, 5000, 13, crcs.clone().into()).is_none());
        assert!(DeferredCheck::new(f.clone(), path.clone(), 0, 5000, 40, crcs.into()).is_none());
        assert!(DeferredCheck::new(f, path, 0, 5000, 12, vec![0u32; 1].into()).is_none());
    }

    #[test]
    fn the_sweep_verifies_everything_in_the_background() {
        let bytes = sample(64 * 4096);
        let (_d, f, path) = file_with(&bytes);
        let c =
            Arc::new(DeferredCheck::new(f, path, 0, bytes.len() as u64, 12, piece_crcs(&bytes, 12).into()).unwrap());
        DeferredCheck::sweep_in_background(&c);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !c.is_complete() {
            assert!(std::time::Instant::now() < deadline, "sweep did not finish");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
