//! Serialised form of an [`Rmi`], little-endian, `72 + 40·L` bytes for `L` leaves.
//!
//! Header (72 bytes):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 4 | magic `b"KRMI"` |
//! | 4  | 1 | format version, currently `1` |
//! | 5  | 1 | root kind: `0` linear, `1` cubic |
//! | 6  | 2 | reserved, must be `0` |
//! | 8  | 8 | `n`, number of keys indexed (`u64`, at most `u32::MAX`) |
//! | 16 | 8 | `L`, number of leaves (`u64`, `1..=max(n, 1)`) |
//! | 24 | 8 | `min_key` (`u64`), subtracted (saturating) before normalising |
//! | 32 | 8 | `inv_range` (`f64`), `1 / (max_key − min_key)`, or 0 |
//! | 40 | 8 | `c0` (`f64`) — root coefficients, already multiplied by `L` |
//! | 48 | 8 | `c1` (`f64`) |
//! | 56 | 8 | `c2` (`f64`, 0 for the linear root) |
//! | 64 | 8 | `c3` (`f64`, 0 for the linear root) |
//!
//! Then `L` leaf records of 40 bytes each, leaf `j` at offset `72 + 40·j` (the in-memory
//! `#[repr(C)]` layout of a leaf, so the array can later be used zero-copy from an mmap on
//! little-endian targets; the header is 8-byte aligned):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | `base` (`u64`): the leaf's first key |
//! | 8  | 8 | `slope` (`f64`, finite, `>= 0`) |
//! | 16 | 8 | `intercept` (`f64`, finite) |
//! | 24 | 4 | `first` (`u32`): first position of the leaf's range |
//! | 28 | 4 | `end` (`u32`): one past the last position |
//! | 32 | 4 | `err_lo` (`u32`, `<= n`) |
//! | 36 | 4 | `err_hi` (`u32`, `<= n`) |
//!
//! Decoding checks: exact length (compared **before** allocating, so a hostile `L` cannot
//! cause a huge allocation), magic, version, root kind, reserved bytes, `n` equal to the
//! caller's and `<= u32::MAX`, `1 <= L <= max(n, 1)`, finite floats, `inv_range >= 0`,
//! monotone root coefficients, and per leaf `slope >= 0`, `first <= end <= n`,
//! `err_lo, err_hi <= n`, `first` and `end` non-decreasing over the leaves,
//! `first_0 = 0`, `end_{L−1} = n` and no gaps (`first_{j+1} <= end_j`).
//!
//! Safety does not depend on these checks beyond `first <= end <= n` and `L >= 1`: the
//! routed leaf index is clamped to `L − 1`, predictions are clamped to the leaf range and
//! windows to `n`, so even a model that validates but is wrong yields windows inside
//! `0..=n` — wrong answers at worst, never a panic.

use crate::error::RmiError;
use crate::index::Rmi;
use crate::leaf::{Leaf, LEAF_RECORD_BYTES};
use crate::root::{Root, RootKind};

/// Size of the header in bytes.
pub const HEADER_BYTES: usize = 72;
/// The magic bytes at offset 0.
pub const MAGIC: [u8; 4] = *b"KRMI";
/// The format version written by [`Rmi::to_bytes`].
pub const VERSION: u8 = 1;

