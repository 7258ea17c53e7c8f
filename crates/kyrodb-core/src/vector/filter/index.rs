//! Per-segment inverted indexes over flattened metadata: for every path, a roaring bitmap
//! of the rows where it is present, one bitmap per distinct value, and a value-sorted list
//! of `(number, row)` for range queries. [`FieldIndex::evaluate`] turns a [`Filter`] into
//! the exact set of matching rows without touching a row's metadata.
//!
//! A segment file stores its index ([`FieldIndex::encode`], read back by
//! [`FieldIndex::decode`]), so opening a segment never parses its rows' metadata.

use super::flat::{FlatMeta, Scalar};
use super::{in_range, CmpOp, Filter};
use crate::storage::codec::{ReadError, Reader, Writer};
use roaring::RoaringBitmap;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Str(String),
    Num(u64),
    Bool(bool),
    Null,
}

fn key(s: &Scalar) -> Key {
    match s {
        Scalar::Str(x) => Key::Str(x.clone()),
        // -0 and 0 are equal numbers: give them one key.
        Scalar::Num(x) => Key::Num(if *x == 0.0 { 0 } else { x.to_bits() }),
        Scalar::Bool(b) => Key::Bool(*b),
        Scalar::Null => Key::Null,
    }
}

#[derive(Default, Debug, PartialEq)]
struct Postings {
    present: RoaringBitmap,
    by_value: HashMap<Key, RoaringBitmap>,
    /// `(value, row)` sorted by value, for range operators.
    numbers: Vec<(f64, u32)>,
}

/// Inverted indexes of one segment's metadata.
#[derive(Default, Debug, PartialEq)]
pub struct FieldIndex {
    rows: u32,
    fields: HashMap<String, Postings>,
}

