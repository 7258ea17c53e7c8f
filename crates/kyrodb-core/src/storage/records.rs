//! Payloads of the WAL frames that carry collection writes.
//!
//! ```text
//! upsert  collection u64, n u32, dimension u32, ids n × u64, vectors n × dimension f32,
//!         then per row: metadata length u32 (u32::MAX = none) and that many UTF-8 bytes
//! delete  collection u64, n u32, ids n × u64
//! ```

use super::codec::{ReadError, Reader, Writer};

/// A decoded upsert frame.
#[derive(Debug, PartialEq)]
pub struct UpsertRecord {
    /// Collection id.
    pub collection: u64,
    /// Components per vector.
    pub dim: usize,
    /// Ids.
    pub ids: Vec<u64>,
    /// Row-major vectors, already in stored form.
    pub vectors: Vec<f32>,
    /// Metadata JSON per row.
    pub metadata: Vec<Option<String>>,
}

/// A decoded delete frame.
#[derive(Debug, PartialEq)]
pub struct DeleteRecord {
    /// Collection id.
    pub collection: u64,
    /// Ids.
    pub ids: Vec<u64>,
}

/// Encode an upsert.
pub fn encode_upsert(collection: u64, dim: usize, ids: &[u64], vectors: &[f32], metadata: &[Option<&str>]) -> Vec<u8> {
    let meta_bytes: usize = metadata.iter().map(|m| 4 + m.map_or(0, str::len)).sum();
    let mut w = Writer::with_capacity(16 + ids.len() * 8 + vectors.len() * 4 + meta_bytes);
    w.u64(collection);
    w.u32(ids.len() as u32);
    w.u32(dim as u32);
    w.u64s(ids);
    w.f32s(vectors);
    for m in metadata {
        match m {
            Some(s) => {
                w.u32(s.len() as u32);
                w.bytes(s.as_bytes());
            }
            None => w.u32(u32::MAX),
        }
    }
    w.buf
}

/// Encode a delete.
pub fn encode_delete(collection: u64, ids: &[u64]) -> Vec<u8> {
    let mut w = Writer::with_capacity(12 + ids.len() * 8);
    w.u64(collection);
    w.u32(ids.len() as u32);
    w.u64s(ids);
    w.buf
}

/// The collection id a write frame belongs to.
pub fn collection_of(payload: &[u8]) -> Result<u64, ReadError> {
    Reader::new(payload).u64("collection id")
}

/// Decode an upsert payload.
pub fn decode_upsert(payload: &[u8]) -> Result<UpsertRecord, ReadError> {
    let mut r = Reader::new(payload);
    let collection = r.u64("collection id")?;
    let n = r.u32("row count")? as usize;
    let dim = r.u32("dimension")? as usize;
    let ids = r.u64s(n, "ids")?;
    let vectors = r.f32s(n.checked_mul(dim).unwrap_or(usize::MAX), "vectors")?;
    let mut metadata = Vec::with_capacity(n.min(r.remaining() / 4));
    for _ in 0..n {
        let len = r.u32("metadata length")?;
        if len == u32::MAX {
            metadata.push(None);
        } else {
            let at = r.pos();
            let b = r.take(len as usize, "metadata")?;
            let s =
                std::str::from_utf8(b).map_err(|_| ReadError { offset: at, what: "metadata is not UTF-8".into() })?;
            metadata.push(Some(s.to_string()));
        }
    }
    if r.remaining() != 0 {
        return Err(ReadError { offset: r.pos(), what: "trailing bytes after the upsert".into() });
    }
    Ok(UpsertRecord { collection, dim, ids, vectors, metadata })
}

/// Decode a delete payload.
pub fn decode_delete(payload: &[u8]) -> Result<DeleteRecord, ReadError> {
    let mut r = Reader::new(payload);
    let collection = r.u64("collection id")?;
    let n = r.u32("id count")? as usize;
    let ids = r.u64s(n, "ids")?;
    if r.remaining() != 0 {
        return Err(ReadError { offset: r.pos(), what: "trailing bytes after the delete".into() });
    }
    Ok(DeleteRecord { collection, ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_round_trips_and_truncations_fail_cleanly() {
        let p = encode_upsert(7, 2, &[1, 2], &[1.0, 2.0, 3.0, 4.0], &[Some("{\"a\":1}"), None]);
        let r = decode_upsert(&p).unwrap();
        assert_eq!(r.collection, 7);
        assert_eq!(r.ids, vec![1, 2]);
        assert_eq!(r.vectors, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(r.metadata, vec![Some("{\"a\":1}".to_string()), None]);
        for cut in 0..p.len() {
            assert!(decode_upsert(&p[..cut]).is_err());
        }
        let d = encode_delete(3, &[9, 10]);
        assert_eq!(decode_delete(&d).unwrap(), DeleteRecord { collection: 3, ids: vec![9, 10] });
        for cut in 0..d.len() {
            assert!(decode_delete(&d[..cut]).is_err());
        }
    }
}
