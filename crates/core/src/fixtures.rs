//! The shared reader fixtures (`tests/fixtures/*.json`): cases that the core's reference
//! readers and the shim's readers (tests/unit) must read alike.

use serde_json::{json, Value};

/// Checks every case of fixture file `doc` (at least `min` of them): `read` gives a case's
/// `{"expect": …}` or `{"error": …}`, which must equal the case's own.
pub(crate) fn check_cases(doc: &str, min: usize, read: impl Fn(&Value) -> Value) {
    let doc: Value = serde_json::from_str(doc).expect("a fixture file is JSON");
    let cases = doc["cases"].as_array().expect("a fixture file has cases");
    assert!(cases.len() >= min, "only {} cases", cases.len());
    for case in cases {
        let want = match case.get("error") {
            Some(e) => json!({ "error": e }),
            None => json!({ "expect": case["expect"] }),
        };
        assert_eq!(read(case), want, "{}", case["name"]);
    }
}
