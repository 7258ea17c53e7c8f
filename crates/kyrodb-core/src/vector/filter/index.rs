//! Per-segment inverted indexes over flattened metadata: for every path, a roaring bitmap
//! of the rows where it is present, one bitmap per distinct value, and a value-sorted list
//! of `(number, row)` for range queries. [`FieldIndex::evaluate`] turns a [`Filter`] into
//! the exact set of matching rows without touching a row's metadata.

use super::flat::{FlatMeta, Scalar};
use super::{in_range, CmpOp, Filter};
use roaring::RoaringBitmap;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

#[derive(Default, Debug)]
struct Postings {
    present: RoaringBitmap,
    by_value: HashMap<Key, RoaringBitmap>,
    /// `(value, row)` sorted by value, for range operators.
    numbers: Vec<(f64, u32)>,
}

/// Inverted indexes of one segment's metadata.
#[derive(Default, Debug)]
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
