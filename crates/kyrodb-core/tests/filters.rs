//! Filter parsing (both syntaxes) and the agreement between row evaluation and the
//! segment's inverted indexes.

use kyrodb_core::vector::filter::index::FieldIndex;
use kyrodb_core::vector::filter::{Filter, FlatMeta};
use proptest::prelude::*;

fn err(json: &str) -> String {
    let e = Filter::parse_json(json).expect_err(json);
    assert_eq!(e.code(), "INVALID_FILTER", "{json}");
    e.to_string()
}

#[test]
fn string_and_object_forms_compile_to_the_same_plan() {
    let pairs = [
        (r#"{"category":"science","year":{"$gte":2020}}"#, r#""category == 'science' AND year >= 2020""#),
        (r#"{"$or":[{"a":1},{"b":{"$ne":"x"}}]}"#, r#""a = 1 || b != \"x\"""#),
        (r#"{"a":{"$in":[1,"two",true]}}"#, r#""a IN [1, 'two', TRUE]""#),
        (r#"{"a":{"$exists":false}}"#, r#""a NOT EXISTS""#),
        (r#"{"$not":{"a":{"$lt":-1.5e3}}}"#, r#""NOT (a < -1.5e3)""#),
        (r#"{"a.b":null}"#, r#""a.b == null""#),
    ];
    for (obj, text) in pairs {
        assert_eq!(Filter::parse_json(obj).expect(obj), Filter::parse_json(text).expect(text), "{obj} vs {text}");
    }
    assert_eq!(Filter::parse_json("{}").expect("empty"), Filter::All);
    assert_eq!(Filter::parse_json(r#""""#).expect("empty string"), Filter::All);
}

#[test]
fn errors_point_at_the_problem() {
    assert!(err(r#"{"year":{"$gte":"x"}}"#).contains("$.year.$gte"));
    assert!(err(r#"{"year":{"$gte":"x"}}"#).contains("compares numbers"));
    assert!(err(r#"{"year":{"$foo":1}}"#).contains("unknown operator $foo"));
    assert!(err(r#"{"$xor":[]}"#).contains("unknown operator $xor"));
    assert!(err(r#"{"a":[1,2]}"#).contains("$in"));
    assert!(err(r#"{"$and":{}}"#).contains("array"));
    assert!(err(r#"{"a":{"$exists":1}}"#).contains("true or false"));
    assert!(err(r#"{"a":{"$in":[{}]}}"#).contains("$.a.$in[0]"));
    assert!(err(r#"[1]"#).contains("object or a string"));
    assert!(err(r#"{"#).contains("not valid JSON"));
    assert!(err(r#""category == 'science' AND""#).contains("position 25"));
    assert!(err(r#""year >= 'x'""#).contains("position 8"));
    assert!(err(r#""a == 'open"#.to_string().as_str().trim_end_matches('"')).contains("not valid JSON"));
    assert!(err(r#""a == 'open""#).contains("unterminated string starting at position 5"));
    assert!(err(r#""a # 1""#).contains("unexpected character '#' at position 2"));
    assert!(err(r#""(a == 1""#).contains("expected ')'"));
    assert!(err(r#""a IN 1""#).contains("'[' to start a list"));
    assert!(err(r#""a == 1 b == 2""#).contains("position 7"));
}

fn scalar() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (0i64..5).prop_map(|x| serde_json::json!(x)),
        prop::sample::select(vec!["x", "y", "z"]).prop_map(|s| serde_json::json!(s)),
        any::<bool>().prop_map(|b| serde_json::json!(b)),
        Just(serde_json::Value::Null),
    ]
}

fn meta() -> impl Strategy<Value = Option<serde_json::Value>> {
    let field = prop_oneof![scalar(), prop::collection::vec(scalar(), 0..3).prop_map(serde_json::Value::Array)];
    prop::option::weighted(0.9, prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), field, 0..3))
        .prop_map(|m| m.map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())))
}

fn leaf() -> impl Strategy<Value = String> {
    let f = prop::sample::select(vec!["a", "b", "c"]);
    let lit = prop_oneof![
        (0i64..5).prop_map(|x| x.to_string()),
        prop::sample::select(vec!["'x'", "'y'", "TRUE", "NULL"]).prop_map(String::from)
    ];
    prop_oneof![
        (f.clone(), prop::sample::select(vec!["==", "!="]), lit.clone()).prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (f.clone(), prop::sample::select(vec![">", ">=", "<", "<="]), 0i64..5)
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (f.clone(), prop::collection::vec(lit, 1..3), any::<bool>()).prop_map(|(f, vs, neg)| format!(
            "{f} {}IN [{}]",
            if neg { "NOT " } else { "" },
            vs.join(", ")
        )),
        (f, any::<bool>()).prop_map(|(f, e)| if e { format!("EXISTS({f})") } else { format!("{f} NOT EXISTS") }),
    ]
}

fn filter_text() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) AND ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) OR ({b})")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The inverted indexes select exactly the rows that row-by-row evaluation accepts.
    #[test]
    fn index_agrees_with_evaluation(rows in prop::collection::vec(meta(), 1..40), text in filter_text()) {
        let filter = Filter::parse_json(&serde_json::to_string(&text).unwrap()).unwrap();
        let flats: Vec<Option<FlatMeta>> = rows.iter().map(|m| m.as_ref().map(|v| FlatMeta::from_object(v.as_object().unwrap()))).collect();
        let index = FieldIndex::build(flats.iter().map(Option::as_ref));
        let by_index: Vec<u32> = index.evaluate(&filter).iter().collect();
        let by_eval: Vec<u32> = (0..rows.len() as u32).filter(|&r| filter.matches(flats[r as usize].as_ref())).collect();
        prop_assert_eq!(&by_index, &by_eval, "filter {}", text);
        // The index a segment file stores reads back as the same index.
        let stored = FieldIndex::decode(&index.encode(), rows.len()).expect("decode what was encoded");
        prop_assert_eq!(&stored, &index);
        let by_stored: Vec<u32> = stored.evaluate(&filter).iter().collect();
        prop_assert_eq!(by_stored, by_eval, "filter {} through the stored index", text);
    }

    /// A damaged index (any byte flipped, or cut short) is an error, never a panic or a
    /// row past the segment.
    #[test]
    fn damaged_stored_index_is_an_error(rows in prop::collection::vec(meta(), 1..40), at in any::<prop::sample::Index>(), bits in 1u8..=255, cut in any::<bool>()) {
        let flats: Vec<Option<FlatMeta>> = rows.iter().map(|m| m.as_ref().map(|v| FlatMeta::from_object(v.as_object().unwrap()))).collect();
        let mut bytes = FieldIndex::build(flats.iter().map(Option::as_ref)).encode();
        let i = at.index(bytes.len());
        if cut { bytes.truncate(i) } else { bytes[i] ^= bits }
        if let Ok(decoded) = FieldIndex::decode(&bytes, rows.len()) {
            let all: Vec<u32> = decoded.evaluate(&Filter::parse_json("\"NOT (a == 1)\"").unwrap()).iter().collect();
            prop_assert!(all.iter().all(|&r| (r as usize) < rows.len()));
        }
    }
}

/// A recursive parser fed a deeply nested filter overflows its thread's stack, which kills
/// the process (no panic to catch). Every depth up to 200,000 must be a typed error.
#[test]
fn deep_nesting_is_a_typed_error_never_a_stack_overflow() {
    use kyrodb_core::vector::filter::text::MAX_FILTER_DEPTH;
    for depth in [MAX_FILTER_DEPTH + 1, 1_000, 20_000, 200_000] {
        let parens = format!("\"{}a == 1{}\"", "(".repeat(depth), ")".repeat(depth));
        assert!(err(&parens).contains("nests more than"), "parentheses, depth {depth}");
        let nots = format!("\"{}a == 1\"", "NOT ".repeat(depth));
        assert!(err(&nots).contains("nests more than"), "NOT, depth {depth}");
        let object = format!("{}{{\"a\":1}}{}", "{\"$not\":".repeat(depth), "}".repeat(depth));
        err(&object);
        let ors = format!("{}{{\"a\":1}}{}", "{\"$or\":[".repeat(depth), "]}".repeat(depth));
        err(&ors);
    }
    // The limit itself is accepted, and means what it says.
    let ok = format!("\"{}a == 1{}\"", "(".repeat(MAX_FILTER_DEPTH), ")".repeat(MAX_FILTER_DEPTH));
    assert_eq!(Filter::parse_json(&ok).expect("at the limit"), Filter::parse_json("\"a == 1\"").expect("plain"));
    let nots = format!("\"{}a == 1\"", "NOT ".repeat(MAX_FILTER_DEPTH));
    let mut f = Filter::parse_json(&nots).expect("NOTs at the limit");
    for _ in 0..MAX_FILTER_DEPTH {
        let Filter::Not(inner) = f else { panic!("expected NOT") };
        f = *inner;
    }
    assert_eq!(f, Filter::parse_json("\"a == 1\"").expect("plain"));
}
