//! Object filter syntax: `{"category": "science", "year": {"$gte": 2020}}`.
//! Errors name the JSON path of the offending part (`$.year.$gte`).

use super::flat::Scalar;
use super::{invalid_filter, CmpOp, Filter};
use crate::error::Error;
use serde_json::{Map, Value};

/// Parse an object filter.
pub fn parse(v: &Value) -> Result<Filter, Error> {
    match v {
        Value::Object(obj) => parse_doc(obj, "$"),
        other => Err(invalid_filter(format!("a filter must be an object or a string, got {}", kind(other)))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn and_of(mut parts: Vec<Filter>) -> Filter {
    match parts.len() {
        0 => Filter::All,
        1 => parts.remove(0),
        _ => Filter::And(parts),
    }
}

fn parse_doc(obj: &Map<String, Value>, at: &str) -> Result<Filter, Error> {
    let mut parts = Vec::with_capacity(obj.len());
    for (key, v) in obj {
        let here = format!("{at}.{key}");
        match key.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = v else {
                    return Err(invalid_filter(format!(
                        "at {here}: {key} takes an array of filter objects, got {}",
                        kind(v)
                    )));
                };
                if items.is_empty() {
                    return Err(invalid_filter(format!("at {here}: {key} needs at least one filter")));
                }
                let subs = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::Object(o) => parse_doc(o, &format!("{here}[{i}]")),
                        other => Err(invalid_filter(format!(
                            "at {here}[{i}]: expected a filter object, got {}",
                            kind(other)
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(if key == "$and" { Filter::And(subs) } else { Filter::Or(subs) });
            }
            "$not" => match v {
                Value::Object(o) => parts.push(Filter::Not(Box::new(parse_doc(o, &here)?))),
                other => {
                    return Err(invalid_filter(format!("at {here}: $not takes a filter object, got {}", kind(other))))
                }
            },
            k if k.starts_with('$') => {
                return Err(invalid_filter(format!(
                    "at {here}: unknown operator {k}; at the top level use $and, $or, $not or a field name"
                )))
            }
            "" => return Err(invalid_filter(format!("at {here}: empty field name"))),
            field => parts.push(parse_condition(field, v, &here)?),
        }
    }
    Ok(and_of(parts))
}

fn scalar(v: &Value, at: &str) -> Result<Scalar, Error> {
    Scalar::from_json(v)
        .ok_or_else(|| invalid_filter(format!("at {at}: expected a string, number, boolean or null, got {}", kind(v))))
}

fn parse_condition(field: &str, v: &Value, at: &str) -> Result<Filter, Error> {
    let Value::Object(ops) = v else {
        if let Value::Array(_) = v {
            return Err(invalid_filter(format!("at {at}: to match any of several values use {{\"$in\": [...]}}")));
        }
        return Ok(Filter::Cmp { field: field.to_string(), op: CmpOp::Eq, value: scalar(v, at)? });
    };
    if ops.is_empty() {
        return Err(invalid_filter(format!("at {at}: empty condition object")));
    }
    let mut parts = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        let here = format!("{at}.{op}");
        let cmp = |op: CmpOp, value: Scalar| Filter::Cmp { field: field.to_string(), op, value };
        let number = |arg: &Value| match arg {
            Value::Number(n) => {
                n.as_f64().map(Scalar::Num).ok_or_else(|| invalid_filter(format!("at {here}: number out of range")))
            }
            other => Err(invalid_filter(format!("at {here}: {op} compares numbers, got {}", kind(other)))),
        };
        let list = |arg: &Value| match arg {
            Value::Array(items) => {
                items.iter().enumerate().map(|(i, x)| scalar(x, &format!("{here}[{i}]"))).collect::<Result<Vec<_>, _>>()
            }
            other => Err(invalid_filter(format!("at {here}: {op} takes an array, got {}", kind(other)))),
        };
        parts.push(match op.as_str() {
            "$eq" => cmp(CmpOp::Eq, scalar(arg, &here)?),
            "$ne" => cmp(CmpOp::Ne, scalar(arg, &here)?),
            "$gt" => cmp(CmpOp::Gt, number(arg)?),
            "$gte" => cmp(CmpOp::Gte, number(arg)?),
            "$lt" => cmp(CmpOp::Lt, number(arg)?),
            "$lte" => cmp(CmpOp::Lte, number(arg)?),
            "$in" => Filter::In { field: field.to_string(), values: list(arg)?, negate: false },
            "$nin" => Filter::In { field: field.to_string(), values: list(arg)?, negate: true },
            "$exists" => match arg {
                Value::Bool(b) => Filter::Exists { field: field.to_string(), exists: *b },
                other => {
                    return Err(invalid_filter(format!("at {here}: $exists takes true or false, got {}", kind(other))))
                }
            },
            "$not" => Filter::Not(Box::new(parse_condition(field, arg, &here)?)),
            other if other.starts_with('$') => {
                return Err(invalid_filter(format!(
                "at {here}: unknown operator {other}; expected one of $eq $ne $gt $gte $lt $lte $in $nin $exists $not"
            )))
            }
            other => {
                return Err(invalid_filter(format!(
                "at {here}: '{other}' is not an operator; for nested fields use a dotted path like \"{field}.{other}\""
            )))
            }
        });
    }
    Ok(and_of(parts))
}