/// Serialises `rmi` (see the module docs).
pub(crate) fn encode(rmi: &Rmi) -> Vec<u8> {
    let mut out = Vec::with_capacity(rmi.index_bytes());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(rmi.root.kind.tag());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(rmi.n as u64).to_le_bytes());
    out.extend_from_slice(&(rmi.leaves.len() as u64).to_le_bytes());
    out.extend_from_slice(&rmi.root.min_key.to_le_bytes());
    out.extend_from_slice(&rmi.root.inv_range.to_le_bytes());
    for c in rmi.root.coef {
        out.extend_from_slice(&c.to_le_bytes());
    }
    for leaf in &rmi.leaves {
        out.extend_from_slice(&leaf.base.to_le_bytes());
        out.extend_from_slice(&leaf.slope.to_le_bytes());
        out.extend_from_slice(&leaf.intercept.to_le_bytes());
        for v in [leaf.first, leaf.end, leaf.err_lo, leaf.err_hi] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Little-endian reader over a byte slice whose length was checked up front.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], RmiError> {
        let (head, rest) = self.bytes.split_first_chunk::<N>().ok_or(RmiError::corrupt("truncated"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, RmiError> {
        self.take::<4>().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, RmiError> {
        self.take::<8>().map(u64::from_le_bytes)
    }

    fn f64(&mut self) -> Result<f64, RmiError> {
        self.take::<8>().map(f64::from_le_bytes)
    }
}

/// Decodes and validates a model for `n` keys (see the module docs).
pub(crate) fn decode(bytes: &[u8], n: usize) -> Result<Rmi, RmiError> {
    let mut r = Reader { bytes };
    if r.take::<4>()? != MAGIC {
        return Err(RmiError::corrupt("bad magic"));
    }
    let version = r.take::<1>()?[0];
    if version != VERSION {
        return Err(RmiError::UnsupportedVersion { version });
    }
    let kind = RootKind::from_tag(r.take::<1>()?[0]).ok_or(RmiError::corrupt("unknown root kind"))?;
    if r.take::<2>()? != [0, 0] {
        return Err(RmiError::corrupt("reserved header bytes are not zero"));
    }
    let found = r.u64()?;
    if found != n as u64 {
        return Err(RmiError::KeyCountMismatch { expected: n, found });
    }
    if n > u32::MAX as usize {
        return Err(RmiError::TooManyKeys { n });
    }
    let leaf_count = r.u64()?;
    if leaf_count == 0 || leaf_count > n.max(1) as u64 {
        return Err(RmiError::corrupt("leaf count out of range"));
    }
    let leaf_count = leaf_count as usize; // <= n <= u32::MAX
    let expected_len = LEAF_RECORD_BYTES.checked_mul(leaf_count).and_then(|b| b.checked_add(HEADER_BYTES));
    if expected_len != Some(bytes.len()) {
        return Err(RmiError::corrupt("length does not match the leaf count"));
    }
    let min_key = r.u64()?;
    let inv_range = r.f64()?;
    let coef = [r.f64()?, r.f64()?, r.f64()?, r.f64()?];
    let root = Root { kind, min_key, inv_range, coef, last_leaf: leaf_count - 1 };
    root.validate()?;
    let mut leaves = Vec::with_capacity(leaf_count);
    for _ in 0..leaf_count {
        let leaf = Leaf {
            base: r.u64()?,
            slope: r.f64()?,
            intercept: r.f64()?,
            first: r.u32()?,
            end: r.u32()?,
            err_lo: r.u32()?,
            err_hi: r.u32()?,
        };
        check_leaf(&leaf, leaves.last(), n)?;
        leaves.push(leaf);
    }
    if leaves.first().map(|l| l.first) != Some(0) || leaves.last().map(|l| l.end as usize) != Some(n) {
        return Err(RmiError::corrupt("leaves do not cover 0..n"));
    }
    Ok(Rmi::from_parts(root, leaves, n))
}

/// Per-leaf checks, including ordering against the previous leaf.
fn check_leaf(leaf: &Leaf, prev: Option<&Leaf>, n: usize) -> Result<(), RmiError> {
    if !(leaf.slope.is_finite() && leaf.slope >= 0.0 && leaf.intercept.is_finite()) {
        return Err(RmiError::corrupt("leaf slope or intercept invalid"));
    }
    if leaf.first > leaf.end || leaf.end as usize > n {
        return Err(RmiError::corrupt("leaf range outside 0..=n"));
    }
    if leaf.err_lo as usize > n || leaf.err_hi as usize > n {
        return Err(RmiError::corrupt("leaf error bound exceeds n"));
    }
    if let Some(p) = prev {
        if leaf.first < p.first || leaf.end < p.end || leaf.first > p.end {
            return Err(RmiError::corrupt("leaf ranges out of order or leave a gap"));
        }
    }
    Ok(())
}
