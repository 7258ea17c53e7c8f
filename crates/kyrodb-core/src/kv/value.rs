//! What a key holds: bytes or a string (returned as the type it was stored as), or a
//! tombstone; and the size limits of values and batches.

/// Largest value accepted (bytes, or UTF-8 bytes of a string): 16 MiB.
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// Most operations in one batch.
pub const MAX_BATCH_OPS: usize = 1 << 20;
/// Most value bytes in one batch (one WAL frame): 256 MiB.
pub const MAX_BATCH_BYTES: usize = 256 << 20;

/// The kind of a stored entry (also its code in WAL frames and run files).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueKind {
    /// A delete: hides the key in older runs.
    Deleted = 0,
    /// Binary value (`Buffer`/`Uint8Array` in JavaScript).
    Bytes = 1,
    /// String value (UTF-8).
    Str = 2,
}

impl ValueKind {
    /// From the stored code.
    pub fn from_code(code: u8) -> Option<ValueKind> {
        match code {
            0 => Some(ValueKind::Deleted),
            1 => Some(ValueKind::Bytes),
            2 => Some(ValueKind::Str),
            _ => None,
        }
    }
}

/// A memtable entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Kind.
    pub kind: ValueKind,
    /// Value bytes (empty for a tombstone).
    pub value: Box<[u8]>,
}

/// A value read back: kind (never `Deleted`) and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// Bytes or string.
    pub kind: ValueKind,
    /// The bytes (UTF-8 for strings).
    pub bytes: Vec<u8>,
}

/// One write of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write<'a> {
    /// Store `value` (of `kind`, `Bytes` or `Str`) under `key`.
    Put(u64, ValueKind, &'a [u8]),
    /// Remove `key`.
    Delete(u64),
}
