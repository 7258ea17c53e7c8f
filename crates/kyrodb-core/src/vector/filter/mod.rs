//! Metadata filters.
//!
//! Two syntaxes compile to one [`Filter`] tree:
//! - objects (`{"category": "science", "year": {"$gte": 2020}}`, operators `$eq $ne $in
//!   $nin $gt $gte $lt $lte $exists $and $or $not`), parsed in [`object`];
//! - strings (`category == 'science' AND year >= 2020`), parsed in [`text`].
//!
//! Metadata is matched in its flattened form ([`flat`]): nested objects become dotted
//! paths, and every path holds a list of scalars (one, or the elements of an array). The
//! same flattened form feeds evaluation on single rows ([`Filter::matches`]) and the
//! per-segment inverted indexes ([`index`]), so the two can never disagree.
//!
//! Semantics (MongoDB-like): `field == v` holds when the field equals `v` or is an array
//! containing `v`; `!=` and `$nin` are the exact negations (so they hold for rows without
//! the field); range operators take numbers only and hold when any element is in range.

pub mod cache;
pub mod flat;
pub mod index;
pub mod object;
pub mod text;

pub use flat::{FlatMeta, Scalar};

use crate::error::Error;

/// Comparison operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`, `$eq`
    Eq,
    /// `!=`, `$ne`
    Ne,
    /// `>`, `$gt`
    Gt,
    /// `>=`, `$gte`
    Gte,
    /// `<`, `$lt`
    Lt,
    /// `<=`, `$lte`
    Lte,
}

/// A compiled filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Always true (the empty object `{}`).
    All,
    /// All of the parts.
    And(Vec<Filter>),
    /// Any of the parts.
    Or(Vec<Filter>),
    /// The negation.
    Not(Box<Filter>),
    /// `field op value`. Range operators only ever carry numbers.
    Cmp {
        /// Dotted path.
        field: String,
        /// Operator.
        op: CmpOp,
        /// Operand.
        value: Scalar,
    },
    /// `field IN [values]` (or `NOT IN` when `negate`).
    In {
        /// Dotted path.
        field: String,
        /// Candidates.
        values: Vec<Scalar>,
        /// `$nin` / `NOT IN`.
        negate: bool,
    },
    /// The field is present (or absent).
    Exists {
        /// Dotted path.
        field: String,
        /// `true` for present.
        exists: bool,
    },
}

/// Filter syntax errors carry the position (byte offset in a string filter, JSON path in
/// an object filter) in the message.
pub fn invalid_filter(msg: impl Into<String>) -> Error {
    Error::InvalidFilter(msg.into())
}

impl Filter {
    /// Parse a filter given as JSON text: a JSON object (object syntax) or a JSON string
    /// (string syntax).
    pub fn parse_json(json: &str) -> Result<Filter, Error> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| invalid_filter(format!("filter is not valid JSON: {e}")))?;
        match v {
            serde_json::Value::String(s) => text::parse(&s),
            other => object::parse(&other),
        }
    }

    /// Evaluate on one row's flattened metadata (`None`: the row has no metadata).
    pub fn matches(&self, meta: Option<&FlatMeta>) -> bool {
        match self {
            Filter::All => true,
            Filter::And(parts) => parts.iter().all(|p| p.matches(meta)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(meta)),
            Filter::Not(inner) => !inner.matches(meta),
            Filter::Cmp { field, op, value } => {
                let vals = meta.and_then(|m| m.get(field)).unwrap_or(&[]);
                match op {
                    CmpOp::Eq => vals.iter().any(|v| v.same(value)),
                    CmpOp::Ne => !vals.iter().any(|v| v.same(value)),
                    _ => vals.iter().any(|v| in_range(v, *op, value)),
                }
            }
            Filter::In { field, values, negate } => {
                let vals = meta.and_then(|m| m.get(field)).unwrap_or(&[]);
                let any = vals.iter().any(|v| values.iter().any(|w| v.same(w)));
                any != *negate
            }
            Filter::Exists { field, exists } => meta.and_then(|m| m.get(field)).is_some() == *exists,
        }
    }
}

/// `v op bound` for a range operator; only numbers compare.
pub(crate) fn in_range(v: &Scalar, op: CmpOp, bound: &Scalar) -> bool {
    let (Scalar::Num(x), Scalar::Num(b)) = (v, bound) else { return false };
    match op {
        CmpOp::Gt => x > b,
        CmpOp::Gte => x >= b,
        CmpOp::Lt => x < b,
        CmpOp::Lte => x <= b,
        CmpOp::Eq | CmpOp::Ne => false,
    }
}
