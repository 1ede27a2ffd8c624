//! JSON round-trips on resources carrying `meta.security`, the set property, and the
//! read rules applied to resources like the public examples.

use fhir_security_labels::{
    CONFIDENTIALITY_SYSTEM, Caller, Confidentiality, Decision, LabelMeaning, LabelSet,
    PERMISSION_SYSTEM, Permission, Readers, ResourceJson, Rule, SecurityLabel, ServerSecurity,
    decide_read,
};
use proptest::prelude::*;
use serde_json::Value;

fn data(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn value(s: &str) -> Value {
    serde_json::from_str(s).expect("valid JSON")
}

#[test]
fn resources_round_trip_unchanged() {
    for name in [
        "national-pathology-valueset.json",
        "restricted-codesystem.json",
        "unlabelled-conceptmap.json",
    ] {
        let text = data(name);
        let r = ResourceJson::parse(&text).expect("parses");
        assert_eq!(value(&r.to_json()), value(&text), "{name}");
        // Key order is kept, not just content.
        assert_eq!(r.to_json(), value(&text).to_string(), "{name}");
        // Labels serialise exactly as they were written.
        let labels = r.labels().expect("labels parse");
        let original = value(&text)["meta"]["security"].clone();
        let written = serde_json::to_value(&labels).expect("serialises");
        if original.is_null() {
            assert_eq!(written, Value::Array(vec![]));
        } else {
            assert_eq!(written, original, "{name}");
        }
    }
}

#[test]
fn national_valueset_is_globally_readable_and_nationally_writable() {
    let labels = ResourceJson::parse(&data("national-pathology-valueset.json"))
        .expect("parses")
        .labels()
        .expect("labels");
    assert!(labels.is_globally_readable());
    assert_eq!(labels.readers(), Readers::Everyone);
    let d = decide_read(
        &labels,
        &Caller::anonymous(),
        &ServerSecurity::fine_with_anonymous_read(),
    );
    assert_eq!(d, Decision::Allowed(Rule::GlobalRead { anonymous: true }));
}

#[test]
fn restricted_codesystem_needs_the_restricted_cohort() {
    let r = ResourceJson::parse(&data("restricted-codesystem.json")).expect("parses");
    let labels = r.labels().expect("labels");
    assert_eq!(
        labels.readers(),
        Readers::Cohorts(vec!["restricted".into()])
    );
    let meanings: Vec<_> = labels.iter().map(SecurityLabel::meaning).collect();
    assert_eq!(
        meanings[0],
        LabelMeaning::Permission(Permission::read("restricted").expect("valid"))
    );
    assert_eq!(
        meanings[1],
        LabelMeaning::Confidentiality(Confidentiality::Restricted)
    );
    assert!(matches!(meanings[2], LabelMeaning::HandlingCaveat(_)));
    let server = ServerSecurity::fine();
    assert!(
        !decide_read(&labels, &Caller::parse(["FHIR_READ"]).expect("ok"), &server).is_allowed()
    );
    assert!(
        decide_read(
            &labels,
            &Caller::parse(["FHIR_READ", "PERM_RESTRICTED_READ"]).expect("ok"),
            &server
        )
        .is_allowed()
    );
}

#[test]
fn removing_a_label_touches_only_meta_security() {
    let text = data("restricted-codesystem.json");
    let mut r = ResourceJson::parse(&text).expect("parses");
    let confidentiality: LabelSet = [SecurityLabel::new(CONFIDENTIALITY_SYSTEM, "R")]
        .into_iter()
        .collect();
    r.remove_labels(&confidentiality).expect("valid");
    let mut expected = value(&text);
    expected["meta"]["security"]
        .as_array_mut()
        .expect("array")
        .remove(1);
    assert_eq!(r.to_json(), expected.to_string());
    assert!(
        r.to_json().contains("\"valueDecimal\":0.250"),
        "numbers keep their digits"
    );
}

#[test]
fn malformed_input_gets_clear_errors() {
    let err = ResourceJson::parse("{\"resourceType\": \"ValueSet\",\n \"id\": }")
        .expect_err("invalid JSON");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = ResourceJson::parse(r#"{"id":"x"}"#).expect_err("no resourceType");
    assert!(err.to_string().contains("resourceType"), "{err}");
    let err =
        ResourceJson::parse(r#"{"resourceType":"ValueSet","meta":{"security":[{"system":"x"}]}}"#)
            .expect_err("a coding without code");
    assert!(err.to_string().contains("meta.security"), "{err}");
    let err = Permission::from_label(&SecurityLabel::new("urn:other", "x.read"))
        .expect_err("wrong system");
    assert!(err.to_string().contains(PERMISSION_SYSTEM), "{err}");
}

fn label() -> impl Strategy<Value = SecurityLabel> {
    (
        prop_oneof![
            Just(PERMISSION_SYSTEM),
            Just(CONFIDENTIALITY_SYSTEM),
            Just("urn:x")
        ],
        "[a-zA-Z*]{1,6}(\\.read|\\.write)?",
        proptest::option::of("[a-z ]{0,8}"),
    )
        .prop_map(|(s, c, d)| {
            let l = SecurityLabel::new(s, c);
            match d {
                Some(d) => l.with_display(d),
                None => l,
            }
        })
}

proptest! {
    #[test]
    fn adding_then_removing_a_label_restores_the_set(
        labels in proptest::collection::vec(label(), 0..8),
        extra in label(),
    ) {
        let set: LabelSet = labels.into_iter().collect();
        prop_assume!(!set.contains(&extra));
        let mut changed = set.clone();
        prop_assert!(changed.add(extra.clone()));
        prop_assert!(!changed.add(extra.clone()), "adding twice changes nothing");
        prop_assert_eq!(changed.len(), set.len() + 1);
        prop_assert!(changed.remove(&extra).is_some());
        prop_assert_eq!(&changed, &set);
    }

    #[test]
    fn label_sets_round_trip_through_json(labels in proptest::collection::vec(label(), 0..8)) {
        let set: LabelSet = labels.into_iter().collect();
        let json = serde_json::to_string(&set).expect("serialises");
        let back: LabelSet = serde_json::from_str(&json).expect("parses");
        prop_assert_eq!(back, set);
    }
}
