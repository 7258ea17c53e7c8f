//! Id types of a collection. Every row has a `u64` key: for a `u64` collection the id
//! itself; for a `string` collection the 64-bit XXH3 hash of the id's UTF-8 bytes, with
//! the string stored beside the row (hot tier, WAL record, segment file) and returned as
//! the id. Lookups by key then compare the stored string, so two strings that share a
//! key are never taken for one another: a write whose string shares a key with a
//! different live string is refused (`INVALID_ARGUMENT`; expected once in about 3.7·10^19
//! / n² pairs, i.e. 1 in ~3.7 million collections of 10M ids).

use crate::error::{Error, Result};
use std::sync::Arc;

/// Longest string id, in UTF-8 bytes.
pub const MAX_STRING_ID_BYTES: usize = 512;

/// What a collection's ids are, fixed at creation.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum IdType {
    /// Unsigned 64-bit integers.
    #[default]
    U64,
    /// UTF-8 strings of 1..=512 bytes.
    String,
}

impl IdType {
    /// The name used in the API and the manifest (`u64`, `string`).
    pub fn name(self) -> &'static str {
        match self {
            IdType::U64 => "u64",
            IdType::String => "string",
        }
    }

    /// Parse [`IdType::name`].
    pub fn parse(s: &str) -> Result<IdType> {
        match s {
            "u64" => Ok(IdType::U64),
            "string" => Ok(IdType::String),
            other => Err(Error::invalid(format!("idType must be 'u64' or 'string', got '{other}'"))),
        }
    }
}

/// The row key of a string id (stable: it is stored in WAL records and segment files).
pub fn string_key(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

/// Check string id `i` of a batch and return it shared.
pub fn check_string_id(id: String, i: usize) -> Result<Arc<str>> {
    if id.is_empty() {
        return Err(Error::invalid(format!("ids[{i}] is empty; string ids hold 1 to {MAX_STRING_ID_BYTES} bytes")));
    }
    if id.len() > MAX_STRING_ID_BYTES {
        return Err(Error::invalid(format!(
            "ids[{i}] is {} bytes; string ids hold at most {MAX_STRING_ID_BYTES} bytes of UTF-8",
            id.len()
        )));
    }
    Ok(id.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_keys_are_the_published_xxh3() {
        // XXH3-64 of the empty input and of "a" (seed 0), from the reference implementation.
        assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2d06800538d394c2);
        assert_eq!(string_key("a"), 0xe6c632b61e964e1f);
    }
}
