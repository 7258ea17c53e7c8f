//! Flattened metadata: dotted path → scalars. The one representation that both filter
//! evaluation and the inverted indexes read.

use std::collections::BTreeMap;

/// A scalar metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A string.
    Str(String),
    /// A number (JSON numbers are doubles).
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// JSON `null`.
    Null,
}

impl Scalar {
    /// Equality as filters see it: same type and value; numbers by value (`-0 == 0`).
    pub fn same(&self, other: &Scalar) -> bool {
        match (self, other) {
            (Scalar::Str(a), Scalar::Str(b)) => a == b,
            (Scalar::Num(a), Scalar::Num(b)) => a == b,
            (Scalar::Bool(a), Scalar::Bool(b)) => a == b,
            (Scalar::Null, Scalar::Null) => true,
            _ => false,
        }
    }

    /// From a JSON value, if it is a scalar.
    pub fn from_json(v: &serde_json::Value) -> Option<Scalar> {
        match v {
            serde_json::Value::String(s) => Some(Scalar::Str(s.clone())),
            serde_json::Value::Number(n) => n.as_f64().map(Scalar::Num),
            serde_json::Value::Bool(b) => Some(Scalar::Bool(*b)),
            serde_json::Value::Null => Some(Scalar::Null),
            _ => None,
        }
    }
}

/// A row's metadata as path → values. Arrays contribute their scalar elements (nested
/// arrays and objects inside arrays are not indexed); nested objects become dotted paths.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlatMeta {
    fields: BTreeMap<String, Vec<Scalar>>,
}

impl FlatMeta {
    /// Flatten a JSON object.
    pub fn from_object(obj: &serde_json::Map<String, serde_json::Value>) -> FlatMeta {
        let mut out = FlatMeta::default();
        out.add_object("", obj);
        out
    }

    fn add_object(&mut self, prefix: &str, obj: &serde_json::Map<String, serde_json::Value>) {
        for (k, v) in obj {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                serde_json::Value::Object(inner) => {
                    // The object's own path is present (for $exists) with no scalar values.
                    self.fields.entry(path.clone()).or_default();
                    self.add_object(&path, inner)
                }
                serde_json::Value::Array(items) => {
                    let scalars: Vec<Scalar> = items.iter().filter_map(Scalar::from_json).collect();
                    self.fields.entry(path).or_default().extend(scalars);
                }
                scalar => {
                    if let Some(s) = Scalar::from_json(scalar) {
                        self.fields.entry(path).or_default().push(s);
                    }
                }
            }
        }
    }

    /// The values at `path`, if the path is present.
    pub fn get(&self, path: &str) -> Option<&[Scalar]> {
        self.fields.get(path).map(Vec::as_slice)
    }

    /// Every path with its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Scalar])> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}