impl FieldIndex {
    /// Index `rows` (row `r` is the `r`-th item).
    pub fn build<'a>(rows: impl Iterator<Item = Option<&'a FlatMeta>>) -> FieldIndex {
        let mut fields: HashMap<String, Postings> = HashMap::new();
        let mut n = 0u32;
        for (r, meta) in rows.enumerate() {
            n = r as u32 + 1;
            let Some(meta) = meta else { continue };
            for (path, values) in meta.iter() {
                let p = fields.entry(path.to_string()).or_default();
                p.present.insert(r as u32);
                for v in values {
                    p.by_value.entry(key(v)).or_default().insert(r as u32);
                    if let Scalar::Num(x) = v {
                        p.numbers.push((*x, r as u32));
                    }
                }
            }
        }
        for p in fields.values_mut() {
            p.numbers.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        FieldIndex { rows: n, fields }
    }

    /// The index as bytes (the segment file's field index section):
    ///
    /// ```text
    /// rows u32, fields u32, then per field (sorted by path):
    ///   path: len u32 + UTF-8; present: bitmap; values u32, then per value (sorted):
    ///     kind u8 (0 string: len u32 + UTF-8; 1 number: f64 bits u64; 2 bool: u8; 3 null),
    ///     bitmap
    ///   numbers u64, then per number (sorted by value): f64 bits u64, row u32
    /// bitmap = len u32 + roaring's portable serialization
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let bitmap = |w: &mut Writer, b: &RoaringBitmap| {
            let mut bytes = Vec::with_capacity(b.serialized_size());
            b.serialize_into(&mut bytes).expect("writing to a Vec cannot fail");
            w.u32(bytes.len() as u32);
            w.bytes(&bytes);
        };
        w.u32(self.rows);
        w.u32(self.fields.len() as u32);
        let mut paths: Vec<&String> = self.fields.keys().collect();
        paths.sort();
        for path in paths {
            let p = &self.fields[path];
            w.u32(path.len() as u32);
            w.bytes(path.as_bytes());
            bitmap(&mut w, &p.present);
            let mut values: Vec<(&Key, &RoaringBitmap)> = p.by_value.iter().collect();
            values.sort_by(|a, b| a.0.cmp(b.0));
            w.u32(values.len() as u32);
            for (k, rows) in values {
                match k {
                    Key::Str(s) => {
                        w.u8(0);
                        w.u32(s.len() as u32);
                        w.bytes(s.as_bytes());
                    }
                    Key::Num(bits) => {
                        w.u8(1);
                        w.u64(*bits);
                    }
                    Key::Bool(b) => {
                        w.u8(2);
                        w.u8(*b as u8);
                    }
                    Key::Null => w.u8(3),
                }
                bitmap(&mut w, rows);
            }
            w.u64(p.numbers.len() as u64);
            for &(x, r) in &p.numbers {
                w.u64(x.to_bits());
                w.u32(r);
            }
        }
        w.buf
    }

    /// Read an index written by [`FieldIndex::encode`] for a segment of `rows` rows. Every
    /// row number is checked against `rows` and every number list's order, so a damaged
    /// index is an error, never a wrong answer or an out-of-bounds row.
    pub fn decode(bytes: &[u8], rows: usize) -> Result<FieldIndex, ReadError> {
        let mut r = Reader::new(bytes);
        let n = r.u32("row count")?;
        if n as usize != rows {
            return Err(ReadError { offset: 0, what: format!("index of {n} rows for a segment of {rows}") });
        }
        let bitmap = |r: &mut Reader<'_>, what: &str| -> Result<RoaringBitmap, ReadError> {
            let at = r.pos();
            let len = r.u32(what)? as usize;
            let b = RoaringBitmap::deserialize_from(r.take(len, what)?)
                .map_err(|e| ReadError { offset: at, what: format!("{what}: {e}") })?;
            if b.max().is_some_and(|m| m >= n) {
                return Err(ReadError { offset: at, what: format!("{what}: a row past the segment's {n}") });
            }
            Ok(b)
        };
        let string = |r: &mut Reader<'_>, what: &str| -> Result<String, ReadError> {
            let at = r.pos();
            let len = r.u32(what)? as usize;
            let b = r.take(len, what)?;
            String::from_utf8(b.to_vec()).map_err(|_| ReadError { offset: at, what: format!("{what} is not UTF-8") })
        };
        let count = r.u32("field count")?;
        let mut fields = HashMap::new();
        for _ in 0..count {
            let path = string(&mut r, "field path")?;
            let present = bitmap(&mut r, "rows holding the field")?;
            let values = r.u32("value count")?;
            let mut by_value = HashMap::new();
            for _ in 0..values {
                let at = r.pos();
                let key = match r.u8("value kind")? {
                    0 => Key::Str(string(&mut r, "string value")?),
                    1 => Key::Num(r.u64("number value")?),
                    2 => Key::Bool(r.u8("boolean value")? != 0),
                    3 => Key::Null,
                    k => return Err(ReadError { offset: at, what: format!("unknown value kind {k}") }),
                };
                by_value.insert(key, bitmap(&mut r, "rows holding a value")?);
            }
            let at = r.pos();
            let numbers_len = r.u64("number count")? as usize;
            let raw = r.take(numbers_len.saturating_mul(12), "numbers")?;
            let numbers: Vec<(f64, u32)> = raw
                .chunks_exact(12)
                .map(|c| (f64::from_bits(crate::storage::codec::le_u64(c, 0)), crate::storage::codec::le_u32(c, 8)))
                .collect();
            if numbers.iter().any(|&(_, row)| row >= n) || numbers.windows(2).any(|w| w[0].0.total_cmp(&w[1].0).is_gt())
            {
                return Err(ReadError { offset: at, what: "numbers out of order or past the segment's rows".into() });
            }
            fields.insert(path, Postings { present, by_value, numbers });
        }
        if r.remaining() != 0 {
            return Err(ReadError { offset: r.pos(), what: "bytes after the last field".into() });
        }
        Ok(FieldIndex { rows: n, fields })
    }

    /// Bytes held in memory (bitmaps, value keys, number lists), roughly.
    pub fn memory_bytes(&self) -> usize {
        self.fields
            .iter()
            .map(|(path, p)| {
                path.len()
                    + p.present.serialized_size()
                    + p.by_value
                        .iter()
                        .map(|(k, b)| 48 + b.serialized_size() + if let Key::Str(s) = k { s.len() } else { 0 })
                        .sum::<usize>()
                    + p.numbers.capacity() * 16
            })
            .sum()
    }

    fn all(&self) -> RoaringBitmap {
        let mut b = RoaringBitmap::new();
        b.insert_range(0..self.rows);
        b
    }

    fn equal(&self, field: &str, v: &Scalar) -> RoaringBitmap {
        self.fields.get(field).and_then(|p| p.by_value.get(&key(v))).cloned().unwrap_or_default()
    }

    /// The rows matching `f`.
    pub fn evaluate(&self, f: &Filter) -> RoaringBitmap {
        match f {
            Filter::All => self.all(),
            Filter::And(parts) => {
                let mut it = parts.iter();
                let mut acc = it.next().map_or_else(|| self.all(), |p| self.evaluate(p));
                for p in it {
                    if acc.is_empty() {
                        break;
                    }
                    acc &= self.evaluate(p);
                }
                acc
            }
            Filter::Or(parts) => parts.iter().fold(RoaringBitmap::new(), |acc, p| acc | self.evaluate(p)),
            Filter::Not(inner) => self.all() - self.evaluate(inner),
            Filter::Cmp { field, op, value } => match op {
                CmpOp::Eq => self.equal(field, value),
                CmpOp::Ne => self.all() - self.equal(field, value),
                _ => {
                    let Some(p) = self.fields.get(field) else { return RoaringBitmap::new() };
                    let Scalar::Num(b) = value else { return RoaringBitmap::new() };
                    let lo = match op {
                        CmpOp::Gt => p.numbers.partition_point(|(x, _)| x <= b),
                        CmpOp::Gte => p.numbers.partition_point(|(x, _)| x < b),
                        _ => 0,
                    };
                    let hi = match op {
                        CmpOp::Lt => p.numbers.partition_point(|(x, _)| x < b),
                        CmpOp::Lte => p.numbers.partition_point(|(x, _)| x <= b),
                        _ => p.numbers.len(),
                    };
                    debug_assert!(p.numbers[lo..hi.max(lo)].iter().all(|(x, _)| in_range(
                        &Scalar::Num(*x),
                        *op,
                        value
                    )));
                    p.numbers[lo..hi.max(lo)].iter().map(|&(_, r)| r).collect()
                }
            },
            Filter::In { field, values, negate } => {
                let any = values.iter().fold(RoaringBitmap::new(), |acc, v| acc | self.equal(field, v));
                if *negate {
                    self.all() - any
                } else {
                    any
                }
            }
            Filter::Exists { field, exists } => {
                let present = self.fields.get(field).map(|p| p.present.clone()).unwrap_or_default();
                if *exists {
                    present
                } else {
                    self.all() - present
                }
            }
        }
    }
}
