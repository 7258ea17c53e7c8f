//! `writeGroup`: several tagged writes logged in as few WAL groups as possible
//! (`Database::write_group`), the replication applier's path; and the tag conversions.

use crate::errors::{guard, to_js};
use crate::external_memory::MemoryReport;
use kyrodb_core::{CollectionWrite, Database, Error, GroupOp, GroupWrite, KvWrite, ValueKind};
use napi::bindgen_prelude::{BigInt, BigUint64Array, Buffer, Env, Float32Array, Uint32Array, Uint8Array};
use napi::Task;
use napi_derive::napi;
use std::sync::Arc;

/// A tag from JavaScript: a bigint in `0..2^64`.
pub(crate) fn tag_of(tag: Option<BigInt>) -> kyrodb_core::Result<Option<u64>> {
    match tag {
        None => Ok(None),
        Some(t) => {
            let (negative, value, lossless) = t.get_u64();
            if negative || !lossless {
                return Err(Error::invalid("a tag must be a bigint in 0..2^64"));
            }
            Ok(Some(value))
        }
    }
}

/// One write of `writeGroup`. `kind` says which fields it uses:
/// - `upsert`: `collection`, `ids` (or `names` for a string-id collection), `vectors`, `metadata`;
/// - `delete`: `collection`, `ids` (or `names`);
/// - `kv`: `keys`, `kinds`, `ends`, `values` (as `NativeKv.write`);
/// - `tag`: nothing but `tag`.
#[napi(object)]
pub struct NativeGroupOp {
    pub kind: String,
    pub collection: Option<String>,
    pub ids: Option<BigUint64Array>,
    pub names: Option<Vec<String>>,
    pub vectors: Option<Float32Array>,
    pub metadata: Option<Vec<Option<String>>>,
    pub keys: Option<BigUint64Array>,
    pub kinds: Option<Uint8Array>,
    pub ends: Option<Uint32Array>,
    pub values: Option<Buffer>,
    pub tag: Option<BigInt>,
}

/// The outcome of one write: `changed` (as the single call resolves), or `error`
/// (`"<CODE>: <message>"`).
#[napi(object)]
pub struct NativeGroupResult {
    pub changed: Option<f64>,
    pub error: Option<String>,
}

/// The key-value writes of a `kv` op (the columns of `NativeKv.write`).
pub(crate) fn kv_writes(keys: &[u64], kinds: &[u8], ends: &[u32], values: &[u8]) -> kyrodb_core::Result<Vec<KvWrite>> {
    let n = keys.len();
    if kinds.len() != n || ends.len() != n {
        return Err(Error::invalid("keys, kinds and ends must have the same length"));
    }
    let mut out = Vec::with_capacity(n);
    let mut start = 0usize;
    for i in 0..n {
        let end = ends[i] as usize;
        if end < start || end > values.len() {
            return Err(Error::invalid("value offsets out of order"));
        }
        let v = &values[start..end];
        start = end;
        out.push(match ValueKind::from_code(kinds[i]) {
            Some(ValueKind::Deleted) => KvWrite::Delete(keys[i]),
            Some(kind) => KvWrite::Put(keys[i], kind, v.to_vec()),
            None => return Err(Error::invalid(format!("unknown value kind {}", kinds[i]))),
        });
    }
    Ok(out)
}

/// Convert (and copy) one op on the JS thread; malformed ops are `INVALID_ARGUMENT`.
fn group_write(op: NativeGroupOp) -> kyrodb_core::Result<GroupWrite> {
    let tag = tag_of(op.tag)?;
    let collection =
        || op.collection.clone().ok_or_else(|| Error::invalid(format!("a {} op needs a collection", op.kind)));
    let op = match op.kind.as_str() {
        "upsert" => {
            let name = collection()?;
            let vectors = op.vectors.as_ref().map(|v| v.to_vec()).unwrap_or_default();
            let write = match (op.names, op.ids) {
                (Some(names), None) => CollectionWrite::UpsertNamed { names, vectors, metadata: op.metadata },
                (None, Some(ids)) => CollectionWrite::Upsert { ids: ids.to_vec(), vectors, metadata: op.metadata },
                _ => return Err(Error::invalid("an upsert op needs either ids or names")),
            };
            GroupOp::Collection { name, write }
        }
        "delete" => {
            let name = collection()?;
            let write = match (op.names, op.ids) {
                (Some(names), None) => CollectionWrite::DeleteNamed { names },
                (None, Some(ids)) => CollectionWrite::Delete { ids: ids.to_vec() },
                _ => return Err(Error::invalid("a delete op needs either ids or names")),
            };
            GroupOp::Collection { name, write }
        }
        "kv" => {
            let (Some(keys), Some(kinds), Some(ends), Some(values)) = (&op.keys, &op.kinds, &op.ends, &op.values)
            else {
                return Err(Error::invalid("a kv op needs keys, kinds, ends and values"));
            };
            GroupOp::Kv(kv_writes(keys, kinds, ends, values)?)
        }
        "tag" => {
            if tag.is_none() {
                return Err(Error::invalid("a tag op needs a tag"));
            }
            GroupOp::Tag
        }
        other => return Err(Error::invalid(format!("unknown op kind {other:?}: use upsert, delete, kv or tag"))),
    };
    Ok(GroupWrite { op, tag })
}

pub(crate) fn group_writes(ops: Vec<NativeGroupOp>) -> napi::Result<Vec<GroupWrite>> {
    guard(|| ops.into_iter().enumerate().map(|(i, op)| group_write(op).map_err(|e| at(i, e))).collect())
}

fn at(i: usize, e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::invalid(format!("op {i}: {m}")),
        other => other,
    }
}

pub struct GroupTask {
    pub(crate) memory: Arc<MemoryReport>,
    pub(crate) db: Arc<Database>,
    pub(crate) writes: Option<Vec<GroupWrite>>,
}

impl Task for GroupTask {
    type Output = Vec<kyrodb_core::Result<usize>>;
    type JsValue = Vec<NativeGroupResult>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let writes = self.writes.take().unwrap_or_default();
        guard(|| self.db.write_group(writes))
    }

    fn resolve(&mut self, env: Env, out: Self::Output) -> napi::Result<Vec<NativeGroupResult>> {
        self.memory.sync(&env);
        Ok(out
            .into_iter()
            .map(|r| match r {
                Ok(n) => NativeGroupResult { changed: Some(n as f64), error: None },
                Err(e) => NativeGroupResult { changed: None, error: Some(to_js(e).reason) },
            })
            .collect())
    }
}
