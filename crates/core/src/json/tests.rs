use super::*;
use proptest::prelude::*;

/// serde_json is the oracle: both must read a text the same way, or both refuse it.
fn same_as_serde(ours: &Value<'_>, theirs: &serde_json::Value) -> bool {
    match (ours, theirs) {
        (Value::Null, serde_json::Value::Null) => true,
        (Value::Bool(a), serde_json::Value::Bool(b)) => a == b,
        (Value::Number(text), serde_json::Value::Number(n)) => {
            // The same text read by the same parser, or serde_json's own rendering.
            *text == n.to_string()
                || serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .as_ref()
                    == Some(&serde_json::Value::Number(n.clone()))
        }
        (Value::String(a), serde_json::Value::String(b)) => a == b,
        (Value::Array(a), serde_json::Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_as_serde(x, y))
        }
        (Value::Object(a), serde_json::Value::Object(b)) => {
            // serde_json keeps the last of duplicate keys; compare key sets and the
            // last value for each.
            b.iter().all(|(k, v)| {
                a.iter()
                    .rev()
                    .find(|(ak, _)| ak == k)
                    .is_some_and(|(_, av)| same_as_serde(av, v))
            }) && a.iter().all(|(k, _)| b.contains_key(k.as_ref()))
        }
        _ => false,
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        (-1e12f64..1e12).prop_map(|n| serde_json::json!(n)),
        any::<String>().prop_map(serde_json::Value::String),
        "[\\\\\"/\u{0}-\u{1f}\u{7f}-\u{ffff}a-z]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z \"\\\\]{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn reads_what_serde_json_writes(v in json_value()) {
        let compact = serde_json::to_string(&v).unwrap();
        prop_assert!(same_as_serde(&parse(&compact).unwrap(), &v), "{compact}");
        let mut again = String::new();
        parse(&compact).unwrap().write(&mut again);
        prop_assert_eq!(&again, &compact);
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        prop_assert!(same_as_serde(&parse(&pretty).unwrap(), &v), "{pretty}");
    }

    #[test]
    fn accepts_and_refuses_what_serde_json_does(text in "[\\[\\]{}\",:\\\\/ \t\n0-9eE.+\\-truefalsn\u{1}\u{e9}]{0,24}") {
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        let ours = parse(&text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => prop_assert!(same_as_serde(a, b), "{text:?}"),
            (Err(_), Err(e)) => { let _ = e; }
            (Ok(_), Err(e)) if e.to_string().contains("out of range") => {}
            _ => prop_assert!(false, "{text:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }

    #[test]
    fn escaped_strings_round_trip(s in any::<String>()) {
        let mut out = String::new();
        push_string(&mut out, &s);
        prop_assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s.clone());
        prop_assert_eq!(parse(&out).unwrap(), Value::String(s.into()));
    }

    #[test]
    fn decimal_matches_display(n in any::<u64>()) {
        prop_assert_eq!(decimal(n), n.to_string());
    }
}

#[test]
fn surrogate_pairs_and_bad_escapes() {
    assert_eq!(
        parse(r#""\ud83d\ude00""#).unwrap(),
        Value::String("😀".into())
    );
    assert_eq!(
        parse(r#""\u00e9\u0000""#).unwrap(),
        Value::String("é\0".into())
    );
    for bad in [
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83d\u0041""#,
        r#""\x""#,
        r#""\u12g4""#,
        r#""\u12"#,
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn nesting_is_bounded() {
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse(&ok).is_ok());
    let deep = "[".repeat(100_000);
    assert_eq!(parse(&deep), Err(JsonError::TooDeep));
    let deep_obj = r#"{"a":"#.repeat(MAX_DEPTH + 1);
    assert_eq!(parse(&deep_obj), Err(JsonError::TooDeep));
}

#[test]
fn integers_only_where_integers_are_asked_for() {
    let v = parse(r#"{"a":12,"b":1.5,"c":-3,"d":1e3,"e":18446744073709551616,"f":"7"}"#).unwrap();
    assert_eq!(v.get("a").and_then(Value::as_u64), Some(12));
    for k in ["b", "c", "d", "e", "f", "missing"] {
        assert_eq!(v.get(k).and_then(Value::as_u64), None, "{k}");
    }
}

#[test]
fn object_writer_writes_what_serde_json_reads() {
    let mut out = String::new();
    let mut o = ObjectWriter::new(&mut out);
    o.string("type", "x\"y\n")
        .uint("n", u64::MAX)
        .bool("b", true);
    o.finish();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"type": "x\"y\n", "n": u64::MAX, "b": true})
    );
    let mut empty = String::new();
    ObjectWriter::new(&mut empty).finish();
    assert_eq!(empty, "{}");
}
