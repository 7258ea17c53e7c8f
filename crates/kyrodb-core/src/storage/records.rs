//! Payloads of the WAL frames that carry collection and key-value writes. Every payload
//! starts with the id of the store it belongs to: a collection id (≥ 1), or
//! [`KV_STORE`] (0) for the key-value store.
//!
//! ```text
//! upsert  collection u64, n u32, dimension u32, ids n × u64, vectors n × dimension f32,
//!         then per row: metadata length u32 (u32::MAX = none) and that many UTF-8 bytes,
//!         then, for string-id collections only, per row: string id length u32 and its
//!         UTF-8 bytes (the ids above are their keys)
//! delete  collection u64, n u32, ids n × u64
//! kv      store u64 (= 0), n u32, then n × { op u8 (0 delete, 1 put bytes, 2 put string),
//!         key u64, and for puts: value length u32, value bytes }
//! ```

use super::codec::{ReadError, Reader, Writer};

/// Store id of the key-value store in WAL payloads and WAL floors (collections start at 1).
pub const KV_STORE: u64 = 0;

/// One operation of a key-value batch, borrowed from the caller or from a WAL frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvOp<'a> {
    /// 0 delete, 1 put of bytes, 2 put of a string (UTF-8).
    pub op: u8,
    /// Key.
    pub key: u64,
    /// Value bytes (empty for deletes).
    pub value: &'a [u8],
}

/// Encode a key-value batch.
pub fn encode_kv(ops: &[KvOp<'_>]) -> Vec<u8> {
    let bytes: usize = ops.iter().map(|o| 13 + if o.op == 0 { 0 } else { 4 + o.value.len() }).sum();
    let mut w = Writer::with_capacity(12 + bytes);
    w.u64(KV_STORE);
    w.u32(ops.len() as u32);
    for o in ops {
        w.u8(o.op);
        w.u64(o.key);
        if o.op != 0 {
            w.u32(o.value.len() as u32);
            w.bytes(o.value);
        }
    }
    w.buf
}

/// Decode a key-value batch, calling `f` for each operation in order.
pub fn decode_kv<'a>(payload: &'a [u8], f: &mut dyn FnMut(KvOp<'a>)) -> Result<(), ReadError> {
    let mut r = Reader::new(payload);
    let store = r.u64("store id")?;
    if store != KV_STORE {
        return Err(ReadError { offset: 0, what: format!("key-value frame for store {store}") });
    }
    let n = r.u32("operation count")?;
    for _ in 0..n {
        let at = r.pos();
        let op = r.u8("operation")?;
        let key = r.u64("key")?;
        let value = match op {
            // Empty, but where the operation ended: every value slice lies in the payload,
            // at a position that grows with the operation's (the replayed memtable orders
            // writes by it).
            0 => r.take(0, "value")?,
            1 | 2 => {
                let len = r.u32("value length")? as usize;
                let v = r.take(len, "value")?;
                if op == 2 && std::str::from_utf8(v).is_err() {
                    return Err(ReadError { offset: at, what: "string value is not UTF-8".into() });
                }
                v
            }
            _ => return Err(ReadError { offset: at, what: format!("unknown key-value operation {op}") }),
        };
        f(KvOp { op, key, value });
    }
    if r.remaining() != 0 {
        return Err(ReadError { offset: r.pos(), what: "trailing bytes after the key-value batch".into() });
    }
    Ok(())
}

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
    /// String id per row (string-id collections).
    pub names: Option<Vec<String>>,
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
pub fn encode_upsert(
    collection: u64,
    dim: usize,
    ids: &[u64],
    vectors: &[f32],
    metadata: &[Option<&str>],
    names: Option<&[std::sync::Arc<str>]>,
) -> Vec<u8> {
    let meta_bytes: usize = metadata.iter().map(|m| 4 + m.map_or(0, str::len)).sum::<usize>()
        + names.map_or(0, |n| n.iter().map(|s| 4 + s.len()).sum());
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
    for name in names.unwrap_or_default() {
        w.u32(name.len() as u32);
        w.bytes(name.as_bytes());
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
    decode_upsert_reusing(payload, Vec::new())
}

/// [`decode_upsert`], decoding the vectors into `vectors` (its memory reused: replay
/// decodes frame after frame into one buffer instead of allocating one per frame).
pub fn decode_upsert_reusing(payload: &[u8], vectors: Vec<f32>) -> Result<UpsertRecord, ReadError> {
    let mut r = Reader::new(payload);
    let collection = r.u64("collection id")?;
    let n = r.u32("row count")? as usize;
    let dim = r.u32("dimension")? as usize;
    let ids = r.u64s(n, "ids")?;
    let vectors = r.f32s_into(n.saturating_mul(dim), "vectors", vectors)?;
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
    let names = if r.remaining() == 0 {
        None
    } else {
        let mut names = Vec::with_capacity(n.min(r.remaining() / 4));
        for _ in 0..n {
            let len = r.u32("string id length")? as usize;
            let at = r.pos();
            let b = r.take(len, "string id")?;
            let s =
                std::str::from_utf8(b).map_err(|_| ReadError { offset: at, what: "string id is not UTF-8".into() })?;
            names.push(s.to_string());
        }
        if r.remaining() != 0 {
            return Err(ReadError { offset: r.pos(), what: "trailing bytes after the upsert".into() });
        }
        Some(names)
    };
    Ok(UpsertRecord { collection, dim, ids, vectors, metadata, names })
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
        let p = encode_upsert(7, 2, &[1, 2], &[1.0, 2.0, 3.0, 4.0], &[Some("{\"a\":1}"), None], None);
        let r = decode_upsert(&p).unwrap();
        assert_eq!(r.collection, 7);
        assert_eq!(r.ids, vec![1, 2]);
        assert_eq!(r.vectors, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(r.metadata, vec![Some("{\"a\":1}".to_string()), None]);
        assert_eq!(r.names, None);
        for cut in 0..p.len() {
            assert!(decode_upsert(&p[..cut]).is_err());
        }
        let names: Vec<std::sync::Arc<str>> = vec!["doc-1".into(), "é".into()];
        let p = encode_upsert(7, 2, &[1, 2], &[1.0, 2.0, 3.0, 4.0], &[None, None], Some(&names));
        let r = decode_upsert(&p).unwrap();
        assert_eq!(r.names, Some(vec!["doc-1".to_string(), "é".to_string()]));
        // A cut inside the string ids is an error, never a record without them (a cut
        // exactly before them reads as a record of a u64 collection: replay checks the
        // collection's id type).
        let before_names = p.len() - (4 + 5 + 4 + 2);
        for cut in before_names + 1..p.len() {
            assert!(decode_upsert(&p[..cut]).is_err(), "cut at {cut}");
        }
        let ops = [
            KvOp { op: 1, key: 5, value: b"abc" },
            KvOp { op: 0, key: u64::MAX, value: b"" },
            KvOp { op: 2, key: 0, value: "é".as_bytes() },
        ];
        let k = encode_kv(&ops);
        let mut got = Vec::new();
        decode_kv(&k, &mut |o| got.push(o)).unwrap();
        assert_eq!(got, ops);
        for cut in 0..k.len() {
            assert!(decode_kv(&k[..cut], &mut |_| {}).is_err());
        }
        let d = encode_delete(3, &[9, 10]);
        assert_eq!(decode_delete(&d).unwrap(), DeleteRecord { collection: 3, ids: vec![9, 10] });
        for cut in 0..d.len() {
            assert!(decode_delete(&d[..cut]).is_err());
        }
    }
}
